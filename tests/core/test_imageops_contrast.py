"""The numpy contrast steps equal OpenCV's, pixel for pixel: the shipped models were trained on
OpenCV's output, and the viewer bundle runs these instead (cxrviewer.core.imageops.contrast)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from cxrviewer.core.errors import ConfigError
from cxrviewer.core.imageops.contrast import BLUR_KERNELS, clahe, equalize_hist, gaussian_blur_u8

SIZES = [(256, 256), (224, 224), (257, 250), (100, 37), (17, 9), (8, 8), (1, 9)]


def radiograph_like(shape: tuple[int, int], dtype: type, seed: int) -> np.ndarray:
    """Smooth structure plus noise, spanning most of the dtype's range, like a film at model size."""
    rng = np.random.default_rng(seed)
    height, width = shape
    coarse = rng.random((height // 8 + 2, width // 8 + 2)).astype(np.float32)
    smooth = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    values = np.clip(smooth + 0.05 * rng.standard_normal(shape), 0.0, 1.0)
    return np.round(values * np.iinfo(dtype).max).astype(dtype)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("shape", SIZES)
@pytest.mark.parametrize(("clip_limit", "tiles"), [(2.0, 8), (40.0, 8), (1.0, 4), (0.0, 8), (3.0, 3)])
def test_clahe_equals_opencv(dtype, shape, clip_limit, tiles):
    image = radiograph_like(shape, dtype, seed=shape[0] * 31 + tiles)
    expected = cv2.createCLAHE(clipLimit=clip_limit, tileGridSize=(tiles, tiles)).apply(image)
    result = clahe(image, clip_limit, tiles)
    assert result.dtype == dtype
    np.testing.assert_array_equal(result, expected)


def test_clahe_changes_the_image_as_a_contrast_step_should():
    image = radiograph_like((256, 256), np.uint16, seed=1) // 4  # a quarter of the range
    result = clahe(image, 2.0, 8)
    assert result.std() > 1.5 * image.std()


@pytest.mark.parametrize("shape", SIZES)
def test_equalize_hist_equals_opencv(shape):
    image = radiograph_like(shape, np.uint8, seed=shape[1])
    np.testing.assert_array_equal(equalize_hist(image), cv2.equalizeHist(image))


def test_equalize_hist_of_one_grey_level_is_unchanged_as_in_opencv():
    image = np.full((20, 20), 7, np.uint8)
    np.testing.assert_array_equal(equalize_hist(image), cv2.equalizeHist(image))
    assert (equalize_hist(image) == 7).all()


@pytest.mark.parametrize("kernel", BLUR_KERNELS)
@pytest.mark.parametrize("shape", SIZES)
def test_gaussian_blur_equals_opencv(kernel, shape):
    image = radiograph_like(shape, np.uint8, seed=kernel)
    np.testing.assert_array_equal(gaussian_blur_u8(image, kernel), cv2.GaussianBlur(image, (kernel, kernel), 0))


def test_gaussian_blur_refuses_a_kernel_opencv_would_compute_differently():
    with pytest.raises(ConfigError, match="kernel must be one of"):
        gaussian_blur_u8(np.zeros((8, 8), np.uint8), 9)
