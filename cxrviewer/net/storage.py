"""The storage service (C-STORE SCP): studies sent by the X-ray units and the PACS land in a folder,
one file per instance at `<folder>/<study UID>/<series UID>/<SOP instance UID>.dcm`, written
atomically (`core.atomic`: temp name, fsync, rename), so a killed viewer never leaves half a file.

Only the allowed senders (AE title and host) may associate; anyone else is rejected ("calling AE
title not recognised") and reported. Every storage SOP class is accepted in every transfer syntax,
so an instance this viewer cannot decode is still kept, with the reason (`ReceivedInstance.problem`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import pydicom
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt
from pynetdicom.sop_class import Verification

from cxrviewer.core.atomic import write_bytes_atomically
from cxrviewer.net.received import ReceivedInstance, ReceivedStudy, StudyGrouper
from cxrviewer.net.settings import AllowedSender

log = logging.getLogger(__name__)

UID_PATTERN = re.compile(r"^[0-9.]{1,64}$")
STATUS_SUCCESS, STATUS_OUT_OF_RESOURCES, STATUS_CANNOT_UNDERSTAND = 0x0000, 0xA700, 0xC000


@dataclass(frozen=True)
class Refusal:
    """A sender that was not allowed: its AE title and address."""

    ae_title: str
    address: str

    def describe(self) -> str:
        return f"refused association from {self.ae_title} at {self.address}: not an allowed sender"


def undecodable_reason(transfer_syntax: str) -> str:
    """"" when pydicom here can decode pixels in this transfer syntax; else why not, in words."""
    from pydicom.pixels.decoders.base import get_decoder
    from pydicom.uid import UID

    uid = UID(transfer_syntax)
    if not uid.is_compressed:
        return ""
    try:
        decoder = get_decoder(uid)
    except NotImplementedError:
        return f"transfer syntax {uid.name} ({uid}) has no pixel decoder here; the file is kept"
    if not decoder.is_available:
        return f"transfer syntax {uid.name} ({uid}): no decoder plugin is installed; the file is kept"
    return ""


def instance_path(folder: Path, study_uid: str, series_uid: str, sop_uid: str) -> Path:
    for uid in (study_uid, series_uid, sop_uid):
        if not UID_PATTERN.match(uid):  # a UID becomes a path: nothing but digits and dots
            raise ValueError(f"not a DICOM UID: {uid!r}")
    return folder / study_uid / series_uid / f"{sop_uid}.dcm"


def _instance(path: Path, header, sender: str) -> ReceivedInstance:
    syntax = str(header.file_meta.TransferSyntaxUID)
    return ReceivedInstance(
        path, str(header.StudyInstanceUID), str(header.SeriesInstanceUID), str(header.SOPInstanceUID),
        str(header.SOPClassUID), syntax, sender, str(header.get("PatientID", "")),
        str(header.get("PatientName", "")), str(header.get("AccessionNumber", "")),
        str(header.get("Modality", "")), undecodable_reason(syntax))


def scan_storage(folder: Path) -> list[ReceivedStudy]:
    """The studies already in the storage folder (received before a restart, or by C-GET), grouped as
    they arrived; the sender is not recorded in the files, so it reads "stored". Temp files of a
    store that was cut short are not instances and are skipped."""
    studies: dict[str, list[ReceivedInstance]] = {}
    for path in sorted(Path(folder).glob("*/*/*.dcm")):
        try:
            header = pydicom.dcmread(path, stop_before_pixels=True)
            studies.setdefault(str(header.StudyInstanceUID), []).append(_instance(path, header, "stored"))
        except (OSError, ValueError, AttributeError, pydicom.errors.InvalidDicomError) as error:
            log.warning("%s: not a stored instance (%s)", path, error)
    return [ReceivedStudy(uid, tuple(instances)) for uid, instances in studies.items()]


def store_received(event, folder: Path) -> tuple[int, ReceivedInstance | None]:
    """An EVT_C_STORE event's instance written to `folder` as received (no decoding, the sender's
    transfer syntax); (C-STORE status, the instance or None when it was not stored). Shared by our
    storage service and by C-GET, where the PACS stores into our association."""
    sender = event.assoc.requestor.ae_title.strip() if event.assoc.is_acceptor else event.assoc.acceptor.ae_title.strip()
    try:
        encoded = event.encoded_dataset()  # preamble, file meta and the dataset as the sender encoded it
        header = pydicom.dcmread(BytesIO(encoded), stop_before_pixels=True)
        path = instance_path(folder, str(header.StudyInstanceUID), str(header.SeriesInstanceUID),
                             str(header.SOPInstanceUID))
    except (ValueError, AttributeError, TypeError, pydicom.errors.InvalidDicomError) as error:
        log.warning("refused an instance from %s: not understood (%s)", sender, error)
        return STATUS_CANNOT_UNDERSTAND, None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomically(path, encoded)
    except OSError as error:
        log.error("could not store %s from %s: %s", path, sender, error)
        return STATUS_OUT_OF_RESOURCES, None
    instance = _instance(path, header, sender)
    if instance.problem:
        log.warning("received %s from %s: %s", path.name, sender, instance.problem)
    return STATUS_SUCCESS, instance


class StorageServer:
    """Our storage service on `port` (all interfaces, or `host`), storing into `folder`.

    on_instance(ReceivedInstance): called for each stored instance (in the association's thread).
    on_study(ReceivedStudy): called once a study is quiet (`received.StudyGrouper`'s thread).
    on_refused(Refusal): called for each rejected sender.
    Owned by its creator: `close()` stops the server and reports the studies still pending.
    """

    def __init__(self, ae_title: str, port: int, folder: Path, allowed: Sequence[AllowedSender],
                 on_instance: Callable[[ReceivedInstance], None] | None = None,
                 on_study: Callable | None = None, on_refused: Callable[[Refusal], None] | None = None,
                 host: str = "", quiet_seconds: float | None = None):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.allowed = tuple(allowed)
        self._on_instance = on_instance
        self._on_refused = on_refused
        grouper_args = {} if quiet_seconds is None else {"quiet_seconds": quiet_seconds}
        self.grouper = StudyGrouper(on_study or (lambda study: None), **grouper_args)
        ae = AE(ae_title=ae_title)
        for context in AllStoragePresentationContexts:
            ae.add_supported_context(context.abstract_syntax, ALL_TRANSFER_SYNTAXES)
        ae.add_supported_context(Verification)
        ae.maximum_pdu_size = 0
        self._ae = ae
        handlers = [(evt.EVT_REQUESTED, self._check_sender), (evt.EVT_C_STORE, self._store)]
        self._server = ae.start_server((host, port), block=False, evt_handlers=handlers)
        self.port = self._server.server_address[1]
        log.info("storage service %s listening on port %d, storing into %s", ae_title, self.port, self.folder)

    def _check_sender(self, event) -> None:
        requestor = event.assoc.requestor
        calling = str(requestor.primitive.calling_ae_title).strip()  # requestor.ae_title is set later
        if any(peer.matches(calling, requestor.address) for peer in self.allowed):
            return
        refusal = Refusal(calling, requestor.address)
        log.warning("%s", refusal.describe())
        event.assoc.acse.send_reject(0x01, 0x01, 0x03)  # permanent; service user; calling AE not recognised
        if self._on_refused is not None:
            self._on_refused(refusal)

    def _store(self, event) -> int:
        status, instance = store_received(event, self.folder)
        if instance is not None:
            self.grouper.add(instance)
            if self._on_instance is not None:
                self._on_instance(instance)
        return status

    def close(self) -> None:
        """Stop listening, then report the studies still pending. Closing twice is harmless."""
        if self._server is None:
            return
        server, self._server = self._server, None
        server.shutdown()
        self.grouper.close()

    def __enter__(self) -> StorageServer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
