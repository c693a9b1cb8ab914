"""PNG, JPEG and TIFF → `Image`, with the size checked from the header before decoding.

Pillow decodes (it refuses truncated files instead of returning a partial picture); 16-bit colour
is the one case Pillow reduces to 8 bits, so `png16` decodes 16-bit colour PNG (it too refuses
truncated data). A 16-bit colour TIFF is read at Pillow's 8 bits, with a note saying so: its usual
LZW compression would need a decoder of our own, and the viewer ships without OpenCV.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import numpy.typing as npt
import PIL.Image
from PIL import UnidentifiedImageError

from cxrviewer.core.display.voi import apply_window, default_window, full_range_window
from cxrviewer.core.errors import (
    ImageTooLargeError,
    NotAnImageError,
    TruncatedFileError,
    UnsupportedFormatError,
)
from cxrviewer.core.image import Image, ImageMeta, WindowPreset
from cxrviewer.core.io.limits import check_frame_size
from cxrviewer.core.io.pixels import luma
from cxrviewer.core.io.png16 import read_png_16_bit_colour

# Pillow's own bomb guard is a process-wide setting; it is raised only while one of our opens runs,
# and only when the user's limit is above it, under this lock.
_PIL_LIMIT_LOCK = threading.Lock()
_COLOUR_MODES = ("RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "LAB", "HSV")


def read_raster(path: Path, *, max_megapixels: float) -> Image:
    """Read a PNG, JPEG or TIFF file into an `Image`. See `cxrviewer.core.io.read_image`."""
    notes: list[str] = []
    try:
        with _open(path, max_megapixels) as picture:
            width, height = picture.size
            check_frame_size(path, height, width, max_megapixels=max_megapixels)
            frames = int(getattr(picture, "n_frames", 1) or 1)
            if frames > 1:
                notes.append(f"multi-frame: frame 1 of {frames} shown")
            file_format = str(picture.format or path.suffix.lstrip(".").upper())
            grey, white, bits = _decode(path, picture, notes)
    except UnidentifiedImageError as error:
        raise NotAnImageError(path, "not an image Pillow can read") from error
    except OSError as error:
        if "truncated" in str(error).lower():
            raise TruncatedFileError(path, f"the file is cut short ({error})") from error
        raise UnsupportedFormatError(path, f"could not decode the image ({error})") from error
    if grey.shape != (height, width):
        raise UnsupportedFormatError(path, f"decoded {grey.shape} but the header says {height} x {width}")
    if white is None:
        window = default_window(grey)
        notes.append("floating-point image; showing its data range")
    else:
        window = full_range_window(0.0, white)
    presets: tuple[WindowPreset, ...] = (window,)
    if bits == 16:
        data_range = default_window(grey)
        # 10-, 12- and 14-bit detector data is often stored in 16-bit PNG/TIFF; on the full 16-bit
        # scale it would open almost black, so such files open on their data range instead.
        if grey.max() < 32768:
            window, presets = data_range, (data_range, window)
            notes.append("16-bit file using less than half its scale; showing its data range")
        else:
            presets += (data_range,)
    meta = ImageMeta(
        path=path,
        format=file_format,
        photometric="MONOCHROME2",
        rows=height,
        columns=width,
        bits_stored=bits,
        window_presets=presets,
        number_of_frames=frames,
        notes=tuple(notes),
    )
    pixels = apply_window(grey, window.center, window.width)
    return Image(pixels=pixels, modality_values=grey, meta=meta)


def _open(path: Path, max_megapixels: float) -> PIL.Image.Image:
    """Open lazily (header only); Pillow's guard may refuse first, with its own smaller limit."""
    try:
        return PIL.Image.open(path)
    except PIL.Image.DecompressionBombError as error:
        limit_pixels = int(max_megapixels * 1e6)
        if PIL.Image.MAX_IMAGE_PIXELS is None or limit_pixels <= 2 * PIL.Image.MAX_IMAGE_PIXELS:
            raise ImageTooLargeError(
                path, f"{error}; above the limit of {max_megapixels:g} megapixels"
            ) from error
    with _PIL_LIMIT_LOCK:
        saved = PIL.Image.MAX_IMAGE_PIXELS
        PIL.Image.MAX_IMAGE_PIXELS = limit_pixels
        try:
            return PIL.Image.open(path)
        finally:
            PIL.Image.MAX_IMAGE_PIXELS = saved


def _decode(
    path: Path, picture: PIL.Image.Image, notes: list[str]
) -> tuple[npt.NDArray[np.float32], float | None, int]:
    """(grey (H, W) float32 in stored levels, the level meaning white or None for float data, bits)."""
    mode = picture.mode
    if mode in _COLOUR_MODES and _has_16_bit_samples(picture):
        if picture.format == "PNG":
            return _decode_16_bit_colour(path, notes), 65535.0, 16
        notes.append("16-bit colour read at 8 bits")
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return np.asarray(picture).astype(np.float32), 65535.0, 16
    if mode == "I":
        values = np.asarray(picture)
        if values.min() >= 0 and values.max() <= 65535:
            return values.astype(np.float32), 65535.0, 16
        return values.astype(np.float32), None, 32
    if mode == "F":
        return np.asarray(picture, dtype=np.float32), None, 32
    if mode == "1":
        return np.asarray(picture.convert("L")).astype(np.float32), 255.0, 8
    if mode in ("L", "LA"):
        if mode == "LA":
            notes.append("alpha channel ignored")
        return np.asarray(picture.getchannel("L")).astype(np.float32), 255.0, 8
    if mode in ("P", "PA"):
        notes.append("palette image converted to grey")
        return luma(np.asarray(picture.convert("RGB"))), 255.0, 8
    if mode in _COLOUR_MODES:
        if "A" in picture.getbands():
            notes.append("alpha channel ignored")
        rgb = np.asarray(picture.convert("RGB"))
        grey = luma(rgb)
        notes.append(_colour_note(rgb))
        return grey, 255.0, 8
    raise UnsupportedFormatError(path, f"Pillow image mode {mode!r} is not supported")


def _has_16_bit_samples(picture: PIL.Image.Image) -> bool:
    rawmodes = []
    for tile in getattr(picture, "tile", ()) or ():
        args = tile.args if hasattr(tile, "args") else tile[3]
        rawmodes.append(args if isinstance(args, str) else str(args[0]) if args else "")
    return any(";16" in rawmode for rawmode in rawmodes)


def _decode_16_bit_colour(path: Path, notes: list[str]) -> npt.NDArray[np.float32]:
    rgba = read_png_16_bit_colour(path)
    if rgba.shape[2] == 4:
        notes.append("alpha channel ignored")
    rgb = rgba[..., :3]
    notes.append(_colour_note(rgb))
    return luma(rgb)


def _colour_note(rgb: npt.NDArray[np.generic]) -> str:
    if np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2]):
        return "grey stored as RGB; one channel used"
    return "RGB converted to grey (ITU-R BT.601 luma)"
