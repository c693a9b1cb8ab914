"""What is written on the film: the corner annotations, the orientation letters at its edges and the
badges that say the film is not shown as acquired (issue 20, item 8).

As Weasis and RadiAnt lay them out: top left who (name, ID, age and sex), top right what and when
(date, modality and view, body part), bottom left how it is displayed (window, zoom), bottom right
the badges (SOFT-TISSUE when the bone-suppressed image is the base, and the turn when the film is
mirrored or rotated). The letters at the four edges name the patient's side each edge faces, from
the file's Patient Orientation (0020,0020) carried through the reader's flips and turns
(`core.orientation`); without it no letter is drawn, since a guessed side is worse than none.
Qt-free: the canvas draws the strings (`gui.film_text_overlay`).
"""

from __future__ import annotations

from dataclasses import dataclass

from cxrviewer.core.image import ImageMeta, WindowPreset
from cxrviewer.core.orientation import Orientation, opposite_side
from cxrviewer.core.suitability import patient_age

PATIENT_ORIENTATION_TAG = "(0020,0020)"
PATIENT_SEX_TAG = "(0010,0040)"
VIEW_POSITION_TAG = "(0018,5101)"
BODY_PART_TAG = "(0018,0015)"
SOFT_TISSUE_BADGE = "SOFT-TISSUE (bone-suppressed model output)"


@dataclass(frozen=True)
class FilmText:
    top_left: tuple[str, ...] = ()
    top_right: tuple[str, ...] = ()
    bottom_left: tuple[str, ...] = ()
    bottom_right: tuple[str, ...] = ()  # the badges
    edges: dict[str, str] | None = None  # "left", "right", "top", "bottom" → patient side letters


def display_date(text: str) -> str:
    """A DICOM date "YYYYMMDD" as "YYYY-MM-DD"; anything else as it is."""
    text = text.strip()
    return f"{text[:4]}-{text[4:6]}-{text[6:8]}" if len(text) == 8 and text.isdigit() else text


def display_name(text: str) -> str:
    """DICOM Person Name "FAMILY^GIVEN^MIDDLE" in the usual "FAMILY, Given Middle" order."""
    family, _, rest = text.partition("^")
    given = " ".join(part for part in rest.split("^")[:2] if part)
    return f"{family}, {given}" if given else family


def edge_letters(meta: ImageMeta, orientation: Orientation) -> dict[str, str] | None:
    """The patient side each screen edge faces, or None when the file does not say (no or an
    unreadable Patient Orientation)."""
    # The tag browser's text of a multi-valued CS: "['L', 'F']" (pydicom's MultiValue) or "L\\F".
    text = meta.tag_value(PATIENT_ORIENTATION_TAG).translate(str.maketrans("[]',\"\\", "      "))
    values = text.split()
    turned = orientation.patient_orientation(values) if values else None
    if turned is None:
        return None
    right, bottom = turned  # the view's rows run towards `right`, its columns towards `bottom`
    return {"left": opposite_side(right), "right": right, "top": opposite_side(bottom), "bottom": bottom}


def film_text(meta: ImageMeta, orientation: Orientation, *, window: WindowPreset | None = None,
              zoom: float | None = None, soft_tissue: bool = False) -> FilmText:
    age = patient_age(meta)
    sex = meta.tag_value(PATIENT_SEX_TAG)
    age_sex = ", ".join(part for part in (f"{age.count} {age.unit}" if age else "", sex) if part)
    who = tuple(line for line in (display_name(meta.patient_name), meta.patient_id and f"ID {meta.patient_id}", age_sex)
                if line)
    what = " ".join(part for part in (meta.modality, meta.tag_value(VIEW_POSITION_TAG)) if part)
    when = tuple(line for line in (display_date(meta.study_date), what, meta.tag_value(BODY_PART_TAG)) if line)
    how = []
    if window is not None:
        how.append(f"W {window.width:g}  C {window.center:g}" + (f"  ({window.name})" if window.name else ""))
    if zoom is not None:
        how.append(f"zoom {zoom:.2f}×")
    badges = [SOFT_TISSUE_BADGE] if soft_tissue else []
    if not orientation.is_identity:
        kind = "FLIPPED" if orientation.canonical().flip_h else "ROTATED"
        badges.append(f"{kind}: {orientation.describe()}")
    return FilmText(who, when, tuple(how), tuple(badges), edge_letters(meta, orientation))
