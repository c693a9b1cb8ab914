"""The viewer's PACS dialog against a real PACS (Orthanc, `conftest.orthanc`), driven offscreen with
real clicks: the modality archives the shared chest DICOMs; the dialog finds them by patient ID,
name, dates, modality and accession (C-FIND and QIDO-RS), shows their tags, retrieves the selected
studies (C-GET, C-MOVE, WADO-RS) into the storage folder and announces files that read back as the
instances sent. Faults: a peer that is not there, and the PACS stopped before a retrieval, are said in
the dialog naming the peer, and the dialog goes on working."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest
from orthanc_support import ORTHANC_AET, OUR_AET, archive_shared, free_port
from PySide6.QtCore import QDate, Qt

from cxrviewer.gui.pacs_dialog import SEARCH_JOB, PacsDialog
from cxrviewer.gui.pacs_results import COLUMNS
from cxrviewer.net.retrieve import routes
from cxrviewer.net.settings import NetworkSettings, Peer, save_network_settings

NIH = "nih_cxr14_DX_nofinding_implicitLE_mono2.dcm"
SIIM = "siim_pneumothorax_CR_chest_PA_jpegbaseline_mono2.dcm"
FUJI = "CR-MONO1-10-chest.dcm"
NETWORK_MS = 60000


@pytest.fixture(scope="module")
def archived(orthanc) -> dict[str, pydicom.Dataset]:
    return archive_shared(orthanc)


@pytest.fixture
def settings(orthanc, our_port, tmp_path) -> NetworkSettings:
    """orthanc (C-GET, and DICOMweb), the same PACS retrieving by C-MOVE, and a peer nobody answers for."""
    pacs = Peer("orthanc", ORTHANC_AET, "127.0.0.1", orthanc.dicom_port, orthanc.dicomweb_url)
    moving = Peer("orthanc-move", ORTHANC_AET, "127.0.0.1", orthanc.dicom_port, retrieve="move")
    down = Peer("down", "DOWNPACS", "127.0.0.1", free_port(), f"http://127.0.0.1:{free_port()}/dicom-web")
    return NetworkSettings(OUR_AET, our_port, str(tmp_path / "storage"), (), (pacs, moving, down))


@pytest.fixture
def dialog(qtbot, settings) -> PacsDialog:
    window = PacsDialog(settings=settings)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    yield window
    window.shutdown()


def expected_cells(ds: pydicom.Dataset) -> list[str]:
    """A study's row as the reader should see it, from the tags of the file sent (one instance each)."""
    name, date = str(ds.get("PatientName", "")), str(ds.get("StudyDate", ""))
    family, _, given = name.partition("^")
    return [f"{family}, {given.replace('^', ' ')}" if given else family, str(ds.get("PatientID", "")),
            f"{date[:4]}-{date[4:6]}-{date[6:]}" if date else "", ds.Modality, str(ds.get("AccessionNumber", "")),
            str(ds.get("StudyDescription", "")), "1", ""]


def click(qtbot, button) -> None:
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def search(qtbot, dialog: PacsDialog) -> int:
    """Click Search; the number of studies shown."""
    with qtbot.waitSignal(dialog.searched, timeout=NETWORK_MS) as shown:
        click(qtbot, dialog.search_button)
    return shown.args[0]


def shown_rows(dialog: PacsDialog) -> dict[str, list[str]]:
    table = dialog.table
    return {table.study_uid(row): table.cells(row) for row in range(table.rowCount())}


def select_row(qtbot, dialog: PacsDialog, study_uid: str, *, add: bool = False) -> None:
    table = dialog.table
    item = table.item(table.row_of(study_uid), 0)
    modifier = Qt.KeyboardModifier.ControlModifier if add else Qt.KeyboardModifier.NoModifier
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, modifier, table.visualItemRect(item).center())


def retrieve(qtbot, dialog: PacsDialog) -> tuple[list[list[Path]], tuple[int, int]]:
    """Click Retrieve; (each emission of studies_retrieved, the (retrieved, asked) counts)."""
    announced: list[list[Path]] = []
    dialog.studies_retrieved.connect(announced.append)
    try:
        with qtbot.waitSignal(dialog.retrieval_finished, timeout=NETWORK_MS) as finished:
            click(qtbot, dialog.retrieve_button)
            assert dialog.cancel_button.isEnabled() and not dialog.retrieve_button.isEnabled()
    finally:
        dialog.studies_retrieved.disconnect(announced.append)
    return announced, tuple(finished.args)


def sop_uids(files: list[Path]) -> set[str]:
    return {pydicom.dcmread(path).SOPInstanceUID for path in files}


def test_routes_list_each_peer_over_dimse_then_dicomweb():
    """No PACS needed: the settings alone."""
    settings = NetworkSettings(peers=(Peer("a", "A", "10.0.0.2", 104, "http://10.0.0.2/dicom-web"),
                                      Peer("b", "B", "10.0.0.3", 11112, retrieve="move")))
    assert [(r.peer.name, r.web, r.retrieval) for r in routes(settings)] == [
        ("a", False, "get"), ("a", True, "wado"), ("b", False, "move")]
    assert [r.describe() for r in routes(settings)] == [
        "a: DIMSE (C-FIND, C-GET), A at 10.0.0.2:104", "a: DICOMweb (QIDO-RS, WADO-RS) at http://10.0.0.2/dicom-web",
        "b: DIMSE (C-FIND, C-MOVE), B at 10.0.0.3:11112"]


def test_search_by_patient_id_and_retrieve_by_c_get(qtbot, dialog, settings, archived):
    nih = archived[NIH]
    assert [dialog.peer.itemText(i) for i in range(dialog.peer.count())] == [r.describe() for r in routes(settings)]
    assert not dialog.retrieve_button.isEnabled()
    qtbot.keyClicks(dialog.form.patient_id, nih.PatientID)
    assert search(qtbot, dialog) == 1
    assert [dialog.table.horizontalHeaderItem(c).text() for c in range(len(COLUMNS))] == list(COLUMNS)
    assert shown_rows(dialog) == {nih.StudyInstanceUID: expected_cells(nih)}
    assert "1 study at orthanc: DIMSE (C-FIND, C-GET)" in dialog.status.text()

    select_row(qtbot, dialog, nih.StudyInstanceUID)
    assert dialog.retrieve_button.isEnabled()
    announced, counts = retrieve(qtbot, dialog)
    assert counts == (1, 1)
    (files,) = announced
    assert all(isinstance(path, Path) and path.is_relative_to(settings.storage_folder()) for path in files)
    assert sop_uids(files) == {nih.SOPInstanceUID}
    assert shown_rows(dialog)[nih.StudyInstanceUID][-1] == "1 file"
    assert dialog.status.text() == f"Retrieved 1 of 1 study into {settings.storage_folder()}."
    assert dialog.progress.value() == dialog.progress.maximum() and dialog.retrieve_button.isEnabled()


def test_search_fields_and_several_studies_at_once(qtbot, dialog, archived):
    assert search(qtbot, dialog) == len(archived)  # empty fields, CR and DX: every study
    assert shown_rows(dialog) == {ds.StudyInstanceUID: expected_cells(ds) for ds in archived.values()}

    dialog.form.modalities["DX"].setChecked(False)
    crs = {ds.StudyInstanceUID: ds for ds in archived.values() if ds.Modality == "CR"}
    assert search(qtbot, dialog) == len(crs) and set(shown_rows(dialog)) == set(crs)
    dialog.form.modalities["CR"].setChecked(False)
    click(qtbot, dialog.search_button)  # nothing ticked: said, and no search
    assert "tick CR or DX" in dialog.status.text() and not dialog.runner.busy
    for box in dialog.form.modalities.values():
        box.setChecked(True)

    siim = archived[SIIM]
    day = QDate.fromString(siim.StudyDate, "yyyyMMdd")
    dialog.form.set_dates(day, day)
    assert search(qtbot, dialog) == 1 and set(shown_rows(dialog)) == {siim.StudyInstanceUID}
    dialog.form.set_dates(day.addDays(1), day)
    click(qtbot, dialog.search_button)
    assert "end (1901-01-01) before they start (1901-01-02)" in dialog.status.text()
    dialog.form.use_dates.setChecked(False)

    fuji = archived[FUJI]
    qtbot.keyClicks(dialog.form.accession, fuji.AccessionNumber)
    assert search(qtbot, dialog) == 1 and set(shown_rows(dialog)) == {fuji.StudyInstanceUID}
    dialog.form.accession.clear()
    qtbot.keyClicks(dialog.form.patient_name, str(archived[NIH].PatientName)[:5].lower())  # begins with, any case
    assert search(qtbot, dialog) == 1 and set(shown_rows(dialog)) == {archived[NIH].StudyInstanceUID}

    dialog.form.patient_name.clear()
    dialog.form.modalities["DX"].setChecked(False)
    assert search(qtbot, dialog) == len(crs)
    first, second = sorted(crs)
    select_row(qtbot, dialog, first)
    select_row(qtbot, dialog, second, add=True)
    announced, counts = retrieve(qtbot, dialog)
    assert counts == (2, 2) and len(announced) == 2  # one announcement per study, as each arrives
    assert {frozenset(sop_uids(files)) for files in announced} == {frozenset({ds.SOPInstanceUID}) for ds in crs.values()}


def test_retrieve_by_c_move(qtbot, dialog, archived):
    siim = archived[SIIM]
    dialog.choose("orthanc-move")
    qtbot.keyClicks(dialog.form.patient_id, siim.PatientID)
    assert search(qtbot, dialog) == 1
    assert shown_rows(dialog) == {siim.StudyInstanceUID: expected_cells(siim)}
    select_row(qtbot, dialog, siim.StudyInstanceUID)
    (files,), counts = retrieve(qtbot, dialog)
    assert counts == (1, 1) and sop_uids(files) == {siim.SOPInstanceUID}


def test_search_and_retrieve_through_dicomweb(qtbot, dialog, archived):
    nih = archived[NIH]
    dialog.choose("orthanc", web=True)
    qtbot.keyClicks(dialog.form.patient_id, nih.PatientID)
    with qtbot.waitSignal(dialog.searched, timeout=NETWORK_MS) as shown:
        qtbot.keyClick(dialog.form.patient_id, Qt.Key.Key_Return)  # Return in a field searches
    assert shown.args == [1]
    assert shown_rows(dialog) == {nih.StudyInstanceUID: expected_cells(nih)}
    assert "DICOMweb (QIDO-RS, WADO-RS)" in dialog.status.text()
    select_row(qtbot, dialog, nih.StudyInstanceUID)
    (files,), counts = retrieve(qtbot, dialog)
    assert counts == (1, 1) and sop_uids(files) == {nih.SOPInstanceUID}


@pytest.mark.parametrize("web", [False, True])
def test_a_peer_that_is_not_there_is_named_and_the_dialog_goes_on(qtbot, dialog, settings, archived, web):
    down = settings.peer("down")
    assert search(qtbot, dialog) == len(archived)
    dialog.choose("down", web=web)
    with qtbot.waitSignal(dialog.search_failed, timeout=NETWORK_MS) as failed:
        click(qtbot, dialog.search_button)
    message = failed.args[0]
    assert message.startswith(f"PACS {down.describe()}")
    assert (down.dicomweb_url in message) if web else ("no association: could not connect" in message), message
    assert dialog.status.text() == f"Search failed: {message}" and "Traceback" not in message
    assert dialog.table.rowCount() == 0 and not dialog.retrieve_button.isEnabled()
    dialog.choose("orthanc", web=web)  # still usable
    assert search(qtbot, dialog) == len(archived)


def test_a_pacs_stopped_before_the_retrieval_is_named_per_study(qtbot, dialog, orthanc, archived):
    nih = archived[NIH]
    qtbot.keyClicks(dialog.form.patient_id, nih.PatientID)
    assert search(qtbot, dialog) == 1
    select_row(qtbot, dialog, nih.StudyInstanceUID)
    orthanc.stop()
    try:
        announced, counts = retrieve(qtbot, dialog)
    finally:
        orthanc.start()
    assert counts == (0, 1) and announced == []
    outcome = shown_rows(dialog)[nih.StudyInstanceUID][-1]
    assert outcome.startswith("failed: PACS orthanc (ORTHANC at 127.0.0.1") and "could not connect" in outcome
    assert "Not retrieved: study " + nih.StudyInstanceUID in dialog.status.text()
    (files,), counts = retrieve(qtbot, dialog)  # the PACS is back: the same selection, again
    assert counts == (1, 1) and sop_uids(files) == {nih.SOPInstanceUID}


def test_a_peer_that_never_answers_leaves_the_window_responsive(qtbot, dialog, settings, monkeypatch):
    """A peer that accepts the connection and then says nothing: the search waits in its worker while
    the window goes on; after the (shortened) timeout the dialog names the peer."""
    import dataclasses
    import socket

    import cxrviewer.net.peers

    monkeypatch.setattr(cxrviewer.net.peers, "TIMEOUT_SECONDS", 2)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # connections queue up and are never answered
        peer = Peer("silent", "SILENT", "127.0.0.1", silent.getsockname()[1])
        window = PacsDialog(settings=dataclasses.replace(settings, peers=(peer,)))
        qtbot.addWidget(window)
        window.show()
        try:
            with qtbot.waitSignal(window.search_failed, timeout=NETWORK_MS) as failed:
                click(qtbot, window.search_button)
                assert window.status.text().startswith("Searching silent: DIMSE")
                qtbot.wait(500)  # the event loop runs meanwhile: typing works, the search is still out
                qtbot.keyClicks(window.form.patient_id, "typed")
                assert window.form.patient_id.text() == "typed" and window.runner.pending(SEARCH_JOB)
        finally:
            window.shutdown()
    assert failed.args[0].startswith(f"PACS {peer.describe()}: association aborted before it was accepted")
    assert window.status.text() == f"Search failed: {failed.args[0]}"


def test_cancel_stops_after_the_study_being_retrieved(qtbot, dialog, archived):
    assert search(qtbot, dialog) == len(archived)
    uids = sorted(ds.StudyInstanceUID for ds in archived.values())
    for number, uid in enumerate(uids):
        select_row(qtbot, dialog, uid, add=number > 0)
    announced: list[list[Path]] = []
    dialog.studies_retrieved.connect(announced.append)
    with qtbot.waitSignal(dialog.retrieval_finished, timeout=NETWORK_MS) as finished:
        click(qtbot, dialog.retrieve_button)
        click(qtbot, dialog.cancel_button)  # the first study is already on its way; the others wait
        assert not dialog.cancel_button.isEnabled() and dialog.status.text().startswith("Cancelling")
    retrieved, asked = finished.args
    assert asked == len(uids) and retrieved == len(announced) <= 1
    outcomes = [row[-1] for row in shown_rows(dialog).values()]
    assert outcomes.count("cancelled") == len(uids) - retrieved
    assert dialog.status.text().endswith(f"; {len(uids) - retrieved} cancelled.")
    assert dialog.retrieve_button.isEnabled()


def test_without_peers_or_with_damaged_settings_the_dialog_says_what_to_do(qtbot, tmp_path, monkeypatch):
    """No PACS needed: the settings alone."""
    empty = PacsDialog(settings=NetworkSettings())
    qtbot.addWidget(empty)
    assert empty.peer.count() == 0 and not empty.search_button.isEnabled() and not empty.search()
    assert "No PACS in the network settings" in empty.status.text() and "cxrviewer pacs add-peer" in empty.status.text()
    damaged = tmp_path / "network.json"
    damaged.write_text("{not json")
    monkeypatch.setenv("CXRVIEWER_NETWORK_SETTINGS", str(damaged))
    window = PacsDialog()
    qtbot.addWidget(window)
    assert window.status.text().startswith(f"network settings {damaged}: not readable")
    assert window.peer.count() == 0 and not window.search_button.isEnabled()
    # Mended while the viewer runs: the next time the dialog is shown, it lists the peer.
    save_network_settings(NetworkSettings(peers=(Peer("pacs", "PACS", "10.0.0.2", 104),)), damaged)
    window.show()
    assert [window.peer.itemText(i) for i in range(window.peer.count())] == ["pacs: DIMSE (C-FIND, C-GET), PACS at 10.0.0.2:104"]
    assert window.search_button.isEnabled() and window.status.text().startswith("Choose the PACS")


def test_c_move_while_our_port_is_taken_says_so(qtbot, dialog, settings, archived):
    """Another storage service (say `cxrviewer listen`) holds our port: C-MOVE cannot be received."""
    import socket

    siim = archived[SIIM]
    dialog.choose("orthanc-move")
    qtbot.keyClicks(dialog.form.patient_id, siim.PatientID)
    assert search(qtbot, dialog) == 1
    select_row(qtbot, dialog, siim.StudyInstanceUID)
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the earlier C-MOVE's port may be in TIME_WAIT
        holder.bind(("", settings.port))
        holder.listen()
        announced, counts = retrieve(qtbot, dialog)
    assert counts == (0, 1) and announced == []
    outcome = shown_rows(dialog)[siim.StudyInstanceUID][-1]
    assert outcome.startswith(f"failed: PACS {settings.peer('orthanc-move').describe()}: C-MOVE needs our storage "
                              f"service CXRVIEWER on port {settings.port}, which could not listen")
