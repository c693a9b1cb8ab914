"""16-bit colour PNG → uint16 RGB(A) array, in numpy and zlib.

Pillow reduces 16-bit colour to 8 bits, and the viewer ships without OpenCV, so this small decoder
reads the one case Pillow cannot: colour type 2 (RGB) or 6 (RGBA) at bit depth 16, not interlaced.
It refuses a file that ends early or whose data is corrupt rather than returning a partial picture.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import numpy.typing as npt

from cxrviewer.core.errors import TruncatedFileError, UnsupportedFormatError

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {2: 3, 6: 4}  # PNG colour type → samples per pixel


def read_png_16_bit_colour(path: Path) -> npt.NDArray[np.uint16]:
    """(H, W, 3) RGB or (H, W, 4) RGBA uint16 in [0, 65535] from a 16-bit colour PNG at `path`.

    Raises TruncatedFileError when the file or its compressed data ends early, and
    UnsupportedFormatError for another PNG kind, an interlaced one, or a failed checksum.
    """
    header, compressed = _chunks(path, path.read_bytes())
    width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", header)
    if depth != 16 or colour_type not in _CHANNELS:
        raise UnsupportedFormatError(path, f"not a 16-bit colour PNG (bit depth {depth}, colour type {colour_type})")
    if interlace:
        raise UnsupportedFormatError(path, "interlaced 16-bit colour PNG is not supported")
    channels = _CHANNELS[colour_type]
    row_bytes = width * channels * 2
    try:
        raw = zlib.decompressobj().decompress(compressed, height * (row_bytes + 1))
    except zlib.error as error:
        raise UnsupportedFormatError(path, f"corrupt image data ({error})") from error
    if len(raw) < height * (row_bytes + 1):
        raise TruncatedFileError(path, "the file is cut short (the image data ends early)")
    rows = np.frombuffer(raw, np.uint8, count=height * (row_bytes + 1)).reshape(height, row_bytes + 1)
    if rows[:, 0].max(initial=0) > 4:
        raise UnsupportedFormatError(path, "corrupt image data (unknown row filter)")
    data = unfilter(rows[:, 0], rows[:, 1:].reshape(height, width, channels * 2))
    return data.view(">u2").astype(np.uint16).reshape(height, width, channels)


def _chunks(path: Path, data: bytes) -> tuple[bytes, bytes]:
    """(IHDR payload, the IDAT payloads joined), each chunk's CRC checked."""
    if not data.startswith(_SIGNATURE):
        raise UnsupportedFormatError(path, "not a PNG file")
    position, header, idat = len(_SIGNATURE), b"", []
    while True:
        if position + 8 > len(data):
            raise TruncatedFileError(path, "the file is cut short (no end chunk)")
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        body_end = position + 8 + length
        if body_end + 4 > len(data):
            raise TruncatedFileError(path, f"the file is cut short (in a {kind.decode('latin-1')} chunk)")
        body = data[position + 8:body_end]
        (crc,) = struct.unpack(">I", data[body_end:body_end + 4])
        if zlib.crc32(kind + body) != crc:
            raise UnsupportedFormatError(path, f"corrupt {kind.decode('latin-1')} chunk (checksum mismatch)")
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        position = body_end + 4
    if len(header) != 13:
        raise UnsupportedFormatError(path, "PNG without a valid header chunk")
    return header, b"".join(idat)


def unfilter(filters: npt.NDArray[np.uint8], filtered: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """Undo PNG's per-row filters. filters: (H,) uint8 in 0..4 (None, Sub, Up, Average, Paeth);
    filtered: (H, W, B) uint8, B bytes per pixel. Returns (H, W, B) uint8 raw bytes.

    Each byte depends on its left, upper and upper-left neighbours after unfiltering, so pixels are
    reconstructed one anti-diagonal at a time (all the pixels of a diagonal at once): H + W - 1
    vector steps instead of H * W scalar ones.
    """
    height, width, _ = filtered.shape
    # One row and column of zeros before the image: PNG's neighbours beyond the edge are 0.
    out = np.zeros((height + 1, width + 1, filtered.shape[2]), np.int16)
    for diagonal in range(height + width - 1):
        row = np.arange(max(0, diagonal - width + 1), min(height - 1, diagonal) + 1)
        column = diagonal - row
        left = out[row + 1, column]
        up = out[row, column + 1]
        up_left = out[row, column]
        kind = filters[row][:, None]
        prediction = np.where(kind == 1, left, np.where(kind == 2, up, 0))
        prediction = np.where(kind == 3, (left + up) // 2, prediction)
        if (kind == 4).any():
            guess = left + up - up_left
            to_left, to_up, to_up_left = np.abs(guess - left), np.abs(guess - up), np.abs(guess - up_left)
            paeth = np.where((to_left <= to_up) & (to_left <= to_up_left), left,
                             np.where(to_up <= to_up_left, up, up_left))
            prediction = np.where(kind == 4, paeth, prediction)
        out[row + 1, column + 1] = (filtered[row, column].astype(np.int16) + prediction) & 0xFF
    return out[1:, 1:].astype(np.uint8)
