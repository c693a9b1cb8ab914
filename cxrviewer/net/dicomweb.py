"""The same through DICOMweb (dicomweb-client): QIDO-RS study search, WADO-RS study retrieval into a
folder (laid out as the storage service does), STOW-RS of datasets."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Sequence
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset

from cxrviewer.core.atomic import write_stream_atomically
from cxrviewer.net.peers import PeerError
from cxrviewer.net.query import StudyMatch, StudyQuery
from cxrviewer.net.settings import Peer
from cxrviewer.net.storage import instance_path

STUDY_FIELDS = ("StudyInstanceUID", "PatientID", "PatientName", "StudyDate", "AccessionNumber",
                "ModalitiesInStudy", "StudyDescription", "NumberOfStudyRelatedInstances")


def _client(peer: Peer):
    from dicomweb_client.api import DICOMwebClient

    if not peer.dicomweb_url:
        raise PeerError(peer, "has no DICOMweb URL in the network settings")
    client = DICOMwebClient(url=peer.dicomweb_url)
    # Its default retries any failure, a refused connection included, 5 times over ~30 s of back-off;
    # the outbox retries on its own, and a query should say at once that the PACS is down.
    client.set_http_retry_params(retry=False)
    return client


def _request(peer: Peer, what: str, call):
    import requests

    try:
        return call()
    except requests.RequestException as error:
        raise PeerError(peer, f"{what} at {peer.dicomweb_url} failed: {error}") from None


def qido_studies(peer: Peer, query: StudyQuery) -> list[StudyMatch]:
    filters = {key: value for key, value in (("PatientID", query.patient_id), ("PatientName", query.patient_name),
                                             ("StudyDate", query.dates), ("AccessionNumber", query.accession),
                                             ("StudyInstanceUID", query.study_uid)) if value}
    # Wildcards are matched here: requests percent-encodes "*" and "?", and Orthanc's DICOMweb plugin
    # (1.7) then matches them literally.
    wildcards = {key: filters.pop(key) for key in list(filters) if any(c in filters[key] for c in "*?")}
    client = _client(peer)
    found = _request(peer, "QIDO-RS", lambda: client.search_for_studies(search_filters=filters, fields=list(STUDY_FIELDS)))
    datasets = [Dataset.from_json(item) for item in found]
    datasets = [ds for ds in datasets if all(fnmatch.fnmatch(str(ds.get(key, "")).lower(), pattern.lower())
                                             for key, pattern in wildcards.items())]
    matches = [StudyMatch.from_dataset(ds) for ds in datasets]
    wanted = set(query.modalities)
    return [m for m in matches if not wanted or not m.modalities or wanted & set(m.modalities)]


def wado_study(peer: Peer, study_uid: str, folder: Path, on_file: Callable[[Path], None] | None = None) -> list[Path]:
    """WADO-RS: every instance of the study written atomically under `folder`; their paths.
    on_file: called with each path once it is written."""
    client = _client(peer)
    datasets = _request(peer, "WADO-RS", lambda: client.retrieve_study(study_uid))
    written = []
    for ds in datasets:
        path = instance_path(Path(folder), str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID))
        path.parent.mkdir(parents=True, exist_ok=True)
        write_stream_atomically(path, lambda stream, ds=ds: pydicom.dcmwrite(stream, ds, enforce_file_format=True))
        written.append(path)
        if on_file is not None:
            on_file(path)
    return written


def stow(peer: Peer, datasets: Sequence[Dataset]) -> None:
    """STOW-RS; PeerError naming the peer when it does not store them all."""
    client = _client(peer)
    response = _request(peer, "STOW-RS", lambda: client.store_instances(list(datasets)))
    failed = response.get("00081198", {}).get("Value", []) if response is not None else []
    if failed:
        raise PeerError(peer, f"STOW-RS: {len(failed)} of {len(datasets)} instance(s) not stored")
