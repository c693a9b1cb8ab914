"""A study's pixels as one classifier's input tensor, the one way for findings and maps alike.

Most contracts resize the whole film. A `lung_crop` contract (the TB screening classifier) crops to
the lungs first, as in its training: the installed lung model marks them on the study's own grid and
`core.lung_mask.lung_crop_box` draws the box. Without a lung model such a classifier cannot run, and
says so; its maps are mapped back from the box onto the whole film by the returned Geometry.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from cxrviewer.core.errors import ModelError
from cxrviewer.core.lung_mask import lung_crop_box
from cxrviewer.core.preprocess import Geometry, prepare
from cxrviewer.runtime.backend import LoadedModel

Array = npt.NDArray[np.float32]


def model_input(loaded: LoadedModel, pixels: Array, lungs: Array | None = None) -> tuple[Array, Geometry]:
    """pixels (H, W) float32 [0, 1], air dark → ((C, h, w) model input, its Geometry on the study).
    lungs: the study's P(lung) when already computed (a lung-cropped contract needs it; without it
    the installed lung model runs here)."""
    contract = loaded.card.input
    box = None
    if contract.needs_lung_box:
        if lungs is None:
            lungs = study_lungs(loaded.card.name, pixels, loaded.folder)
        box = lung_crop_box(lungs, contract.lung_margin)
    return prepare(pixels, contract, crop_box=box)


def study_lungs(model: str, pixels: Array, folder: Path | None) -> Array:
    """P(lung) of `pixels` by the lung model installed beside classifier `model`."""
    from cxrviewer.analysis.installed import installed_model
    from cxrviewer.analysis.pipeline import lung_probability, model_roles

    lungs = model_roles(folder).lungs
    if lungs is None:
        raise ModelError(model, "its input is cropped to the lungs, and no lung segmentation model is installed "
                                f"in {folder} to find them")
    return lung_probability(installed_model(lungs, folder), pixels)
