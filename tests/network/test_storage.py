"""Our storage service against a real DICOM sender (a pynetdicom SCU playing the X-ray unit), on the
shared chest DICOMs: stored atomically by UID, grouped by study across associations, refused for a
sender not allowed, kept (with the reason) in a transfer syntax the viewer cannot decode."""

from __future__ import annotations

import copy
import threading

import numpy as np
import pydicom
import pytest
from orthanc_support import OUR_AET, free_port, read_shared, send_from_modality, shared_dicoms
from pydicom.encaps import encapsulate
from pydicom.uid import generate_uid
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES
from pynetdicom.sop_class import Verification

from cxrviewer.core.errors import StudyError
from cxrviewer.core.io import read_image
from cxrviewer.net.settings import AllowedSender
from cxrviewer.net.storage import StorageServer, scan_storage

MODALITY = "XRAY1"
MPEG2 = "1.2.840.10008.1.2.4.100"




@pytest.fixture
def server(tmp_path):
    studies, refused, done = [], [], threading.Event()

    def on_study(study):
        studies.append(study)
        done.set()

    with StorageServer(OUR_AET, free_port(), tmp_path / "received", [AllowedSender(MODALITY, "127.0.0.1")],
                       on_study=on_study, on_refused=refused.append, host="127.0.0.1", quiet_seconds=3.0) as scp:  # roomy: a second association may start late on a loaded machine
        scp.studies, scp.refused, scp.done = studies, refused, done
        yield scp


def test_the_shared_dicoms_are_stored_by_uid_as_sent(server):
    files = shared_dicoms()
    established, statuses = send_from_modality([read_shared(p) for p in files], server.port)
    assert established and statuses == [0] * len(files)
    server.close()
    assert len(server.studies) == len(files)
    for path in files:
        sent = read_shared(path)
        stored = server.folder / sent.StudyInstanceUID / sent.SeriesInstanceUID / f"{sent.SOPInstanceUID}.dcm"
        back = pydicom.dcmread(stored)
        assert back.file_meta.TransferSyntaxUID == sent.file_meta.TransferSyntaxUID
        assert back.PixelData == sent.PixelData  # the sender's bytes, not re-encoded
        # The viewer reads the received file exactly as it reads the original.
        assert np.array_equal(read_image(stored).pixels, read_image(path).pixels)
    assert not list(server.folder.rglob("*.part"))  # no temp file left behind
    assert all(not study.problems for study in server.studies)
    # After a restart the folder still says what arrived, study by study (a half-written temp file,
    # as a kill mid-store leaves, is no instance).
    (next(server.folder.glob("*/*")) / ".x.dcm.abc.part").write_bytes(b"half")
    on_disk = {study.study_uid: {i.sop_instance_uid for i in study.instances} for study in scan_storage(server.folder)}
    assert on_disk == {s.study_uid: {i.sop_instance_uid for i in s.instances} for s in server.studies}


def test_a_study_sent_in_two_associations_is_one_study(server):
    first = read_shared(shared_dicoms()[0])
    second = copy.deepcopy(first)
    second.SeriesInstanceUID, second.SOPInstanceUID = generate_uid(), generate_uid()
    second.file_meta.MediaStorageSOPInstanceUID = second.SOPInstanceUID
    assert send_from_modality([first], server.port)[1] == [0]
    assert send_from_modality([second], server.port)[1] == [0]
    assert server.done.wait(10)
    server.close()
    assert len(server.studies) == 1
    study = server.studies[0]
    assert study.study_uid == first.StudyInstanceUID
    assert {i.sop_instance_uid for i in study.instances} == {first.SOPInstanceUID, second.SOPInstanceUID}
    assert study.series_count == 2


def test_a_sender_not_allowed_is_refused_and_nothing_is_stored(server):
    established, _ = send_from_modality([read_shared(shared_dicoms()[0])], server.port, calling="STRANGER")
    assert not established
    assert [(r.ae_title, r.address) for r in server.refused] == [("STRANGER", "127.0.0.1")]
    assert "STRANGER" in server.refused[0].describe()
    assert not list(server.folder.rglob("*.dcm"))
    # The allowed AE title from another host would be refused too: the host is part of the rule.
    assert not AllowedSender(MODALITY, "10.1.2.3").matches(MODALITY, "127.0.0.1")


def test_verification_from_an_allowed_sender(server):
    ae = AE(ae_title=MODALITY)
    ae.add_requested_context(Verification)
    assoc = ae.associate("127.0.0.1", server.port, ae_title=OUR_AET)
    assert assoc.is_established and int(assoc.send_c_echo().Status) == 0
    assoc.release()


def test_an_undecodable_transfer_syntax_is_stored_and_the_reason_reported(server):
    ds = read_shared(shared_dicoms()[-1])
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.PixelData = encapsulate([b"\x00\x00\x01\xb3 not really MPEG-2 " * 8])  # a frame no decoder here reads
    ds.file_meta.TransferSyntaxUID = MPEG2
    assert MPEG2 in ALL_TRANSFER_SYNTAXES
    assert send_from_modality([ds], server.port)[1] == [0]
    server.close()
    (study,) = server.studies
    (instance,) = study.instances
    assert instance.path.is_file() and instance.transfer_syntax == MPEG2
    assert "MPEG2" in instance.problem and "kept" in instance.problem
    assert "cannot be shown" in study.describe()
    with pytest.raises(StudyError):  # and the viewer's reader says so too, naming the file
        read_image(instance.path)
