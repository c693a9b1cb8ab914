"""The network tests' helpers: a real PACS (Debian's Orthanc with its DICOMweb plugin) on free loopback
ports with temporary storage, and the shared chest DICOMs ready to send. A module of its own, imported
by this name: `from conftest import ...` would find whichever test folder's conftest a full run
imported first."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import ImplicitVRLittleEndian

from cxrviewer import paths

ORTHANC_AET = "ORTHANC"
OUR_AET = "CXRVIEWER"
MODALITY = "XRAY1"
PLUGIN_PLACES = ("/usr/share/orthanc/plugins/libOrthancDicomWeb.so", "/usr/lib/orthanc/libOrthancDicomWeb.so*")
MISSING = ("Orthanc is not installed (Debian: apt-get install orthanc orthanc-dicomweb; .ci/run installs them; "
           "README, 'The reading room's network')")


def orthanc_binary() -> str | None:
    """Debian puts it in /usr/sbin, which a non-root PATH may leave out."""
    return shutil.which("Orthanc") or shutil.which("Orthanc", path="/usr/sbin:/usr/local/sbin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dicomweb_plugin() -> Path | None:
    for pattern in PLUGIN_PLACES:
        found = sorted(Path("/").glob(pattern.lstrip("/")))
        if found:
            return found[0]
    return None


class Orthanc:
    """One Orthanc process; `stop()` and `start()` again keep its storage and ports (a PACS restart)."""

    def __init__(self, folder: Path, our_port: int):
        self.folder = folder
        self.dicom_port, self.http_port = free_port(), free_port()
        self.plugin = dicomweb_plugin()
        config = {
            "Name": "cxrviewer-test", "StorageDirectory": str(folder / "db"), "IndexDirectory": str(folder / "db"),
            "DicomAet": ORTHANC_AET, "DicomPort": self.dicom_port, "HttpPort": self.http_port,
            "RemoteAccessAllowed": False, "AuthenticationEnabled": False, "DicomCheckCalledAet": True,
            "DicomModalities": {"cxrviewer": [OUR_AET, "127.0.0.1", our_port]},
            "Plugins": [str(self.plugin)] if self.plugin else [],
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
            "StableAge": 1, "DicomScpTimeout": 10,
        }
        self.config = folder / "orthanc.json"
        self.config.write_text(json.dumps(config, indent=1))
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def dicomweb_url(self) -> str:
        return f"{self.url}/dicom-web"

    def start(self) -> None:
        log = open(self.folder / "orthanc.log", "ab")
        self.process = subprocess.Popen([orthanc_binary(), str(self.config)], stdout=log, stderr=log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Orthanc exited with {self.process.returncode}: {(self.folder / 'orthanc.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/system", timeout=1):
                    pass
                with socket.create_connection(("127.0.0.1", self.dicom_port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("Orthanc did not start within 30 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def rest(self, path: str):
        with urllib.request.urlopen(f"{self.url}{path}", timeout=10) as response:
            return json.loads(response.read())


def shared_dicoms() -> list[Path]:
    files = sorted((paths.shared_data_dir() / "dicom").glob("*.dcm"))
    if not files:
        pytest.skip(f"no shared chest DICOMs in {paths.shared_data_dir() / 'dicom'}")
    return files


def read_shared(path: Path) -> pydicom.Dataset:
    """A shared file as a dataset ready to send: the ACR-NEMA style one (no file meta) gets the
    transfer syntax it is written in (implicit VR little endian), as its README says."""
    ds = pydicom.dcmread(path, force=True)
    if "TransferSyntaxUID" not in ds.file_meta:
        ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    return ds


def send_from_modality(datasets, port: int, called: str = OUR_AET,
                       calling: str = MODALITY) -> tuple[bool, list[int]]:
    """One association from `calling` (a modality, pynetdicom SCU) to `called` on loopback `port`:
    (established, the C-STORE statuses)."""
    from pynetdicom import AE

    ae = AE(ae_title=calling)
    for ds in datasets:
        ae.add_requested_context(ds.SOPClassUID, [ds.file_meta.TransferSyntaxUID])
    assoc = ae.associate("127.0.0.1", port, ae_title=called)
    if not assoc.is_established:
        return False, []
    statuses = [int(assoc.send_c_store(ds).Status) for ds in datasets]
    assoc.release()
    return True, statuses


def archive_shared(orthanc: Orthanc) -> dict[str, pydicom.Dataset]:
    """A modality (XRAY1) sends the shared chest DICOMs to the PACS; {file name: dataset sent}."""
    sent = {path.name: read_shared(path) for path in shared_dicoms()}
    established, statuses = send_from_modality(list(sent.values()), orthanc.dicom_port, ORTHANC_AET)
    assert established and statuses == [0] * len(sent)
    return sent
