"""Compressed DICOM: every codec decodes to golden pixels; a cut frame is refused, never shown."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest
from io_samples import grey_dataset, linear_window, rgb_dataset, save
from PIL import Image as PilImage
from pydicom.encaps import encapsulate, generate_frames
from pydicom.uid import (
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    RLELossless,
)

from cxrviewer.core.errors import TruncatedFileError, UnsupportedFormatError
from cxrviewer.core.io import read_image

# A smooth 12-bit gradient with noise: realistic for the lossless codecs, and not trivially flat.
_rng = np.random.default_rng(7)
GRADIENT_12 = (np.add.outer(np.arange(48), np.arange(40)) * 40 + _rng.integers(0, 60, (48, 40))).astype(np.uint16)
WINDOW = {"WindowCenter": 2048, "WindowWidth": 4096}


def compressed(tmp_path: Path, pixels: np.ndarray, syntax, **attributes) -> Path:
    ds = grey_dataset(pixels, bits_stored=12, **attributes)
    ds.compress(syntax, encoding_plugin="pydicom" if syntax == RLELossless else "")
    return save(ds, tmp_path / f"{syntax.keyword}.dcm")


@pytest.mark.parametrize("syntax", [RLELossless, JPEGLSLossless, JPEG2000Lossless])
def test_lossless_codecs_written_by_pydicom_decode_exactly(tmp_path, syntax):
    image = read_image(compressed(tmp_path, GRADIENT_12, syntax, **WINDOW))
    assert image.meta.transfer_syntax == syntax
    np.testing.assert_array_equal(image.modality_values, GRADIENT_12)
    np.testing.assert_allclose(image.pixels, linear_window(GRADIENT_12, 2048, 4096), atol=1e-6)


def test_compressed_monochrome1_is_inverted(tmp_path):
    image = read_image(compressed(tmp_path, GRADIENT_12, JPEG2000Lossless, photometric="MONOCHROME1", **WINDOW))
    np.testing.assert_allclose(image.pixels, 1 - linear_window(GRADIENT_12, 2048, 4096), atol=1e-6)


def test_rle_rgb_is_converted_to_grey(tmp_path):
    rgb = np.zeros((8, 8, 3), dtype=np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 200, 100, 50
    ds = rgb_dataset(rgb)
    ds.compress(RLELossless, encoding_plugin="pydicom")
    image = read_image(save(ds, tmp_path / "rgb.dcm"))
    np.testing.assert_allclose(image.modality_values, 0.299 * 200 + 0.587 * 100 + 0.114 * 50, atol=1e-3)


@pytest.mark.parametrize("syntax", [JPEGLossless, JPEGLosslessSV1])
def test_jpeg_lossless_transcoded_by_gdcm_decodes_exactly(tmp_path, syntax):
    gdcm = pytest.importorskip("gdcm")
    source = save(grey_dataset(GRADIENT_12, bits_stored=12, **WINDOW), tmp_path / "native.dcm")
    target = tmp_path / "lossless.dcm"
    reader = gdcm.ImageReader()
    reader.SetFileName(str(source))
    assert reader.Read()
    change = gdcm.ImageChangeTransferSyntax()
    gdcm_syntax = (gdcm.TransferSyntax.JPEGLosslessProcess14_1 if syntax == JPEGLosslessSV1
                   else gdcm.TransferSyntax.JPEGLosslessProcess14)
    change.SetTransferSyntax(gdcm.TransferSyntax(gdcm_syntax))
    change.SetInput(reader.GetImage())
    assert change.Change()
    writer = gdcm.ImageWriter()
    writer.SetFileName(str(target))
    writer.SetFile(reader.GetFile())
    writer.SetImage(change.GetOutput())
    assert writer.Write()
    image = read_image(target)
    assert image.meta.transfer_syntax == syntax
    np.testing.assert_array_equal(image.modality_values, GRADIENT_12)


def _jpeg_baseline_file(tmp_path: Path, pixels: np.ndarray, frame: bytes | None = None) -> Path:
    buffer = io.BytesIO()
    PilImage.fromarray(pixels).save(buffer, format="JPEG", quality=95)
    ds = grey_dataset(pixels)
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    ds.PixelData = encapsulate([frame if frame is not None else buffer.getvalue()])
    ds["PixelData"].VR = "OB"
    ds.LossyImageCompression = "01"
    path = save(ds, tmp_path / "baseline.dcm")
    (tmp_path / "baseline.jpg").write_bytes(buffer.getvalue())
    return path


def test_jpeg_baseline_encapsulated_from_pillow(tmp_path):
    pixels = (GRADIENT_12 // 16).astype(np.uint8)
    image = read_image(_jpeg_baseline_file(tmp_path, pixels))
    reference = np.asarray(PilImage.open(tmp_path / "baseline.jpg"), dtype=np.float32)
    # Decoders may differ by one level in their IDCT; the lossy codec itself stays within a few levels.
    assert np.abs(image.modality_values - reference).max() <= 1
    assert np.abs(image.modality_values - pixels).max() <= 6
    np.testing.assert_allclose(image.pixels, image.modality_values / 255, atol=1e-6)  # 8 bit, no VOI


@pytest.mark.parametrize("syntax", [RLELossless, JPEGLSLossless, JPEG2000Lossless, JPEGBaseline8Bit])
def test_a_cut_compressed_frame_is_refused(tmp_path, syntax):
    if syntax == JPEGBaseline8Bit:
        path = _jpeg_baseline_file(tmp_path, (GRADIENT_12 // 16).astype(np.uint8))
    else:
        path = compressed(tmp_path, GRADIENT_12, syntax)
    whole = next(generate_frames(read_pixel_data(path), number_of_frames=1))
    cut = whole[: len(whole) * 3 // 4]
    cut += b"\0" * (len(cut) % 2)
    damaged = grey_dataset((GRADIENT_12 // 16).astype(np.uint8) if syntax == JPEGBaseline8Bit else GRADIENT_12,
                           bits_stored=None if syntax == JPEGBaseline8Bit else 12)
    damaged.file_meta.TransferSyntaxUID = syntax
    damaged.PixelData = encapsulate([cut])
    damaged["PixelData"].VR = "OB"
    with pytest.raises((UnsupportedFormatError, TruncatedFileError), match="could not be decoded"):
        read_image(save(damaged, tmp_path / "damaged.dcm"))


@pytest.mark.parametrize("syntax", [RLELossless, JPEG2000Lossless])
def test_a_file_cut_inside_compressed_pixel_data_is_truncated(tmp_path, syntax):
    whole = compressed(tmp_path, GRADIENT_12, syntax).read_bytes()
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(whole[: len(whole) - 100])
    with pytest.warns(UserWarning, match="End of file"), pytest.raises(TruncatedFileError, match="cut.dcm: the file ends inside its pixel data"):
        read_image(cut)


def read_pixel_data(path: Path) -> bytes:
    import pydicom

    return pydicom.dcmread(path).PixelData


def test_padding_after_the_end_marker_is_not_a_cut(tmp_path):
    # pydicom's examples_jpeg2k.dcm, JPEG-lossy.dcm and JPGExtended.dcm end "FF D9 FF": fill bytes
    # after a complete codestream (and the zero that pads a fragment to even length) are legal.
    pixels = (GRADIENT_12 // 16).astype(np.uint8)
    whole = read_image(_jpeg_baseline_file(tmp_path, pixels))
    stream = (tmp_path / "baseline.jpg").read_bytes()
    for padding in (b"\xff", b"\xff\xff\xff", b"\xff\x00"):
        padded = read_image(_jpeg_baseline_file(tmp_path, pixels, frame=stream + padding))
        np.testing.assert_array_equal(padded.modality_values, whole.modality_values)
    cut = stream[: len(stream) * 3 // 4] + b"\xff"  # a cut stream stays cut, whatever it ends with
    with pytest.raises(TruncatedFileError, match="end marker is missing"):
        read_image(_jpeg_baseline_file(tmp_path, pixels, frame=cut + b"\xff" * (len(cut) % 2)))


def _ybr_full_422_file(tmp_path: Path, luma_values: np.ndarray, cut: int = 0) -> Path:
    """Native YBR_FULL_422: each pair of pixels stored as Y1 Y2 Cb Cr (PS3.3 C.7.6.3.1.2), 2 bytes a pixel."""
    rows, columns = luma_values.shape
    pairs = luma_values.reshape(rows, columns // 2, 2)
    stored = np.concatenate([pairs, np.full((rows, columns // 2, 2), 128, np.uint8)], axis=2)
    ds = rgb_dataset(np.zeros((rows, columns, 3), np.uint8))
    ds.PhotometricInterpretation = "YBR_FULL_422"
    ds.PixelData = stored.tobytes()[: stored.size - cut]
    return save(ds, tmp_path / "ybr422.dcm")


def test_native_ybr_full_422_is_two_bytes_a_pixel(tmp_path):
    luma_values = (np.arange(6 * 8).reshape(6, 8) * 5).astype(np.uint8)
    image = read_image(_ybr_full_422_file(tmp_path, luma_values))  # neutral chroma: grey = Y exactly
    np.testing.assert_array_equal(image.modality_values, luma_values)
    with pytest.raises(TruncatedFileError, match="pixel data has 92 bytes but the header promises 96"):
        read_image(_ybr_full_422_file(tmp_path, luma_values, cut=4))


def _pydicom_test_file(name: str) -> Path:
    import pydicom.data

    return Path(pydicom.data.__file__).parent / "test_files" / name  # bundled, never downloaded


def test_twelve_bit_jpeg_extended_without_gdcm_is_refused_by_name(monkeypatch):
    monkeypatch.setitem(sys.modules, "gdcm", None)  # import gdcm now raises ImportError
    with pytest.raises(UnsupportedFormatError, match="12-bit JPEG Extended is not supported"):
        read_image(_pydicom_test_file("JPGExtended.dcm"))


def test_a_damaged_twelve_bit_jpeg_frame_is_refused(tmp_path):
    import pydicom

    ds = pydicom.dcmread(_pydicom_test_file("JPGExtended.dcm"))
    stream = next(generate_frames(ds.PixelData, number_of_frames=1))
    # Start and end markers intact, frame header and tables gone: GDCM returns nothing. (A stream cut
    # inside its scan and given an end marker back is filled in by libjpeg, as by other decoders.)
    ds.PixelData = encapsulate([stream[:2] + bytes(600) + b"\xff\xd9"])
    ds.save_as(tmp_path / "damaged.dcm")
    with pytest.raises(UnsupportedFormatError, match="could not be decoded .12-bit JPEG Extended"):
        read_image(tmp_path / "damaged.dcm")
