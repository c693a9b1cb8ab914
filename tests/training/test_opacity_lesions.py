"""The opacity lesion sources (RSNA opacity boxes as weak masks, issue 17), the split they share with
the opacity-rsna classifier, and the figures opacity_eval writes into the cards."""

from __future__ import annotations

import numpy as np
import pytest

from cxrviewer import paths
from cxrviewer.core.cards import FileEntry, InputContract, ModelCard, Provenance, load_card, write_card
from cxrviewer.training.config import DataConfig, load_config
from cxrviewer.training.opacity_eval import _pointing, apply_to_classifier_card, apply_to_lesion_card

SHARED = paths.shared_data_dir()


@pytest.mark.skipif(not SHARED.exists(), reason="the shared data folder is not here")
def test_the_rsna_opacity_source_is_split_as_the_classifier_was():
    from cxrviewer.training.lesion_data import opacity_lesions, rsna_opacity, source_of

    catalog = rsna_opacity(DataConfig(source="rsna_opacity", root=str(SHARED)))
    assert catalog.classes == ("opacity_lesions",) and len(catalog.samples) == 339
    counts = {(source_of(s), bool(s.boxes)) for s in catalog.samples}
    tally = {key: sum((source_of(s), bool(s.boxes)) == key for s in catalog.samples) for key in counts}
    # The opacity-rsna card: test 47 + 21, validation 46 + 22 (its confusion matrices), train 203.
    assert tally == {("rsna_train", False): 140, ("rsna_train", True): 63, ("rsna_val", False): 46,
                     ("rsna_val", True): 22, ("rsna_test", False): 47, ("rsna_test", True): 21}
    assert all(s.mask_kind == "boxes" and s.labels == () for s in catalog.samples)
    with_openist = opacity_lesions(DataConfig(source="opacity_lesions", root=str(SHARED)))
    assert len(with_openist.samples) == 339 + 274
    assert not any(s.boxes for s in with_openist.samples if source_of(s) == "openist")


@pytest.mark.skipif(not SHARED.exists(), reason="the shared data folder is not here")
def test_the_shipped_config_trains_on_rsna_train_selects_on_rsna_val_and_tests_on_rsna_test():
    from cxrviewer.training.run import make_split
    from cxrviewer.training.sources import load_catalog, source_of

    # init_from names the stage-1 run's weights, which only the machine that trained it has.
    config = load_config(paths.install_root() / "configs" / "opacity-lesions-rsna.yaml", init_from="")
    catalog = load_catalog(config.data)
    split = make_split(config, catalog)
    for part, origin in (("train", "rsna_train"), ("val", "rsna_val"), ("test", "rsna_test")):
        assert {source_of(catalog.samples[i]) for i in getattr(split, part)} == {origin}


def test_pointing_game_counts_the_maximum_inside_a_box_against_its_chance():
    hit = np.zeros((10, 10), np.float32)
    hit[2, 3] = 1.0
    miss = np.zeros((10, 10), np.float32)
    miss[9, 9] = 1.0
    figure = _pointing([(hit, ((0.0, 0.0, 5.0, 5.0),)), (miss, ((0.0, 0.0, 5.0, 5.0),))])
    assert figure["value"] == 0.5 and figure["n"] == 2 and figure["chance"] == pytest.approx(0.25)
    assert 0 < figure["ci95"][0] < 0.5 < figure["ci95"][1] < 1 and "chance_in_lungs" not in figure


def test_with_lungs_the_pointing_game_also_gives_the_chance_of_a_random_point_in_the_lungs():
    peak = np.zeros((10, 10), np.float32)
    peak[2, 3] = 1.0
    lungs = np.zeros((10, 10), np.float32)
    lungs[:, :4] = 1.0  # 40 lung pixels, 20 of them in the box
    figure = _pointing([(peak, ((0.0, 0.0, 5.0, 5.0),), lungs)])
    assert figure["value"] == 1.0 and figure["chance"] == pytest.approx(0.25)
    assert figure["chance_in_lungs"] == pytest.approx(0.5)


def _figure(value: float, n: int = 50, **more):
    return {"value": value, "ci95": [value - 0.1, value + 0.1], "n": n, **more}


FIGURES = {
    "image_threshold": 0.41, "top_fraction": 0.005,
    "internal": {"auc": _figure(0.8, 68, positives=21), "pointing_game": _figure(0.7, 21, chance=0.12),
                 "sensitivity": _figure(0.6, 21), "specificity": _figure(0.85, 47)},
    "tbx11k": {"pointing_game": _figure(0.5, 599, chance=0.09)},
    "shenzhen": {"auc": _figure(0.7, 409, positives=212), "false_positive_rate": _figure(0.1, 197)},
    "jsrt": {"false_positive_rate": _figure(0.05, 76)},
}


def test_the_lesion_card_gets_internal_and_external_figures_and_its_threshold(tmp_path):
    card_file = tmp_path / "opacity.card.json"
    write_card(ModelCard(name="opacity", version="1", task="segmentation", arch="unet_tiny", labels=("opacity_lesions",), thresholds=(),
                         input=InputContract(192, 192, 1), outputs=("output",),
                         files=(FileEntry("onnx", "opacity.onnx", "0" * 64, 1),),
                         provenance=Provenance(data=("none",), split="none")), card_file)
    apply_to_lesion_card(card_file, FIGURES)
    card = load_card(card_file, verify_files=False)
    assert card.thresholds == (0.41,) and "0.4100" in card.probability_meaning
    scopes = {(m.name, m.scope) for m in card.metrics}
    assert {("pointing_game", "internal"), ("auc", "internal"), ("pointing_game", "external"), ("auc", "external"),
            ("false_positive_rate_jsrt", "external"), ("false_positive_rate_shenzhen_normal", "external")} <= scopes
    external_pg = next(m for m in card.metrics if m.name == "pointing_game" and m.scope == "external")
    assert "TBX11K" in external_pg.split and "chance 0.090" in external_pg.split and external_pg.ci95 == (0.4, 0.6)


def test_the_classifier_card_keeps_its_internal_figures_and_gains_external_ones(tmp_path):
    import shutil

    card_file = tmp_path / "opacity-rsna.card.json"
    shutil.copy(paths.install_root() / "models" / "opacity-rsna.card.json", card_file)
    internal = [m for m in load_card(card_file, verify_files=False).metrics if m.scope == "internal"]
    apply_to_classifier_card(card_file, FIGURES)
    apply_to_classifier_card(card_file, FIGURES)  # again: replaces, does not repeat
    metrics = load_card(card_file, verify_files=False).metrics
    assert list(metrics[:len(internal)]) == internal and len(metrics) == len(internal) + 3
    assert all(m.scope == "external" for m in metrics[len(internal):])


@pytest.fixture(scope="module")
def lungs_and_opacity_models(tmp_path_factory):
    """A models folder with a tiny random "lungs" and "opacity-lesions" (tests/pipeline_models.py)."""
    pytest.importorskip("torch", reason="exporting test models needs the `ml` extra (torch)")
    from pipeline_models import export_pipeline_models

    return export_pipeline_models(tmp_path_factory.mktemp("opacity-lungs"), tmp_path_factory.mktemp("opacity-lungs-work"),
                                  names=("lungs", "opacity-lesions"))


def test_the_lung_masked_score_is_taken_on_the_map_as_the_viewer_keeps_it_inside_the_lungs(lungs_and_opacity_models):
    from cxrviewer.analysis import pipeline
    from cxrviewer.analysis.installed import installed_model
    from cxrviewer.core.lesion_score import lesion_score
    from cxrviewer.core.lung_mask import keep_inside_lungs
    from cxrviewer.training.opacity_eval import lesion_scorer

    folder = lungs_and_opacity_models
    pixels = np.random.default_rng(0).random((90, 70), dtype=np.float32)
    whole = pipeline.segmentation_channel(installed_model("opacity-lesions", folder), pixels, "opacity_lesions")
    lungs = pipeline.lung_probability(installed_model("lungs", folder), pixels)
    drawn = keep_inside_lungs(whole, lungs)  # the viewer's "Inside the lungs only" rule

    score, masked, lungs_given = lesion_scorer("opacity-lesions", folder, lungs_dir=folder)(pixels)
    np.testing.assert_allclose(masked, drawn, rtol=0, atol=1e-6)
    assert score == pytest.approx(lesion_score(drawn), abs=1e-6)
    np.testing.assert_array_equal(lungs_given, lungs)
    _, unmasked, no_lungs = lesion_scorer("opacity-lesions", folder)(pixels)
    np.testing.assert_allclose(unmasked, whole, rtol=0, atol=1e-6)
    assert no_lungs is None
    assert not np.allclose(masked, unmasked)  # the random lungs do mask something
