"""The class the maps explain by default: the finding that matters, never a negative class."""

from __future__ import annotations

from cxrviewer.analysis.findings import Finding
from cxrviewer.analysis.map_choice import default_heat_layer, default_map_class, is_negative


def finding(model, labels, probabilities, positive, rule="threshold") -> Finding:
    return Finding(model, labels, probabilities, positive, rule, 0.5 if rule == "threshold" else None, "CPU", 0.01)


OPACITY_NEGATIVE = finding("opacity-rsna", ("no_opacity", "opacity"), (0.8, 0.2), (0,))
OPACITY_POSITIVE = finding("opacity-rsna", ("no_opacity", "opacity"), (0.3, 0.7), (1,))
KERMANY3 = finding("pneumonia3-kermany", ("normal", "bacteria", "virus"), (0.1, 0.15, 0.75), (2,), "argmax")
KERMANY3_NORMAL = finding("pneumonia3-kermany", ("normal", "bacteria", "virus"), (0.9, 0.05, 0.05), (0,), "argmax")
TB_NEGATIVE = finding("tb-screen-shenzhen", ("normal", "tb"), (0.9, 0.1), (0,))


def test_a_negative_call_is_never_explained_by_default():
    """Issue 20: the demo's whole-film map explained opacity-rsna's 'no_opacity'."""
    assert default_map_class([OPACITY_NEGATIVE]) is None
    assert default_map_class([OPACITY_NEGATIVE, KERMANY3_NORMAL]) is None
    assert is_negative(OPACITY_NEGATIVE, 0) and not is_negative(OPACITY_NEGATIVE, 1)
    assert is_negative(KERMANY3, 0) and not is_negative(KERMANY3, 2)


def test_the_highest_positive_finding_is_explained():
    assert default_map_class([OPACITY_NEGATIVE, OPACITY_POSITIVE]) == ("opacity-rsna", 1)
    assert default_map_class([OPACITY_POSITIVE, KERMANY3]) == ("pneumonia3-kermany", 2)  # 0.75 > 0.7


def test_tb_screening_leads_whatever_its_call():
    assert default_map_class([OPACITY_POSITIVE, TB_NEGATIVE]) == ("tb-screen-shenzhen", 1)


def test_one_heat_map_by_default_the_findings_own_lesion_map_else_the_best_localising_method():
    """Issue 20: Grad-CAM and the TB lesion map were both on by default."""
    assert default_heat_layer("tb", {"tb_lesions", "opacity_lesions"}, "saliency") == "tb_lesions"
    assert default_heat_layer("tb", set(), "saliency") == "saliency"  # no TB lesion model here
    assert default_heat_layer("pneumonia", {"tb_lesions"}, "crm") == "crm"  # not the TB lesion map
    assert default_heat_layer("virus", set(), None) == "gradcam"  # none known to localise
    assert default_heat_layer(None, {"opacity_lesions", "tb_lesions"}, None) == "tb_lesions"
    assert default_heat_layer(None, set(), None) is None
