"""Round trips and faults against a real PACS (Orthanc, `conftest.orthanc`): the modality archives
the shared chest DICOMs; we find them (C-FIND, QIDO-RS), retrieve them (C-GET, C-MOVE, WADO-RS),
analyse them with the shipped models, and send SR, SEG and SC back (C-STORE, STOW-RS) through the
outbox; the archive then holds objects that read back to our numbers and masks."""

from __future__ import annotations

import threading
import time

import numpy as np
import pydicom
import pytest
from orthanc_support import MODALITY, ORTHANC_AET, OUR_AET, archive_shared, read_shared, shared_dicoms
from pynetdicom import AE

from cxrviewer.analysis.dicom_results import result_datasets, study_results
from cxrviewer.analysis.study_content import study_content
from cxrviewer.commands.sending import send_results
from cxrviewer.core.export.dicom_seg import read_masks
from cxrviewer.core.export.dicom_sr import read_findings
from cxrviewer.core.io import read_image
from cxrviewer.net.dicomweb import qido_studies, wado_study
from cxrviewer.net.outbox import pending, retry, send_through_outbox
from cxrviewer.net.peers import PeerError
from cxrviewer.net.query import StudyQuery, find_studies, get_study, move_study
from cxrviewer.net.settings import AllowedSender, NetworkSettings, Peer
from cxrviewer.net.storage import StorageServer

NIH = "nih_cxr14_DX_nofinding_implicitLE_mono2.dcm"
SIIM = "siim_pneumothorax_CR_chest_PA_jpegbaseline_mono2.dcm"

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # highdicom on the sources' one-part names


@pytest.fixture(scope="module")
def pacs(orthanc) -> Peer:
    return Peer("orthanc", ORTHANC_AET, "127.0.0.1", orthanc.dicom_port, orthanc.dicomweb_url)


@pytest.fixture(scope="module")
def settings(pacs, our_port) -> NetworkSettings:
    wrong = Peer("wrong-aet", "NOT-THE-PACS", pacs.host, pacs.port)
    return NetworkSettings(OUR_AET, our_port, "", (AllowedSender(ORTHANC_AET, "127.0.0.1"),), (pacs, wrong))


@pytest.fixture(scope="module")
def archived(orthanc) -> dict[str, pydicom.Dataset]:
    """The modality sends the shared chest DICOMs to the PACS; {file name: dataset sent}."""
    return archive_shared(orthanc)


def fetch_source(pacs, study, folder):
    """C-GET the study and return the source image's instance (the study may hold our results too)."""
    (got,) = [i for i in get_study(pacs, study.StudyInstanceUID, OUR_AET, folder) if i.sop_instance_uid == study.SOPInstanceUID]
    return got


def uids(matches) -> set[str]:
    return {m.study_uid for m in matches}


def test_find_by_c_find_and_qido(pacs, settings, archived):
    everything = {ds.StudyInstanceUID for ds in archived.values()}
    nih = archived[NIH]
    assert uids(find_studies(pacs, StudyQuery(), OUR_AET)) == everything
    assert uids(qido_studies(pacs, StudyQuery())) == everything
    by_patient = StudyQuery(patient_id=nih.PatientID)
    assert uids(find_studies(pacs, by_patient, OUR_AET)) == {nih.StudyInstanceUID}
    assert uids(qido_studies(pacs, by_patient)) == {nih.StudyInstanceUID}
    only_cr = {ds.StudyInstanceUID for ds in archived.values() if ds.Modality == "CR"}
    assert uids(find_studies(pacs, StudyQuery(modalities=("CR",)), OUR_AET)) == only_cr
    assert uids(qido_studies(pacs, StudyQuery(modalities=("CR",)))) == only_cr
    dated = [ds for ds in archived.values() if ds.get("StudyDate")]
    for ds in dated:
        window = StudyQuery(dates=f"{ds.StudyDate}-{ds.StudyDate}")
        expected = {d.StudyInstanceUID for d in dated if d.StudyDate == ds.StudyDate}
        assert uids(find_studies(pacs, window, OUR_AET)) == expected
    (match,) = find_studies(pacs, by_patient, OUR_AET)
    assert match.instances == 1 and match.modalities == ("DX",)
    by_name = StudyQuery(patient_name=str(nih.PatientName)[:5] + "*")
    assert uids(find_studies(pacs, by_name, OUR_AET)) == {nih.StudyInstanceUID}
    assert uids(qido_studies(pacs, by_name)) == {nih.StudyInstanceUID}
    with_accession = [ds for ds in archived.values() if ds.get("AccessionNumber")]
    assert with_accession, "a shared DICOM with an accession number"
    for ds in with_accession:
        by_accession = StudyQuery(accession=ds.AccessionNumber)
        assert uids(find_studies(pacs, by_accession, OUR_AET)) == {ds.StudyInstanceUID}
        assert uids(qido_studies(pacs, by_accession)) == {ds.StudyInstanceUID}
    assert find_studies(pacs, StudyQuery(patient_id="NO-SUCH-PATIENT"), OUR_AET) == []


def test_retrieve_by_c_get_c_move_and_wado(pacs, settings, archived, our_port, tmp_path):
    nih = archived[NIH]
    (got,) = get_study(pacs, nih.StudyInstanceUID, OUR_AET, tmp_path / "get")
    assert got.sop_instance_uid == nih.SOPInstanceUID
    original = read_image(shared_dicoms()[[p.name for p in shared_dicoms()].index(NIH)]).pixels
    assert np.array_equal(read_image(got.path).pixels, original)

    received = []
    with StorageServer(OUR_AET, our_port, tmp_path / "move", settings.allowed, on_instance=received.append,
                       host="127.0.0.1", quiet_seconds=0.2):
        assert move_study(pacs, nih.StudyInstanceUID, OUR_AET, OUR_AET) == 1
    assert [i.sop_instance_uid for i in received] == [nih.SOPInstanceUID]
    assert np.array_equal(read_image(received[0].path).pixels, original)

    (wado,) = wado_study(pacs, nih.StudyInstanceUID, tmp_path / "wado")
    assert np.array_equal(read_image(wado).pixels, original)


def archived_instances(pacs, study_uid, folder):
    """{SOP instance UID: dataset} of everything the PACS holds in the study (WADO-RS)."""
    return {pydicom.dcmread(p).SOPInstanceUID: pydicom.dcmread(p) for p in wado_study(pacs, study_uid, folder)}


def check_results_held(pacs, results, sent, folder):
    held = archived_instances(pacs, results.source.StudyInstanceUID, folder)
    by_modality = {held[ds.SOPInstanceUID].Modality: held[ds.SOPInstanceUID] for ds in sent}
    assert set(by_modality) == {"SR", "SEG", "OT"}
    source_uid = results.source.SOPInstanceUID
    # The SR, read back through highdicom, carries the analysis' numbers and calls.
    read = read_findings(by_modality["SR"])
    assert set(read) == {(f.model, f.label) for f in results.findings}
    for finding in results.findings:
        said = read[(finding.model, finding.label)]
        assert said["probability"] == pytest.approx(finding.probability, abs=1e-12)
        assert said["called"] == finding.called
        if finding.threshold is not None:
            assert said["threshold"] == pytest.approx(finding.threshold, abs=1e-12)
    evidence = by_modality["SR"].CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
    assert evidence.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == source_uid
    # The SEG's masks are ours, pixel for pixel, on the source's grid.
    masks = read_masks(by_modality["SEG"])
    assert set(masks) == set(results.masks)
    for label, mask in results.masks.items():
        assert np.array_equal(masks[label], mask)
    assert by_modality["SEG"].ReferencedSeriesSequence[0].ReferencedInstanceSequence[0].ReferencedSOPInstanceUID == source_uid
    assert by_modality["OT"].SourceImageSequence[0].ReferencedSOPInstanceUID == source_uid
    return read


@pytest.mark.parametrize("way", ["dimse", "stow"])
def test_analysed_results_go_back_and_read_back_the_same(pacs, settings, archived, tmp_path, way):
    study = archived[SIIM if way == "dimse" else NIH]
    got = fetch_source(pacs, study, tmp_path / "get")
    results = study_results(got.path)
    assert {f.model for f in results.findings} >= {"cxr-gate", "tb-screen-shenzhen", "tb-lesions-tbx11k"}
    assert set(results.masks) == {"lungs", "tb_lesions"} and results.masks["lungs"].mean() > 0.1
    sent = result_datasets(results, view=study_content(got.path, None, False))
    report = send_through_outbox(tmp_path / "outbox", sent, "orthanc", settings, way)
    assert (len(report.sent), len(report.kept)) == (3, 0)
    assert pending(tmp_path / "outbox") == [] and not list((tmp_path / "outbox").iterdir())
    read = check_results_held(pacs, results, sent, tmp_path / "wado")
    print(f"\n{way}: SR read back: " + "; ".join(f"{m} {label} {v['probability']:.4f}" for (m, label), v in read.items()))


def test_anonymised_results_carry_no_identifiers(pacs, settings, archived, tmp_path):
    study = archived[NIH]
    got = fetch_source(pacs, study, tmp_path / "get")
    results = study_results(got.path, anonymise=True)
    sent = result_datasets(results, view=study_content(got.path, None, True))
    new_study = {ds.StudyInstanceUID for ds in sent}
    assert len(new_study) == 1 and new_study != {study.StudyInstanceUID}
    for ds in sent:
        assert str(ds.PatientName) == "Anonymous" and ds.PatientID == "ANONYMOUS"
        assert study.PatientID not in str(ds.to_json_dict())
        assert study.SOPInstanceUID not in str(ds.to_json_dict())


def test_received_triaged_and_stored_round_trip(pacs, settings, orthanc, tmp_path, capsys):
    """The modality sends a study to our storage service; the listen hook analyses it and sends its
    results; the time from the first byte sent to the PACS confirming the results is printed."""
    source = read_shared(shared_dicoms()[[p.name for p in shared_dicoms()].index(SIIM)])
    done, reports = threading.Event(), []

    def on_study(study):
        for instance in study.instances:
            reports.append(send_results(instance.path, "orthanc", settings, None, False, outbox=tmp_path / "outbox"))
        done.set()

    with StorageServer(OUR_AET, 0, tmp_path / "received", [AllowedSender(MODALITY, "127.0.0.1")],
                       on_study=on_study, host="127.0.0.1", quiet_seconds=0.5) as scp:
        started = time.perf_counter()
        ae = AE(ae_title=MODALITY)
        ae.add_requested_context(source.SOPClassUID, [source.file_meta.TransferSyntaxUID])
        assoc = ae.associate("127.0.0.1", scp.port, ae_title=OUR_AET)
        assert int(assoc.send_c_store(source).Status) == 0
        assoc.release()
        assert done.wait(120)
        seconds = time.perf_counter() - started
    (report,) = reports
    assert (len(report.sent), len(report.kept)) == (3, 0)
    held = orthanc.rest(f"/instances/{orthanc_id(orthanc, report.sent[0].path.stem)}")
    assert held["MainDicomTags"]["SOPInstanceUID"] == report.sent[0].path.stem
    with capsys.disabled():  # shown in every run, not only with -s
        print(f"\nround trip, one study (receive -> triaged -> results stored in Orthanc): {seconds:.2f} s "
              f"(of which 0.5 s is the quiet period that closes a study)")
    assert seconds < 120


def orthanc_id(orthanc, sop_uid) -> str:
    import json
    import urllib.request

    body = json.dumps({"Level": "Instance", "Query": {"SOPInstanceUID": sop_uid}}).encode()
    request = urllib.request.Request(f"{orthanc.url}/tools/find", data=body, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        (found,) = json.loads(response.read())
    return found


def test_pacs_down_keeps_the_outbox_and_delivers_after_restart(pacs, settings, orthanc, archived, tmp_path):
    study = archived[NIH]
    got = fetch_source(pacs, study, tmp_path / "get")
    results = study_results(got.path)
    sent = result_datasets(results)
    outbox = tmp_path / "outbox"
    orthanc.stop()
    try:
        report = send_through_outbox(outbox, sent, "orthanc", settings)
        assert (len(report.sent), len(report.kept)) == (0, len(sent))
        kept = pending(outbox)
        assert {e.path.stem for e in kept} == {ds.SOPInstanceUID for ds in sent}
        assert all(e.attempts == 1 and "orthanc (ORTHANC at 127.0.0.1" in e.error for e in kept)
        again = retry(outbox, settings)  # still down: kept, one more attempt counted
        assert len(again.kept) == len(sent) and {e.attempts for e in pending(outbox)} == {2}
        # STOW-RS to the same PACS, down too: kept, the error naming the peer and its DICOMweb address.
        capture = result_datasets(results, view=study_content(got.path, None, False))[-1]
        by_web = send_through_outbox(outbox, [capture], "orthanc", settings, "stow")
        stowed = next(e for e in by_web.kept if e.way == "stow")
        assert stowed.error.startswith("PACS orthanc") and orthanc.dicomweb_url in stowed.error
        sent = [*sent, capture]
    finally:
        orthanc.start()
    delivered = retry(outbox, settings)
    assert (len(delivered.sent), len(delivered.kept)) == (len(sent), 0)
    assert {e.way for e in delivered.sent} == {"dimse", "stow"}
    assert pending(outbox) == []
    held = archived_instances(pacs, study.StudyInstanceUID, tmp_path / "wado")
    assert {ds.SOPInstanceUID for ds in sent} <= set(held)


def test_pacs_killed_mid_send_keeps_the_rest_and_delivers_after_restart(pacs, settings, orthanc, archived, tmp_path,
                                                                       monkeypatch):
    """The PACS dies (SIGKILL) right after confirming the first object of an association: that one
    leaves the outbox, the others stay with the error, and all are held once it is back."""
    from pynetdicom.association import Association

    study = archived[SIIM]
    results = study_results(fetch_source(pacs, study, tmp_path / "get").path)
    sent = result_datasets(results, view=study_content(fetch_source(pacs, study, tmp_path / "get2").path, None, False))
    real_send = Association.send_c_store
    confirmed = []

    def send_then_die(self, dataset, *args, **kwargs):
        if confirmed:  # the PACS is gone: this store meets a dead association
            return real_send(self, dataset, *args, **kwargs)
        status = real_send(self, dataset, *args, **kwargs)
        confirmed.append(dataset.SOPInstanceUID)
        orthanc.process.kill()
        orthanc.process.wait()
        time.sleep(0.5)
        return status

    monkeypatch.setattr(Association, "send_c_store", send_then_die)
    outbox = tmp_path / "outbox"
    try:
        report = send_through_outbox(outbox, sent, "orthanc", settings)
    finally:
        monkeypatch.setattr(Association, "send_c_store", real_send)
        orthanc.process = None
        orthanc.start()
    assert [e.path.stem for e in report.sent] == confirmed
    assert len(report.kept) == len(sent) - 1
    assert all(e.error.startswith("PACS orthanc (ORTHANC at 127.0.0.1") for e in report.kept)
    assert {e.path.stem for e in pending(outbox)} == {ds.SOPInstanceUID for ds in sent} - set(confirmed)
    delivered = retry(outbox, settings)
    assert (len(delivered.sent), len(delivered.kept)) == (len(sent) - 1, 0)
    held = archived_instances(pacs, study.StudyInstanceUID, tmp_path / "wado")
    assert {ds.SOPInstanceUID for ds in sent} <= set(held)


def test_a_rejected_association_names_the_peer(settings, archived, tmp_path):
    wrong = settings.peer("wrong-aet")
    with pytest.raises(PeerError) as raised:
        find_studies(wrong, StudyQuery(), OUR_AET)
    message = str(raised.value)
    assert "wrong-aet" in message and "NOT-THE-PACS" in message and "rejected" in message
    ds = read_shared(shared_dicoms()[0])
    report = send_through_outbox(tmp_path / "outbox", [ds], "wrong-aet", settings)
    assert len(report.kept) == 1 and "wrong-aet" in report.kept[0].error and "rejected" in report.kept[0].error
    assert "wrong-aet" in report.describe()


def test_the_commands_find_and_get(pacs, settings, archived, tmp_path):
    import subprocess
    import sys

    from cxrviewer.net.settings import save_network_settings

    settings_file = tmp_path / "network.json"
    save_network_settings(settings, settings_file)
    env = {**__import__("os").environ, "CXRVIEWER_NETWORK_SETTINGS": str(settings_file)}
    nih = archived[NIH]
    found = subprocess.run([sys.executable, "-m", "cxrviewer", "pacs", "find", "--peer", "orthanc",
                            "--patient-id", nih.PatientID], capture_output=True, text=True, env=env, timeout=120)
    assert found.returncode == 0, found.stderr
    assert nih.StudyInstanceUID in found.stdout and len(found.stdout.strip().splitlines()) == 1
    got = subprocess.run([sys.executable, "-m", "cxrviewer", "pacs", "get", nih.StudyInstanceUID, "--peer", "orthanc",
                          "--via", "wado", "--out", str(tmp_path / "out")], capture_output=True, text=True, env=env,
                         timeout=120)
    assert got.returncode == 0, got.stderr
    held = {pydicom.dcmread(path).SOPInstanceUID for path in got.stdout.split()}
    assert nih.SOPInstanceUID in held  # with whatever results earlier tests sent into the study



def held_count(orthanc, study_uid: str, modality: str) -> int:
    import json
    import urllib.request

    body = json.dumps({"Level": "Instance", "Query": {"StudyInstanceUID": study_uid, "Modality": modality}}).encode()
    request = urllib.request.Request(f"{orthanc.url}/tools/find", data=body, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return len(json.loads(response.read()))


def command_env(settings, tmp_path) -> dict:
    import os

    from cxrviewer.net.settings import save_network_settings

    save_network_settings(settings, tmp_path / "network.json")
    return {**os.environ, "CXRVIEWER_NETWORK_SETTINGS": str(tmp_path / "network.json")}


def test_listen_command_receives_triages_and_sends_back(settings, orthanc, tmp_path):
    import subprocess
    import sys

    from orthanc_support import free_port

    source = read_shared(shared_dicoms()[[p.name for p in shared_dicoms()].index(SIIM)])
    before = held_count(orthanc, source.StudyInstanceUID, "SR")
    port = free_port()
    listen = subprocess.Popen(
        [sys.executable, "-m", "cxrviewer", "listen", "--port", str(port), "--folder", str(tmp_path / "in"),
         "--allow", f"{MODALITY}@127.0.0.1", "--triage", "--send", "orthanc", "--quiet", "0.5", "--stop-after", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=command_env(settings, tmp_path))
    try:
        assert "listening as CXRVIEWER" in listen.stdout.readline()
        ae = AE(ae_title=MODALITY)
        ae.add_requested_context(source.SOPClassUID, [source.file_meta.TransferSyntaxUID])
        assoc = ae.associate("127.0.0.1", port, ae_title=OUR_AET)
        assert int(assoc.send_c_store(source).Status) == 0
        assoc.release()
        out, err = listen.communicate(timeout=300)
    finally:
        listen.kill()
    assert listen.returncode == 0, err
    assert f"received study {source.StudyInstanceUID}: 1 instance(s) in 1 series" in out
    assert "tb-screen-shenzhen: normal" in out and "tb-lesions-tbx11k: score" in out
    assert "outbox: 3 sent, 0 kept" in err
    assert held_count(orthanc, source.StudyInstanceUID, "SR") == before + 1


def test_analyze_send_and_the_outbox_command(settings, orthanc, archived, tmp_path):
    import subprocess
    import sys

    path = shared_dicoms()[[p.name for p in shared_dicoms()].index(NIH)]
    uid = archived[NIH].StudyInstanceUID
    before = held_count(orthanc, uid, "SEG")
    env = command_env(settings, tmp_path)
    done = subprocess.run([sys.executable, "-m", "cxrviewer", "analyze", str(path), "--model", "tb-screen-shenzhen",
                           "--csv", str(tmp_path / "out.csv"), "--send", "orthanc"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "outbox: 3 sent, 0 kept" in done.stderr
    assert held_count(orthanc, uid, "SEG") == before + 1
    listed = subprocess.run([sys.executable, "-m", "cxrviewer", "pacs", "outbox"], capture_output=True, text=True,
                            env=env, timeout=120)
    assert listed.returncode == 0 and "0 object(s) waiting" in listed.stdout
