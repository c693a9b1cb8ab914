"""Whether a film's pixel spacing is believable for a chest radiograph (issue 20: the SIIM film's
spacing makes an adult chest 17 cm wide, so every mm the ruler gave was wrong by a third).

The film's width (columns × column spacing) is compared with what a chest film of that patient can
be: an adult's (12 years on, or of unknown age) 25–55 cm, a child's 10–55 cm. Outside that, every
length is labelled "spacing may not match this image"; inside, nothing is said.
"""

from __future__ import annotations

from cxrviewer.core.image import ImageMeta
from cxrviewer.core.suitability import patient_age

ADULT_WIDTH_CM = (25.0, 55.0)
CHILD_WIDTH_CM = (10.0, 55.0)
ADULT_FROM_YEARS = 12.0
DOUBT_TEXT = "spacing may not match this image"


def film_width_cm(meta: ImageMeta) -> float | None:
    if meta.pixel_spacing_mm is None or not meta.columns:
        return None
    return meta.columns * meta.pixel_spacing_mm[1] / 10.0


def spacing_doubt(meta: ImageMeta) -> str:
    """"" when the spacing is believable (or absent), else why it is not, in a reader's words."""
    width = film_width_cm(meta)
    if width is None:
        return ""
    age = patient_age(meta)
    low, high = CHILD_WIDTH_CM if age is not None and age.years < ADULT_FROM_YEARS else ADULT_WIDTH_CM
    if low <= width <= high:
        return ""
    return f"{DOUBT_TEXT}: it makes the film {width:.0f} cm wide"
