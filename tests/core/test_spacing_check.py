"""A pixel spacing that makes a chest film implausibly small or large is flagged (issue 20)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cxrviewer import paths
from cxrviewer.core.image import ImageMeta
from cxrviewer.core.io import read_image
from cxrviewer.core.spacing_check import DOUBT_TEXT, film_width_cm, spacing_doubt
from cxrviewer.core.viewstate import Ruler, ruler_label

SIIM = paths.install_root().parent / "shared" / "data" / "dicom" / "siim_pneumothorax_CR_chest_PA_jpegbaseline_mono2.dcm"


def meta(columns: int, spacing: float | None, age: str = "") -> ImageMeta:
    tags = (("(0010,1010)", "Patient's Age", "AS", age),) if age else ()
    return ImageMeta(Path("x.dcm"), "DICOM", columns=columns, rows=columns,
                     pixel_spacing_mm=None if spacing is None else (spacing, spacing), tags=tags)


@pytest.mark.parametrize(("columns", "spacing", "age", "doubted"), [
    (2500, 0.143, "045Y", False),  # 35.8 cm: an adult chest film
    (1024, 0.168, "062Y", True),  # 17.2 cm for an adult: the SIIM film's case
    (1024, 0.168, "004Y", False),  # the same width for a four-year-old is a child's film
    (1024, 0.168, "", True),  # unknown age: read as an adult's
    (3000, 0.3, "", True),  # 90 cm: no chest film is that wide
    (1024, None, "", False),  # no spacing, nothing to doubt
])
def test_the_film_width_decides(columns, spacing, age, doubted):
    assert bool(spacing_doubt(meta(columns, spacing, age))) == doubted


def test_the_ruler_says_so():
    ruler = Ruler(0, 0, 100, 0)
    assert ruler_label(ruler, (0.168, 0.168), False, DOUBT_TEXT) == f"16.8 mm ({DOUBT_TEXT})"
    assert ruler_label(ruler, (0.168, 0.168), False) == "16.8 mm"


@pytest.mark.skipif(not SIIM.is_file(), reason="the shared SIIM film is not beside the project")
def test_the_shared_siim_film_is_flagged():
    study = read_image(SIIM).meta
    assert film_width_cm(study) == pytest.approx(17.2, abs=0.05)
    assert spacing_doubt(study) == f"{DOUBT_TEXT}: it makes the film 17 cm wide"
