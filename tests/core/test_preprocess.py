"""core.preprocess: contracts round-trip, geometry inverts to the pixel, each intensity step does its job."""

from __future__ import annotations

import numpy as np
import pytest

from cxrviewer.core.errors import ConfigError
from cxrviewer.core.preprocess import (
    InputContract,
    Step,
    apply_steps,
    lung_box,
    prepare,
)


def _ramp(h: int, w: int) -> np.ndarray:
    return np.tile(np.linspace(0.0, 1.0, w, dtype=np.float32), (h, 1))


def test_contract_round_trips_through_dict_with_defaults_filled():
    contract = InputContract(
        224, 192, 3, "letterbox", "imagenet", (Step("clahe", {"clip_limit": 3.0}), Step("saturate"))
    )
    back = InputContract.from_dict(contract.to_dict())
    assert back == contract
    assert back.steps[0].params == {"clip_limit": 3.0, "tile": 8}
    assert back.steps[1].params == {"low_pct": 1.0, "high_pct": 99.0}


def test_value_range_follows_the_scaling_unless_given_and_round_trips():
    assert InputContract(32, 32).value_range == (0.0, 1.0)
    assert InputContract(32, 32, scaling="zscore").value_range == (-50.0, 50.0)
    image_model = InputContract(256, 256, resize_policy="resize", value_range=(0, 2))
    assert image_model.value_range == (0.0, 2.0)
    assert InputContract.from_dict(image_model.to_dict()) == image_model
    assert set(InputContract(32, 32).to_dict()) == {"height", "width", "channels", "resize", "scaling", "steps"}


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda: Step("sharpen"), "sharpen"),
        (lambda: Step("clahe", {"clip": 2}), "clip"),
        (lambda: Step("saturate", {"low_pct": 50, "high_pct": 10}), "low_pct"),
        (lambda: InputContract(64, 64, 2), "channels"),
        (lambda: InputContract(64, 64, 1, resize="fit"), "fit"),
        (lambda: InputContract(64, 64, 1, resize_policy="crop"), "crop"),
        (lambda: InputContract(64, 64, 1, value_range=(1.0, 0.0)), "low < high"),
    ],
)
def test_invalid_settings_name_what_is_wrong(make, words):
    with pytest.raises(ConfigError, match=words):
        make()


@pytest.mark.parametrize("resize", ["stretch", "letterbox", "center_crop"])
def test_a_bright_pixel_lands_where_to_model_points_says_and_maps_back(resize):
    image = np.zeros((300, 200), np.float32)
    image[120, 80] = 1.0
    contract = InputContract(100, 100, 1, resize)
    tensor, geo = prepare(image, contract)
    assert tensor.shape == (1, 100, 100)
    (mx, my), = geo.to_model_points([[80, 120]])
    peak = np.unravel_index(np.argmax(tensor[0]), tensor[0].shape)
    assert abs(peak[0] - my) <= 1 and abs(peak[1] - mx) <= 1
    np.testing.assert_allclose(geo.to_image_points(geo.to_model_points([[80, 120]])), [[80, 120]], atol=1e-9)


def test_stretch_by_two_maps_each_model_pixel_back_to_its_2x2_block():
    tensor, geo = prepare(_ramp(64, 64), InputContract(32, 32))
    model_map = np.zeros((32, 32), np.float32)
    model_map[10, 20] = 1.0
    back = geo.to_image(model_map, order="nearest")
    assert back.shape == (64, 64)
    assert set(zip(*np.nonzero(back), strict=True)) == {(20, 40), (20, 41), (21, 40), (21, 41)}


def test_feature_grid_cell_maps_to_its_receptive_block():
    _, geo = prepare(np.zeros((224, 224), np.float32), InputContract(224, 224))
    grid = np.zeros((7, 7), np.float32)
    grid[2, 5] = 1.0
    back = geo.to_image(grid, order="nearest")
    ys, xs = np.nonzero(back)
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (64, 95, 160, 191)


def test_letterbox_pads_and_to_image_zeroes_the_pad_and_outside_the_crop():
    image = np.full((100, 200), 0.5, np.float32)
    tensor, geo = prepare(image, InputContract(64, 64, 1, "letterbox"))
    assert geo.content_box == (16, 0, 48, 64)
    assert tensor[0, :16].max() == 0.0 and tensor[0, 16:48].min() == pytest.approx(0.5, abs=1e-6)
    back = geo.to_image(np.ones((64, 64), np.float32))
    np.testing.assert_allclose(back, 1.0, atol=1e-6)
    _, cropped = prepare(image, InputContract(32, 32), crop_box=(10, 20, 60, 120))
    back = cropped.to_image(np.ones((32, 32), np.float32))
    assert back[10:60, 20:120].min() == pytest.approx(1.0) and back.sum() == pytest.approx(50 * 100)


def test_crop_box_round_trip_of_a_smooth_map_is_exact_inside():
    image = _ramp(120, 160)
    tensor, geo = prepare(image, InputContract(50, 100), crop_box=(10, 20, 110, 220))
    assert geo.crop_box == (10, 20, 110, 160)
    back = geo.to_image(tensor[0])
    inner = (slice(14, 106), slice(24, 156))
    np.testing.assert_allclose(back[inner], image[inner], atol=2e-3)


def test_lung_crop_needs_a_box_and_lung_box_grows_the_mask_box():
    contract = InputContract(32, 32, steps=(Step("lung_crop"),))
    with pytest.raises(ConfigError, match="lung"):
        prepare(np.zeros((64, 64), np.float32), contract)
    mask = np.zeros((100, 100), np.uint8)
    mask[20:80, 10:50] = 255
    assert lung_box(mask, margin=0.1) == (14, 6, 86, 54)


def test_clahe_raises_local_contrast_of_a_flat_low_contrast_image():
    rng = np.random.default_rng(0)
    image = (0.5 + 0.02 * rng.standard_normal((128, 128))).astype(np.float32)
    out = apply_steps(image, [Step("clahe", {"clip_limit": 2.0, "tile": 8})])
    assert out.dtype == np.float32 and 0 <= out.min() and out.max() <= 1
    assert out.std() > 2 * image.std()


def test_saturate_clips_one_percent_each_end_and_stretches():
    image = np.linspace(0.2, 0.6, 10000, dtype=np.float32).reshape(100, 100)
    out = apply_steps(image, [Step("saturate")])
    assert out.min() == 0.0 and out.max() == 1.0
    assert np.mean(out == 0.0) == pytest.approx(0.01, abs=0.002)
    assert np.mean(out == 1.0) == pytest.approx(0.01, abs=0.002)


def test_histeq_blur_flattens_the_histogram_and_smooths():
    rng = np.random.default_rng(1)
    image = (rng.random((128, 128)) ** 2).astype(np.float32)  # skewed dark
    out = apply_steps(image, [Step("histeq_blur")])
    eq_only = apply_steps(image, [Step("histeq_blur", {"kernel": 1})])
    quartiles = np.histogram(eq_only, bins=4, range=(0, 1))[0] / eq_only.size
    assert np.histogram(image, bins=4, range=(0, 1))[0][0] / image.size == pytest.approx(0.5, abs=0.02)
    np.testing.assert_allclose(quartiles, 0.25, atol=0.04)  # 8-bit bins are not split
    # A 5x5 blur of white noise lowers pixel-to-pixel differences several-fold.
    assert np.abs(np.diff(out, axis=1)).mean() < 0.35 * np.abs(np.diff(eq_only, axis=1)).mean()


def test_scalings():
    image = _ramp(32, 32)
    unit, _ = prepare(image, InputContract(32, 32, 3))
    imnet, _ = prepare(image, InputContract(32, 32, 3, scaling="imagenet"))
    np.testing.assert_allclose(imnet[1], (unit[1] - 0.456) / 0.224, atol=1e-5)
    z, _ = prepare(image, InputContract(32, 32, 1, scaling="zscore"))
    assert z.mean() == pytest.approx(0.0, abs=1e-5) and z.std() == pytest.approx(1.0, abs=1e-4)
