"""One study through one classifier: the explanation maps on the image's own pixel grid.

This is where the runtime's outputs meet `core.maps`: the forward pass's `features` (the same pass
that gave the finding, `analysis.findings.forward_pass`), the saliency graph's input gradient and the
model's numpy head give raw maps in model space, which `core.maps.geometry` takes back through the
exact inverse of the preprocessing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from cxrviewer.analysis.findings import ForwardPass, forward_pass
from cxrviewer.core import maps
from cxrviewer.core.errors import ModelError
from cxrviewer.core.maps.geometry import FeatureGrid, to_image
from cxrviewer.core.preprocess import Geometry
from cxrviewer.runtime.backend import LoadedModel

Array = npt.NDArray[np.float32]

MAP_METHODS = ("saliency", "gradcam", "cam", "crm")


def model_space_maps(loaded: LoadedModel, x: Array, features: Array, methods: Sequence[str],
                     class_index: int) -> dict[str, Array]:
    """x (C, H, W) float32 model input and its features (F, h, w) → {method: raw map in model space}.

    methods: any of MAP_METHODS. CAM is skipped (absent from the result) for a head that is not
    GAP → linear, where it is undefined. Saliency is the one method that needs another pass (the
    gradient graph); the others read the features.
    """
    head = loaded.head
    out: dict[str, Array] = {}
    for method in methods:
        if method == "saliency":
            out[method] = maps.saliency(loaded.backend.saliency(x[None], class_index)[0])
        elif method == "gradcam":
            out[method] = maps.gradcam(features, head, class_index)
        elif method == "cam" and head.is_gap_linear:
            out[method] = maps.cam(features, head, class_index)
        elif method == "crm":
            out[method] = maps.crm(features, head)
    return out


def to_image_grid(model_maps: dict[str, Array], geometry: Geometry, grid: FeatureGrid | None = None) -> dict[str, Array]:
    """Every model-space map → (H, W) float32 on the image grid."""
    return {method: to_image(values, geometry, grid) for method, values in model_maps.items()}


def maps_of_pass(loaded: LoadedModel, forward: ForwardPass, methods: Sequence[str], class_index: int,
                 grid: FeatureGrid | None = None) -> dict[str, Array]:
    """{method: (H, W) float32 raw map on the study's grid} explaining `class_index`, from a forward
    pass already made. Raises ModelError for a class the card does not have."""
    card = loaded.card
    if not 0 <= class_index < len(card.labels):
        raise ModelError(card.name, f"has no class {class_index} (labels: {', '.join(card.labels)})")
    model_maps = model_space_maps(loaded, forward.x, forward.features, methods, class_index)
    return to_image_grid(model_maps, forward.geometry, grid)


def compute_study_maps(loaded: LoadedModel, pixels: Array, methods: Sequence[str], *, class_index: int | None = None,
                       grid: FeatureGrid | None = None) -> dict[str, Array]:
    """pixels (H, W) float32 [0, 1] display polarity → {method: (H, W) float32 raw map}, explaining
    `class_index` (default the most probable class), with a forward pass of its own."""
    forward = forward_pass(loaded, np.asarray(pixels, dtype=np.float32))
    index = int(np.argmax(forward.logits)) if class_index is None else class_index
    return maps_of_pass(loaded, forward, methods, index, grid)
