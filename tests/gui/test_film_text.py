"""Issue 20, item 8: the film carries its safety text: who, when, how it is displayed, the patient's
side at each edge (following flips and turns) and badges when it is not shown as acquired."""

from __future__ import annotations

import pytest

from cxrviewer import paths
from cxrviewer.core.film_text import SOFT_TISSUE_BADGE, edge_letters, film_text
from cxrviewer.core.image import ImageMeta, WindowPreset
from cxrviewer.core.io import read_image
from cxrviewer.core.orientation import Orientation

DICOM = paths.install_root().parent / "shared" / "data" / "dicom"


def meta(orientation: str = "['L', 'F']") -> ImageMeta:
    tags = (("(0020,0020)", "Patient Orientation", "CS", orientation),
            ("(0010,0040)", "Patient's Sex", "CS", "F"),
            ("(0010,1010)", "Patient's Age", "AS", "081Y"),
            ("(0018,5101)", "View Position", "CS", "PA"))
    return ImageMeta(paths.install_root(), "DICOM", modality="DX", patient_name="DOE^JANE^Q",
                     patient_id="P1", study_date="20240131", tags=tags)


@pytest.mark.parametrize(("orientation", "edges"), [
    (Orientation(), {"left": "R", "right": "L", "top": "H", "bottom": "F"}),  # a PA chest as acquired
    (Orientation(0, True), {"left": "L", "right": "R", "top": "H", "bottom": "F"}),
    (Orientation(90), {"left": "F", "right": "H", "top": "R", "bottom": "L"}),
    (Orientation(180), {"left": "L", "right": "R", "top": "F", "bottom": "H"}),
    (Orientation(0, False, True), {"left": "R", "right": "L", "top": "F", "bottom": "H"}),
])
def test_edge_letters_follow_flips_and_turns(orientation, edges):
    assert edge_letters(meta(), orientation) == edges
    assert edge_letters(meta("L\\F"), orientation) == edges  # the other way the value is written


def test_no_letters_without_a_readable_patient_orientation():
    assert edge_letters(meta(""), Orientation()) is None and edge_letters(meta("['X', 'F']"), Orientation()) is None


def test_corners_and_badges():
    text = film_text(meta(), Orientation(0, True), window=WindowPreset(128, 256, "LUNG"), zoom=1.5, soft_tissue=True)
    assert text.top_left == ("DOE, JANE Q", "ID P1", "81 Y, F")
    assert text.top_right == ("2024-01-31", "DX PA")
    assert text.bottom_left == ("W 256  C 128  (LUNG)", "zoom 1.50×")
    assert text.bottom_right == (SOFT_TISSUE_BADGE, "FLIPPED: mirrored left-right")
    assert film_text(meta(), Orientation(90)).bottom_right == ("ROTATED: rotated 90 degrees clockwise",)
    assert film_text(meta(), Orientation()).bottom_right == ()


def test_the_canvas_shows_the_text_and_follows_a_flip(viewer, qtbot):
    viewer.show()
    with qtbot.waitSignal(viewer.session.current_ready, timeout=15000):
        viewer.open_paths([paths.demo_study()])
    overlay = viewer.canvas.film_text
    assert overlay.labels["top_left"].isVisible() and "DEMO, PHANTOM" in overlay.labels["top_left"].text()
    left = overlay.letters["left"].text()
    assert left and not overlay.labels["bottom_right"].isVisible()
    viewer.actions_by_name["flip_horizontal"].trigger()
    assert overlay.letters["right"].text() == left and overlay.labels["bottom_right"].isVisible()
    assert overlay.labels["bottom_right"].text().startswith("FLIPPED")
    viewer.actions_by_name["toggle_film_text"].trigger()  # key A: the film's corners bare
    assert not any(label.isVisible() for label in (*overlay.labels.values(), *overlay.letters.values()))
    viewer.actions_by_name["toggle_film_text"].trigger()
    assert overlay.labels["top_left"].isVisible()
    x, _ = overlay.labels["bottom_right"].pos().toTuple()
    assert x + overlay.labels["bottom_right"].width() <= viewer.canvas.viewport().width()


@pytest.mark.skipif(not DICOM.is_dir(), reason="the shared chest DICOMs are not beside the project")
def test_the_shared_nih_film_shows_its_bare_age_as_years():
    text = film_text(read_image(DICOM / "nih_cxr14_DX_nofinding_implicitLE_mono2.dcm").meta, Orientation())
    assert "81 Y, M" in text.top_left
