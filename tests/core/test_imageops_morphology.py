"""Numpy morphology equals the OpenCV calls it replaces on the viewer path (cv2 is the reference)."""

from __future__ import annotations

import logging
import time

import cv2
import numpy as np
import pytest

from cxrviewer.core.imageops.morphology import connected_components, dilate, distance_to_background, erode

log = logging.getLogger(__name__)


def _lungs(size: int) -> np.ndarray:
    """Two lung-like ellipses, a stray blob touching the top edge, and a notch in the left lung."""
    y, x = np.mgrid[0:size, 0:size] / size
    mask = (((x - 0.3) / 0.15) ** 2 + ((y - 0.45) / 0.3) ** 2 < 1) | (((x - 0.7) / 0.15) ** 2 + ((y - 0.47) / 0.28) ** 2 < 1)
    mask |= ((x - 0.95) / 0.04) ** 2 + (y / 0.04) ** 2 < 1
    mask &= ~((np.abs(x - 0.3) < 0.02) & (y > 0.6))
    return mask


def _masks() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    blobs = cv2.GaussianBlur(rng.random((157, 203)).astype(np.float32), (0, 0), 2.0) > 0.5
    full_but_hole = np.ones((40, 50), bool)
    full_but_hole[0, 0] = full_but_hole[20, 25] = False
    return {
        "noise": rng.random((61, 83)) > 0.55,
        "blobs": blobs,
        "lungs": _lungs(256),
        "border": np.pad(np.ones((10, 12), bool), ((0, 5), (3, 0))),
        "empty": np.zeros((13, 17), bool),
        "full": np.ones((13, 17), bool),
        "full_but_hole": full_but_hole,
        "one_row": rng.random((1, 40)) > 0.5,
        "one_column": rng.random((40, 1)) > 0.5,
    }


@pytest.mark.parametrize("name", list(_masks()))
def test_components_equal_opencv_labels_and_areas(name):
    mask = _masks()[name]
    count, expected, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    labels, areas = connected_components(mask)
    assert areas.size == count
    np.testing.assert_array_equal(labels, expected)
    np.testing.assert_array_equal(areas, stats[:, cv2.CC_STAT_AREA])


@pytest.mark.parametrize("name", list(_masks()))
@pytest.mark.parametrize("size", [1, 3, 5, 7])
def test_square_erode_and_dilate_equal_opencv(name, size):
    mask = _masks()[name].astype(np.uint8)
    kernel = np.ones((size, size), np.uint8)
    np.testing.assert_array_equal(erode(mask, size), cv2.erode(mask, kernel, borderType=cv2.BORDER_REPLICATE))
    np.testing.assert_array_equal(erode(mask, size), cv2.erode(mask, kernel))
    np.testing.assert_array_equal(dilate(mask, size), cv2.dilate(mask, kernel))
    np.testing.assert_array_equal(erode(mask.astype(bool), size), cv2.erode(mask, kernel).astype(bool))


def test_erode_of_a_grey_image_is_opencvs_min_filter():
    grey = np.random.default_rng(1).integers(0, 256, (37, 41), dtype=np.uint8)
    kernel = np.ones((3, 3), np.uint8)
    np.testing.assert_array_equal(erode(grey, 3), cv2.erode(grey, kernel, borderType=cv2.BORDER_REPLICATE))
    np.testing.assert_array_equal(dilate(grey, 5), cv2.dilate(grey, np.ones((5, 5), np.uint8)))
    with pytest.raises(ValueError, match="odd"):
        erode(grey, 4)


@pytest.mark.parametrize("name", list(_masks()))
@pytest.mark.parametrize("limit", [0, 1.5, 4, 9.7])
def test_distance_equals_opencvs_exact_transform_up_to_the_limit(name, limit):
    mask = _masks()[name]
    # distanceTransform measures to the nearest zero; padding with 1 keeps beyond-the-image out,
    # as distance_to_background does.
    padded = np.pad(mask.astype(np.uint8), 1, constant_values=1)
    expected = cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]
    got = distance_to_background(mask, limit)
    near = expected <= limit
    assert np.abs(got[near] - expected[near]).max(initial=0.0) < 1e-4
    assert (got[~near] > limit).all()
    assert (got[~mask] == 0).all()


def test_timings_beside_opencv_at_2048(caplog):
    """Not asserted: logged side by side, the viewer's size (full-resolution lung masks)."""
    caplog.set_level(logging.INFO)
    mask = _lungs(2048)
    shown = mask.astype(np.uint8)

    def best_ms(run):
        times = []
        for _ in range(3):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
        return 1e3 * min(times)

    padded = np.pad(shown, 1, constant_values=1)
    rows = [
        ("components", best_ms(lambda: cv2.connectedComponentsWithStats(shown, connectivity=8)),
         best_ms(lambda: connected_components(mask))),
        ("dilate 5x5", best_ms(lambda: cv2.dilate(shown, np.ones((5, 5), np.uint8))), best_ms(lambda: dilate(mask, 5))),
        ("erode 3x3", best_ms(lambda: cv2.erode(shown, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_REPLICATE)),
         best_ms(lambda: erode(mask, 3))),
        ("distance (61 px)", best_ms(lambda: cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)),
         best_ms(lambda: distance_to_background(mask, 61.44))),
    ]
    for name, opencv_ms, numpy_ms in rows:
        log.info("%-18s cv2 %7.2f ms  numpy %7.2f ms  ratio %5.1f", name, opencv_ms, numpy_ms, numpy_ms / opencv_ms)
    labels, areas = connected_components(mask)
    assert areas.size == 4 and labels.shape == (2048, 2048)
