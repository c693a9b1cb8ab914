"""Bad input: each case gets its own CxrError subclass naming the file, fast and without allocating."""

from __future__ import annotations

import struct
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
from io_samples import RAMP_12, grey_dataset, report_dataset, save
from pydicom.encaps import encapsulate

from cxrviewer.core.errors import (
    CxrError,
    EmptyFileError,
    ImageTooLargeError,
    NoPixelDataError,
    NotAnImageError,
    StudyError,
    TruncatedFileError,
    UnsupportedFormatError,
)
from cxrviewer.core.io import read_image


def test_empty_file(tmp_path):
    path = tmp_path / "empty.dcm"
    path.write_bytes(b"")
    with pytest.raises(EmptyFileError, match=r"empty\.dcm: the file is empty"):
        read_image(path)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(StudyError, match="nothing.dcm: no such file"):
        read_image(tmp_path / "nothing.dcm")
    with pytest.raises(StudyError, match="is a folder"):
        read_image(tmp_path)


def test_text_file_named_dcm_is_not_an_image(tmp_path):
    path = tmp_path / "report.dcm"
    path.write_text("Findings: no acute cardiopulmonary process.\n" * 10)
    with pytest.raises(NotAnImageError, match=r"report\.dcm: not an image"):
        read_image(path)


def test_dicom_cut_inside_native_pixel_data(tmp_path):
    whole = save(grey_dataset(RAMP_12, bits_stored=12), tmp_path / "x.dcm").read_bytes()
    path = tmp_path / "cut.dcm"
    path.write_bytes(whole[:-7])
    with pytest.raises(TruncatedFileError, match=r"cut\.dcm: pixel data has 17 bytes but the header promises 24"):
        read_image(path)
    path.write_bytes(whole[:-30])  # inside the Pixel Data element's own header
    with pytest.raises(TruncatedFileError, match=r"cut\.dcm: the file ends inside its pixel data"):
        read_image(path)


def test_dicom_cut_inside_its_header(tmp_path):
    whole = save(grey_dataset(RAMP_12, bits_stored=12), tmp_path / "x.dcm").read_bytes()
    path = tmp_path / "cut.dcm"
    for length in (140, 200, 500):  # inside the file meta, the first elements, group 0028
        path.write_bytes(whole[:length])
        with pytest.raises(TruncatedFileError, match=r"cut\.dcm: the file ends before its pixel data"):
            read_image(path)


def test_dicom_without_pixel_data(tmp_path):
    with pytest.raises(NoPixelDataError, match=r"x\.dcm: DICOM without pixel data \(Basic Text SR Storage\)"):
        read_image(save(report_dataset(), tmp_path / "x.dcm"))


def test_unsupported_transfer_syntax(tmp_path):
    mpeg = grey_dataset(RAMP_12, bits_stored=12)
    mpeg.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.100"  # MPEG2 video
    mpeg.PixelData = encapsulate([b"\0\0\1\xb3" * 8])
    mpeg["PixelData"].VR = "OB"
    with pytest.raises(UnsupportedFormatError, match=r"transfer syntax 1\.2\.840\.10008\.1\.2\.4\.100 .*not supported"):
        read_image(save(mpeg, tmp_path / "mpeg.dcm"))


def test_unsupported_photometric_interpretation(tmp_path):
    ds = grey_dataset(RAMP_12, bits_stored=12, photometric="CMYK")
    with pytest.raises(UnsupportedFormatError, match="photometric interpretation 'CMYK'"):
        read_image(save(ds, tmp_path / "x.dcm"))


def test_absurd_dicom_dimensions_are_refused_before_allocating(tmp_path):
    ds = grey_dataset(RAMP_12, bits_stored=12)
    ds.Rows = ds.Columns = 60000  # 3.6 gigapixels promised, 24 bytes present
    path = save(ds, tmp_path / "huge.dcm")
    tracemalloc.start()
    try:
        with pytest.raises(ImageTooLargeError, match=r"huge\.dcm: image of 3600\.0 megapixels .* limit of 100"):
            read_image(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000  # a decoded 60000^2 16-bit frame would be 7.2 GB


def test_zero_rows_are_refused(tmp_path):
    ds = grey_dataset(RAMP_12, bits_stored=12)
    ds.Rows = 0
    with pytest.raises(ImageTooLargeError, match="empty image"):
        read_image(save(ds, tmp_path / "x.dcm"))


def test_the_megapixel_limit_can_be_raised(tmp_path):
    path = save(grey_dataset(np.zeros((1000, 1200), dtype=np.uint16), bits_stored=12), tmp_path / "x.dcm")
    with pytest.raises(ImageTooLargeError, match="1.2 megapixels"):
        read_image(path, max_megapixels=1.0)
    assert read_image(path, max_megapixels=1.5).shape == (1000, 1200)


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG whose header promises width x height grey pixels, with a few bytes of deflate after it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 4096)  # far fewer rows than promised
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


def test_png_decompression_bomb_is_refused_before_decoding(tmp_path):
    path = _png_header_only(tmp_path / "bomb.png", 60000, 60000)
    tracemalloc.start()
    try:
        with pytest.raises(ImageTooLargeError, match=r"bomb\.png: .*above the limit of 100 megapixels"):
            read_image(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000


def test_png_bomb_below_pillow_limit_but_above_ours(tmp_path):
    path = tmp_path / "zeros.png"
    PIL.Image.new("L", (3000, 2000)).save(path)  # 6 MP of zeros compress to a few kB
    assert path.stat().st_size < 50_000
    with pytest.raises(ImageTooLargeError, match=r"6\.0 megapixels"):
        read_image(path, max_megapixels=5)


def test_a_raised_limit_overrides_pillows_own_guard_and_restores_it(tmp_path, monkeypatch):
    path = tmp_path / "zeros.png"
    PIL.Image.new("L", (100, 50)).save(path)
    monkeypatch.setattr(PIL.Image, "MAX_IMAGE_PIXELS", 1000)  # Pillow now refuses above 2000 pixels
    with pytest.raises(ImageTooLargeError):
        read_image(path, max_megapixels=0.001)
    assert read_image(path, max_megapixels=0.01).shape == (50, 100)
    assert PIL.Image.MAX_IMAGE_PIXELS == 1000


@pytest.mark.parametrize("suffix", ["png", "jpeg"])
def test_truncated_raster_images(tmp_path, suffix):
    rng = np.random.default_rng(3)
    source = tmp_path / f"whole.{suffix}"
    PIL.Image.fromarray(rng.integers(0, 255, (128, 128), dtype=np.uint8)).save(source)
    path = tmp_path / f"cut.{suffix}"
    path.write_bytes(source.read_bytes()[: source.stat().st_size // 2])
    with pytest.raises(TruncatedFileError, match=rf"cut\.{suffix}: the file is cut short"):
        read_image(path)


def test_every_error_is_a_cxr_error_with_the_path(tmp_path):
    path = tmp_path / "random.bin"
    path.write_bytes(np.random.default_rng(0).integers(0, 255, 1000, dtype=np.uint8).tobytes())
    with pytest.raises(CxrError) as caught:
        read_image(path)
    assert str(caught.value).startswith(str(path))


def test_acr_nema_sniffing_rejects_a_lookalike(tmp_path):
    # Starts like group 0008 but then is garbage: must be an error, not a crash or an image.
    path = tmp_path / "odd.bin"
    path.write_bytes(b"\x08\x00\x18\x00" + b"\xff" * 60)
    with pytest.raises(CxrError, match=r"odd\.bin"):
        read_image(path)


def test_an_unexpected_library_failure_still_names_the_file(tmp_path, monkeypatch, caplog):
    import cxrviewer.core.io.dicom as dicom_reader

    def broken(ds):
        raise KeyError("something deep inside a library")

    monkeypatch.setattr(dicom_reader, "flatten_tags", broken)
    path = save(grey_dataset(RAMP_12, bits_stored=12), tmp_path / "x.dcm")
    with pytest.raises(UnsupportedFormatError, match=r"x\.dcm: could not be read \(KeyError"):
        read_image(path)
    assert "unexpected failure reading" in caplog.text


def test_an_image_sop_class_file_without_pixel_data_says_so_not_cut_short(tmp_path):
    ds = grey_dataset(RAMP_12, bits_stored=12)
    del ds.PixelData  # a complete file: header kept, pixels stripped (as in pydicom's TINY_ALPHA set)
    with pytest.raises(NoPixelDataError, match=r"x\.dcm: Computed Radiography Image Storage file that has no pixel data"):
        read_image(save(ds, tmp_path / "x.dcm"))


def test_pixel_data_without_rows_and_columns_is_not_an_image(tmp_path):
    ds = report_dataset()
    ds.PixelData = b"\0\0"  # as pydicom's meta_missing_tsyntax.dcm and nested_priv_SQ.dcm
    ds["PixelData"].VR = "OW"
    with pytest.raises(NoPixelDataError, match="Pixel Data but no Rows and Columns"):
        read_image(save(ds, tmp_path / "x.dcm"))


def _with_vr_replaced(path: Path, element: bytes, vr: bytes) -> Path:
    """The file with one element's VR overwritten by `vr` (same length field, so parsing goes on)."""
    data = path.read_bytes()
    at = data.index(element) + 4  # the tag is followed by the two VR letters in Explicit VR
    path.write_bytes(data[:at] + vr + data[at + 2:])
    return path


def test_a_damaged_optional_element_becomes_a_note(tmp_path):
    # Pixel Spacing (0028,0030) with a VR no DICOM version has: pydicom cannot convert the value.
    path = save(grey_dataset(RAMP_12, bits_stored=12, PixelSpacing=[0.25, 0.25]), tmp_path / "x.dcm")
    image = read_image(_with_vr_replaced(path, b"\x28\x00\x30\x00DS", b"QQ"))
    np.testing.assert_array_equal(image.modality_values, RAMP_12)
    assert image.meta.pixel_spacing_mm is None
    assert any(note.startswith("PixelSpacing unreadable (Unknown Value Representation 'QQ'") for note in image.meta.notes)
    assert any(row[0] == "(0028,0030)" for row in image.meta.tags)  # still listed in the tag browser


def test_a_damaged_pixel_description_refuses_the_file(tmp_path):
    path = save(grey_dataset(RAMP_12, bits_stored=12), tmp_path / "x.dcm")
    with pytest.raises(UnsupportedFormatError, match=r"x\.dcm: Rows is damaged .*cannot be decoded without it"):
        read_image(_with_vr_replaced(path, b"\x28\x00\x10\x00US", b"QQ"))


def test_an_unreadable_number_of_frames_is_named(tmp_path):
    path = save(grey_dataset(RAMP_12, bits_stored=12, NumberOfFrames=1), tmp_path / "x.dcm")
    element = b"\x28\x00\x08\x00IS\x02\x001 "
    path.write_bytes(path.read_bytes().replace(element, element[:-1] + b"A"))  # '1A', as in pydicom's badVR.dcm
    with pytest.warns(UserWarning), pytest.raises(UnsupportedFormatError, match=r"Number of Frames '1A' is not a number"):
        read_image(path)
