"""Named parts and the external test (issue 17): Kermany's acquisition periods, a split whose external
part never reaches training or selection, and a card whose external figures say so."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from blob_images import blob_image
from tiny_configs import tiny_config

from cxrviewer.core.errors import ConfigError
from cxrviewer.training.config import DataConfig
from cxrviewer.training.kermany import period_of_patients, period_parts, series_and_number
from cxrviewer.training.sources import load_catalog
from cxrviewer.training.splits import Split, part_split

KERMANY = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "kermany_pneumonia" / "train"


def test_series_and_number_read_the_three_kermany_file_name_series():
    assert series_and_number("IM-0115-0001.jpeg") == ("normal", 115)
    assert series_and_number("NORMAL2-IM-0383-0001.jpeg") == ("normal2", 383)
    assert series_and_number("person1000_bacteria_2931.jpeg") == ("pneumonia", 1000)
    with pytest.raises(ValueError):
        series_and_number("CHNCXR_0001_0.png")


def test_periods_cut_each_series_by_number_earliest_first():
    numbered = {f"IM-{n:04d}": ("normal", n) for n in range(100, 120)}
    numbered |= {f"person{n}": ("pneumonia", n) for n in range(1, 41)}
    period = period_of_patients(numbered)
    for series, low, count in (("normal", 100, 20), ("pneumonia", 1, 40)):
        mine = {p: n for p, (s, n) in numbered.items() if s == series}
        early = sorted(n for p, n in mine.items() if period[p] == "early")
        middle = sorted(n for p, n in mine.items() if period[p] == "middle")
        late = sorted(n for p, n in mine.items() if period[p] == "late")
        assert (len(early), len(middle), len(late)) == (round(0.2 * count), round(0.35 * count) - round(0.2 * count),
                                                        count - round(0.35 * count))
        assert early[0] == low and early[-1] < middle[0] and middle[-1] < late[0]


@pytest.mark.skipif(not (KERMANY / "labels.csv").is_file(), reason="shared Kermany data not present")
def test_kermany_parts_are_disjoint_by_patient_and_the_external_part_never_reaches_train_or_val():
    catalog = load_catalog(DataConfig(source="kermany", root=str(KERMANY), label_columns=("label",),
                                      classes=("normal", "pneumonia")))
    parts = period_parts(catalog.samples)
    patients = [s.patient for s in catalog.samples]
    by_patient: dict[str, set[str]] = {}
    for patient, part in zip(patients, parts, strict=True):
        by_patient.setdefault(patient, set()).add(part)
    assert all(len(v) == 1 for v in by_patient.values())
    # The counts docs/kermany-shift.md gives: 5216 films, 2913 patients.
    counts = {name: sum(p == name for p in parts) for name in ("early", "middle", "late")}
    assert counts == {"early": 1362, "middle": 969, "late": 2885}
    # The earliest IM normal lies in the external part (the official test's normals are earlier still).
    numbers = {s.patient: series_and_number(s.path.name) for s in catalog.samples}
    im = {p: n for p, (series, n) in numbers.items() if series == "normal"}
    assert {by_patient[p].pop() for p in im if im[p] == min(im.values())} == {"early"}
    split = part_split(catalog.label_matrix(), patients, parts, val_parts=("middle",), external=("early",),
                       test_fraction=0.1, seed=0, rule="kermany_period")
    early = {i for i, p in enumerate(parts) if p == "early"}
    assert set(split.external) == early
    assert not early & (set(split.train) | set(split.val) | set(split.test))
    assert {parts[i] for i in split.val} == {"middle"} and {parts[i] for i in split.train} == {"late"}
    assert len(split.train) + len(split.val) + len(split.test) + len(split.external) == len(catalog.samples)
    split.check_disjoint(patients)


def test_part_split_refuses_a_patient_in_two_parts_and_unknown_parts():
    labels = [(0,), (1,), (0,), (1,)]
    with pytest.raises(ConfigError, match="two parts"):
        part_split(labels, ["a", "a", "b", "c"], ["x", "y", "y", "z"], val_parts=("y",), external=("z",),
                   test_fraction=0, seed=0)
    with pytest.raises(ConfigError, match="not parts"):
        part_split(labels, ["a", "b", "c", "d"], ["x", "x", "y", "y"], val_parts=("y",), external=("w",),
                   test_fraction=0, seed=0)


def test_split_with_an_external_part_saves_loads_and_guards_patients(tmp_path):
    split = Split((0, 1), (2,), (3,), method="m", external=(4, 5))
    split.save(tmp_path / "split.json", patients=["a", "b", "c", "d", "e", "e"])
    assert Split.load(tmp_path / "split.json") == split
    assert json.loads((tmp_path / "split.json").read_text())["external"]["patients"] == ["e"]
    with pytest.raises(AssertionError, match="train and external"):
        split.check_disjoint(["a", "b", "c", "d", "a", "e"])
    # A split saved before external parts existed still loads, with none.
    d = json.loads((tmp_path / "split.json").read_text())
    d.pop("external")
    (tmp_path / "old.json").write_text(json.dumps(d))
    assert Split.load(tmp_path / "old.json").external == ()


def test_config_needs_a_shifted_validation_part_beside_an_external_one(tmp_path, folder_dataset):
    with pytest.raises(ConfigError, match="val_parts"):
        tiny_config(folder_dataset, tmp_path, split={"parts": "kermany_period", "external": ["early"]})
    with pytest.raises(ConfigError, match="shares parts"):
        tiny_config(folder_dataset, tmp_path, split={"parts": "kermany_period", "val_parts": ["early"],
                                                     "external": ["early"]})
    with pytest.raises(ConfigError, match="split.parts"):
        tiny_config(folder_dataset, tmp_path, split={"parts": "by_moon_phase", "val_parts": ["a"]})


@pytest.fixture
def kermany_layout(tmp_path: Path) -> Path:
    """A tiny Kermany-layout set: 10 IM normals, 10 NORMAL2 normals, 20 pneumonia patients (2 films each)."""
    rng = np.random.default_rng(5)
    root = tmp_path / "kermany"
    rows = []
    names = [(f"IM-{n:04d}-0001.jpeg", "normal", f"IM-{n:04d}") for n in range(101, 111)]
    names += [(f"NORMAL2-IM-{n:04d}-0001.jpeg", "normal", f"NORMAL2-IM-{n:04d}") for n in range(301, 311)]
    names += [(f"person{n}_bacteria_{n * 10 + k}.jpeg", "pneumonia", f"person{n}") for n in range(1, 21) for k in (1, 2)]
    for name, label, patient in names:
        folder = root / "images" / label.upper()
        folder.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / name), blob_image(rng, label == "pneumonia", size=32))
        rows.append({"image": f"images/{label.upper()}/{name}", "label": label, "label3": label, "patient": patient})
    with (root / "labels.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["image", "label", "label3", "patient"])
        writer.writeheader()
        writer.writerows(rows)
    return root


def test_a_run_evaluates_its_checkpoint_on_the_external_part_and_the_card_says_external(tmp_path, kermany_layout):
    from cxrviewer.core.cards import load_card
    from cxrviewer.training.run import train

    config = tiny_config(kermany_layout, tmp_path / "runs", epochs=2, export_to=str(tmp_path / "models"),
                         data={"source": "kermany", "root": str(kermany_layout), "classes": ["normal", "pneumonia"]},
                         split={"val_fraction": 0.15, "test_fraction": 0.2, "parts": "kermany_period",
                                "val_parts": ["middle"], "external": ["early"]})
    result = train(config)
    saved = json.loads((result.run_dir / "split.json").read_text())
    early_patients = {"IM-0101", "IM-0102", "NORMAL2-IM-0301", "NORMAL2-IM-0302",
                      "person1", "person2", "person3", "person4"}
    assert set(saved["external"]["patients"]) == early_patients
    assert not early_patients & set(saved["train"]["patients"] + saved["val"]["patients"] + saved["test"]["patients"])
    assert set(saved["val"]["patients"]) == {"IM-0103", "IM-0104", "NORMAL2-IM-0303", "NORMAL2-IM-0304",
                                             "person5", "person6", "person7"}
    metrics = json.loads((result.run_dir / "metrics.json").read_text())
    assert metrics["external"]["n"] == 12 and metrics["test"]["n"] > 0
    card = load_card(tmp_path / "models" / "tiny.card.json")
    external = [m for m in card.metrics if m.scope == "external"]
    internal = [m for m in card.metrics if m.scope == "internal"]
    assert external and internal
    assert all(m.split.startswith("external test (n=12)") for m in external)
    assert all(m.split.startswith(("test", "validation")) for m in internal)
    # The card's figure is the one measured on the external films at the validation-chosen threshold.
    accuracy = next(m.value for m in external if m.name == "accuracy")
    assert accuracy == pytest.approx(metrics["external"]["accuracy"])
    assert any("external test" in limit for limit in card.limits)
