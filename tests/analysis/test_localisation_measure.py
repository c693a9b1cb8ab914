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


def test_inside_the_lungs_scores_the_maps_as_the_viewer_draws_them(pipeline_models_dir, tmp_path):
    """The measured maps kept inside the lungs are the viewer's: its study analysis's maps and lungs,
    multiplied by its "Inside the lungs only" rule (gui.lung_masking), scored on the same boxes."""
    from PySide6.QtCore import QSettings

    from cxrviewer.analysis.localisation import Box, boxes_mask, mass_share
    from cxrviewer.analysis.localisation_measure import measure_model
    from cxrviewer.analysis.pipeline import lung_probability
    from cxrviewer.analysis.study import StudyAnalysis
    from cxrviewer.gui.lung_masking import LungMasking
    from cxrviewer.gui.shown_study import ShownStudy
    from cxrviewer.runtime.registry import load_model

    folder = pipeline_models_dir
    rng = np.random.default_rng(3)
    films = {tmp_path / f"film{i}.png": rng.random((72, 88), dtype=np.float32) for i in range(3)}
    items = [(path, [Box(10, 12, 50, 40)]) for path in films]
    lungs_model = load_model("lungs", folder, intra_op_threads=1)
    measured = measure_model(load_model("classifier", folder, intra_op_threads=1), items, [1],
                             read_pixels=films.__getitem__, lungs_of=lambda px: lung_probability(lungs_model, px))
    expected = {method: ImageScores([], [], [], []) for method in ("saliency", "gradcam", "cam", "crm")}
    expected_chance = []
    for path, boxes in items:
        study = StudyAnalysis(films[path], folder)
        shown = ShownStudy()
        shown.raw.update(study.maps("classifier", 1))
        shown.raw["lung_outline"] = study.lungs("lungs")
        viewer = LungMasking(QSettings(str(tmp_path / "viewer.ini"), QSettings.Format.IniFormat), shown)
        viewer.set_asked(True)
        mask = boxes_mask(films[path].shape, boxes)
        expected_chance.append(mass_share(shown.raw["lung_outline"], mask))
        for method, scores in expected.items():
            score(viewer.displayed(method), mask, scores)
    assert set(measured.inside_lungs) == {(1, method) for method in expected}
    for method, scores in expected.items():
        got = measured.inside_lungs[(1, method)]
        np.testing.assert_allclose(got.mass, scores.mass, rtol=1e-5)
        np.testing.assert_allclose(got.iou, scores.iou, rtol=1e-5)
        assert got.pointing == scores.pointing
    np.testing.assert_allclose(measured.chance_inside_lungs, expected_chance, rtol=1e-5)
    # Kept inside the lungs, the maps' mass lies elsewhere than on the whole film.
    assert any(not np.allclose(measured.inside_lungs[(1, m)].mass, measured.scores[(1, m)].mass) for m in expected)


def test_without_lungs_only_the_whole_maps_are_scored(pipeline_models_dir, tmp_path):
    from cxrviewer.analysis.localisation import Box
    from cxrviewer.analysis.localisation_measure import measure_model
    from cxrviewer.runtime.registry import load_model

    film = np.random.default_rng(4).random((64, 64), dtype=np.float32)
    measured = measure_model(load_model("classifier", pipeline_models_dir, intra_op_threads=1),
                             [(tmp_path / "film.png", [Box(0, 0, 32, 32)])], [1], read_pixels=lambda _: film)
    assert len(measured.scores) == 4 and measured.scores[(1, "cam")].pointing in ([0.0], [1.0])
    assert measured.inside_lungs == {} and measured.chance_inside_lungs == []
