"""A second lesion-map model (lung opacity, issue 17) beside the TB lesion model: both play the
"lesions" part, each runs, each is named in the findings with its own title, and each map goes to its
own layer with its own card threshold and contour."""

from __future__ import annotations

import shutil
from types import SimpleNamespace

import numpy as np
import pytest
from layer_support import block_map, shown_harness

from cxrviewer.analysis import pipeline
from cxrviewer.analysis.report_readings import lesion_reading
from cxrviewer.analysis.triage import triage_steps
from cxrviewer.core.cards import FileEntry, InputContract, ModelCard, Provenance
from cxrviewer.core.display.compose import Threshold
from cxrviewer.core.layers import KINDS, LESION_KINDS, LayerStack, default_layer
from cxrviewer.gui import findings_text
from cxrviewer.gui.worklist_rows import score_tooltip

pytest.importorskip("torch", reason="exporting test models needs the `ml` extra (torch)")


@pytest.fixture(scope="module")
def two_lesion_models(pipeline_models_dir, tmp_path_factory):
    """A models folder holding the session's "tb-lesions" and a tiny random "opacity-lesions"."""
    from pipeline_models import export_pipeline_models

    folder = tmp_path_factory.mktemp("two-lesions")
    for path in pipeline_models_dir.glob("tb-lesions.*"):
        shutil.copy(path, folder / path.name)
    return export_pipeline_models(folder, tmp_path_factory.mktemp("two-lesions-work"), names=("opacity-lesions",))


def test_both_lesion_models_play_the_lesions_part_and_each_names_its_channel(two_lesion_models):
    from cxrviewer.analysis.installed import installed_model

    roles = pipeline.model_roles(two_lesion_models)
    assert roles.lesions == ("opacity-lesions", "tb-lesions")
    assert triage_steps(roles) == [("lesions", "opacity-lesions"), ("lesions", "tb-lesions")]
    pixels = np.random.default_rng(0).random((120, 100), dtype=np.float32)
    opacity = pipeline.lesion_finding(installed_model("opacity-lesions", two_lesion_models), pixels)
    tb = pipeline.lesion_finding(installed_model("tb-lesions", two_lesion_models), pixels)
    assert (opacity.label, tb.label) == ("opacity_lesions", "tb_lesions")
    assert opacity.probability.shape == pixels.shape and opacity.threshold == pytest.approx(0.37)
    assert opacity.positive == (opacity.score >= 0.37)
    assert lesion_reading(opacity, None).result.startswith(("lung opacity:", "no lung opacity called:"))
    assert lesion_reading(tb, None).result.startswith(("TB-consistent findings:", "no TB-consistent findings called:"))


def test_one_model_per_lesion_label_and_a_single_name_still_reads_as_one():
    assert pipeline.ModelRoles(lesions="tb").lesions == ("tb",)
    assert pipeline.ModelRoles().lesions == ()


def lesion_card(label: str) -> ModelCard:
    name = label.replace("_", "-")
    return ModelCard(name=name, version="1", task="segmentation", arch="unet_tiny", labels=(label,), thresholds=(0.37,),
                     input=InputContract(192, 192, 1), outputs=("output",),
                     files=(FileEntry("onnx", f"{name}.onnx", "0" * 64, 1),), provenance=Provenance(data=("none",), split="none"))


def test_each_lesion_model_has_its_own_title_and_worklist_name():
    opacity_card = lesion_card("opacity_lesions")
    found = pipeline.LesionFinding("opacity-lesions", np.zeros((4, 4), np.float32), 0.5, 0.37, True,
                                   "CPU", 0.01, label="opacity_lesions")
    block = findings_text.lesion_html("opacity-lesions", opacity_card, found)
    assert "<b>lung opacity</b>" in block and "TB" not in block
    line = findings_text.model_entry_html("opacity-lesions", "Lung opacity areas", found, True, False)
    assert "<b>Lung opacity areas</b>: " in line and "TB" not in line
    waiting = findings_text.model_entry_html("tb-lesions", findings_text.LESION_TITLE, None, True, False)
    assert f"<b>{findings_text.LESION_TITLE}</b>: " in waiting and "running…" in waiting
    assert score_tooltip("lesions", (), lesion="opacity").startswith("opacity lesion score")


def test_the_opacity_layer_has_its_own_threshold_and_contour():
    assert set(LESION_KINDS) <= set(KINDS)
    state = default_layer("opacity_lesions")
    assert state.visible and state.style.contour and state.name == "Lung opacity"
    stack = LayerStack()
    stack.adopt_lesion_threshold(0.37, "opacity_lesions")
    stack.adopt_lesion_threshold(0.64)  # the TB layer, as before
    assert stack["opacity_lesions"].style.threshold == Threshold("value", 0.37)
    assert stack["tb_lesions"].style.threshold == Threshold("value", 0.64)
    with pytest.raises(ValueError):
        stack.adopt_lesion_threshold(0.5, "gradcam")
    restored = LayerStack.from_dict(stack.to_dict())
    assert restored["opacity_lesions"] == stack["opacity_lesions"]


def test_the_controller_draws_each_lesion_map_in_its_own_layer(qtbot, tmp_path):
    harness = shown_harness(qtbot, tmp_path)
    harness.show_study()
    service, controller = harness.service, harness.controller
    tb = block_map((slice(40, 60), slice(60, 120), 0.9))
    opacity = block_map((slice(10, 30), slice(10, 40), 0.8))
    service.result_ready.emit(0, "lesions", "tb-lesions", SimpleNamespace(probability=tb, threshold=0.4))
    service.result_ready.emit(0, "lesions", "opacity-lesions",
                              SimpleNamespace(probability=opacity, threshold=0.3, label="opacity_lesions"))
    assert {"tb_lesions", "opacity_lesions"} <= set(controller.overlays.drawn)
    assert controller.overlays.drawn["opacity_lesions"].contour is not None
    np.testing.assert_array_equal(controller.raw["opacity_lesions"], opacity)
    np.testing.assert_array_equal(controller.raw["tb_lesions"], tb)
    assert controller.stack["opacity_lesions"].style.threshold == Threshold("value", 0.3)
    assert controller.stack["tb_lesions"].style.threshold == Threshold("value", 0.4)
    # A failure of the opacity model marks its own layer only.
    service.step_failed.emit(0, "lesions", "opacity-lesions", "model opacity-lesions: broken")
    assert "tb_lesions" in controller.raw
