"""12-bit JPEG Extended (Process 4, transfer syntax 1.2.840.10008.1.2.4.51) through GDCM.

pydicom's own plugins cannot decode it here: Pillow has only the 8-bit libjpeg, pydicom's GDCM
plugin refuses 12-bit precision before trying, and the one pylibjpeg plugin for it
(pylibjpeg-libjpeg) is GPL, which the viewer bundle must not ship. GDCM itself (python-gdcm, BSD,
already a dependency) carries a 12-bit IJG libjpeg and decodes these frames: on pydicom's
JPGExtended.dcm it gives pydicom's published reference values (244 at [420, 140], 95 at [230, 120]).

The frame is handed to GDCM the way pydicom's GDCM plugin does it (one fragment, a synthetic image
with the header's geometry and pixel format). `gdcm` is imported inside the function so the viewer
does not load it at start-up; PyInstaller still finds the import and ships the module.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def decode_jpeg_extended_12bit(
    frame: bytes, *, rows: int, columns: int, bits_stored: int
) -> npt.NDArray[np.uint16]:
    """One monochrome, unsigned 12-bit JPEG Extended codestream → (rows, columns) uint16.

    Raises ImportError when python-gdcm is missing and ValueError when GDCM cannot decode the frame
    (GDCM gives no reason).
    """
    import gdcm

    fragment = gdcm.Fragment()
    fragment.SetByteStringValue(frame)
    fragments = gdcm.SequenceOfFragments.New()
    fragments.AddFragment(fragment)
    element = gdcm.DataElement(gdcm.Tag(0x7FE0, 0x0010))
    element.SetValue(fragments.__ref__())

    image = gdcm.Image()
    image.SetNumberOfDimensions(2)
    image.SetDimensions((columns, rows, 1))
    image.SetDataElement(element)
    image.SetPhotometricInterpretation(gdcm.PhotometricInterpretation(gdcm.PhotometricInterpretation.MONOCHROME2))
    image.SetTransferSyntax(gdcm.TransferSyntax(gdcm.TransferSyntax.JPEGExtendedProcess2_4))
    image.SetPixelFormat(gdcm.PixelFormat(1, 16, bits_stored, bits_stored - 1, 0))
    # GDCM tries its 8-bit libjpeg first, whose refusal ("Unsupported JPEG data precision 12") libjpeg
    # itself prints on stderr before the 12-bit one succeeds; gdcm.Trace does not silence it.
    buffer = image.GetBuffer()  # a str holding the bytes, or None when decoding failed
    if buffer is None:
        raise ValueError("GDCM could not decode the 12-bit JPEG frame")
    data = buffer.encode("utf-8", "surrogateescape")
    if len(data) != rows * columns * 2:
        raise ValueError(f"GDCM returned {len(data)} bytes for {rows} x {columns} 16-bit pixels")
    return np.frombuffer(data, dtype="<u2").reshape(rows, columns).copy()
