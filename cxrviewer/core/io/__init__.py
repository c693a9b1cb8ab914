"""Study loading: DICOM, PNG, JPEG and TIFF files and folders → `Image`.

`read_image(path)` gives the picture as its source means it to be shown (modality LUT, first VOI,
presentation LUT and MONOCHROME1 inversion applied; float32 in [0, 1], air dark, bone bright) and
keeps the values before VOI so the reader can re-window with `cxrviewer.core.display`.
"""

from __future__ import annotations

import logging
from pathlib import Path

from cxrviewer.core.errors import (
    CxrError,
    EmptyFileError,
    NotAnImageError,
    StudyError,
    UnsupportedFormatError,
)
from cxrviewer.core.image import Image
from cxrviewer.core.io.dicom import read_dicom
from cxrviewer.core.io.limits import DEFAULT_MAX_MEGAPIXELS
from cxrviewer.core.io.raster import read_raster
from cxrviewer.core.io.scan import ScanResult, scan_studies
from cxrviewer.core.io.sniff import sniff

__all__ = ["DEFAULT_MAX_MEGAPIXELS", "Image", "ScanResult", "read_image", "scan_studies"]

log = logging.getLogger(__name__)


def read_image(path: str | Path, *, max_megapixels: float = DEFAULT_MAX_MEGAPIXELS) -> Image:
    """Read one study file, recognised by its content (the extension is ignored).

    max_megapixels: refuse, before allocating, an image whose rows x columns exceed this.
    Raises a `StudyError` subclass naming the file and the problem: EmptyFileError,
    NotAnImageError, TruncatedFileError, NoPixelDataError, UnsupportedFormatError,
    ImageTooLargeError (or StudyError itself for a missing or unreadable file). Any other failure
    inside a decoding library is logged and raised as UnsupportedFormatError naming the file.
    """
    path = Path(path)
    if path.is_dir():
        raise StudyError(path, "is a folder; open the files in it (scan_studies) instead")
    try:
        if path.stat().st_size == 0:
            raise EmptyFileError(path, "the file is empty")
        kind = sniff(path)
    except FileNotFoundError as error:
        raise StudyError(path, "no such file") from error
    except OSError as error:
        raise StudyError(path, f"cannot be read ({error.strerror or error})") from error
    if kind is None:
        raise NotAnImageError(path, "not an image: neither DICOM (nor ACR-NEMA) nor PNG, JPEG or TIFF")
    try:
        if kind in ("dicom", "acr-nema"):
            return read_dicom(path, max_megapixels=max_megapixels, has_meta_header=kind == "dicom")
        return read_raster(path, max_megapixels=max_megapixels)
    except CxrError:
        raise
    except Exception as error:
        # A damaged file can break a library in ways no reader anticipates; the viewer must get a
        # message naming the file, and the traceback goes to the log for whoever fixes the reader.
        log.exception("unexpected failure reading %s", path)
        raise UnsupportedFormatError(path, f"could not be read ({type(error).__name__}: {error})") from error
