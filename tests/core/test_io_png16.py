"""The numpy 16-bit colour PNG decoder equals OpenCV's reading of files OpenCV wrote."""

from __future__ import annotations

import cv2
import numpy as np
import PIL.Image
import pytest

from cxrviewer.core.errors import TruncatedFileError
from cxrviewer.core.io import read_image
from cxrviewer.core.io.png16 import read_png_16_bit_colour, unfilter


def _smooth_and_noisy(rows: int, columns: int, channels: int) -> np.ndarray:
    """Gradients (which libpng filters with Sub/Up/Average/Paeth) plus noise, uint16."""
    rng = np.random.default_rng(5)
    y, x = np.mgrid[0:rows, 0:columns]
    base = np.stack([(x * 997 + y * 131 + 4000 * c) % 65536 for c in range(channels)], axis=-1)
    return (base + rng.integers(0, 64, base.shape) * (x[..., None] % 3 == 0)).astype(np.uint16)


@pytest.mark.parametrize("channels", [3, 4])
def test_decoder_equals_opencv(tmp_path, channels):
    rgb = _smooth_and_noisy(37, 53, channels)
    path = tmp_path / "colour16.png"
    order = [2, 1, 0, 3][:channels]
    assert cv2.imwrite(str(path), rgb[..., order])
    np.testing.assert_array_equal(read_png_16_bit_colour(path), rgb)
    np.testing.assert_array_equal(cv2.imread(str(path), cv2.IMREAD_UNCHANGED)[..., order], rgb)


def test_every_row_filter_is_undone():
    rng = np.random.default_rng(2)
    raw = rng.integers(0, 256, (5, 7, 6), dtype=np.int64)
    filtered = np.zeros_like(raw)
    padded = np.pad(raw, ((1, 0), (1, 0), (0, 0)))
    left, up, up_left = padded[1:, :-1], padded[:-1, 1:], padded[:-1, :-1]
    guess = left + up - up_left
    paeth = np.where((abs(guess - left) <= abs(guess - up)) & (abs(guess - left) <= abs(guess - up_left)), left,
                     np.where(abs(guess - up) <= abs(guess - up_left), up, up_left))
    predictions = [0 * raw, left, up, (left + up) // 2, paeth]
    filters = np.array([0, 1, 2, 3, 4], np.uint8)
    for row, kind in enumerate(filters):
        filtered[row] = (raw[row] - predictions[kind][row]) % 256
    np.testing.assert_array_equal(unfilter(filters, filtered.astype(np.uint8)), raw)


def test_a_cut_16_bit_colour_png_names_the_file(tmp_path):
    whole = tmp_path / "whole.png"
    assert cv2.imwrite(str(whole), _smooth_and_noisy(64, 64, 3))
    cut = tmp_path / "cut16.png"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(TruncatedFileError, match=r"cut16\.png: the file is cut short"):
        read_image(cut)


def test_a_16_bit_colour_tiff_is_read_at_8_bits_with_a_note(tmp_path):
    rgb = _smooth_and_noisy(9, 11, 3)
    path = tmp_path / "colour16.tif"
    assert cv2.imwrite(str(path), rgb[..., ::-1])
    image = read_image(path)
    eight = np.asarray(PIL.Image.open(path).convert("RGB")).astype(np.float64)
    np.testing.assert_allclose(image.modality_values, eight @ [0.299, 0.587, 0.114], atol=1e-3)
    assert image.meta.bits_stored == 8 and "16-bit colour read at 8 bits" in image.meta.notes
