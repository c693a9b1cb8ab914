"""Held-out localisation scoring: the plateau-centre pointing game, bootstrap CIs and the verdict rule."""

from __future__ import annotations

import numpy as np

from cxrviewer.analysis.localisation_measure import (
    DOES_NOT,
    LOCALISES,
    NOT_MEASURED,
    ImageScores,
    mean_ci,
    peak_pointing,
    resamples,
    score,
    summarise,
    verdict,
)


def test_pointing_takes_the_centre_of_a_flat_peak_not_its_first_pixel():
    values = np.zeros((10, 10), np.float32)
    values[0:6, 2:5] = 1.0  # an edge cell carried to the border: first maximum (0, 2), centre (2/3, 3)
    mask = np.zeros((10, 10), bool)
    mask[2:5, 2:5] = True
    assert peak_pointing(values, mask)
    first_pixel_only = np.zeros_like(mask)
    first_pixel_only[0, 2] = True
    assert not peak_pointing(values, first_pixel_only)


def test_an_empty_map_points_nowhere():
    assert not peak_pointing(np.zeros((4, 4)), np.ones((4, 4), bool))
    assert not peak_pointing(-np.ones((4, 4)), np.ones((4, 4), bool))


def test_score_adds_one_value_per_measure():
    scores = ImageScores([], [], [], [])
    values = np.zeros((8, 8), np.float32)
    values[1, 1] = 1.0
    mask = np.zeros((8, 8), bool)
    mask[0:4, 0:4] = True
    score(values, mask, scores)
    assert scores.pointing == [1.0] and scores.pointing_first_max == [1.0]
    assert scores.mass == [1.0] and scores.iou == [1 / 16]


def test_bootstrap_ci_brackets_the_mean_and_narrows_with_n():
    rng = np.random.default_rng(1)
    small, large = rng.random(20) < 0.3, rng.random(400) < 0.3
    mean, low, high = mean_ci(small, resamples(len(small)))
    assert low <= mean <= high
    _, low_l, high_l = mean_ci(large, resamples(len(large)))
    assert high_l - low_l < high - low


def test_verdict_needs_the_lower_bound_above_chance():
    assert verdict(0.15, 0.12) == LOCALISES
    assert verdict(0.12, 0.12) == DOES_NOT
    assert verdict(0.05, 0.12) == DOES_NOT
    assert verdict(None, 0.12) == NOT_MEASURED


def test_summarise_reads_the_verdict_from_the_pointing_ci():
    n = 50
    hits = ImageScores([1.0] * 40 + [0.0] * 10, [1.0] * n, [0.5] * n, [0.2] * n)
    misses = ImageScores([1.0] * 5 + [0.0] * 45, [0.0] * n, [0.1] * n, [0.0] * n)
    chance = [0.1] * n
    draws = resamples(n)
    good, bad = summarise(hits, chance, draws), summarise(misses, chance, draws)
    assert good["n"] == n and good["pointing"] == 0.8 and good["verdict"] == LOCALISES
    assert good["pointing_ci"][0] < 0.8 < good["pointing_ci"][1]
    assert bad["pointing"] == 0.1 and bad["verdict"] == DOES_NOT
    assert np.allclose([good["chance"], *good["chance_ci"]], 0.1)
