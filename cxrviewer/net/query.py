"""Query and retrieve from a PACS over DIMSE: C-FIND at study level, C-MOVE to our storage service,
C-GET into a folder (the PACS stores into our own association; no inbound port needed)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydicom.dataset import Dataset
from pynetdicom import ALL_TRANSFER_SYNTAXES, build_context, build_role, evt
from pynetdicom.sop_class import (
    BasicTextSRStorage,
    ComprehensiveSRStorage,
    ComputedRadiographyImageStorage,
    DigitalXRayImageStorageForPresentation,
    DigitalXRayImageStorageForProcessing,
    EnhancedSRStorage,
    SecondaryCaptureImageStorage,
    SegmentationStorage,
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
)

from cxrviewer.net.peers import PeerError, associated, check_status
from cxrviewer.net.received import ReceivedInstance
from cxrviewer.net.settings import Peer
from cxrviewer.net.storage import store_received

log = logging.getLogger(__name__)

CHEST_MODALITIES = ("CR", "DX")
PENDING = (0xFF00, 0xFF01)
# What C-GET accepts back: the chest radiographs, and the objects we send (SC, SR, SEG). A study holding
# anything else fails the C-GET for those instances (status 0xB000 or 0xA702), which is reported.
GET_STORAGE = (ComputedRadiographyImageStorage, DigitalXRayImageStorageForPresentation,
               DigitalXRayImageStorageForProcessing, SecondaryCaptureImageStorage, ComprehensiveSRStorage,
               EnhancedSRStorage, BasicTextSRStorage, SegmentationStorage)


@dataclass(frozen=True)
class StudyQuery:
    """A study-level query; empty fields match anything. dates: "YYYYMMDD", "YYYYMMDD-", "-YYYYMMDD" or
    "YYYYMMDD-YYYYMMDD"; patient_name may hold * and ? wildcards."""

    patient_id: str = ""
    patient_name: str = ""
    dates: str = ""
    modalities: tuple[str, ...] = CHEST_MODALITIES
    accession: str = ""
    study_uid: str = ""

    def identifier(self) -> Dataset:
        ds = Dataset()
        ds.QueryRetrieveLevel = "STUDY"
        ds.PatientID, ds.PatientName = self.patient_id, self.patient_name
        ds.StudyDate, ds.AccessionNumber = self.dates, self.accession
        ds.ModalitiesInStudy = "\\".join(self.modalities)
        ds.StudyInstanceUID = self.study_uid
        ds.StudyDescription = ds.StudyTime = ""
        ds.NumberOfStudyRelatedInstances = ""
        return ds


@dataclass(frozen=True)
class StudyMatch:
    study_uid: str
    patient_id: str
    patient_name: str
    study_date: str
    accession: str
    modalities: tuple[str, ...]
    description: str
    instances: int | None

    @classmethod
    def from_dataset(cls, ds: Dataset) -> StudyMatch:
        modalities = ds.get("ModalitiesInStudy", "")
        modalities = tuple(modalities) if not isinstance(modalities, str) else tuple(filter(None, modalities.split("\\")))
        count = ds.get("NumberOfStudyRelatedInstances", "")
        return cls(str(ds.get("StudyInstanceUID", "")), str(ds.get("PatientID", "")), str(ds.get("PatientName", "")),
                   str(ds.get("StudyDate", "")), str(ds.get("AccessionNumber", "")), modalities,
                   str(ds.get("StudyDescription", "")), int(count) if str(count).strip() else None)

    def describe(self) -> str:
        return (f"{self.study_date or '--------'}  {self.patient_id or '?'}  {self.patient_name or '?'}  "
                f"{'/'.join(self.modalities) or '?'}  acc {self.accession or '-'}  "
                f"{self.instances if self.instances is not None else '?'} instance(s)  {self.study_uid}")


def find_studies(peer: Peer, query: StudyQuery, calling_ae: str) -> list[StudyMatch]:
    """C-FIND (study root, study level). The modality filter is also applied here, since not every PACS
    matches ModalitiesInStudy."""
    matches = []
    with associated(peer, calling_ae, [build_context(StudyRootQueryRetrieveInformationModelFind)]) as assoc:
        for status, identifier in assoc.send_c_find(query.identifier(), StudyRootQueryRetrieveInformationModelFind):
            code = check_status(peer, status, "C-FIND")
            if code in PENDING and identifier is not None:
                matches.append(StudyMatch.from_dataset(identifier))
            elif code != 0:
                raise PeerError(peer, f"C-FIND failed with status 0x{code:04X}")
    wanted = set(query.modalities)
    return [m for m in matches if not wanted or not m.modalities or wanted & set(m.modalities)]


def _study_identifier(study_uid: str) -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = "STUDY"
    ds.StudyInstanceUID = study_uid
    return ds


def move_study(peer: Peer, study_uid: str, calling_ae: str, destination_ae: str) -> int:
    """C-MOVE the study to `destination_ae` (our storage service, which must be running and known to
    the PACS); the number of instances the PACS says it sent."""
    with associated(peer, calling_ae, [build_context(StudyRootQueryRetrieveInformationModelMove)]) as assoc:
        completed = 0
        for status, _ in assoc.send_c_move(_study_identifier(study_uid), destination_ae,
                                           StudyRootQueryRetrieveInformationModelMove):
            code = check_status(peer, status, "C-MOVE")
            completed = int(status.get("NumberOfCompletedSuboperations", completed))
            if code not in PENDING and code != 0:
                failed = status.get("NumberOfFailedSuboperations", "?")
                raise PeerError(peer, f"C-MOVE of study {study_uid} to {destination_ae} failed with status "
                                      f"0x{code:04X} ({failed} failed; is {destination_ae} known to the PACS?)")
    return completed


def get_study(peer: Peer, study_uid: str, calling_ae: str, folder: Path,
              on_instance: Callable[[ReceivedInstance], None] | None = None) -> list[ReceivedInstance]:
    """C-GET the study into `folder` (as the storage service lays it out); the instances received.
    on_instance: called with each one as it is stored (in the association's thread)."""
    received: list[ReceivedInstance] = []

    def store(event) -> int:
        status, instance = store_received(event, Path(folder))
        if instance is not None:
            received.append(instance)
            if on_instance is not None:
                on_instance(instance)
        return status

    contexts = [build_context(StudyRootQueryRetrieveInformationModelGet)]
    contexts += [build_context(uid, ALL_TRANSFER_SYNTAXES) for uid in GET_STORAGE]
    roles = [build_role(uid, scp_role=True) for uid in GET_STORAGE]
    with associated(peer, calling_ae, contexts, roles, [(evt.EVT_C_STORE, store)]) as assoc:
        for status, _ in assoc.send_c_get(_study_identifier(study_uid), StudyRootQueryRetrieveInformationModelGet):
            code = check_status(peer, status, "C-GET")
            if code not in PENDING and code not in (0, 0xB000):
                raise PeerError(peer, f"C-GET of study {study_uid} failed with status 0x{code:04X}")
            if code == 0xB000:
                log.warning("C-GET of study %s from %s: some instances were not sent (warning 0xB000)",
                            study_uid, peer.describe())
    return received
