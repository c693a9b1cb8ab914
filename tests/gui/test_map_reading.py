"""Maps a reader can read (issue 20, item 7), on the real canvas, layer panel and controller: the
explanation maps kept inside the lungs by a remembered checkbox, drawn as strongly as their class is
probable, a colour legend on the film, and one heat map at a time by default."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from layer_support import COLUMNS, ROWS, block_map, shown_harness
from PySide6.QtCore import QSettings, Qt

from cxrviewer.analysis.findings import Finding
from cxrviewer.core.display.colormaps import colormap
from cxrviewer.core.display.compose import index_map
from cxrviewer.core.layers import STRENGTH_RULE, map_strength
from cxrviewer.gui.layer_panel import INSIDE_LUNGS_TIP, NO_LUNG_MODEL_TIP
from cxrviewer.gui.lung_masking import INSIDE_LUNGS_KEY, WAITING_LUNGS_TEXT
from cxrviewer.gui.map_legend import legend_title
from cxrviewer.gui.map_trust import MapTrust

MODEL = "pneumonia-kermany"
TB_MODEL = "tb-screen-shenzhen"


def verdict_row(class_index, label, method, lower, localises):
    return {"class_index": class_index, "label": label, "method": method, "dataset": "boxes", "primary": True,
            "n": 100, "pointing": lower + 0.05, "pointing_ci": [lower, lower + 0.1], "chance": 0.1,
            "mass_in_boxes": 0.2, "iou": 0.1, "verdict": "localises" if localises else "does not localise"}


# A verdicts table of our own, so which map is the default does not follow re-measured shipped figures:
# pneumonia: Grad-CAM, CAM and CRM localise equally, better than saliency; tb: only saliency localises.
# Kept inside lungs-unet's lungs (weights "l"), pneumonia's Grad-CAM does not localise.
VERDICTS = {"models": {
    MODEL: {"weights_sha256": "p", "rows": [verdict_row(1, "pneumonia", "saliency", 0.13, True)]
            + [verdict_row(1, "pneumonia", m, 0.25, True) for m in ("gradcam", "cam", "crm")],
            "inside_lungs": {"lungs_model": "lungs-unet", "lungs_weights_sha256": "l",
                             "rows": [verdict_row(1, "pneumonia", "gradcam", 0.31, False)]}},
    TB_MODEL: {"weights_sha256": "t", "rows": [verdict_row(1, "tb", "saliency", 0.18, True)]
               + [verdict_row(1, "tb", m, 0.0, False) for m in ("gradcam", "cam", "crm")]},
}}


@pytest.fixture
def harness(qtbot, tmp_path):
    harness = shown_harness(qtbot, tmp_path)
    table = tmp_path / "localisation.json"
    table.write_text(json.dumps(VERDICTS), encoding="utf-8")
    shas = {MODEL: "p", TB_MODEL: "t", "lungs-unet": "l"}
    harness.panel.trust = MapTrust(table, sha_of=lambda model, _folder: shas.get(model))
    return harness


def finding(model, labels, probabilities) -> Finding:
    positive = (int(np.argmax(probabilities)),)
    return Finding(model, labels, tuple(probabilities), positive, "threshold", 0.5, "CPU", 0.01)


def hot_map() -> np.ndarray:
    """A smooth-enough map: 0.5 on the left half of the middle rows, 1.0 on the right half."""
    return block_map((slice(20, 76), slice(10, 80), 0.5), (slice(20, 76), slice(80, 150), 1.0))


def lung_probability() -> np.ndarray:
    """Lungs: probability 1 in columns 20..69 and 90..139 of rows 10..85, 0 elsewhere."""
    return block_map((slice(10, 86), slice(20, 70), 1.0), (slice(10, 86), slice(90, 140), 1.0))


def send_maps(harness, model=MODEL, class_index=1, study=0):
    maps = {m: hot_map() for m in ("saliency", "gradcam", "cam", "crm")}
    harness.service.result_ready.emit(study, "maps", (model, class_index), maps)


def explain(harness, probabilities, study=0):
    """The pneumonia model's finding arrives and its "pneumonia" maps with it."""
    harness.service.result_ready.emit(study, "finding", MODEL, finding(MODEL, ("normal", "pneumonia"), probabilities))
    send_maps(harness, study=study)


# -- inside the lungs ----------------------------------------------------------------------------
def test_inside_the_lungs_is_off_without_a_lung_model_and_says_why(harness):
    harness.show_study()
    explain(harness, (0.02, 0.98))
    box = harness.panel.inside_lungs
    assert not box.isEnabled() and box.toolTip() == NO_LUNG_MODEL_TIP
    assert box.text() == "Inside the lungs only"


def test_ticking_inside_the_lungs_multiplies_the_maps_by_the_lung_probability(qtbot, harness, tmp_path):
    harness.show_study()
    explain(harness, (0.02, 0.98))
    harness.service.result_ready.emit(0, "lungs", "lungs-unet", lung_probability())
    box, controller = harness.panel.inside_lungs, harness.controller
    assert box.isEnabled() and box.toolTip() == INSIDE_LUNGS_TIP and not box.isChecked()
    item = controller.overlays.items["gradcam"]
    assert (item.image[20:76, 70:90] > 0).all()  # the map between the lungs, before
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton)
    assert box.isChecked() and controller.inside_lungs
    expected = index_map(hot_map() * lung_probability()).index
    np.testing.assert_array_equal(item.image, expected)  # what the canvas's Grad-CAM item draws
    assert (item.image[:, 70:90] == 0).all() and (item.image[20:76, 100:140] == 255).all()
    composed, base = controller.composed_view(), harness.canvas.displayed_image()
    outside = lung_probability() == 0
    np.testing.assert_array_equal(composed[outside], np.repeat(base[..., None], 3, axis=-1)[outside])
    assert "inside the lungs" in controller.visible_layer_legends()[0].explains
    assert dict(controller.values_at(50, 75))["Grad-CAM"] == 0.0  # the value under the cursor is the one drawn
    # Remembered: a new window with the same settings starts with it on.
    settings = QSettings(str(tmp_path / "layers.ini"), QSettings.Format.IniFormat)
    assert str(settings.value(INSIDE_LUNGS_KEY)).lower() == "true"
    again = shown_harness(qtbot, tmp_path)
    assert again.panel.inside_lungs.isChecked() and again.controller.inside_lungs
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton)  # off again: the whole map
    np.testing.assert_array_equal(item.image, index_map(hot_map()).index)


def test_with_inside_the_lungs_on_a_map_waits_for_the_lungs(harness):
    harness.controller.set_inside_lungs(True)
    harness.service.roles = SimpleNamespace(lungs="lungs-unet")  # a lung model is installed
    harness.show_study()
    assert harness.panel.inside_lungs.isEnabled()
    explain(harness, (0.02, 0.98))
    assert "gradcam" not in harness.controller.overlays.drawn  # never drawn outside the lungs, not even briefly
    assert harness.panel.controls["gradcam"].status.text() == WAITING_LUNGS_TEXT
    harness.service.result_ready.emit(0, "lungs", "lungs-unet", lung_probability())
    assert "gradcam" in harness.controller.overlays.drawn
    assert (harness.controller.overlays.items["gradcam"].image[:, 70:90] == 0).all()


def test_the_map_tooltips_give_the_figures_of_the_maps_as_drawn_inside_the_lungs_or_whole(qtbot, harness):
    harness.show_study()
    explain(harness, (0.02, 0.98))
    tip = harness.panel.controls["gradcam"].toolTip
    assert tip().startswith(f"Grad-CAM for {MODEL} / pneumonia, drawn on the whole film: pointing game 0.30")
    harness.service.result_ready.emit(0, "lungs", "lungs-unet", lung_probability())
    assert "drawn on the whole film" in tip()  # lungs to be had, but not asked for
    qtbot.mouseClick(harness.panel.inside_lungs, Qt.MouseButton.LeftButton)
    assert tip().startswith(f"Grad-CAM for {MODEL} / pneumonia, drawn inside the lungs only (× lungs-unet's lung "
                            "probability): pointing game 0.36 (95 % CI 0.31–0.41)")
    assert "does not localise" in tip()
    harness.show_study(study_id=1)  # the lungs fail on the next study: its maps are whole, so are the figures
    explain(harness, (0.02, 0.98), study=1)
    harness.controller.on_step_failed(1, "lungs", "lungs-unet", "no lungs found")
    assert harness.controller.inside_lungs and "drawn on the whole film: pointing game 0.30" in tip()
    harness.show_study(study_id=2)  # the next study's lungs arrive: inside them again, until the reader unticks
    explain(harness, (0.02, 0.98), study=2)
    harness.service.result_ready.emit(2, "lungs", "lungs-unet", lung_probability())
    assert "drawn inside the lungs only" in tip()
    qtbot.mouseClick(harness.panel.inside_lungs, Qt.MouseButton.LeftButton)
    assert not harness.controller.inside_lungs and "drawn on the whole film: pointing game 0.30" in tip()


# -- strength and legend -------------------------------------------------------------------------
@pytest.mark.parametrize("probability", [0.98, 0.10])
def test_a_maps_alpha_follows_its_class_probability(harness, probability):
    harness.show_study()
    explain(harness, (1 - probability, probability))
    controller = harness.controller
    lut = controller.overlays.items["gradcam"].lut
    opacity = harness.panel.stack["gradcam"].style.opacity
    assert lut[:, 3].max() == round(opacity * map_strength(probability) * 255)
    # What the reader sees: the hottest pixel moves from the film's grey by that much.
    composed, base = controller.composed_view(), harness.canvas.displayed_image()
    change = np.abs(composed[50, 120].astype(int) - int(base[50, 120])).max()
    full = np.abs(np.array([127, 0, 0]) - int(base[50, 120])).max()  # jet's top colour, 50 % grey-ish base
    assert change == pytest.approx(full * opacity * map_strength(probability), abs=3)
    assert STRENGTH_RULE in harness.panel.controls["gradcam"].opacity.toolTip()


def test_a_ten_percent_class_is_drawn_a_third_as_strongly_as_a_ninety_eight_percent_one():
    assert map_strength(0.10) / map_strength(0.98) == pytest.approx(0.33, abs=0.01)
    assert map_strength(None) == 1.0


def test_the_legend_on_the_film_names_the_map_its_class_and_probability_with_its_colours(qtbot, harness):
    harness.show_study()
    explain(harness, (0.02, 0.98))
    legend = harness.controller.legend
    qtbot.waitUntil(legend.isVisible, timeout=2000)
    assert [legend_title(row) for row in legend.legends] == [f"Grad-CAM — {MODEL} / pneumonia, 98.0 %"]
    row = legend.legends[0]
    assert (row.low, row.high, row.colormap) == ("0", "this map's maximum", "jet")
    # On the film: inside the canvas's viewport, at the bottom centre, clear of the image's top.
    viewport = harness.canvas.viewport()
    assert legend.parentWidget() is viewport and legend.geometry().bottom() < viewport.height()
    assert abs(legend.geometry().center().x() - viewport.width() // 2) <= 1
    # The bar's painted colours are the colour map's, above the dimmed part under the threshold.
    picture = legend.grab().toImage()
    ratio = picture.devicePixelRatio()
    bar = legend.bar_rect(0)
    y = int((bar.top() + bar.height() / 2) * ratio)
    table = colormap("jet")
    for fraction in (0.3, 0.6, 0.95):  # above the 20 % display threshold: undimmed
        x = bar.left() + fraction * bar.width()
        colour = picture.pixelColor(int(x * ratio), y)
        expected = table[min(int(fraction * 256), 255), :3]
        assert np.abs(np.array([colour.red(), colour.green(), colour.blue()]) - expected).max() <= 12
    dimmed = picture.pixelColor(int((bar.left() + 0.05 * bar.width()) * ratio), y)
    assert max(dimmed.red(), dimmed.green(), dimmed.blue()) < table[12, :3].max()
    # A lesion map drawn too gets its own row on its probability scale; hiding the layers hides it.
    harness.panel.controls["tb_lesions"].visible.setChecked(True)
    lesions = block_map((slice(40, 60), slice(60, 120), 0.9))
    harness.service.result_ready.emit(0, "lesions", "tb-lesions", SimpleNamespace(probability=lesions, threshold=0.4))
    assert [(r.name, r.low, r.high) for r in legend.legends][-1] == ("TB lesions", "0 %", "100 %")
    harness.controller.set_layers_shown(False)
    assert not legend.isVisible()


# -- one map at a time -----------------------------------------------------------------------------
def drawn_heat_maps(harness) -> set[str]:
    return {kind for kind in harness.controller.overlays.drawn if kind != "lung_outline"}


def test_one_map_by_default_the_best_localising_one(harness):
    """pneumonia-kermany / pneumonia: Grad-CAM, CAM and CRM localise equally, best: Grad-CAM.
    tb-screen-shenzhen / tb: only saliency localises: saliency."""
    harness.show_study()
    explain(harness, (0.02, 0.98))
    stack = harness.panel.stack
    assert [s.kind for s in stack.visible() if s.kind != "lung_outline"] == ["gradcam"]
    assert drawn_heat_maps(harness) == {"gradcam"}
    harness.show_study(study_id=1)
    harness.service.result_ready.emit(1, "finding", TB_MODEL, finding(TB_MODEL, ("normal", "tb"), (0.1, 0.9)))
    send_maps(harness, model=TB_MODEL, study=1)
    assert drawn_heat_maps(harness) == {"saliency"}


def test_with_inside_the_lungs_ticked_the_default_map_is_the_one_that_localises_inside_them(qtbot, harness, tmp_path):
    table = json.loads(json.dumps(VERDICTS))  # here, kept inside the lungs, pneumonia's CRM localises
    table["models"][MODEL]["inside_lungs"]["rows"].append(verdict_row(1, "pneumonia", "crm", 0.40, True))
    (tmp_path / "inside.json").write_text(json.dumps(table), encoding="utf-8")
    shas = {MODEL: "p", TB_MODEL: "t", "lungs-unet": "l"}
    harness.panel.trust = MapTrust(tmp_path / "inside.json", sha_of=lambda model, _folder: shas.get(model))
    harness.show_study()
    explain(harness, (0.02, 0.98))
    harness.service.result_ready.emit(0, "lungs", "lungs-unet", lung_probability())
    assert drawn_heat_maps(harness) == {"gradcam"}  # whole film: Grad-CAM localises best
    qtbot.mouseClick(harness.panel.inside_lungs, Qt.MouseButton.LeftButton)
    assert drawn_heat_maps(harness) == {"crm"}  # inside the lungs Grad-CAM does not localise; CRM does
    qtbot.mouseClick(harness.panel.inside_lungs, Qt.MouseButton.LeftButton)
    assert drawn_heat_maps(harness) == {"gradcam"}


def test_the_explained_findings_own_lesion_map_is_the_one_shown_once_its_model_is_known(harness):
    harness.show_study()
    harness.service.result_ready.emit(0, "finding", TB_MODEL, finding(TB_MODEL, ("normal", "tb"), (0.1, 0.9)))
    send_maps(harness, model=TB_MODEL)
    lesions = block_map((slice(40, 60), slice(60, 120), 0.9))
    harness.service.result_ready.emit(0, "lesions", "tb-lesions", SimpleNamespace(probability=lesions, threshold=0.4))
    assert drawn_heat_maps(harness) == {"tb_lesions"}
    assert harness.canvas.film_text.caption.text() == "TB lesions: tb-lesions"  # the film says what is on it
    # On a study where the lesion model fails, the best localising explanation map is the one shown.
    harness.show_study(study_id=1)
    harness.service.result_ready.emit(1, "finding", TB_MODEL, finding(TB_MODEL, ("normal", "tb"), (0.1, 0.9)))
    send_maps(harness, model=TB_MODEL, study=1)
    harness.service.step_failed.emit(1, "lesions", "tb-lesions", "model tb-lesions: checksum mismatch")
    assert drawn_heat_maps(harness) == {"saliency"}


def test_a_ticked_map_replaces_the_default_one_and_the_readers_choices_are_kept(qtbot, harness):
    harness.show_study()
    explain(harness, (0.02, 0.98))
    controls = harness.panel.controls
    qtbot.mouseClick(controls["crm"].visible, Qt.MouseButton.LeftButton)  # the reader asks for CRM
    assert drawn_heat_maps(harness) == {"crm"} and not controls["gradcam"].visible.isChecked()
    qtbot.mouseClick(controls["gradcam"].visible, Qt.MouseButton.LeftButton)  # and Grad-CAM beside it
    assert drawn_heat_maps(harness) == {"crm", "gradcam"}  # CRM stays: the reader asked for it
    # The next study keeps the reader's two maps, not the default one.
    harness.show_study(study_id=1)
    explain(harness, (0.3, 0.7), study=1)
    assert drawn_heat_maps(harness) == {"crm", "gradcam"}
    assert harness.controller.overlays.items["gradcam"].image.shape == (ROWS, COLUMNS)


def test_factory_settings_return_to_the_one_map_default(qtbot, harness):
    harness.show_study()
    explain(harness, (0.02, 0.98))
    controls = harness.panel.controls
    qtbot.mouseClick(controls["crm"].visible, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(controls["gradcam"].visible, Qt.MouseButton.LeftButton)
    assert drawn_heat_maps(harness) == {"crm", "gradcam"}
    qtbot.mouseClick(harness.panel.reset, Qt.MouseButton.LeftButton)
    assert harness.panel.stack.selector.label == "pneumonia"  # the study's default class again
    send_maps(harness)  # its maps, asked for again
    assert drawn_heat_maps(harness) == {"gradcam"}


def test_a_lesion_map_whose_answer_is_withheld_for_this_patient_is_not_the_default(harness):
    """The TB lesion model is bound to adults; a film that records no age has its answer withheld in
    the findings, so its map is not the one shown by default: the best localising explanation is."""
    from PySide6.QtCore import QObject, Signal

    class Findings(QObject):
        findings_shown_changed = Signal(bool)
        adults = SimpleNamespace(population=SimpleNamespace(age_years=(18.0, 120.0), description="adults"))
        entries = [SimpleNamespace(name="tb-lesions", card=adults)]

        def findings_shown(self):
            return True

    panel = Findings()
    harness.controller.attach_findings(panel)
    harness.show_study()  # the synthetic study records no age
    harness.service.result_ready.emit(0, "finding", TB_MODEL, finding(TB_MODEL, ("normal", "tb"), (0.1, 0.9)))
    send_maps(harness, model=TB_MODEL)
    lesions = block_map((slice(40, 60), slice(60, 120), 0.9))
    harness.service.result_ready.emit(0, "lesions", "tb-lesions", SimpleNamespace(probability=lesions, threshold=0.4))
    assert drawn_heat_maps(harness) == {"saliency"}
    panel.entries = [SimpleNamespace(name="tb-lesions", card=None)]  # a model bound to no age: its map is the one
    harness.show_study(study_id=1)
    harness.service.result_ready.emit(1, "finding", TB_MODEL, finding(TB_MODEL, ("normal", "tb"), (0.1, 0.9)))
    assert harness.panel.stack["tb_lesions"].visible and not harness.panel.stack["saliency"].visible
