"""DICOM file → `Image`: parse, refuse bad headers before decoding, decode frame 1, grey pipeline."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pydicom
from pydicom.datadict import keyword_for_tag
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import get_frame
from pydicom.errors import InvalidDicomError
from pydicom.pixels import apply_color_lut, get_decoder
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000TransferSyntaxes,
    JPEGExtended12Bit,
    JPEGLSTransferSyntaxes,
    JPEGTransferSyntaxes,
)

from cxrviewer.core.display.voi import apply_voi, apply_window, default_window, full_range_window
from cxrviewer.core.errors import (
    NoPixelDataError,
    NotAnImageError,
    TruncatedFileError,
    UnsupportedFormatError,
)
from cxrviewer.core.image import Image, ImageMeta, WindowPreset
from cxrviewer.core.io.dicom_luts import apply_modality_lut, voi_luts, window_presets
from cxrviewer.core.io.dicom_tags import flatten_tags
from cxrviewer.core.io.jpeg12 import decode_jpeg_extended_12bit
from cxrviewer.core.io.limits import check_frame_size
from cxrviewer.core.io.pixels import luma

log = logging.getLogger(__name__)

_GREY = ("MONOCHROME1", "MONOCHROME2")
_COLOUR = ("RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT", "PALETTE COLOR")
# Codestreams of these syntaxes (JPEG, JPEG-LS, JPEG 2000, HTJ2K) end with the marker FF D9 (EOI or
# EOC). Checking for it refuses a cut frame before a decoder sees it: some decoders return a partial
# picture from a cut stream, and CharLS was seen to stall for seconds on one.
_MARKER_CODECS = frozenset(JPEGTransferSyntaxes + JPEGLSTransferSyntaxes + JPEG2000TransferSyntaxes)
# Image Pixel module attributes (and the palette tables) that decoding needs: samples, photometric
# interpretation, planar configuration, frames, rows, columns, bits, pixel representation, LUTs.
_PIXEL_DESCRIPTION = frozenset({
    0x00280002, 0x00280004, 0x00280006, 0x00280008, 0x00280010, 0x00280011, 0x00280100, 0x00280101,
    0x00280102, 0x00280103, 0x00281101, 0x00281102, 0x00281103, 0x00281201, 0x00281202, 0x00281203,
    0x00281221, 0x00281222, 0x00281223, 0x7FE00010,
})
_PIXEL_DATA_TAG_BYTES = (b"\xe0\x7f\x10\x00", b"\x7f\xe0\x00\x10")


def read_dicom(path: Path, *, max_megapixels: float, has_meta_header: bool = True) -> Image:
    """Read a DICOM (or ACR-NEMA) file into an `Image`. See `cxrviewer.core.io.read_image`."""
    notes: list[str] = []
    ds = _parse(path, has_meta_header, notes)
    if "PixelData" not in ds:
        _raise_no_pixels(path, ds, has_meta_header)
    if "Rows" not in ds and "Columns" not in ds:
        # pydicom's meta_missing_tsyntax.dcm and nested_priv_SQ.dcm: a 2-byte Pixel Data and no Image
        # Pixel module. Not an empty image (refused as too small before), just no image.
        raise NoPixelDataError(path, "DICOM without an image: Pixel Data but no Rows and Columns to shape it")
    tags = flatten_tags(ds)  # before damaged elements are dropped, so the tag browser still lists them
    _drop_unreadable_elements(path, ds, notes)
    transfer_syntax = _transfer_syntax(path, ds, notes)
    rows, columns = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    frames = _number_of_frames(path, ds)
    check_frame_size(
        path, rows, columns, max_megapixels=max_megapixels, samples_per_pixel=samples, frames=frames
    )
    photometric = str(ds.get("PhotometricInterpretation", "") or "").strip().upper()
    expected_samples = 1 if photometric in _GREY + ("PALETTE COLOR",) else 3
    if photometric not in _GREY + _COLOUR or samples != expected_samples:
        raise UnsupportedFormatError(
            path, f"photometric interpretation {photometric or '(none)'!r} with {samples} sample(s) per pixel"
        )
    bits_allocated = int(ds.get("BitsAllocated", 0) or 0)
    bits_stored = int(ds.get("BitsStored", bits_allocated) or bits_allocated)
    if bits_allocated not in (1, 8, 16, 32) or not 1 <= bits_stored <= bits_allocated:
        raise UnsupportedFormatError(
            path, f"bit depth not supported (allocated {bits_allocated}, stored {bits_stored})"
        )
    if not transfer_syntax.is_compressed:
        _check_native_length(path, ds, rows * columns * _samples_stored(photometric, samples) * frames, bits_allocated)
    elif transfer_syntax in _MARKER_CODECS:
        _check_frame_ends_with_marker(path, ds, frames)
    if frames > 1:
        notes.append(f"multi-frame: frame 1 of {frames} shown")

    stored = _decode_first_frame(path, ds, transfer_syntax, frames)
    if photometric in _GREY:
        modality_values = apply_modality_lut(stored, ds, notes)
        presets, luts = window_presets(ds, notes), voi_luts(ds, notes)
        inverted = _inverted_for_display(ds, photometric, notes)
        if presets:
            voi = presets[0]
            if luts:
                notes.append(f"file also has {len(luts)} VOI LUT(s); window {presets[0].name!r} shown first")
        elif luts:
            voi = luts[0]
        else:
            presets = _default_presets(modality_values, ds, bits_stored)
            voi = presets[0]
            notes.append(f"no window in the file; showing {voi.name}")
        pixels = apply_voi(modality_values, voi, invert=inverted)
    else:
        modality_values, top = _colour_to_grey(stored, ds, photometric, notes)
        presets, luts, inverted = (full_range_window(0.0, top),), (), False
        pixels = apply_window(modality_values, presets[0].center, presets[0].width)

    spacing, source = _pixel_spacing(ds, notes)
    meta = ImageMeta(
        path=path,
        format="DICOM",
        modality=str(ds.get("Modality", "") or ""),
        photometric=photometric,
        patient_id=str(ds.get("PatientID", "") or ""),
        patient_name=str(ds.get("PatientName", "") or ""),
        study_uid=str(ds.get("StudyInstanceUID", "") or ""),
        series_uid=str(ds.get("SeriesInstanceUID", "") or ""),
        sop_uid=str(ds.get("SOPInstanceUID", "") or ""),
        study_date=str(ds.get("StudyDate", "") or ""),
        description=str(ds.get("StudyDescription", "") or ds.get("SeriesDescription", "") or ""),
        rows=rows,
        columns=columns,
        bits_stored=bits_stored,
        transfer_syntax=str(transfer_syntax),
        window_presets=presets,
        voi_luts=luts,
        pixel_spacing_mm=spacing,
        spacing_source=source,
        inverted_for_display=inverted,
        number_of_frames=frames,
        notes=tuple(notes),
        tags=tags,
    )
    return Image(pixels=pixels, modality_values=modality_values, meta=meta)


def _parse(path: Path, has_meta_header: bool, notes: list[str]) -> Dataset:
    try:
        ds = pydicom.dcmread(path, force=not has_meta_header)
    except InvalidDicomError as error:
        raise NotAnImageError(path, f"not a readable DICOM file ({error})") from error
    except (EOFError, OSError) as error:
        raise TruncatedFileError(path, f"the file ends inside its DICOM header ({error})") from error
    except Exception as error:  # pydicom raises many types on malformed headers; name the cause
        raise UnsupportedFormatError(path, f"malformed DICOM header ({type(error).__name__}: {error})") from error
    if not has_meta_header:
        notes.append("no file meta header (ACR-NEMA style)")
    if not isinstance(getattr(ds, "file_meta", None), FileMetaDataset):
        ds.file_meta = FileMetaDataset()
    return ds


def _transfer_syntax(path: Path, ds: Dataset, notes: list[str]) -> UID:
    uid = ds.file_meta.get("TransferSyntaxUID")
    if uid is None:
        implicit, little = ds.original_encoding
        if little is False and implicit:
            raise UnsupportedFormatError(path, "implicit VR big endian is not a DICOM encoding")
        uid = ImplicitVRLittleEndian if implicit else (ExplicitVRLittleEndian if little else ExplicitVRBigEndian)
        ds.file_meta.TransferSyntaxUID = uid
        notes.append(f"no transfer syntax in the file; read as {uid.name}")
    uid = UID(str(uid))
    try:
        decoder = get_decoder(uid)
    except NotImplementedError as error:
        name = uid.name if uid.is_valid and uid.name != str(uid) else "unknown"
        raise UnsupportedFormatError(path, f"transfer syntax {uid} ({name}) is not supported") from error
    if not decoder.is_available:
        raise UnsupportedFormatError(
            path, f"transfer syntax {uid.name} needs a decoder that is not installed"
        )
    return uid


def _drop_unreadable_elements(path: Path, ds: Dataset, notes: list[str]) -> None:
    """Drop, with a note, each top-level element whose value pydicom cannot convert (an unknown VR,
    bytes no VR can hold), so one damaged optional tag (a Pixel Spacing, a name) does not refuse the
    image. Damage to what describes the pixels themselves refuses the file: guessing it would draw
    a wrong picture."""
    for tag in list(ds.keys()):
        try:
            ds[tag]  # converts the raw value; the first access is where a bad one raises
        except Exception as error:  # pydicom raises NotImplementedError, ValueError, TypeError...
            name = keyword_for_tag(tag) or f"({tag.group:04X},{tag.element:04X})"
            if int(tag) in _PIXEL_DESCRIPTION:
                raise UnsupportedFormatError(
                    path, f"{name} is damaged ({error}); the image cannot be decoded without it"
                ) from error
            notes.append(f"{name} unreadable ({error}); ignored")
            del ds[tag]


def _number_of_frames(path: Path, ds: Dataset) -> int:
    value = ds.get("NumberOfFrames", 1)
    try:
        return max(1, int(value or 1))
    except (TypeError, ValueError) as error:
        # pydicom's badVR.dcm: '1A'. Where frame 1 ends depends on it, and pydicom's decoders stop
        # on it too, so it is refused by name rather than as a failed decode.
        raise UnsupportedFormatError(path, f"Number of Frames {value!r} is not a number") from error


def _samples_stored(photometric: str, samples: int) -> int:
    """Samples stored per pixel: YBR_FULL_422 keeps one Cb and one Cr for each pair of pixels
    (PS3.3 C.7.6.3.1.2), so a pair is 4 values (Y Y Cb Cr), not 6: two per pixel, not three."""
    return 2 if photometric == "YBR_FULL_422" and samples == 3 else samples


def _check_native_length(path: Path, ds: Dataset, samples_total: int, bits_allocated: int) -> None:
    expected = (samples_total + 7) // 8 if bits_allocated == 1 else samples_total * bits_allocated // 8
    actual = len(ds.PixelData)
    if actual < expected:
        raise TruncatedFileError(
            path, f"pixel data has {actual} bytes but the header promises {expected}; the file is cut short"
        )


def _check_frame_ends_with_marker(path: Path, ds: Dataset, frames: int) -> None:
    try:
        frame = get_frame(ds.PixelData, 0, number_of_frames=frames)
    except Exception as error:  # malformed item tags or offset table; pydicom raises several types
        raise TruncatedFileError(path, f"compressed pixel data is damaged ({error})") from error
    # Fragments are padded to an even length with a zero byte, and encoders may leave fill bytes (FF)
    # after the end marker: pydicom's examples_jpeg2k.dcm, JPEG-lossy.dcm and JPGExtended.dcm end
    # "FF D9 FF". Both are padding after a complete codestream, not a cut; a cut stream does not end
    # in FF D9 followed only by padding.
    if not frame.rstrip(b"\0\xff").endswith(b"\xff\xd9"):
        raise TruncatedFileError(path, "frame 1 of the compressed pixel data could not be decoded: its end marker is missing (cut short)")


def _decode_first_frame(path: Path, ds: Dataset, transfer_syntax: UID, frames: int) -> npt.NDArray[np.generic]:
    if transfer_syntax == JPEGExtended12Bit and int(ds.get("BitsStored", 8)) > 8:
        return _decode_jpeg_12bit(path, ds, frames)
    try:
        array, _ = get_decoder(transfer_syntax).as_array(ds, index=0)
    except Exception as error:  # every decoder plugin has its own exception types
        raise UnsupportedFormatError(
            path, f"frame 1 could not be decoded ({transfer_syntax.name}; damaged or truncated?): {error}"
        ) from error
    return array


def _decode_jpeg_12bit(path: Path, ds: Dataset, frames: int) -> npt.NDArray[np.uint16]:
    """12-bit JPEG Extended, which no pydicom plugin we may ship decodes: GDCM directly (jpeg12.py)."""
    unsupported = "12-bit JPEG Extended is not supported"
    if str(ds.get("PhotometricInterpretation", "")).strip() not in _GREY or int(ds.get("PixelRepresentation", 0) or 0):
        raise UnsupportedFormatError(path, f"{unsupported} for colour or signed pixels")
    try:
        return decode_jpeg_extended_12bit(
            get_frame(ds.PixelData, 0, number_of_frames=frames),
            rows=int(ds.Rows), columns=int(ds.Columns), bits_stored=int(ds.BitsStored),
        )
    except ImportError as error:
        raise UnsupportedFormatError(path, f"{unsupported} without python-gdcm, which is not installed") from error
    except ValueError as error:
        raise UnsupportedFormatError(
            path, f"frame 1 could not be decoded (12-bit JPEG Extended; damaged or truncated?): {error}"
        ) from error


def _raise_no_pixels(path: Path, ds: Dataset, has_meta_header: bool) -> None:
    if "FloatPixelData" in ds or "DoubleFloatPixelData" in ds:
        raise UnsupportedFormatError(path, "float pixel data (parametric maps) is not supported")
    if "DirectoryRecordSequence" in ds:
        raise NoPixelDataError(path, "a DICOMDIR (an index of other files), not an image; open its folder")
    sop_class = ds.get("SOPClassUID") or ds.file_meta.get("MediaStorageSOPClassUID")
    sop_name = UID(str(sop_class)).name if sop_class else ""
    if len(ds) > 0 and not _was_cut(path, has_meta_header):
        # The file ends where an element does: whole as far as can be told, and without an image.
        # Image SOP classes turn up like this too (pydicom's TINY_ALPHA set and charset files,
        # headers kept and pixels stripped); calling them "cut short" sent readers after a copy.
        if sop_name.endswith("Image Storage"):
            raise NoPixelDataError(path, f"{sop_name} file that has no pixel data: no image in it, though its class is an image's")
        raise NoPixelDataError(path, f"DICOM without pixel data ({sop_name})" if sop_name else "DICOM without pixel data")
    # pydicom stops quietly at the end of a cut file, dropping the element it was reading. The Pixel
    # Data tag still in the bytes, image attributes, or an image SOP class all say an image was meant.
    if any(tag in path.read_bytes() for tag in _PIXEL_DATA_TAG_BYTES):
        raise TruncatedFileError(path, "the file ends inside its pixel data")
    if len(ds) == 0 or "Rows" in ds or "BitsAllocated" in ds or sop_name.endswith("Image Storage"):
        raise TruncatedFileError(path, "the file ends before its pixel data (cut short or damaged)")
    raise NoPixelDataError(path, f"DICOM without pixel data ({sop_name})" if sop_name else "DICOM without pixel data")


class _ReadWatch(io.BytesIO):
    """A file in memory that counts the reads that came back shorter than asked."""

    short_reads = 0
    last_read_empty_at_end = False

    def read(self, size: int | None = -1, /) -> bytes:
        data = super().read(size)
        short = size is not None and 0 <= len(data) < size
        self.short_reads += short
        self.last_read_empty_at_end = short and not data
        return data


def _was_cut(path: Path, has_meta_header: bool) -> bool:
    """True when parsing the file met its end inside an element (the file was cut short).

    pydicom reads to the end of the file and returns quietly when the bytes run out, mid-element or
    not. A complete file's only short read is its last: the next element's header asked for at the
    very end, which gives nothing. Any other short read is a cut (a file cut exactly between two
    elements cannot be told from a complete one). Called only when there is no pixel data, to tell
    a cut image from a complete file that never had one. A deflated dataset is read by pydicom from
    its own inflated copy, where a cut cannot be seen, so it counts as one.
    """
    watch = _ReadWatch(path.read_bytes())
    try:
        ds = pydicom.dcmread(watch, force=not has_meta_header)
    except Exception:
        return True
    if ds.file_meta.get("TransferSyntaxUID") == DeflatedExplicitVRLittleEndian:
        return True
    return not (watch.short_reads == 0 or (watch.short_reads == 1 and watch.last_read_empty_at_end))


def _default_presets(
    modality_values: npt.NDArray[np.float32], ds: Dataset, bits_stored: int
) -> tuple[WindowPreset, ...]:
    """Windows for a file without VOI: what the standard implies first, the data range second.

    For 8-bit images without a rescale (secondary captures, the usual exported radiograph) the
    stored values are already display values (PS3.3 A.8: no VOI means the values are P-Values), so
    the full 0..255 scale is shown. Deeper images are shown from their minimum to their maximum
    (see `default_window`): their full scale would leave a 12-bit image in 16 bits nearly black.
    """
    data_range = default_window(modality_values)
    data_range = WindowPreset(
        center=data_range.center,
        width=data_range.width,
        name=f"data range {data_range.center - data_range.width / 2:g} to "
        f"{data_range.center + data_range.width / 2 - 1:g}",
    )
    rescaled = "ModalityLUTSequence" in ds or "RescaleSlope" in ds or "RescaleIntercept" in ds
    if bits_stored <= 8 and not rescaled and not ds.get("PixelRepresentation", 0):
        return (full_range_window(0.0, 2.0**bits_stored - 1, name=f"full {bits_stored}-bit scale"), data_range)
    return (data_range,)


def _inverted_for_display(ds: Dataset, photometric: str, notes: list[str]) -> bool:
    """MONOCHROME1 or Presentation LUT Shape INVERSE, counted once.

    PS3.3 (DX Image module, C.8.11.7) has MONOCHROME1 images carry INVERSE to say the same thing
    as their photometric interpretation, so the two together are one inversion, not two.
    """
    shape = str(ds.get("PresentationLUTShape", "") or "").strip().upper()
    if "PresentationLUTSequence" in ds:
        notes.append("Presentation LUT Sequence ignored (only its shape is supported)")
    if photometric == "MONOCHROME1":
        notes.append("MONOCHROME1: inverted for display")
        return True
    if shape == "INVERSE":
        notes.append("Presentation LUT Shape INVERSE: inverted for display")
        return True
    return False


def _colour_to_grey(
    stored: npt.NDArray[np.generic], ds: Dataset, photometric: str, notes: list[str]
) -> tuple[npt.NDArray[np.float32], float]:
    """Colour frame → grey levels (H, W) float32 and the level that means white."""
    if photometric == "PALETTE COLOR":
        rgb = apply_color_lut(stored, ds)
        notes.append("palette colour converted to grey")
        return luma(rgb), float(np.iinfo(rgb.dtype).max)
    notes.append(f"{photometric} converted to grey (ITU-R BT.601 luma)")
    return luma(stored), float(2 ** int(ds.get("BitsStored", 8)) - 1)


def _pixel_spacing(ds: Dataset, notes: list[str]) -> tuple[tuple[float, float] | None, str | None]:
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        value = ds.get(keyword)
        if value is None or value == "":
            continue
        try:
            row_mm, column_mm = (float(v) for v in value)
        except (TypeError, ValueError):
            notes.append(f"{keyword} {value!r} unreadable; ignored")
            continue
        if not (row_mm > 0 and column_mm > 0 and np.isfinite(row_mm) and np.isfinite(column_mm)):
            notes.append(f"{keyword} {row_mm}, {column_mm} is not positive; ignored")
            continue
        if keyword == "ImagerPixelSpacing":
            notes.append("spacing known only at the detector (ImagerPixelSpacing); not corrected for magnification")
        return (row_mm, column_mm), keyword
    return None, None

