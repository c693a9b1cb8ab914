"""Issue 16: the tb_screen source, source-held-out splits, acquisition augmentation, operating figures."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from cxrviewer.core.errors import ConfigError
from cxrviewer.training.augment import augment
from cxrviewer.training.config import AugmentConfig, DataConfig, config_from_dict
from cxrviewer.training.data import PreparedDataset
from cxrviewer.training.metrics import wilson_interval
from cxrviewer.training.sources import load_catalog, source_of
from cxrviewer.training.splits import source_role_split
from cxrviewer.training.tb_screen import COLUMNS
from cxrviewer.training.tb_screen_eval import paired_figures, sens_at_spec, spec_at_sens

SOURCES = {"shenzhen": ("tb", "normal"), "tbx11k": ("tb",), "openist": ("normal",), "jsrt": ("normal",)}


def _prepared(root: Path, per_class: int = 8) -> Path:
    """A tb_screen folder as `tb_screen.prepare` writes it, with tiny 32x32 films."""
    rng = np.random.default_rng(0)
    rows = []
    for source, labels in SOURCES.items():
        for label in labels:
            for i in range(per_class):
                case = f"{source}{label}{i}"
                for kind in ("images", "bone"):
                    path = root / kind / source / f"{case}.png"
                    path.parent.mkdir(parents=True, exist_ok=True)
                    cv2.imwrite(str(path), rng.integers(0, 255, (32, 32), dtype=np.uint8))
                rows.append({"image": f"images/{source}/{case}.png", "bone": f"bone/{source}/{case}.png",
                             "source": source, "case": case, "label": label, "lung_y0": 4, "lung_x0": 2, "lung_y1": 28,
                             "lung_x1": 30, "lung_fraction": "0.3", "boxes": "1.0 2.0 5.0 6.0" if source == "tbx11k" else "",
                             "original": "x"})
    with (root / "labels.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return root


def test_reader_gives_sources_lung_boxes_and_bone_films(tmp_path):
    root = _prepared(tmp_path / "tb")
    catalog = load_catalog(DataConfig(source="tb_screen", root=str(root)))
    assert catalog.classes == ("normal", "tb")
    assert {source_of(s) for s in catalog.samples} == set(SOURCES)
    assert all(s.crop_box == (4, 2, 28, 30) for s in catalog.samples)
    tb = next(s for s in catalog.samples if source_of(s) == "tbx11k")
    assert tb.labels == (1,) and tb.boxes == ((1.0, 2.0, 5.0, 6.0),)
    bone = load_catalog(DataConfig(source="tb_screen", root=str(root), image_column="bone"))
    assert all("/bone/" in str(s.path) for s in bone.samples)


def test_lung_crop_contract_crops_to_the_sample_box(tmp_path):
    root = _prepared(tmp_path / "tb")
    config = config_from_dict({"name": "t", "task": "classification", "arch": "tbnet",
                               "data": {"source": "tb_screen", "root": str(root)},
                               "input": {"height": 32, "width": 32, "steps": ["lung_crop"]}})
    catalog = load_catalog(config.data)
    x, _ = PreparedDataset(catalog, [0], config.input, "classification")[0]
    from cxrviewer.core.preprocess import prepare
    from cxrviewer.training.data import read_pixels

    expected, _ = prepare(read_pixels(catalog.samples[0].path), config.input, crop_box=(4, 2, 28, 30))
    np.testing.assert_allclose(x.numpy(), expected, atol=1e-6)


def test_source_role_split_keeps_sources_out_of_training():
    origins = ["shenzhen"] * 40 + ["tbx11k"] * 20 + ["openist"] * 10 + ["jsrt"] * 10
    labels = [(i % 2,) for i in range(40)] + [(1,)] * 20 + [(0,)] * 20
    patients = [f"{o}/{i}" for i, o in enumerate(origins)]
    split = source_role_split(labels, patients, origins, val_sources=("tbx11k", "openist"),
                              test_sources=("tbx11k", "jsrt"), val_fraction=0.15, test_fraction=0.2, seed=0)
    part = {name: {origins[i] for i in getattr(split, name)} for name in ("train", "val", "test")}
    assert part["train"] == {"shenzhen"}
    assert part["val"] == {"tbx11k", "openist"}  # validation: never-trained sources only
    assert part["test"] == {"shenzhen", "tbx11k", "jsrt"}
    tbx_val = [i for i in split.val if origins[i] == "tbx11k"]
    tbx_test = [i for i in split.test if origins[i] == "tbx11k"]
    assert len(tbx_val) == len(tbx_test) == 10  # halved
    assert len([i for i in split.test if origins[i] == "shenzhen"]) == 8
    with pytest.raises(ConfigError, match="montgomery"):
        source_role_split(labels, patients, origins, val_sources=("montgomery",), test_sources=(),
                          val_fraction=0.15, test_fraction=0.2, seed=0)


@pytest.mark.parametrize("key", ["exposure", "blur", "noise", "resolution"])
def test_acquisition_augmentation_changes_the_input_only_and_stays_in_range(key):
    image = np.random.default_rng(1).random((1, 32, 32)).astype(np.float32)
    target = image.copy()
    out, kept, _ = augment(AugmentConfig(**{key: 1.0}), np.random.default_rng(0), image, target=target)
    assert out.shape == image.shape and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    assert not np.allclose(out, image)
    np.testing.assert_array_equal(kept, target)


def test_operating_figures():
    y = np.r_[np.ones(10), np.zeros(10)]
    s = np.r_[np.linspace(0.5, 1.0, 10), np.linspace(0.0, 0.6, 10)]
    # 9 of 10 TB at or above 0.5556: the normals below it are 0.0 .. 0.5333 (9 of 10).
    assert spec_at_sens(y, s, 0.9) == pytest.approx(0.9)
    assert sens_at_spec(y, s, 0.7) == pytest.approx(1.0)
    figures = paired_figures(s[:10], s[10:], n_boot=50)
    assert figures["auc_ci95"][0] <= figures["auc"] <= figures["auc_ci95"][1]
    low, high = wilson_interval(45, 50)
    assert low < 0.9 < high and 0 <= low and high <= 1


def test_film_lung_box_grows_the_lungs_box_and_falls_back_to_the_whole_film():
    from cxrviewer.training.tb_screen import film_lung_box

    probability = np.zeros((100, 80), np.float32)
    probability[20:80, 10:70] = 0.9
    box, fraction = film_lung_box(probability)
    assert box == (17, 7, 83, 73) and fraction == pytest.approx(0.45)
    assert film_lung_box(np.zeros((100, 80), np.float32))[0] == (0, 0, 100, 80)


def test_plateau_pointing_uses_the_centre_of_a_flat_maximum():
    from cxrviewer.analysis.localisation import pointing_game
    from cxrviewer.analysis.localisation_measure import peak_pointing as plateau_pointing

    values = np.zeros((8, 8), np.float32)
    values[2:6, 4:8] = 1.0  # a flat maximum, as a 2x2 map upsampled
    mask = np.zeros((8, 8), bool)
    mask[3:5, 5:7] = True
    assert not pointing_game(values, mask)  # the first maximum, (2, 4), is the plateau's corner
    assert plateau_pointing(values, mask)
    assert not plateau_pointing(np.zeros((8, 8)), mask)
