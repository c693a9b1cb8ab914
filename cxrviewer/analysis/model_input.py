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
from cxrviewer.core.preprocess import Geometry, InputContract, model_contract, prepare
from cxrviewer.runtime.backend import LoadedModel

Array = npt.NDArray[np.float32]


def model_input(loaded: LoadedModel, pixels: Array) -> tuple[Array, Geometry]:
    """pixels (H, W) float32 [0, 1], air dark → ((C, h, w) model input, its Geometry on the study)."""
    contract = model_contract(loaded.card.input)
    box = study_lung_box(loaded.card.name, contract, pixels, loaded.folder) if contract.needs_lung_box else None
    return prepare(pixels, contract, crop_box=box)


def study_lung_box(model: str, contract: InputContract, pixels: Array, folder: Path | None) -> tuple[int, int, int, int]:
    """The lung box of `pixels` by the lung model installed beside classifier `model`."""
    from cxrviewer.analysis.findings import installed_model
    from cxrviewer.analysis.pipeline import lung_probability, model_roles

    lungs = model_roles(folder).lungs
    if lungs is None:
        raise ModelError(model, "its input is cropped to the lungs, and no lung segmentation model is installed "
                                f"in {folder} to find them")
    probability = lung_probability(installed_model(lungs, folder), pixels)
    return lung_crop_box(probability, contract.lung_margin)
