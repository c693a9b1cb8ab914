"""Config parsing, each data source on fixtures written in its real layout, patient-grouped splits."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from cxrviewer import paths
from cxrviewer.core.errors import ConfigError
from cxrviewer.training.config import DataConfig, load_config
from cxrviewer.training.sources import load_catalog, subsample
from cxrviewer.training.splits import holdout_split, kfold_splits

GREY = np.full((20, 24), 128, np.uint8)


def _img(path: Path, array=GREY) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), array)


def test_yaml_toml_json_give_the_same_config(tmp_path, folder_dataset):
    body = {"name": "a", "task": "classification", "arch": "tbnet",
            "data": {"source": "folders", "root": str(folder_dataset)},
            "input": {"height": 64, "width": 64, "steps": ["clahe"]}, "optim": {"lr": 0.01}, "epochs": 2}
    (tmp_path / "c.json").write_text(json.dumps(body))
    (tmp_path / "c.yaml").write_text(
        f"name: a\ntask: classification\narch: tbnet\ndata: {{source: folders, root: {folder_dataset}}}\n"
        "input: {height: 64, width: 64, steps: [clahe]}\noptim: {lr: 0.01}\nepochs: 2\n")
    (tmp_path / "c.toml").write_text(
        f'name = "a"\ntask = "classification"\narch = "tbnet"\nepochs = 2\n[data]\nsource = "folders"\n'
        f'root = "{folder_dataset}"\n[input]\nheight = 64\nwidth = 64\nsteps = ["clahe"]\n[optim]\nlr = 0.01\n')
    configs = [load_config(tmp_path / f"c.{ext}") for ext in ("json", "yaml", "toml")]
    assert configs[0] == configs[1] == configs[2]
    assert configs[0].input.steps[0].params == {"clip_limit": 2.0, "tile": 8}
    assert configs[0].optim.lr == 0.01 and configs[0].epochs == 2


@pytest.mark.parametrize("change, setting", [
    ({"optim": {"lr": -1.0}}, "optim.lr"),
    ({"optim": {"learning_rate": 0.1}}, "optim.learning_rate"),
    ({"arch": "resnet999"}, "arch"),
    ({"arch": "unet_small"}, "arch"),
    ({"epochs": "ten"}, "epochs"),
    ({"augment": {"hflip": 2.0}}, "augment.hflip"),
    ({"bone_weight": 4.0}, "bone_weight"),  # the rib-aware weighting is for bone suppression only
    ({"data": {"source": "folders", "root": "/no/such/folder"}}, "data.root"),
])
def test_bad_settings_are_named(tmp_path, folder_dataset, change, setting):
    body = {"name": "a", "task": "classification", "arch": "tbnet",
            "data": {"source": "folders", "root": str(folder_dataset)}, "input": {"height": 64, "width": 64}}
    body.update(change)
    (tmp_path / "bad.json").write_text(json.dumps(body))
    with pytest.raises(ConfigError, match=setting.replace(".", r"\.")) as info:
        load_config(tmp_path / "bad.json")
    assert "bad.json" in str(info.value)


def test_folder_source_and_seeded_subsample(folder_dataset):
    cfg = DataConfig(source="folders", root=str(folder_dataset), limit_per_class=5)
    catalog = load_catalog(cfg)
    assert catalog.classes == ("disease", "normal") and len(catalog.samples) == 32
    small = subsample(catalog, cfg, seed=1)
    assert [s.labels[0] for s in small.samples].count(0) == 5 and len(small.samples) == 10
    assert subsample(catalog, cfg, seed=1) == small


def test_csv_with_boxes_patients_and_multilabel(tmp_path):
    for name in ("a.png", "b.png", "c.png"):
        _img(tmp_path / "img" / name)
    (tmp_path / "labels.csv").write_text(
        "image,label,pid,x,y,width,height\nimg/a.png,sick,p1,1,2,3,4\nimg/a.png,sick,p1,5,5,2,2\n"
        "img/b.png,well,p1,,,,\nimg/c.png,well,p2,,,,\n")
    cat = load_catalog(DataConfig(source="csv", root=str(tmp_path), patient_column="pid"))
    assert cat.classes == ("sick", "well")
    a = cat.samples[0]
    assert a.labels == (0,) and a.patient == "p1" and a.boxes == ((1, 2, 4, 6), (5, 5, 7, 7))
    (tmp_path / "multi.csv").write_text("image,effusion,nodule\nimg/a.png,1,1\nimg/b.png,0,1\nimg/c.png,0,0\n")
    multi = load_catalog(DataConfig(source="csv", root=str(tmp_path), csv="multi.csv",
                                    label_columns=("effusion", "nodule")))
    assert multi.classes == ("effusion", "nodule") and [s.labels for s in multi.samples] == [(0, 1), (1,), ()]


def test_known_layouts(tmp_path):
    root = tmp_path / "kermany"
    _img(root / "images/NORMAL/IM-1-0001.jpeg")
    _img(root / "images/PNEUMONIA/p2_virus_1.jpeg")
    (root / "labels.csv").write_text("image,label,label3,patient\nimages/NORMAL/IM-1-0001.jpeg,normal,normal,IM-1\n"
                                     "images/PNEUMONIA/p2_virus_1.jpeg,pneumonia,virus,p2\n")
    k3 = load_catalog(DataConfig(source="kermany", root=str(root), label_columns=("label3",)))
    assert k3.classes == ("normal", "virus") and [s.patient for s in k3.samples] == ["IM-1", "p2"]

    shen = tmp_path / "shenzhen"
    _img(shen / "CXR_png/CHNCXR_0001_0.png")
    _img(shen / "CXR_png/CHNCXR_0327_1.png")
    _img(shen / "CXR_png/notes.png")
    cat = load_catalog(DataConfig(source="shenzhen", root=str(shen)))
    assert [(s.path.name, s.labels, s.patient) for s in cat.samples] == [
        ("CHNCXR_0001_0.png", (0,), "CHNCXR_0001"), ("CHNCXR_0327_1.png", (1,), "CHNCXR_0327")]

    rsna = tmp_path / "rsna"
    _img(rsna / "images/u1.jpg")
    _img(rsna / "images/u2.jpg")
    (rsna / "labels.csv").write_text("patientId,file,Target,x,y,width,height\nu1,images/u1.jpg,1,10,20,30,40\n"
                                     "u2,images/u2.jpg,0,,,,\n")
    cat = load_catalog(DataConfig(source="rsna", root=str(rsna)))
    assert cat.classes == ("no_opacity", "opacity") and cat.samples[0].boxes == ((10, 20, 40, 60),)

    tbx = tmp_path / "tbx"
    _img(tbx / "images/tb0005.jpg", np.zeros((512, 512), np.uint8))
    (tbx / "labels.csv").write_text("image,label,orig_width,orig_height\nimages/tb0005.jpg,TB,1024,2048\n")
    (tbx / "annotations").mkdir()
    (tbx / "annotations/tb0005.xml").write_text(
        "<annotation><object><name>ActiveTuberculosis</name><bndbox><xmin>100</xmin><ymin>200</ymin>"
        "<xmax>300</xmax><ymax>400</ymax></bndbox></object></annotation>")
    cat = load_catalog(DataConfig(source="tbx11k", root=str(tbx)))
    assert cat.samples[0].boxes == ((50.0, 50.0, 150.0, 100.0),)

    jsrt = tmp_path / "jsrt"
    for sub in ("512_Originals", "512_BSEs", "512_Segments"):
        _img(jsrt / sub / "JPCLN001.png")
    (jsrt / "pairs.csv").write_text("id,input_inverted,target_bse_lungmasked_inverted,seg_rgb,jsrt_class\n"
                                    "JPCLN001,512_Originals/JPCLN001.png,512_BSEs/JPCLN001.png,"
                                    "512_Segments/JPCLN001.png,nodule\n")
    s = load_catalog(DataConfig(source="jsrt_bse", root=str(jsrt))).samples[0]
    assert s.inverted and s.target.name == "JPCLN001.png" and s.mask_kind == "seg_rgb_lungs" and s.patient == "JPCLN001"

    openist = tmp_path / "openist"
    _img(openist / "1-10.jpg")
    _img(openist / "1-10@.png")
    (openist / "labels.csv").write_text("image,mask,label,note\n1-10.jpg,1-10@.png,normal,\n")
    s = load_catalog(DataConfig(source="openist_lungs", root=str(openist))).samples[0]
    assert s.mask.name == "1-10@.png" and s.labels == ()


def test_pairs_source(pairs_dataset):
    cat = load_catalog(DataConfig(source="pairs", root=str(pairs_dataset)))
    assert len(cat.samples) == 16 and all(s.target.stem == s.path.stem == s.mask.stem for s in cat.samples)


def _assert_no_leak(split, patients):
    sides = [{patients[i] for i in getattr(split, n)} for n in ("train", "val", "test")]
    assert not (sides[0] & sides[1]) and not (sides[0] & sides[2]) and not (sides[1] & sides[2])
    assert sum(len(getattr(split, n)) for n in ("train", "val", "test")) == len(patients)


def test_holdout_and_kfold_keep_patients_together_and_stratify():
    rng = np.random.default_rng(0)
    patients = [f"p{rng.integers(0, 60)}" for _ in range(300)]
    labels = [(int(p[1:]) % 2,) for p in patients]
    split = holdout_split(labels, patients, val_fraction=0.15, test_fraction=0.15, seed=0)
    _assert_no_leak(split, patients)
    assert 0.08 < len(split.test) / 300 < 0.25
    positive_rate = np.mean([labels[i][0] for i in split.test])
    assert abs(positive_rate - np.mean([lab[0] for lab in labels])) < 0.2
    folds = kfold_splits(labels, patients, folds=4, val_fraction=0.15, seed=0)
    for fold in folds:
        _assert_no_leak(fold, patients)
    assert sorted(i for f in folds for i in f.test) == list(range(300))


def test_real_kermany_split_has_no_patient_on_two_sides():
    root = paths.shared_data_dir() / "kermany_pneumonia" / "train"
    if not (root / "labels.csv").exists():
        pytest.skip(f"shared data not present at {root}")
    cat = load_catalog(DataConfig(source="kermany", root=str(root), label_columns=("label3",)))
    patients = [s.patient for s in cat.samples]
    split = holdout_split(cat.label_matrix(), patients, val_fraction=0.15, test_fraction=0.15, seed=0)
    _assert_no_leak(split, patients)
    assert len(set(patients)) < len(patients)  # several images per patient: the guard matters here
