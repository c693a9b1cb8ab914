"""Recognise a study file by its first bytes, never by its extension."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Literal

FileKind = Literal["dicom", "acr-nema", "png", "jpeg", "tiff"]

_RASTER_MAGIC: tuple[tuple[bytes, FileKind], ...] = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"II+\x00", "tiff"),  # BigTIFF
    (b"MM\x00+", "tiff"),
)

# ACR-NEMA files (and DICOM files written without the Part 10 header) start directly with a data
# element of one of these groups: command/group lengths, file meta, or identifying information.
_FIRST_GROUPS = (0x0000, 0x0002, 0x0008)


def sniff(path: str | Path) -> FileKind | None:
    """What the file's content says it is, or None for anything we do not read.

    Reads at most 132 bytes. Raises OSError when the file cannot be opened.
    """
    with open(path, "rb") as handle:
        head = handle.read(132)
    if len(head) == 132 and head[128:132] == b"DICM":
        return "dicom"
    for magic, kind in _RASTER_MAGIC:
        if head.startswith(magic):
            return kind
    if looks_like_acr_nema(head):
        return "acr-nema"
    return None


def looks_like_acr_nema(head: bytes) -> bool:
    """True when `head` opens with a plausible data element (either byte order, either VR style).

    Checking the group, a small element number and then either two upper-case VR letters (explicit
    VR) or a small even length (implicit VR) rejects text, images and random binary files.
    """
    if len(head) < 8 or not any(head[:8]):
        return False  # zero-filled junk (or a bare preamble) is not a data element
    for order in "<>":
        group, element = struct.unpack(order + "HH", head[:4])
        if group not in _FIRST_GROUPS or element > 0x00FF:
            continue
        vr = head[4:6]
        if vr.isalpha() and vr.isupper():
            return True
        (length,) = struct.unpack(order + "I", head[4:8])
        if length % 2 == 0 and length < 1024:
            return True
    return False
