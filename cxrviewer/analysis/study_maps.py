"""One study through one classifier: the explanation maps on the image's own pixel grid.

This is where the runtime's outputs meet `core.maps`: the ONNX `logits`/`features`, the saliency
graph's input gradient and the card's head give raw maps in model space, which `core.maps.geometry`
takes back through the exact inverse of the preprocessing.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from cxrviewer import paths
from cxrviewer.analysis.model_input import model_input
from cxrviewer.core import maps
from cxrviewer.core.maps.geometry import FeatureGrid, to_image
from cxrviewer.core.preprocess import Geometry
from cxrviewer.runtime.backend import LoadedModel

Array = npt.NDArray[np.float32]


_HEADS_KEPT = 4
_heads: dict[tuple[str, str, str], maps.Head] = {}
_heads_lock = threading.Lock()


def model_head(loaded: LoadedModel, models_dir: Path | None = None) -> maps.Head:
    """The numpy head of a loaded classifier, cached per model folder, name and head checksum (so a
    re-exported model is never explained with stale weights); the oldest of more than 4 is dropped."""
    card = loaded.card
    entry = card.file("head")
    # The folder the model was loaded from knows its head; `models_dir` only for a model loaded elsewhere.
    folder = Path(models_dir) if models_dir is not None else (loaded.folder or paths.models_dir())
    key = (str(folder), card.name, entry.sha256 if entry else "")
    with _heads_lock:
        head = _heads.get(key)
        if head is None:
            head = maps.head_from_card(card, folder)
            while len(_heads) >= _HEADS_KEPT:
                _heads.pop(next(iter(_heads)))
            _heads[key] = head
        return head


def model_space_maps(
    loaded: LoadedModel,
    x: Array,
    methods: Sequence[str],
    *,
    class_index: int | None = None,
    models_dir: Path | None = None,
) -> tuple[dict[str, Array], Array]:
    """x (C, H, W) float32 model input → ({method: raw map in model space}, logits (classes,)).

    methods: any of "saliency", "gradcam", "cam", "crm". CAM is skipped (absent from the result) for
    a head that is not GAP → linear, where it is undefined.
    """
    head = model_head(loaded, models_dir)
    logits, features = loaded.backend.classify(x[None])
    feature_map = features[0]
    c = int(np.argmax(logits[0])) if class_index is None else class_index
    out: dict[str, Array] = {}
    for method in methods:
        if method == "saliency":
            out[method] = maps.saliency(loaded.backend.saliency(x[None], c)[0])
        elif method == "gradcam":
            out[method] = maps.gradcam(feature_map, head, c)
        elif method == "cam" and head.is_gap_linear:
            out[method] = maps.cam(feature_map, head, c)
        elif method == "crm":
            out[method] = maps.crm(feature_map, head)
    return out, logits[0]


def to_image_grid(model_maps: dict[str, Array], geometry: Geometry, grid: FeatureGrid | None = None) -> dict[str, Array]:
    """Every model-space map → (H, W) float32 on the image grid."""
    return {method: to_image(values, geometry, grid) for method, values in model_maps.items()}


def compute_study_maps(
    loaded: LoadedModel,
    pixels: Array,
    methods: Sequence[str],
    *,
    class_index: int | None = None,
    models_dir: Path | None = None,
    grid: FeatureGrid | None = None,
) -> dict[str, Array]:
    """pixels (H, W) float32 [0, 1] display polarity → {method: (H, W) float32 raw map}."""
    x, geometry = model_input(loaded, pixels)
    model_maps, _ = model_space_maps(loaded, x, methods, class_index=class_index, models_dir=models_dir)
    return to_image_grid(model_maps, geometry, grid)
