"""The lesion model's second run: Kermany's paediatric normals as more all-negative images, combined with
`tb_lesions` so its part keeps the first run's split."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from tiny_configs import lesion_card_with

from cxrviewer import paths
from cxrviewer.training.config import DataConfig
from cxrviewer.training.sources import Sample

pytest.importorskip("torch", reason="the training modules need the `ml` extra (torch)")

V2_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "tb-lesions-tbx11k-v2.yaml"
needs_data = pytest.mark.skipif(not paths.shared_data_dir().exists(), reason="the shared data folder is not here")


def test_the_source_of_a_combined_lesion_id_is_its_second_part():
    from cxrviewer.training.lesion_data import source_of

    def of(patient: str) -> str:
        return source_of(Sample(Path("x.png"), patient=patient))

    assert of("tbx11k/tb0018") == "tbx11k"
    assert of("tb_lesions/rsna/00a05408") == "rsna"
    assert of("kermany_normals/kermany/IM-0115") == "kermany"


@needs_data
def test_kermany_normals_are_one_normal_film_per_patient():
    from cxrviewer.training.lesion_data import kermany_normals

    catalog = kermany_normals(DataConfig(source="kermany_normals", root=str(paths.shared_data_dir())))
    patients = [s.patient for s in catalog.samples]
    assert catalog.classes == ("tb_lesions",)
    assert len(patients) == len(set(patients)) == 1278
    assert all(p.startswith("kermany/") for p in patients)
    assert all(s.path.parent.name == "NORMAL" and not s.boxes and s.mask_kind == "boxes" for s in catalog.samples)


@needs_data
def test_the_v2_split_keeps_the_first_runs_split_for_the_tb_lesions_part():
    from cxrviewer.training.config import load_config
    from cxrviewer.training.lesion_data import source_of
    from cxrviewer.training.run import make_split
    from cxrviewer.training.sources import load_catalog, subsample

    v2 = load_config(V2_CONFIG)
    catalog = subsample(load_catalog(v2.data), v2.data, seed=v2.seed)
    split = make_split(v2, catalog)
    first = dataclasses.replace(v2, data=v2.data.sources[0])
    first_catalog = load_catalog(first.data)
    first_split = make_split(first, first_catalog)
    for part in ("train", "val", "test"):
        ours = [catalog.samples[i].path for i in getattr(split, part) if source_of(catalog.samples[i]) != "kermany"]
        assert ours == [first_catalog.samples[i].path for i in getattr(first_split, part)]
    kermany = {part: sum(source_of(catalog.samples[i]) == "kermany" for i in getattr(split, part))
               for part in ("train", "val", "test")}
    assert kermany == {"train": 210, "val": 45, "test": 45}


def test_a_card_with_kermany_figures_says_children_were_measured(tmp_path):
    from cxrviewer.training.lesion_eval import SourceRate

    card = lesion_card_with(tmp_path, (SourceRate("kermany", 45, 3, True), SourceRate("jsrt", 76, 0, False)), boxes=153)
    assert {m.name: m.value for m in card.metrics}["false_positive_rate_kermany"] == pytest.approx(3 / 45)
    assert "normal radiographs of kermany (children aged 1-5), jsrt only" in card.limits[0]
    assert "children" not in card.limits[0].split("not on", 1)[1]
