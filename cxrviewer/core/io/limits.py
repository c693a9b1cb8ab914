"""Size checks made from headers, before any pixel buffer is allocated.

A file's header can promise any size; a 100-byte file may claim 60000 x 60000 pixels. Every reader
calls `check_frame_size` with the header's numbers before it decodes, so an absurd or hostile header
costs nothing but the error message.
"""

from __future__ import annotations

from pathlib import Path

from cxrviewer.core.errors import ImageTooLargeError

# 100 MP is four times the largest detector in clinical use (43 x 43 cm at 0.1 mm is about 18.5 MP),
# so a real radiograph never meets it, while a float32 copy of such an image is still only 400 MB.
DEFAULT_MAX_MEGAPIXELS = 100.0

# DICOM stores Rows and Columns as 16-bit unsigned; raster formats allow more, but an image side
# beyond this is not a radiograph.
MAX_SIDE = 65535


def check_frame_size(
    path: str | Path,
    rows: int,
    columns: int,
    *,
    max_megapixels: float,
    samples_per_pixel: int = 1,
    frames: int = 1,
) -> None:
    """Refuse a frame whose declared size is empty, absurd or above the user's limit.

    The limit counts the pixels of the one frame that is decoded (rows x columns); colour samples and
    further frames are named in the message but not counted, because only the first frame is
    decoded and it is reduced to grey at once.
    Raises ImageTooLargeError naming the file, the declared size and the limit.
    """
    if max_megapixels <= 0:
        raise ValueError(f"max_megapixels must be positive, got {max_megapixels}")
    described = f"{columns} x {rows} pixels"
    if samples_per_pixel > 1:
        described += f" x {samples_per_pixel} samples"
    if frames > 1:
        described += f", {frames} frames"
    if rows <= 0 or columns <= 0:
        raise ImageTooLargeError(path, f"header declares an empty image ({described})")
    if rows > MAX_SIDE or columns > MAX_SIDE:
        raise ImageTooLargeError(path, f"header declares absurd dimensions ({described})")
    megapixels = rows * columns / 1e6
    if megapixels > max_megapixels:
        raise ImageTooLargeError(
            path,
            f"image of {megapixels:.1f} megapixels ({described}) is above the limit of "
            f"{max_megapixels:g} megapixels; raise the limit to open it",
        )
