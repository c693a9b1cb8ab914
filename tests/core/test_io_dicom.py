"""Golden pixels for DICOM files the tests write themselves: encodings, LUTs, polarity, colour."""

from __future__ import annotations

import numpy as np
import pytest
from io_samples import RAMP_12, grey_dataset, linear_window, rgb_dataset, save
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from cxrviewer.core.io import read_image

WINDOW = {"WindowCenter": 2048, "WindowWidth": 4096}


@pytest.mark.parametrize(
    "syntax", [ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian, DeflatedExplicitVRLittleEndian]
)
def test_native_encodings_give_the_same_golden_pixels(tmp_path, syntax):
    path = save(grey_dataset(RAMP_12, bits_stored=12, **WINDOW), tmp_path / "x.dcm", syntax)
    image = read_image(path)
    np.testing.assert_array_equal(image.modality_values, RAMP_12.astype(np.float32))
    np.testing.assert_allclose(image.pixels, linear_window(RAMP_12, 2048, 4096), atol=1e-6)
    assert image.pixels[0, 0] == 0.0 and image.pixels[-1, -1] == 1.0
    assert image.meta.transfer_syntax == syntax
    assert image.meta.bits_stored == 12 and (image.meta.rows, image.meta.columns) == (3, 4)


def test_acr_nema_file_without_meta_header(tmp_path):
    ds = grey_dataset(RAMP_12, bits_stored=12, **WINDOW)
    del ds.file_meta
    path = tmp_path / "old.img"
    ds.save_as(path, implicit_vr=True, little_endian=True)
    assert path.read_bytes()[:2] == b"\x08\x00"  # no preamble, starts with the data set
    image = read_image(path)
    np.testing.assert_allclose(image.pixels, linear_window(RAMP_12, 2048, 4096), atol=1e-6)
    assert "no file meta header (ACR-NEMA style)" in image.meta.notes
    assert "no transfer syntax in the file; read as Implicit VR Little Endian" in image.meta.notes


def test_rescale_slope_and_intercept_then_window_in_modality_units(tmp_path):
    ds = grey_dataset(RAMP_12, bits_stored=12, RescaleSlope=2, RescaleIntercept=-1024,
                      WindowCenter=0, WindowWidth=2000)
    image = read_image(save(ds, tmp_path / "x.dcm"))
    expected = RAMP_12.astype(np.float64) * 2 - 1024
    np.testing.assert_array_equal(image.modality_values, expected.astype(np.float32))
    np.testing.assert_allclose(image.pixels, linear_window(expected, 0, 2000), atol=1e-6)


def test_modality_lut_sequence_replaces_the_stored_values(tmp_path):
    stored = np.array([[0, 1, 2, 3], [4, 5, 6, 7]], dtype=np.uint16)
    item = Dataset()
    item.LUTDescriptor = [6, 1, 16]  # 6 entries, first mapped value 1
    item.ModalityLUTType = "US"
    item.LUTData = np.array([100, 200, 400, 800, 1600, 3200], dtype="<u2").tobytes()  # OW, the usual form
    ds = grey_dataset(stored, bits_stored=12, ModalityLUTSequence=Sequence([item]))
    image = read_image(save(ds, tmp_path / "x.dcm"))
    # 0 is below the first mapped value (first entry), 7 beyond the last (last entry).
    np.testing.assert_array_equal(image.modality_values, [[100, 100, 200, 400], [800, 1600, 3200, 3200]])
    # No window in the file: the data range 100..3200 fills black to white.
    np.testing.assert_allclose(image.pixels[0, 0], 0.0, atol=1e-6)
    np.testing.assert_allclose(image.pixels[1, 3], 1.0, atol=1e-6)
    np.testing.assert_allclose(image.pixels[1, 0], (800 - 100) / 3100, atol=1e-6)


def test_several_window_presets_first_is_shown(tmp_path):
    ds = grey_dataset(RAMP_12, bits_stored=12, WindowCenter=[2000, 1000], WindowWidth=[1000, 500],
                      WindowCenterWidthExplanation=["LUNG", "BONE"])
    image = read_image(save(ds, tmp_path / "x.dcm"))
    presets = image.meta.window_presets
    assert [(p.center, p.width, p.name) for p in presets] == [(2000, 1000, "LUNG"), (1000, 500, "BONE")]
    np.testing.assert_allclose(image.pixels, linear_window(RAMP_12, 2000, 1000), atol=1e-6)


@pytest.mark.parametrize("function", ["LINEAR_EXACT", "SIGMOID"])
def test_voi_lut_function(tmp_path, function):
    ds = grey_dataset(RAMP_12, bits_stored=12, WindowCenter=2048, WindowWidth=1000, VOILUTFunction=function)
    image = read_image(save(ds, tmp_path / "x.dcm"))
    x = RAMP_12.astype(np.float64)
    if function == "SIGMOID":
        expected = 1 / (1 + np.exp(-4 * (x - 2048) / 1000))
    else:
        expected = np.clip((x - 2048) / 1000 + 0.5, 0, 1)
    np.testing.assert_allclose(image.pixels, expected, atol=1e-6)
    assert image.meta.window_presets[0].function == function


def test_voi_lut_sequence(tmp_path):
    stored = np.array([[10, 11, 12], [13, 14, 99]], dtype=np.uint16)
    item = Dataset()
    item.LUTDescriptor = [4, 11, 8]
    item.LUTExplanation = "SOFT"
    item.add_new(0x00283006, "US", [0, 51, 204, 255])  # LUT Data as US values, the other legal form
    ds = grey_dataset(stored, bits_stored=12, VOILUTSequence=Sequence([item]))
    image = read_image(save(ds, tmp_path / "x.dcm"))
    np.testing.assert_allclose(image.pixels, np.array([[0, 0, 51], [204, 255, 255]]) / 255, atol=1e-6)
    assert image.meta.voi_luts[0].name == "SOFT" and image.meta.voi_luts[0].output_bits == 8


def test_monochrome1_is_inverted_for_display(tmp_path):
    ds = grey_dataset(RAMP_12, bits_stored=12, photometric="MONOCHROME1", **WINDOW)
    image = read_image(save(ds, tmp_path / "x.dcm"))
    np.testing.assert_allclose(image.pixels, 1 - linear_window(RAMP_12, 2048, 4096), atol=1e-6)
    assert image.pixels[0, 0] == 1.0  # stored 0 is white in MONOCHROME1
    assert image.meta.inverted_for_display and image.meta.photometric == "MONOCHROME1"


@pytest.mark.parametrize(("photometric", "inverted"), [("MONOCHROME2", True), ("MONOCHROME1", True)])
def test_presentation_lut_shape_inverse(tmp_path, photometric, inverted):
    # On MONOCHROME2 it inverts; on MONOCHROME1 the standard uses it to restate the same inversion.
    ds = grey_dataset(RAMP_12, bits_stored=12, photometric=photometric, PresentationLUTShape="INVERSE", **WINDOW)
    image = read_image(save(ds, tmp_path / "x.dcm"))
    assert image.meta.inverted_for_display is inverted
    np.testing.assert_allclose(image.pixels, 1 - linear_window(RAMP_12, 2048, 4096), atol=1e-6)


def test_rgb_is_converted_to_grey_with_bt601_luma(tmp_path):
    rgb = np.array([[[255, 0, 0], [0, 255, 0]], [[0, 0, 255], [90, 90, 90]]], dtype=np.uint8)
    image = read_image(save(rgb_dataset(rgb), tmp_path / "x.dcm"))
    expected = np.array([[0.299 * 255, 0.587 * 255], [0.114 * 255, 90]])
    np.testing.assert_allclose(image.modality_values, expected, atol=1e-3)
    np.testing.assert_allclose(image.pixels, expected / 255, atol=1e-6)
    assert "RGB converted to grey (ITU-R BT.601 luma)" in image.meta.notes


def test_palette_colour_is_converted_to_grey(tmp_path):
    indices = np.array([[0, 1], [2, 3]], dtype=np.uint8)
    ds = grey_dataset(indices, photometric="PALETTE COLOR")
    for colour, values in zip("Red Green Blue".split(), ([0, 65535, 0, 30000], [0, 0, 65535, 30000],
                                                         [0, 0, 0, 30000]), strict=True):
        setattr(ds, f"{colour}PaletteColorLookupTableDescriptor", [4, 0, 16])
        setattr(ds, f"{colour}PaletteColorLookupTableData", np.array(values, dtype="<u2").tobytes())
    image = read_image(save(ds, tmp_path / "x.dcm"))
    np.testing.assert_allclose(image.pixels, [[0, 0.299], [0.587, 30000 / 65535]], atol=1e-5)
    assert "palette colour converted to grey" in image.meta.notes


def test_multi_frame_shows_the_first_frame_and_says_so(tmp_path):
    frames = np.stack([RAMP_12, 4095 - RAMP_12, RAMP_12 // 2])
    image = read_image(save(grey_dataset(frames, bits_stored=12, **WINDOW), tmp_path / "x.dcm"))
    np.testing.assert_array_equal(image.modality_values, RAMP_12)
    assert image.meta.number_of_frames == 3
    assert "multi-frame: frame 1 of 3 shown" in image.meta.notes


@pytest.mark.parametrize("bits", [8, 10, 12, 14, 16])
def test_bits_stored_from_8_to_16(tmp_path, bits):
    top = 2**bits - 1
    stored = np.array([[0, top // 4], [top // 2, top]], dtype=np.uint8 if bits == 8 else np.uint16)
    ds = grey_dataset(stored, bits_stored=bits, WindowCenter=(top + 1) / 2, WindowWidth=top + 1)
    image = read_image(save(ds, tmp_path / "x.dcm"))
    np.testing.assert_allclose(image.pixels, stored / top, atol=1e-6)


def test_bits_above_bits_stored_are_masked(tmp_path):
    # Old files kept overlays in the unused high bits; they must not reach the picture.
    ds = grey_dataset(RAMP_12 | 0xF000, bits_stored=12, **WINDOW)
    np.testing.assert_array_equal(read_image(save(ds, tmp_path / "x.dcm")).modality_values, RAMP_12)


def test_signed_pixels(tmp_path):
    stored = np.array([[-2000, -1], [0, 2047]], dtype=np.int16)
    ds = grey_dataset(stored, bits_stored=12, WindowCenter=0, WindowWidth=4096)
    image = read_image(save(ds, tmp_path / "x.dcm"))
    np.testing.assert_array_equal(image.modality_values, stored)
    np.testing.assert_allclose(image.pixels, linear_window(stored, 0, 4096), atol=1e-6)


def test_without_window_16_bit_shows_the_data_range_and_8_bit_its_full_scale(tmp_path):
    deep = read_image(save(grey_dataset(RAMP_12[1:] , bits_stored=16), tmp_path / "deep.dcm"))
    assert deep.pixels.min() == 0.0 and deep.pixels.max() == 1.0  # 2047..4095 stretched
    assert deep.meta.window_presets[0].name == "data range 2047 to 4095"
    shallow = np.array([[10, 20], [30, 40]], dtype=np.uint8)
    image = read_image(save(grey_dataset(shallow), tmp_path / "shallow.dcm"))
    np.testing.assert_allclose(image.pixels, shallow / 255, atol=1e-6)
    assert [p.name for p in image.meta.window_presets] == ["full 8-bit scale", "data range 10 to 40"]


def test_metadata_ids_and_pixel_spacing(tmp_path):
    ds = grey_dataset(RAMP_12, bits_stored=12, PixelSpacing=[0.15, 0.16], ImagerPixelSpacing=[0.2, 0.2])
    meta = read_image(save(ds, tmp_path / "x.dcm")).meta
    assert (meta.format, meta.modality, meta.patient_id, meta.patient_name) == ("DICOM", "CR", "PAT-001", "Test^Phantom")
    assert meta.study_uid == ds.StudyInstanceUID and meta.series_uid == ds.SeriesInstanceUID
    assert meta.pixel_spacing_mm == (0.15, 0.16) and meta.spacing_source == "PixelSpacing"
    assert not meta.spacing_is_at_detector


def test_imager_pixel_spacing_is_marked_as_at_the_detector(tmp_path):
    ds = grey_dataset(RAMP_12, bits_stored=12, ImagerPixelSpacing=[0.2, 0.25])
    meta = read_image(save(ds, tmp_path / "x.dcm")).meta
    assert meta.pixel_spacing_mm == (0.2, 0.25) and meta.spacing_is_at_detector


def test_tags_are_listed_flat_with_sequence_paths(tmp_path):
    item = Dataset()
    item.LUTDescriptor = [2, 0, 8]
    item.add_new(0x00283006, "US", [0, 255])
    item.LUTExplanation = "TWO"
    ds = grey_dataset(RAMP_12, bits_stored=12, VOILUTSequence=Sequence([item]))
    tags = read_image(save(ds, tmp_path / "x.dcm")).meta.tags
    by_name = {name: (tag, vr, value) for tag, name, vr, value in tags}
    assert by_name["Patient ID"] == ("(0010,0020)", "LO", "PAT-001")
    assert by_name["Transfer Syntax UID"][0] == "(0002,0010)"
    assert by_name["VOI LUT Sequence"] == ("(0028,3010)", "SQ", "1 item(s)")
    assert by_name["VOI LUT Sequence[1] > LUT Explanation"] == ("(0028,3003)", "LO", "TWO")
    assert by_name["Pixel Data"][2] == "<24 bytes of pixel data>"
