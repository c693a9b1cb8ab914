"""core.imageops.resample: parity with cv2.resize / cv2.warpAffine (cv2 stays installed for tests), and
the affine resampler against an exact float64 definition of bilinear interpolation."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from cxrviewer.core.imageops.resample import resample_affine, resize

CV2_FLAGS = {
    "area": cv2.INTER_AREA,
    "linear": cv2.INTER_LINEAR,
    "cubic": cv2.INTER_CUBIC,
    "nearest": cv2.INTER_NEAREST,
}
# Measured max |ours − cv2| over this grid on float32 [0, 1] data: area 7.7e-7 (bit-identical except
# the 1x1 mean of a whole 123x77 image, whose 9471-term float32 sum cv2 orders differently),
# linear 1.8e-7, cubic 1.3e-6 (cv2 5 sums its taps in another float32 order; largest when a 2-5 px
# image is blown up), nearest 0.
TOLERANCE = {"area": 1e-6, "linear": 3e-7, "cubic": 2e-6, "nearest": 0.0}
SOURCES = [(1, 1), (2, 2), (2, 7), (5, 3), (64, 64), (123, 77), (200, 200), (300, 1000), (600, 450), (1024, 1024)]
TARGETS = [(1, 1), (1, 2), (2, 1), (3, 5), (7, 7), (13, 29), (97, 131), (100, 37), (224, 224), (256, 256),
           (300, 1000), (512, 512), (1000, 300)]


def _content(shape: tuple[int, int], seed: int) -> np.ndarray:
    """Radiograph-like float32 in [0, 1]: smooth anatomy-scale waves plus pixel noise, quantised to
    k/255 as a JPEG's pixels are (the case where rounding ties make a ulp matter downstream)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]] / max(shape)
    smooth = 0.5 + 0.25 * np.sin(7 * x + 1) * np.cos(5 * y) + 0.1 * np.sin(23 * (x + y))
    noisy = np.clip(smooth + 0.15 * rng.standard_normal(shape), 0, 1)
    return (np.round(noisy * 255) / 255).astype(np.float32)


def _cv2_resize(image: np.ndarray, shape: tuple[int, int], method: str) -> np.ndarray:
    return cv2.resize(image, (shape[1], shape[0]), interpolation=CV2_FLAGS[method])


@pytest.mark.parametrize("method", list(CV2_FLAGS))
def test_float32_resize_matches_cv2_over_shrink_grow_and_mixed_sizes(method):
    worst = 0.0
    for i, source in enumerate(SOURCES):
        image = _content(source, i) if i % 2 else np.random.default_rng(i).random(source, dtype=np.float32)
        for target in TARGETS:
            ours, theirs = resize(image, target, method), _cv2_resize(image, target, method)
            assert ours.shape == theirs.shape and ours.dtype == np.float32, (source, target)
            worst = max(worst, float(np.abs(ours - theirs).max()))
    assert worst <= TOLERANCE[method]


@pytest.mark.parametrize(("source", "target"), [((512, 512), (224, 224)), ((1024, 1024), (512, 512)),
                                                ((600, 450), (256, 256)), ((1024, 1024), (256, 256)),
                                                ((300, 1000), (224, 224)), ((1000, 300), (512, 512))])
def test_area_is_bit_identical_to_cv2_on_jpeg_like_pixels(source, target):
    """The shipped models quantise the resized image to 8/16 bits next (histogram equalisation,
    CLAHE); a one-ulp difference at a rounding tie moved opacity-rsna's reference probability by
    2.3e-5, so shrinking must reproduce cv2 to the bit, including (1000, 300) → 512² where one axis
    grows and cv2 switches to its two-tap area rule."""
    image = _content(source, 7)
    np.testing.assert_array_equal(resize(image, target, "area"), _cv2_resize(image, target, "area"))


def test_area_when_an_axis_grows_follows_cv2s_two_tap_rule_not_averaging():
    # 2 → 5 columns: output pixels wholly inside one source pixel copy it; the straddling one blends.
    image = np.array([[0.0, 1.0]], dtype=np.float32)
    out = resize(image, (1, 5), "area")
    np.testing.assert_allclose(out, [[0.0, 0.0, 0.5, 1.0, 1.0]], atol=1e-7)
    np.testing.assert_array_equal(out, _cv2_resize(image, (1, 5), "area"))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("method", list(CV2_FLAGS))
def test_integer_images_keep_their_dtype_within_one_level_of_cv2(dtype, method):
    """cv2 uses fixed-point weights for 8/16-bit linear/cubic, so ±1 level is the honest bound."""
    rng = np.random.default_rng(5)
    top = np.iinfo(dtype).max
    for source, target in [((1024, 1024), (512, 512)), ((512, 512), (224, 224)), ((100, 37), (1000, 300)),
                           ((64, 64), (100, 30))]:
        image = rng.integers(0, top + 1, source).astype(dtype)
        ours = resize(image, target, method)
        assert ours.dtype == dtype
        diff = np.abs(ours.astype(np.int64) - _cv2_resize(image, target, method).astype(np.int64))
        assert diff.max() <= (0 if method == "nearest" else 1), (source, target)


def test_mask_halving_in_uint8_is_exact_so_the_128_threshold_keeps_its_meaning():
    """analysis.localisation halves 1024² anti-aliased lung masks and thresholds at 128."""
    rng = np.random.default_rng(2)
    mask = cv2.GaussianBlur((rng.random((1024, 1024)) > 0.5).astype(np.uint8) * 255, (9, 9), 0)
    np.testing.assert_array_equal(resize(mask, (512, 512), "area"), _cv2_resize(mask, (512, 512), "area"))


def test_same_size_is_a_copy_and_block_means_are_exact():
    image = np.arange(16, dtype=np.float32).reshape(4, 4)
    same = resize(image, (4, 4), "cubic")
    assert same is not image and np.array_equal(same, image)
    np.testing.assert_array_equal(resize(image, (2, 2), "area"), [[2.5, 4.5], [10.5, 12.5]])
    np.testing.assert_array_equal(resize(image, (2, 2), "nearest"), [[0, 2], [8, 10]])


def _exact_bilinear(image: np.ndarray, matrix: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """float64 reference from the definition: interpolate each row at the sampled x, then each column
    at the sampled y (np.interp holds the end values outside, i.e. the edge is replicated)."""
    ys = matrix[1, 1] * np.arange(shape[0]) + matrix[1, 2]
    xs = matrix[0, 0] * np.arange(shape[1]) + matrix[0, 2]
    src = image.astype(np.float64)
    rows = np.stack([np.interp(xs, np.arange(src.shape[1]), row) for row in src])
    return np.stack([np.interp(ys, np.arange(src.shape[0]), col) for col in rows.T], axis=1)


AFFINES = [
    # (source shape, output shape, matrix output → source)
    ((7, 7), (224, 224), [[7 / 224, 0, 3.5 / 224 - 0.5], [0, 7 / 224, 3.5 / 224 - 0.5]]),  # Grad-CAM grid
    ((14, 14), (224, 224), [[1 / 16, 0, 0.0], [0, 1 / 16, 0.0]]),  # FeatureGrid stride 16, offset 0
    ((224, 224), (1024, 1024), [[0.21875, 0, -0.390625], [0, 0.21875, -0.390625]]),  # model → image
    ((224, 224), (2500, 2048), [[0.1093, 0, -3.2], [0, 0.0897, 8.7]]),  # letterbox-like, outside rims
    ((512, 512), (300, 200), [[2.56, 0, 0.78], [0, 1.7066, -0.2]]),  # shrinking
]


@pytest.mark.parametrize(("source", "shape", "matrix"), AFFINES)
def test_affine_linear_equals_exact_bilinear(source, shape, matrix):
    image = _content(source, 3)
    ours = resample_affine(image, matrix, shape)
    assert ours.shape == shape and ours.dtype == np.float32
    # float32 taps and output: a few ulps of values in [0, 1].
    np.testing.assert_allclose(ours, _exact_bilinear(image, np.asarray(matrix), shape), rtol=0, atol=5e-7)


@pytest.mark.parametrize(("source", "shape", "matrix"), AFFINES)
def test_affine_linear_is_within_cv2s_coordinate_rounding_of_warp_affine(source, shape, matrix):
    """cv2.warpAffine rounds each source coordinate to 1/32 px (INTER_BITS = 5, after rounding to
    1/1024 px), so it samples up to 1/64 + 1/1024 px away from the exact point on each axis; bilinear
    values then differ by at most that distance times the largest step between neighbouring pixels,
    per axis."""
    image = _content(source, 4)
    m = np.asarray(matrix, dtype=np.float64)
    theirs = cv2.warpAffine(image, m, (shape[1], shape[0]), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                            borderMode=cv2.BORDER_REPLICATE)
    step = max(np.abs(np.diff(image, axis=0)).max(initial=0), np.abs(np.diff(image, axis=1)).max(initial=0))
    bound = 2 * (1 / 64 + 1 / 1024) * step + 1e-6
    diff = np.abs(resample_affine(image, m, shape) - theirs).max()
    assert diff <= bound
    assert diff > 0  # cv2 really does round: the comparison measures something


def test_affine_nearest_matches_cv2_away_from_ties():
    image = _content((50, 40), 6)
    matrix = np.array([[0.1234, 0, 0.31], [0, 0.2345, -0.27]])
    theirs = cv2.warpAffine(image, matrix, (300, 200), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
                            borderMode=cv2.BORDER_REPLICATE)
    np.testing.assert_array_equal(resample_affine(image, matrix, (200, 300), "nearest"), theirs)


def test_bad_arguments_raise_clearly():
    image = np.zeros((4, 4), np.float32)
    with pytest.raises(ValueError, match="axis-aligned"):
        resample_affine(image, [[1, 0.1, 0], [0, 1, 0]], (4, 4))
    with pytest.raises(ValueError, match="method"):
        resize(image, (2, 2), "lanczos")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        resize(np.zeros((2, 4, 4), np.float32), (2, 2), "area")
    with pytest.raises(ValueError, match="at least 1x1"):
        resize(image, (0, 2), "linear")
