"""Each map layer's tooltip says whether that method localises, for the model and class it explains now,
with the shipped held-out figures (resources/localisation.json) for the installed weights."""

from __future__ import annotations

import json

import pytest
from layer_support import shown_harness

from cxrviewer import paths
from cxrviewer.analysis.localisation_verdicts import OTHER_VERSION, installed_weights_sha256
from cxrviewer.core.layers import MAP_KINDS, ClassSelector
from cxrviewer.gui.layer_panel import LayerPanel
from cxrviewer.gui.map_trust import NO_CLASS_TIP, MapTrust

TABLE = json.loads(paths.resource("localisation.json").read_text(encoding="utf-8"))
SHORT = {"rsna_pneumonia": "RSNA", "tbx11k_tb": "TBX11K"}


def shipped_row(model: str, label: str, method: str, dataset: str) -> dict:
    entry = TABLE["models"][model]
    if entry["weights_sha256"] != installed_weights_sha256(model):
        pytest.skip(f"{model} was re-shipped since resources/localisation.json: run scripts/localisation_table.py")
    return next(r for r in entry["rows"] if (r["label"], r["method"], r["dataset"]) == (label, method, dataset))


def expected_line(title: str, model: str, label: str, row: dict) -> str:
    low, high = row["pointing_ci"]
    meaning = ("localises: its peak falls in the boxed finding more often than chance" if row["verdict"] == "localises"
               else "does not localise: do not read it as where the finding is")
    return (f"{title} for {model} / {label}: pointing game {row['pointing']:.2f} (95 % CI {low:.2f}–{high:.2f}) "
            f"on {row['n']} held-out boxed {SHORT[row['dataset']]} films; chance {row['chance']:.2f} — {meaning}")


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
    assert controls["gradcam"].toolTip() == ("Grad-CAM for tb-screen-shenzhen / normal: not measured for this class "
                                             "(no held-out boxes mark its finding)")


def test_a_model_with_other_weights_says_not_measured_for_this_version(qtbot):
    trust = MapTrust(sha_of=lambda model, folder: "0" * 64)
    panel = LayerPanel(trust=trust)
    qtbot.addWidget(panel)
    panel.stack.select_class(ClassSelector("opacity-rsna", 1, "opacity"))
    for kind in MAP_KINDS:
        tip = panel.controls[kind].toolTip()
        assert f"for opacity-rsna / opacity: {OTHER_VERSION}" in tip
        assert "pointing game" not in tip


def test_an_unmeasured_model_and_a_missing_table_say_so(qtbot, tmp_path):
    trust = MapTrust()
    assert trust.tooltip("crm", ClassSelector("my-own-model", 1, "finding")) == \
        "CRM for my-own-model / finding: not measured for this model"
    missing = MapTrust(verdicts_path=tmp_path / "absent.json")
    assert missing.tooltip("cam", ClassSelector("opacity-rsna", 1, "opacity")) == \
        "CAM for opacity-rsna / opacity: not measured (no localisation table installed)"
    assert missing.tooltip("cam", None) == NO_CLASS_TIP
