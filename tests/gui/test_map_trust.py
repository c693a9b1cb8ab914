"""Each map layer's tooltip says whether that method localises, for the model and class it explains now,
with the shipped held-out figures (resources/localisation.json) for the installed weights, and for the
maps as drawn: whole, or kept inside the lungs by the installed lung model (then keyed by its weights too)."""

from __future__ import annotations

import json

import pytest
from layer_support import shown_harness

from cxrviewer import paths
from cxrviewer.analysis.localisation_verdicts import (
    NO_LUNGS_VARIANT,
    OTHER_LUNGS_VERSION,
    OTHER_VERSION,
    installed_weights_sha256,
)
from cxrviewer.core.layers import MAP_KINDS, ClassSelector
from cxrviewer.gui.layer_panel import LayerPanel
from cxrviewer.gui.map_trust import NO_CLASS_TIP, WHOLE_FILM, MapTrust

TABLE = json.loads(paths.resource("localisation.json").read_text(encoding="utf-8"))
SHORT = {"rsna_pneumonia": "RSNA", "tbx11k_tb": "TBX11K"}


INSIDE_LUNGS = "drawn inside the lungs only (× lungs-unet's lung probability)"


def shipped_row(model: str, label: str, method: str, dataset: str, inside_lungs: bool = False) -> dict:
    entry = TABLE["models"][model]
    if entry["weights_sha256"] != installed_weights_sha256(model):
        pytest.skip(f"{model} was re-shipped since resources/localisation.json: run scripts/localisation_table.py")
    table = entry
    if inside_lungs:
        table = entry.get("inside_lungs")
        assert table is not None, f"{model} has no inside-the-lungs rows: run scripts/localisation_table.py"
        if table["lungs_weights_sha256"] != installed_weights_sha256(table["lungs_model"]):
            pytest.skip("lungs-unet was re-shipped since resources/localisation.json: run scripts/localisation_table.py")
    return next(r for r in table["rows"] if (r["label"], r["method"], r["dataset"]) == (label, method, dataset))


def expected_line(title: str, model: str, label: str, row: dict, drawn: str = WHOLE_FILM) -> str:
    low, high = row["pointing_ci"]
    meaning = ("localises: its peak falls in the boxed finding more often than chance" if row["verdict"] == "localises"
               else "does not localise: do not read it as where the finding is")
    chance = "chance" if drawn == WHOLE_FILM else "chance in the lungs"
    return (f"{title} for {model} / {label}, {drawn}: pointing game {row['pointing']:.2f} (95 % CI {low:.2f}–{high:.2f}) "
            f"on {row['n']} held-out boxed {SHORT[row['dataset']]} films; {chance} {row['chance']:.2f} — {meaning}")


@pytest.fixture
def harness(qtbot, tmp_path):
    return shown_harness(qtbot, tmp_path)


def choose(harness, model: str, class_index: int) -> None:
    """The reader picks (model, class) in the panel's "Maps explain" list."""
    combo = harness.panel.classes
    row = next(i for i in range(combo.count())
               if combo.itemData(i) is not None and (combo.itemData(i).model, combo.itemData(i).class_index)
               == (model, class_index))
    combo.setCurrentIndex(row)


def test_tooltips_follow_the_explained_model_and_class_with_the_shipped_figures(harness):
    controls = harness.panel.controls
    assert all(controls[kind].toolTip() == NO_CLASS_TIP for kind in MAP_KINDS)
    harness.panel.set_classes([ClassSelector("opacity-rsna", 0, "no_opacity"), ClassSelector("opacity-rsna", 1, "opacity"),
                               ClassSelector("tb-screen-shenzhen", 0, "normal"), ClassSelector("tb-screen-shenzhen", 1, "tb")])
    choose(harness, "opacity-rsna", 1)
    assert harness.panel.stack.selector.model == "opacity-rsna"
    row = shipped_row("opacity-rsna", "opacity", "gradcam", "rsna_pneumonia")
    tip = controls["gradcam"].toolTip()
    assert tip.startswith(expected_line("Grad-CAM", "opacity-rsna", "opacity", row))
    assert row["n"] == 21  # the boxed films of its own test split
    assert tip.splitlines()[0].endswith("; only 21 films: weak evidence either way")
    # Drawn smooth (issue 20), opacity-rsna's Grad-CAM peak no longer lands in the boxes more often than chance.
    assert row["verdict"] == "does not localise"
    assert "does not localise: do not read it as where the finding is" in tip
    other = shipped_row("opacity-rsna", "opacity", "gradcam", "tbx11k_tb")
    assert f"On TBX11K TB boxes (another finding): pointing game {other['pointing']:.2f}" in tip
    saliency = shipped_row("opacity-rsna", "opacity", "saliency", "rsna_pneumonia")
    assert controls["saliency"].toolTip().startswith(expected_line("Saliency", "opacity-rsna", "opacity", saliency))

    choose(harness, "tb-screen-shenzhen", 1)  # the reader changes the class: every tooltip follows
    for kind, title in (("saliency", "Saliency"), ("gradcam", "Grad-CAM"), ("cam", "CAM"), ("crm", "CRM")):
        row = shipped_row("tb-screen-shenzhen", "tb", kind, "tbx11k_tb")
        assert controls[kind].toolTip().startswith(expected_line(title, "tb-screen-shenzhen", "tb", row))
    # Drawn smooth (issue 20), the 2x2 grid's peak is its best quarter's centre, no longer the film's corner.
    assert shipped_row("tb-screen-shenzhen", "tb", "gradcam", "tbx11k_tb")["verdict"] == "localises"
    assert "localises: its peak falls in the boxed finding more often than chance" in controls["gradcam"].toolTip()

    choose(harness, "tb-screen-shenzhen", 0)  # "normal": no box marks it
    assert controls["gradcam"].toolTip() == ("Grad-CAM for tb-screen-shenzhen / normal, drawn on the whole film: "
                                             "not measured for this class (no held-out boxes mark its finding)")


def test_with_the_maps_inside_the_lungs_the_tooltips_give_the_shipped_inside_lungs_figures(harness):
    controls = harness.panel.controls
    harness.panel.set_classes([ClassSelector("tb-screen-shenzhen", 0, "normal"), ClassSelector("tb-screen-shenzhen", 1, "tb")])
    choose(harness, "tb-screen-shenzhen", 1)
    harness.panel.show_maps_inside_lungs("lungs-unet")
    for kind, title in (("saliency", "Saliency"), ("gradcam", "Grad-CAM"), ("cam", "CAM"), ("crm", "CRM")):
        whole = shipped_row("tb-screen-shenzhen", "tb", kind, "tbx11k_tb")
        inside = shipped_row("tb-screen-shenzhen", "tb", kind, "tbx11k_tb", inside_lungs=True)
        tip = controls[kind].toolTip()
        assert tip.startswith(expected_line(title, "tb-screen-shenzhen", "tb", inside, INSIDE_LUNGS))
        # Its chance is a peak anywhere in the lungs, not the film's: the two rows' chances differ.
        assert inside["chance"] > whole["chance"] and f"chance {whole['chance']:.2f} —" not in tip
    harness.panel.show_maps_inside_lungs(None)  # the option off again: the whole maps' figures
    row = shipped_row("tb-screen-shenzhen", "tb", "gradcam", "tbx11k_tb")
    assert controls["gradcam"].toolTip().startswith(expected_line("Grad-CAM", "tb-screen-shenzhen", "tb", row))


# A table of our own: one model measured whole and inside the lungs of lungs-unet with weights "L".
OWN_ROW = {"class_index": 1, "label": "opacity", "method": "gradcam", "dataset": "rsna_pneumonia", "primary": True,
           "n": 80, "pointing": 0.20, "pointing_ci": [0.12, 0.28], "chance": 0.12, "mass_in_boxes": 0.2, "iou": 0.1,
           "verdict": "localises"}
OWN_TABLE = {"models": {
    "opacity-rsna": {"weights_sha256": "W", "rows": [OWN_ROW], "inside_lungs": {
        "lungs_model": "lungs-unet", "lungs_weights_sha256": "L",
        "rows": [{**OWN_ROW, "pointing": 0.45, "pointing_ci": [0.34, 0.56], "chance": 0.41, "chance_film": 0.12,
                  "verdict": "does not localise"}]}},
    "pneumonia-kermany": {"weights_sha256": "P", "rows": [{**OWN_ROW, "label": "pneumonia"}]},  # written before
}}


def own_panel(qtbot, tmp_path, lungs_sha: str = "L") -> LayerPanel:
    table = tmp_path / "localisation.json"
    table.write_text(json.dumps(OWN_TABLE), encoding="utf-8")
    shas = {"opacity-rsna": "W", "pneumonia-kermany": "P", "lungs-unet": lungs_sha}
    panel = LayerPanel(trust=MapTrust(table, sha_of=lambda model, folder: shas.get(model)))
    qtbot.addWidget(panel)
    panel.stack.select_class(ClassSelector("opacity-rsna", 1, "opacity"))
    return panel


def test_the_tooltip_gives_the_figure_and_verdict_of_the_variant_drawn_and_names_it(qtbot, tmp_path):
    panel = own_panel(qtbot, tmp_path)
    whole = panel.controls["gradcam"].toolTip()
    assert whole.startswith("Grad-CAM for opacity-rsna / opacity, drawn on the whole film: pointing game 0.20 "
                            "(95 % CI 0.12–0.28) on 80 held-out boxed RSNA films; chance 0.12 — localises")
    panel.show_maps_inside_lungs("lungs-unet")
    inside = panel.controls["gradcam"].toolTip()
    assert inside.startswith("Grad-CAM for opacity-rsna / opacity, drawn inside the lungs only (× lungs-unet's lung "
                             "probability): pointing game 0.45 (95 % CI 0.34–0.56) on 80 held-out boxed RSNA films; "
                             "chance in the lungs 0.41 — does not localise: do not read it as where the finding is")
    assert "0.20" not in inside and "localises: its peak" not in inside
    panel.show_maps_inside_lungs(None)
    assert panel.controls["gradcam"].toolTip() == whole


def test_another_lung_model_or_an_older_table_says_the_inside_lungs_maps_are_not_measured(qtbot, tmp_path):
    panel = own_panel(qtbot, tmp_path, lungs_sha="re-shipped")
    panel.show_maps_inside_lungs("lungs-unet")
    tip = panel.controls["cam"].toolTip()
    assert tip == (f"CAM for opacity-rsna / opacity, drawn inside the lungs only (× lungs-unet's lung probability): "
                   f"{OTHER_LUNGS_VERSION} (lungs-unet's weights differ from those measured): whether it localises is unknown")
    assert OTHER_VERSION in tip and "pointing game" not in tip
    panel.show_maps_inside_lungs("lungs-other")  # another lung model altogether
    assert OTHER_LUNGS_VERSION in panel.controls["cam"].toolTip()
    panel.stack.select_class(ClassSelector("pneumonia-kermany", 1, "pneumonia"))  # its entry has no variant
    assert panel.controls["gradcam"].toolTip().endswith(f"lung probability): {NO_LUNGS_VARIANT}")
    panel.show_maps_inside_lungs(None)  # its whole maps were measured, and still load
    assert "pointing game 0.20" in panel.controls["gradcam"].toolTip()


def test_a_model_with_other_weights_says_not_measured_for_this_version(qtbot):
    trust = MapTrust(sha_of=lambda model, folder: "0" * 64)
    panel = LayerPanel(trust=trust)
    qtbot.addWidget(panel)
    panel.stack.select_class(ClassSelector("opacity-rsna", 1, "opacity"))
    for kind in MAP_KINDS:
        tip = panel.controls[kind].toolTip()
        assert f"for opacity-rsna / opacity, {WHOLE_FILM}: {OTHER_VERSION}" in tip
        assert "pointing game" not in tip


def test_an_unmeasured_model_and_a_missing_table_say_so(qtbot, tmp_path):
    trust = MapTrust()
    assert trust.tooltip("crm", ClassSelector("my-own-model", 1, "finding")) == \
        "CRM for my-own-model / finding, drawn on the whole film: not measured for this model"
    missing = MapTrust(verdicts_path=tmp_path / "absent.json")
    assert missing.tooltip("cam", ClassSelector("opacity-rsna", 1, "opacity")) == \
        "CAM for opacity-rsna / opacity, drawn on the whole film: not measured (no localisation table installed)"
    assert missing.tooltip("cam", None) == NO_CLASS_TIP


def test_the_best_method_is_the_one_that_localises_as_the_maps_are_drawn(tmp_path):
    """Whole film, Grad-CAM localises and saliency does not; kept inside the lungs, the reverse: the
    default map follows the variant drawn, and an unmeasured lung model gives no best method."""
    saliency = {**OWN_ROW, "method": "saliency", "pointing": 0.15, "pointing_ci": [0.08, 0.22],
                "verdict": "does not localise"}
    table = {"models": {"opacity-rsna": {"weights_sha256": "W", "rows": [OWN_ROW, saliency], "inside_lungs": {
        "lungs_model": "lungs-unet", "lungs_weights_sha256": "L",
        "rows": [{**OWN_ROW, "pointing": 0.45, "pointing_ci": [0.34, 0.56], "chance": 0.41,
                  "verdict": "does not localise"},
                 {**saliency, "pointing": 0.60, "pointing_ci": [0.50, 0.70], "chance": 0.41, "verdict": "localises"}]}}}}
    path = tmp_path / "localisation.json"
    path.write_text(json.dumps(table), encoding="utf-8")
    shas = {"opacity-rsna": "W", "lungs-unet": "L", "lungs-new": "N"}
    trust = MapTrust(path, sha_of=lambda model, folder: shas.get(model))
    opacity = ClassSelector("opacity-rsna", 1, "opacity")
    assert trust.best_method(opacity) == "gradcam"
    assert trust.best_method(opacity, "lungs-unet") == "saliency"
    assert trust.best_method(opacity, "lungs-new") is None
