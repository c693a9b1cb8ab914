"""Display maths on arrays: the VOI / presentation pipeline (colour maps and compositing join later)."""

from cxrviewer.core.display.voi import (
    VOI_FUNCTIONS,
    apply_voi,
    apply_voi_lut,
    apply_window,
    default_window,
    full_range_window,
)

__all__ = [
    "VOI_FUNCTIONS",
    "apply_voi",
    "apply_voi_lut",
    "apply_window",
    "default_window",
    "full_range_window",
]
