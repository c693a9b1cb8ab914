"""Display maths on arrays, no Qt: the VOI / presentation pipeline (`voi`), modality values indexed
once so windowing is a table lookup (`indexed_image`), the soft-tissue base under the same window
(`soft_tissue_base`), colour maps, map scales and compositing. Pure numpy, so the loader thread
and the exports use the same maths as the screen."""

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
