"""The viewer's side of the network (issue 19) on a real MainWindow, offscreen, against a real PACS
(Orthanc, `conftest.orthanc`): a modality (a pynetdicom SCU here) sends the shared chest DICOMs to
the viewer's storage service, switched on from the File menu → they join the worklist and are
triaged while the shown study stays on screen; an undecodable one is stored and its row says why;
a sender not allowed is refused; a port already taken is said in the status bar. File → PACS… opens
the one dialog and a retrieved study joins the worklist. Send results to PACS stores SR, SEG and SC in
Orthanc (the round trip receive → triaged → stored is timed and printed); with Orthanc stopped,
Send all reviewed sends exactly the studies the reader marked Reviewed (the box, Ctrl+Enter; one
only viewed stays behind) and leaves everything in the outbox, which the Outbox window lists and its
Retry delivers once Orthanc is back; none marked, it says so and sends nothing.

The models: three of the shipped ones (gate, a classifier, the TB lesion model) linked into a
folder of their own, so results have findings, a lesion mask and a view; the timed round trip uses
every installed model, as `cxrviewer listen --triage --send` does in test_orthanc."""

from __future__ import annotations

import copy
import socket
import time
from io import BytesIO
from pathlib import Path

import pydicom
import pytest
from orthanc_support import (
    MODALITY,
    ORTHANC_AET,
    OUR_AET,
    archive_shared,
    free_port,
    read_shared,
    send_from_modality,
    shared_dicoms,
)
from pydicom.encaps import encapsulate
from pydicom.uid import generate_uid
from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QTest

from cxrviewer import paths
from cxrviewer.analysis import pipeline
from cxrviewer.analysis.findings import Finding
from cxrviewer.analysis.triage import triage_study
from cxrviewer.core.export.dicom_sr import read_findings
from cxrviewer.gui.main_window import MainWindow
from cxrviewer.net.outbox import pending
from cxrviewer.net.settings import (
    AllowedSender,
    NetworkSettings,
    Peer,
    load_network_settings,
    save_network_settings,
)

SIIM = "siim_pneumothorax_CR_chest_PA_jpegbaseline_mono2.dcm"
NIH = "nih_cxr14_DX_nofinding_implicitLE_mono2.dcm"
MPEG2 = "1.2.840.10008.1.2.4.100"
FEW_MODELS = ("cxr-gate", "pneumonia-kermany", "tb-lesions-tbx11k")
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
COMPREHENSIVE_SR = "1.2.840.10008.5.1.4.1.1.88.33"
WAIT_MS = 180000

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # highdicom on the sources' one-part names


def use_settings(tmp_path: Path, monkeypatch, peers: tuple[Peer, ...]) -> NetworkSettings:
    """Network settings in a file of the test's own (storage folder, XRAY1 allowed, `peers`;
    receiving off), and the outbox under the test's site settings."""
    settings = NetworkSettings(OUR_AET, free_port(), str(tmp_path / "storage"),
                               (AllowedSender(MODALITY, "127.0.0.1"),), peers)
    monkeypatch.setenv("CXRVIEWER_NETWORK_SETTINGS", str(tmp_path / "network-settings.json"))
    monkeypatch.setenv("CXRVIEWER_SITE_SETTINGS", str(tmp_path / "site" / "site-settings.json"))
    save_network_settings(settings)
    return settings


@pytest.fixture
def network(orthanc, tmp_path, monkeypatch) -> NetworkSettings:
    """Orthanc the one peer."""
    return use_settings(tmp_path, monkeypatch,
                        (Peer("orthanc", ORTHANC_AET, "127.0.0.1", orthanc.dicom_port, orthanc.dicomweb_url),))


@pytest.fixture
def no_pacs(tmp_path, monkeypatch) -> NetworkSettings:
    """Two peers that are not there (for what needs no PACS), and no model to analyse with."""
    monkeypatch.setenv("CXRVIEWER_MODELS", str(tmp_path))
    return use_settings(tmp_path, monkeypatch, (Peer("main", "MAINPACS", "127.0.0.1", free_port()),
                                                Peer("teaching", "TEACHING", "127.0.0.1", free_port())))


@pytest.fixture
def few_models(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "models"
    folder.mkdir()
    for name in FEW_MODELS:
        files = sorted(paths.models_dir().glob(f"{name}.*"))
        if not files:
            pytest.skip(f"the shipped model {name} is not installed in {paths.models_dir()}")
        for file in files:
            (folder / file.name).symlink_to(file)
    monkeypatch.setenv("CXRVIEWER_MODELS", str(folder))
    return folder


@pytest.fixture
def make_window(qtbot, tmp_path):
    def make() -> MainWindow:
        window = MainWindow(settings=QSettings(str(tmp_path / "viewer.ini"), QSettings.Format.IniFormat),
                            user_data=tmp_path / "user-data")
        qtbot.addWidget(window)  # closed after the test: its storage service stops with it
        window.resize(1100, 700)
        window.show()
        qtbot.waitExposed(window)
        return window

    return make




def mpeg2_study() -> pydicom.Dataset:
    """A chest film in MPEG-2, which no decoder here reads, in a study of its own."""
    ds = read_shared(shared_dicoms()[-1])
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.PixelData = encapsulate([b"\x00\x00\x01\xb3 not really MPEG-2 " * 8])
    ds.file_meta.TransferSyntaxUID = MPEG2
    return ds


def show_and_wait(qtbot, window: MainWindow, files: list[Path]) -> None:
    """Open files the way the reader does and wait until the first is on screen."""
    with qtbot.waitSignal(window.session.current_ready, timeout=WAIT_MS):
        window.open_paths(files, remember=False)


def receive(qtbot, window: MainWindow) -> None:
    """File → Receive from the network, on."""
    assert not window.actions_by_name["receive"].isChecked()
    window.actions_by_name["receive"].trigger()
    qtbot.waitUntil(lambda: window.network.receiver.listening)


def rows_by_name(window: MainWindow) -> dict[str, object]:
    return {row.path.name: row for row in window.worklist.model.rows}


def held(orthanc, study_uid: str) -> dict[str, str]:
    """{SOP instance UID: SOP class UID} of what Orthanc holds in the study."""
    study = orthanc.rest(f"/studies/{orthanc_study_id(orthanc, study_uid)}/instances?expand")
    return {i["MainDicomTags"]["SOPInstanceUID"]: orthanc.rest(f"/instances/{i['ID']}/simplified-tags")["SOPClassUID"]
            for i in study}


def instance_file(orthanc, sop_uid: str) -> bytes:
    import json
    import urllib.request

    body = json.dumps({"Level": "Instance", "Query": {"SOPInstanceUID": sop_uid}}).encode()
    request = urllib.request.Request(f"{orthanc.url}/tools/find", data=body, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        (found,) = json.loads(response.read())
    with urllib.request.urlopen(f"{orthanc.url}/instances/{found}/file", timeout=10) as response:
        return response.read()


def orthanc_study_id(orthanc, study_uid: str) -> str:
    import json
    import urllib.request

    body = json.dumps({"Level": "Study", "Query": {"StudyInstanceUID": study_uid}}).encode()
    request = urllib.request.Request(f"{orthanc.url}/tools/find", data=body, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        (found,) = json.loads(response.read())
    return found


def test_received_studies_join_the_worklist_and_are_triaged_behind_the_shown_one(qtbot, network, few_models,
                                                                                 make_window):
    window = make_window()
    show_and_wait(qtbot, window, [paths.demo_study()])
    shown = window.session.current
    receive(qtbot, window)
    assert load_network_settings().receive_in_viewer  # remembered for the next start
    label = window.status.network
    assert label.isVisible() and label.text() == f"receiving as {OUR_AET} on port {network.port}"

    sent = {path.name: read_shared(path) for path in shared_dicoms()}
    names = sorted(sent)
    # Two associations for the first two files (one study would be one study however it came), one
    # for the third, and one with an instance no decoder here reads.
    assert send_from_modality([sent[names[0]], sent[names[1]]], network.port) == (True, [0, 0])
    assert send_from_modality([sent[names[2]]], network.port) == (True, [0])
    unreadable = mpeg2_study()
    assert send_from_modality([unreadable], network.port) == (True, [0])
    messages = []
    window.network.message.connect(messages.append)
    assert send_from_modality([sent[names[0]]], network.port, calling="STRANGER") == (False, [])
    refusal = "refused association from STRANGER at 127.0.0.1: not an allowed sender"
    qtbot.waitUntil(lambda: refusal in messages, timeout=10000)

    expected = {f"{ds.SOPInstanceUID}.dcm" for ds in sent.values()} | {f"{unreadable.SOPInstanceUID}.dcm"}
    qtbot.waitUntil(lambda: expected <= set(rows_by_name(window)), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not window.worklist.busy, timeout=WAIT_MS)
    assert window.session.current == shown  # the reader's study stayed on screen
    assert any(text.startswith(f"received from {MODALITY}: ") and "1 cannot be shown: transfer syntax MPEG2" in text
               for text in messages), messages
    rows = rows_by_name(window)
    assert len(rows) == 1 + len(expected)  # each received once, the STRANGER's copy not at all
    roles = pipeline.model_roles(few_models)
    for name, ds in sent.items():
        row = rows[f"{ds.SOPInstanceUID}.dcm"]
        assert row.path == network.storage_folder() / ds.StudyInstanceUID / ds.SeriesInstanceUID / row.path.name
        assert row.status == "done", (name, row.status)
        triaged = {(o.kind, o.model): o.payload for o in triage_study(row.path, roles, few_models)}
        finding = triaged[("finding", "pneumonia-kermany")]
        assert row.scores["finding:pneumonia-kermany"] == pytest.approx(finding.probabilities[1], abs=1e-6)
        assert row.scores["lesions:tb-lesions-tbx11k"] == pytest.approx(
            triaged[("lesions", "tb-lesions-tbx11k")].score, abs=1e-6)
        assert row.gate == (triaged[("gate", "cxr-gate")].accepted, pytest.approx(triaged[("gate", "cxr-gate")].score))
    bad = rows[f"{unreadable.SOPInstanceUID}.dcm"]
    assert bad.path.is_file()  # stored as received
    assert bad.status == f"failed: transfer syntax {MPEG2} (MPEG2 Main Profile / Main Level) is not supported"
    # More of a study already received arrives later: only the new film joins, the others stay one row each.
    more = copy.deepcopy(sent[names[0]])
    more.SeriesInstanceUID, more.SOPInstanceUID = generate_uid(), generate_uid()
    more.file_meta.MediaStorageSOPInstanceUID = more.SOPInstanceUID
    assert send_from_modality([more, sent[names[0]]], network.port) == (True, [0, 0])  # a new film, and one sent again
    qtbot.waitUntil(lambda: f"{more.SOPInstanceUID}.dcm" in rows_by_name(window), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not window.worklist.busy, timeout=WAIT_MS)
    assert len(window.worklist.model.rows) == 2 + len(expected)
    assert rows_by_name(window)[f"{more.SOPInstanceUID}.dcm"].status == "done"
    assert window.session.current == shown
    # Off again: the service stops and the status bar says nothing more about it.
    window.actions_by_name["receive"].trigger()
    assert not window.network.receiver.listening and not label.isVisible()
    assert not load_network_settings().receive_in_viewer


def test_a_port_already_taken_is_said_in_plain_words(qtbot, no_pacs, make_window):
    network = no_pacs
    with socket.socket() as taken:
        taken.bind(("", network.port))
        taken.listen()
        window = make_window()
        window.actions_by_name["receive"].trigger()
        label = window.status.network
        assert not window.network.receiver.listening
        assert label.isVisible() and label.text() == (
            f"not receiving: port {network.port} is already in use by another program (is `cxrviewer listen` running?)")
        assert "Traceback" not in label.text()


def test_the_pacs_menu_opens_the_one_dialog_and_a_retrieved_study_joins_the_worklist(qtbot, orthanc, network,
                                                                                     make_window, tmp_path,
                                                                                     monkeypatch):
    monkeypatch.setenv("CXRVIEWER_MODELS", str(tmp_path))  # no model: the worklist lists, nothing is analysed
    archived = archive_shared(orthanc)
    window = make_window()
    show_and_wait(qtbot, window, [paths.demo_study()])
    shown = window.session.current
    window.actions_by_name["pacs"].trigger()
    dialog = window.network.pacs_dialog
    qtbot.waitExposed(dialog)
    dialog.close()
    window.actions_by_name["pacs"].trigger()
    assert window.network.pacs_dialog is dialog and dialog.isVisible()  # one dialog, shown again
    nih = archived[NIH]
    qtbot.keyClicks(dialog.form.patient_id, nih.PatientID)
    with qtbot.waitSignal(dialog.searched, timeout=WAIT_MS):
        qtbot.mouseClick(dialog.search_button, Qt.MouseButton.LeftButton)
    dialog.table.selectRow(0)
    with qtbot.waitSignal(dialog.retrieval_finished, timeout=WAIT_MS):
        qtbot.mouseClick(dialog.retrieve_button, Qt.MouseButton.LeftButton)
    name = f"{nih.SOPInstanceUID}.dcm"
    qtbot.waitUntil(lambda: name in rows_by_name(window) and rows_by_name(window)[name].loaded, timeout=WAIT_MS)
    row = rows_by_name(window)[name]
    assert row.path.is_relative_to(network.storage_folder()) and pydicom.dcmread(row.path).SOPInstanceUID == nih.SOPInstanceUID
    assert window.session.current == shown


def test_send_results_stores_sr_seg_and_sc_and_the_round_trip_is_timed(qtbot, orthanc, network, make_window,
                                                                       capsys):
    """Every installed model: receive → triaged → Send results to PACS → Orthanc holds SR, SEG and SC."""
    if not pipeline.model_roles(None).classifiers:
        pytest.skip(f"no classifier installed in {paths.models_dir()}")
    window = make_window()
    window.network.receiver.quiet_seconds = 0.5
    receive(qtbot, window)
    source = read_shared(shared_dicoms()[[p.name for p in shared_dicoms()].index(SIIM)])
    started = time.perf_counter()
    assert send_from_modality([source], network.port) == (True, [0])
    name = f"{source.SOPInstanceUID}.dcm"
    qtbot.waitUntil(lambda: name in rows_by_name(window) and rows_by_name(window)[name].status == "done",
                    timeout=WAIT_MS)
    triaged = time.perf_counter() - started
    assert window.canvas.image is not None and window.canvas.image.meta.path.name == name  # nothing else was shown
    with qtbot.waitSignal(window.network.sender.finished, timeout=WAIT_MS) as finished:
        assert window.network.send_shown()
    seconds = time.perf_counter() - started
    assert finished.args == ["results of 1 of 1 study stored at orthanc"]
    classes = held(orthanc, source.StudyInstanceUID)
    classes.pop(source.SOPInstanceUID, None)  # the film itself, when an earlier test archived it (an SC too)
    kinds = sorted(classes.values())
    assert kinds.count(COMPREHENSIVE_SR) == 1
    assert kinds.count("1.2.840.10008.5.1.4.1.1.66.4") == 1  # Segmentation
    assert kinds.count(SECONDARY_CAPTURE) == 1
    assert pending(window.network.sender.outbox) == []
    # The SR in the archive, read back through highdicom, says what the findings panel says.
    panel = window.findings_panel
    qtbot.waitUntil(lambda: all(isinstance(panel.outcome(e.name), Finding) for e in panel.entries
                                if e.kind == "finding" and e.card is not None), timeout=WAIT_MS)
    (sr_uid,) = [uid for uid, sop_class in classes.items() if sop_class == COMPREHENSIVE_SR]
    said = read_findings(pydicom.dcmread(BytesIO(instance_file(orthanc, sr_uid))))
    compared = 0
    for entry in panel.entries:
        outcome = panel.outcome(entry.name)
        if isinstance(outcome, Finding):
            for label, probability in zip(outcome.labels, outcome.probabilities, strict=True):
                assert said[(entry.name, label)]["probability"] == pytest.approx(probability, abs=1e-6)
                compared += 1
    assert compared >= 2
    window.close()  # as File → Quit: the storage service stops and frees its port
    assert not window.network.receiver.listening
    with socket.socket() as again:  # SO_REUSEADDR: the closed associations' TIME_WAIT does not count, a listener would
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("", network.port))
        again.listen()
    with capsys.disabled():  # shown in every run
        print(f"\nviewer round trip, one study (received -> triaged -> SR, SEG, SC stored in Orthanc): {seconds:.2f} s; "
              f"triaged after {triaged:.2f} s (0.5 s of it the quiet period that closes a study)")


def test_pacs_down_keeps_the_results_in_the_outbox_until_retry(qtbot, orthanc, network, few_models, make_window,
                                                               tmp_path):
    files = sorted(shared_dicoms())[:3]
    copies = []
    for path in files:  # the reader's own folder of studies
        copies.append(tmp_path / "studies" / path.name)
        copies[-1].parent.mkdir(exist_ok=True)
        copies[-1].write_bytes(path.read_bytes())
    window = make_window()
    show_and_wait(qtbot, window, [copies[0].parent])
    worklist = window.worklist
    qtbot.waitUntil(lambda: len(worklist.model.rows) == 3 and all(r.loaded for r in worklist.model.rows),
                    timeout=WAIT_MS)
    reading = worklist.reading
    first = window.session.current
    qtbot.waitUntil(lambda: reading.reviewed_box.isEnabled(), timeout=WAIT_MS)
    reading.reviewed_box.click()  # read: the reader ticks Reviewed
    second, third = (r.study for r in worklist.model.rows if r.study != first)
    window.session.select(second)
    qtbot.waitUntil(lambda: window.session.current == second and reading.reviewed_box.isEnabled()
                    and not reading.reviewed_box.isChecked(), timeout=WAIT_MS)
    QTest.keyClick(worklist.view, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)  # read: Ctrl+Enter
    window.session.select(third)  # viewed only, not marked reviewed
    qtbot.waitUntil(lambda: all(worklist.reading.states[r.study].viewed for r in worklist.model.rows),
                    timeout=WAIT_MS)
    reviewed = {worklist.model.rows[study].path.name for study in (first, second)}
    assert {r.path.name for r in worklist.model.rows if r.reading.reviewed} == reviewed
    assert worklist.model.index(third, worklist.model.column("Reviewed")).data() == ""
    outbox = window.network.sender.outbox
    orthanc.stop()
    try:
        messages, said = [], []
        window.network.sender.study_done.connect(lambda text, stored: messages.append((text, stored)))
        window.network.message.connect(said.append)
        with qtbot.waitSignal(window.network.sender.finished, timeout=WAIT_MS) as finished:
            window.actions_by_name["send_reviewed"].trigger()
        assert said[0] == "sending the results of 2 reviewed studies to orthanc…"
        assert finished.args == ["results of 0 of 2 studies stored at orthanc"]
        assert [stored for _, stored in messages] == [False, False]
        assert {text.partition(":")[0] for text, _ in messages} == reviewed
        assert all("kept in the outbox" in text and "PACS orthanc (ORTHANC at 127.0.0.1" in text for text, _ in messages)
        waiting = pending(outbox)
        assert len(waiting) == 6  # SR, SEG and SC of each reviewed study, none of the one only viewed
        sources = {read_shared(tmp_path / "studies" / name).StudyInstanceUID for name in reviewed}
        assert {pydicom.dcmread(entry.path).StudyInstanceUID for entry in waiting} == sources
        assert window.actions_by_name["outbox"].text() == "Outbo&x (6 waiting)…"
        window.actions_by_name["outbox"].trigger()
        dialog = window.network.outbox_dialog
        assert dialog.table.rowCount() == 6
        assert {dialog.table.item(r, 1).text() for r in range(6)} == {"orthanc"}
        assert all("could not connect" in dialog.table.item(r, 5).text() for r in range(6))
    finally:
        orthanc.start()
    with qtbot.waitSignal(window.network.sender.finished, timeout=WAIT_MS) as finished:
        qtbot.mouseClick(dialog.retry_button, Qt.MouseButton.LeftButton)
    assert finished.args == ["outbox: 6 sent, 0 kept"]
    assert pending(outbox) == [] and dialog.table.rowCount() == 0
    assert window.actions_by_name["outbox"].text() == "Outbo&x…"
    stored = {uid: sop_class for name in reviewed
              for uid, sop_class in held(orthanc, read_shared(tmp_path / "studies" / name).StudyInstanceUID).items()}
    assert {entry.path.stem for entry in waiting} <= set(stored)
    assert sorted(stored[entry.path.stem] for entry in waiting) == sorted(
        [COMPREHENSIVE_SR, "1.2.840.10008.5.1.4.1.1.66.4", SECONDARY_CAPTURE] * 2)


def test_the_peer_to_send_to_is_chosen_in_the_menu_and_remembered(qtbot, no_pacs, make_window):
    window = make_window()
    network = window.network
    assert network.send_peer(no_pacs) == "main"  # the first of the settings until one is chosen
    network.peer_menu.aboutToShow.emit()
    entries = network.peer_menu.actions()
    assert [a.text() for a in entries] == [p.describe() for p in no_pacs.peers]
    assert [a.isChecked() for a in entries] == [True, False]
    entries[1].trigger()
    assert network.send_peer(no_pacs) == "teaching"
    window.close()
    again = make_window()  # the same viewer settings file: the choice is remembered
    assert again.network.send_peer(no_pacs) == "teaching"
    again.network.peer_menu.aboutToShow.emit()
    assert [a.isChecked() for a in again.network.peer_menu.actions()] == [False, True]
    # Nothing shown: Send results says so instead of sending.
    messages = []
    again.network.message.connect(messages.append)
    assert not again.network.send_shown() and messages == ["Open a study to send its results"]
    none_marked = ("no study is marked reviewed (tick Reviewed below the worklist, or Ctrl+Enter): "
                   "nothing sent")
    assert not again.network.send_reviewed() and messages[-1] == none_marked
    # A study on screen (viewed) but not marked reviewed: still nothing is sent.
    show_and_wait(qtbot, again, [sorted(shared_dicoms())[0]])
    qtbot.waitUntil(lambda: again.worklist.reading.states.get(again.session.current) is not None
                    and again.worklist.reading.states[again.session.current].viewed, timeout=WAIT_MS)
    again.actions_by_name["send_reviewed"].trigger()
    assert messages[-1] == none_marked
    assert not again.network.sender.busy and pending(again.network.sender.outbox) == []
