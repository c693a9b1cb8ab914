"""Send DICOM files to a peer: C-STORE in one association, or STOW-RS. Each file's outcome is its
own: a refusal of one instance does not hide the others."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pydicom
from pynetdicom import build_context

from cxrviewer.net.peers import PeerError, associated, check_status
from cxrviewer.net.settings import Peer

STORE_WARNINGS = (0x0001, 0xB000, 0xB006, 0xB007)
LOST = "the association was lost before this object was sent (the PACS closed it or went down)"


def c_store_files(peer: Peer, files: Sequence[Path], calling_ae: str) -> dict[Path, str]:
    """C-STORE every file; {file: ""} when the peer stored it, else the problem. PeerError when no
    association could be made (nothing was sent)."""
    datasets = {Path(f): pydicom.dcmread(f) for f in files}
    pairs = {(str(ds.SOPClassUID), str(ds.file_meta.TransferSyntaxUID)) for ds in datasets.values()}
    contexts = [build_context(sop_class, syntax) for sop_class, syntax in sorted(pairs)]
    outcome: dict[Path, str] = {}
    with associated(peer, calling_ae, contexts) as assoc:
        for path, ds in datasets.items():
            if not assoc.is_established:  # the PACS went away mid-send: the rest stays for a retry
                outcome[path] = LOST
                continue
            try:
                code = check_status(peer, assoc.send_c_store(ds), f"C-STORE of {path.name}")
            except PeerError as error:
                outcome[path] = error.problem
                continue
            except RuntimeError:  # pynetdicom's word for an association that dropped during the call
                outcome[path] = LOST
                continue
            outcome[path] = "" if code == 0 or code in STORE_WARNINGS else f"C-STORE refused with status 0x{code:04X}"
    # Each problem in full, naming the peer, as the outbox keeps it.
    return {path: str(PeerError(peer, problem)) if problem else "" for path, problem in outcome.items()}


def stow_files(peer: Peer, files: Sequence[Path]) -> dict[Path, str]:
    """STOW-RS of the files in one request: all stored or all kept."""
    from cxrviewer.net.dicomweb import stow

    stow(peer, [pydicom.dcmread(f) for f in files])
    return {Path(f): "" for f in files}
