"""The outbox: what is to be sent is written here first (atomically), sent, and removed only once the
peer confirmed it. A PACS that is down or refuses leaves the objects in place with the error, for
`retry` (and `cxrviewer pacs outbox --retry`); nothing is dropped.

Layout: `<outbox>/<SOP instance UID>.dcm` and beside it `<SOP instance UID>.json`: the peer's name,
the way it is sent ("dimse" or "stow"), attempts, the last error. An entry is the pair.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset

from cxrviewer import paths
from cxrviewer.core.atomic import write_stream_atomically, write_text_atomically
from cxrviewer.core.errors import CxrError
from cxrviewer.net.send import c_store_files, stow_files
from cxrviewer.net.settings import NetworkSettings

log = logging.getLogger(__name__)

WAYS = ("dimse", "stow")
# A sidecar whose file has not appeared after this long was left by a crash between the two writes.
ORPHAN_SECONDS = 60.0


def outbox_folder() -> Path:
    return paths.site_settings_file().parent / "outbox"


@dataclass(frozen=True)
class OutboxEntry:
    path: Path
    peer: str
    way: str
    queued: str
    attempts: int = 0
    error: str = ""

    def describe(self) -> str:
        state = f"{self.attempts} attempt(s), last error: {self.error}" if self.error else "not tried yet"
        return f"{self.path.name} to {self.peer} by {self.way}, queued {self.queued}: {state}"


def _age_seconds(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def _sidecar(path: Path) -> Path:
    return path.with_suffix(".json")


def _save(entry: OutboxEntry) -> None:
    fields = {k: v for k, v in asdict(entry).items() if k != "path"}
    write_text_atomically(_sidecar(entry.path), json.dumps(fields, indent=1) + "\n")


def enqueue(folder: Path, datasets: Sequence[Dataset], peer: str, way: str = "dimse") -> list[OutboxEntry]:
    """Write each dataset into the outbox for `peer` (its sidecar first, so a file is never without
    its destination)."""
    if way not in WAYS:
        raise ValueError(f"way must be one of {WAYS}, got {way!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    queued = datetime.now(timezone.utc).isoformat(timespec="seconds")
    entries = []
    for ds in datasets:
        entry = OutboxEntry(folder / f"{ds.SOPInstanceUID}.dcm", peer, way, queued)
        _save(entry)
        write_stream_atomically(entry.path, lambda stream, ds=ds: pydicom.dcmwrite(stream, ds, enforce_file_format=True))
        entries.append(entry)
    return entries


def pending(folder: Path) -> list[OutboxEntry]:
    """The entries waiting in the outbox, oldest first. A sidecar without its file for over a minute
    (a crash between the two writes) is removed; a file without a sidecar is reported, never deleted."""
    entries = []
    for sidecar in sorted(Path(folder).glob("*.json")):
        path = sidecar.with_suffix(".dcm")
        if not path.exists():
            if _age_seconds(sidecar) > ORPHAN_SECONDS:  # younger: its file may be being written right now
                sidecar.unlink(missing_ok=True)
            continue
        data = json.loads(sidecar.read_text(encoding="utf-8"))
        entries.append(OutboxEntry(path, **data))
    for orphan in sorted(Path(folder).glob("*.dcm")):
        if not _sidecar(orphan).exists():
            log.warning("outbox %s: %s has no destination (no .json beside it); left in place", folder, orphan.name)
    return sorted(entries, key=lambda e: (e.queued, e.path.name))


@dataclass(frozen=True)
class RetryReport:
    sent: tuple[OutboxEntry, ...]
    kept: tuple[OutboxEntry, ...]

    def describe(self) -> str:
        lines = [f"outbox: {len(self.sent)} sent, {len(self.kept)} kept"]
        return "\n".join(lines + [f"  kept: {entry.describe()}" for entry in self.kept])


def retry(folder: Path, settings: NetworkSettings) -> RetryReport:
    """Send every pending entry, one association (or STOW request) per peer and way; remove each one
    the peer confirmed; keep the others with their error and one more attempt counted."""
    groups: dict[tuple[str, str], list[OutboxEntry]] = {}
    for entry in pending(folder):
        groups.setdefault((entry.peer, entry.way), []).append(entry)
    sent, kept = [], []
    for (name, way), entries in groups.items():
        files = [e.path for e in entries]
        try:
            peer = settings.peer(name)
            outcome = c_store_files(peer, files, settings.ae_title) if way == "dimse" else stow_files(peer, files)
        except (CxrError, OSError, ValueError) as error:
            message = str(error)
            outcome = dict.fromkeys(files, message)
            log.warning("outbox: %d object(s) kept for %s: %s", len(files), name, message)
        for entry in entries:
            problem = outcome.get(entry.path, "no outcome")
            if problem:
                kept_entry = OutboxEntry(entry.path, entry.peer, entry.way, entry.queued, entry.attempts + 1, problem)
                _save(kept_entry)
                kept.append(kept_entry)
            else:
                entry.path.unlink()
                _sidecar(entry.path).unlink(missing_ok=True)
                sent.append(entry)
    return RetryReport(tuple(sent), tuple(kept))


def send_through_outbox(folder: Path, datasets: Sequence[Dataset], peer: str, settings: NetworkSettings,
                        way: str = "dimse") -> RetryReport:
    """Queue the datasets for `peer`, then try everything pending (theirs and any left from before)."""
    enqueue(folder, datasets, peer, way)
    return retry(folder, settings)


