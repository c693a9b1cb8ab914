"""PNG, JPEG and TIFF in 8 and 16 bit, grey, RGB, RGBA and palette: golden pixels."""

from __future__ import annotations

import cv2
import numpy as np
import PIL.Image
import pytest

from cxrviewer.core.io import read_image

GREY_8 = np.array([[0, 1, 127], [128, 254, 255]], dtype=np.uint8)
GREY_16 = np.array([[0, 1, 4095], [32768, 65534, 65535]], dtype=np.uint16)
RGB_8 = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255]], [[10, 20, 30], [50, 50, 50], [255, 255, 255]]],
                 dtype=np.uint8)


def luma(rgb: np.ndarray) -> np.ndarray:
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


@pytest.mark.parametrize("suffix", ["png", "tif"])
def test_8_bit_grey_is_shown_on_its_full_scale(tmp_path, suffix):
    path = tmp_path / f"grey.{suffix}"
    PIL.Image.fromarray(GREY_8).save(path)
    image = read_image(path)
    np.testing.assert_array_equal(image.modality_values, GREY_8)
    np.testing.assert_allclose(image.pixels, GREY_8 / 255, atol=1e-6)
    assert image.meta.format == ("PNG" if suffix == "png" else "TIFF") and image.meta.bits_stored == 8


@pytest.mark.parametrize("suffix", ["png", "tif"])
def test_16_bit_grey(tmp_path, suffix):
    path = tmp_path / f"grey16.{suffix}"
    assert cv2.imwrite(str(path), GREY_16)
    image = read_image(path)
    np.testing.assert_array_equal(image.modality_values, GREY_16)
    np.testing.assert_allclose(image.pixels, GREY_16 / 65535, atol=1e-6)
    assert image.meta.bits_stored == 16
    assert [p.name for p in image.meta.window_presets] == ["full range", "data range"]


def test_rgb_png_is_converted_with_bt601_luma(tmp_path):
    path = tmp_path / "rgb.png"
    PIL.Image.fromarray(RGB_8).save(path)
    image = read_image(path)
    np.testing.assert_allclose(image.modality_values, luma(RGB_8.astype(np.float64)), atol=1e-3)
    np.testing.assert_allclose(image.pixels, luma(RGB_8 / 255), atol=1e-6)
    assert "RGB converted to grey (ITU-R BT.601 luma)" in image.meta.notes


def test_16_bit_rgb_keeps_its_16_bits(tmp_path):
    rgb16 = RGB_8.astype(np.uint16) * 257 + np.array([0, 1, 2], dtype=np.uint16)
    path = tmp_path / "rgb16.png"
    assert cv2.imwrite(str(path), rgb16[..., ::-1])
    image = read_image(path)
    grey = luma(rgb16.astype(np.float64))
    np.testing.assert_allclose(image.modality_values, grey, atol=1e-2)
    # This data uses under half of the 16-bit scale, so it opens on its own range.
    np.testing.assert_allclose(image.pixels, (grey - grey.min()) / (grey.max() - grey.min()), atol=1e-5)


def test_12_bit_data_in_a_16_bit_png_opens_on_its_data_range(tmp_path):
    twelve_bit = np.array([[0, 1000, 2000], [3000, 4000, 4095]], dtype=np.uint16)
    path = tmp_path / "detector12.png"
    assert cv2.imwrite(str(path), twelve_bit)
    image = read_image(path)
    np.testing.assert_allclose(image.pixels, twelve_bit / 4095, atol=1e-6)
    assert [p.name for p in image.meta.window_presets][1] == "full range"
    assert "16-bit file using less than half its scale; showing its data range" in image.meta.notes


def test_rgba_ignores_alpha(tmp_path):
    rgba = np.dstack([RGB_8, np.array([[0, 128, 255], [255, 0, 9]], dtype=np.uint8)])
    path = tmp_path / "rgba.png"
    PIL.Image.fromarray(rgba, mode="RGBA").save(path)
    image = read_image(path)
    np.testing.assert_allclose(image.pixels, luma(RGB_8 / 255), atol=1e-6)
    assert "alpha channel ignored" in image.meta.notes


def test_palette_png(tmp_path):
    palette = [0, 0, 0, 255, 255, 255, 255, 0, 0] + [0] * (256 * 3 - 9)
    indices = np.array([[0, 1], [2, 1]], dtype=np.uint8)
    picture = PIL.Image.fromarray(indices, mode="P")
    picture.putpalette(palette)
    path = tmp_path / "palette.png"
    picture.save(path)
    image = read_image(path)
    np.testing.assert_allclose(image.pixels, [[0, 1], [0.299, 1]], atol=1e-6)
    assert "palette image converted to grey" in image.meta.notes


def test_grey_stored_as_rgb_jpeg_is_read_exactly_like_pillow_decodes_it(tmp_path):
    rng = np.random.default_rng(5)
    grey = (np.add.outer(np.arange(32), np.arange(32)) * 4 + rng.integers(0, 8, (32, 32))).astype(np.uint8)
    path = tmp_path / "grey_as_rgb.jpg"
    PIL.Image.fromarray(np.dstack([grey] * 3)).save(path, quality=95)
    reference = np.asarray(PIL.Image.open(path).convert("RGB"))
    image = read_image(path)
    assert image.meta.format == "JPEG"
    assert np.abs(image.modality_values - luma(reference.astype(np.float64))).max() <= 0.5
    assert np.abs(image.modality_values - grey).max() <= 8  # the lossy codec on a noisy ramp


def test_grey_la_png_ignores_alpha(tmp_path):
    path = tmp_path / "la.png"
    PIL.Image.fromarray(np.dstack([GREY_8, GREY_8[::-1]]), mode="LA").save(path)
    image = read_image(path)
    np.testing.assert_array_equal(image.modality_values, GREY_8)
    assert "alpha channel ignored" in image.meta.notes


def test_multi_page_tiff_shows_the_first_page(tmp_path):
    path = tmp_path / "pages.tif"
    first, second = PIL.Image.fromarray(GREY_8), PIL.Image.fromarray(255 - GREY_8)
    first.save(path, save_all=True, append_images=[second])
    image = read_image(path)
    np.testing.assert_array_equal(image.modality_values, GREY_8)
    assert "multi-frame: frame 1 of 2 shown" in image.meta.notes


def test_extension_does_not_matter(tmp_path):
    path = tmp_path / "actually_a_png.dcm"
    PIL.Image.fromarray(GREY_8).save(path, format="PNG")
    assert read_image(path).meta.format == "PNG"
