"""Turn the files and folders a reader opens into a sorted list of study files.

Folders are walked recursively (hidden files and folders skipped, symlinked folders not followed),
every file is recognised by its content, and a DICOMDIR is replaced by the image files it lists.
Files that are clearly not images are reported with a reason; damaged images are kept, so that
`read_image` can say what is wrong with each one where the reader sees it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pydicom
from pydicom.uid import MediaStorageDirectoryStorage

from cxrviewer.core.io.sniff import sniff

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScanResult:
    """studies: readable candidates, sorted, DICOMDIRs expanded into their image files.
    skipped: (path, reason) for files that are clearly not images, sorted by path."""

    studies: list[Path]
    skipped: list[tuple[Path, str]]


def scan_studies(paths: Iterable[str | Path]) -> ScanResult:
    """Scan files and folders for studies. Never raises for a bad file; it is skipped or kept."""
    scan = _Scan()
    for given in paths:
        path = Path(given)
        if path.is_dir():
            for file in _walk(path):
                scan.consider(file)
        elif path.exists():
            scan.consider(path)
        else:
            scan.skip(path, "does not exist")
    studies = sorted(scan.studies.values())
    skipped = sorted(scan.skipped.values())
    return ScanResult(studies=studies, skipped=skipped)


class _Scan:
    def __init__(self) -> None:
        self.studies: dict[Path, Path] = {}  # resolved path → path as found
        self.skipped: dict[Path, tuple[Path, str]] = {}

    def keep(self, path: Path) -> None:
        self.studies.setdefault(path.resolve(), path)

    def skip(self, path: Path, reason: str) -> None:
        self.skipped.setdefault(path.resolve(), (path, reason))

    def consider(self, path: Path) -> None:
        try:
            if path.stat().st_size == 0:
                self.skip(path, "empty file")
                return
            kind = sniff(path)
        except OSError as error:
            self.skip(path, f"cannot be read ({error.strerror or error})")
            return
        if kind is None:
            self.skip(path, "not DICOM, PNG, JPEG or TIFF")
        elif kind in ("dicom", "acr-nema"):
            self._consider_dicom(path, has_meta_header=kind == "dicom")
        else:
            self.keep(path)

    def _consider_dicom(self, path: Path, *, has_meta_header: bool) -> None:
        try:
            # Large values stay on disk: only the presence of Pixel Data and the SOP class matter.
            ds = pydicom.dcmread(path, force=not has_meta_header, defer_size=1024)
        except Exception as error:  # a damaged file is kept, so read_image can explain it
            log.debug("%s: header unreadable while scanning (%s)", path, error)
            self.keep(path)
            return
        meta = getattr(ds, "file_meta", None)
        if "DirectoryRecordSequence" in ds or (
            meta is not None and meta.get("MediaStorageSOPClassUID") == MediaStorageDirectoryStorage
        ):
            self._expand_dicomdir(path, ds)
        elif "PixelData" in ds:
            self.keep(path)
        else:
            sop_class = ds.get("SOPClassUID")
            what = f" ({sop_class.name})" if sop_class is not None else ""
            self.skip(path, f"DICOM without pixel data{what}")

    def _expand_dicomdir(self, dicomdir: Path, ds: pydicom.Dataset) -> None:
        for record in ds.get("DirectoryRecordSequence") or ():
            file_id = record.get("ReferencedFileID")
            if not file_id:
                continue
            parts = [file_id] if isinstance(file_id, str) else [str(part) for part in file_id]
            target = _resolve_case_insensitive(dicomdir.parent, parts)
            record_type = str(record.get("DirectoryRecordType", "")).strip().upper()
            shown = dicomdir.parent.joinpath(*parts)
            if target is None:
                self.skip(shown, f"listed in {dicomdir.name} but missing")
            elif record_type != "IMAGE":
                self.skip(target, f"{dicomdir.name} lists it as {record_type or 'an unnamed record'}, not an image")
            else:
                self.keep(target)


def _walk(folder: Path) -> Iterable[Path]:
    for root, folders, files in os.walk(folder):
        folders[:] = sorted(name for name in folders if not name.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(root) / name


def _resolve_case_insensitive(base: Path, parts: list[str]) -> Path | None:
    """DICOMDIR file IDs are upper case by rule, but media copied to Linux often are not."""
    current = base
    for part in parts:
        exact = current / part
        if exact.exists():
            current = exact
            continue
        try:
            matches = [entry for entry in current.iterdir() if entry.name.lower() == part.lower()]
        except OSError:
            return None
        if not matches:
            return None
        current = matches[0]
    return current if current.is_file() else None
