"""The one interface the viewer, `analyze` and the tests run models through.

Two implementations: `OnnxBackend` (onnxruntime, the normal path) and `TorchBackend` (PyTorch on the
exported safetensors weights, for a model whose ONNX file is missing). Both take and return numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from cxrviewer import paths
from cxrviewer.core import maps
from cxrviewer.core.cards import ModelCard
from cxrviewer.core.errors import ModelError
from cxrviewer.core.signing import Trust

# Values this far outside the contract's range mean the caller skipped or doubled the scaling
# (0..255 given to a [0, 1] model), not rounding.
RANGE_SLACK = 1e-3


class Backend(Protocol):
    card: ModelCard

    @property
    def provider(self) -> str:
        """What runs the model, for the UI: "CUDA", "CPU" (onnxruntime) or "PyTorch CPU"."""
        ...

    def classify(
        self, x: npt.NDArray[np.float32]
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """x (N, C, H, W) float32 per the card's input contract → (logits (N, K), features (N, F, h, w)).

        Logits are raw (no softmax/sigmoid); features are the last conv feature map.
        """
        ...

    def saliency(self, x: npt.NDArray[np.float32], class_index: int) -> npt.NDArray[np.float32]:
        """∂logit[class_index]/∂x: x (N, C, H, W) float32 → gradient of the same shape, float32."""
        ...

    def transform(self, image: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Image-to-image: (H, W) or (C, H, W) float32, ANY H and W → (C_out, H, W) float32."""
        ...


def check_input(card: ModelCard, array: npt.NDArray[Any], *, any_size: bool = False) -> None:
    """Refuse a model tensor that does not meet the card's input contract (every backend calls this).

    array: (N, C, H, W) float32 within card.input.value_range. With `any_size` (image-to-image
        models after tiling is decided) only N, C, dtype and range are checked.
    """
    contract = card.input
    expected = f"(N, {contract.channels}, {contract.height}, {contract.width}) float32"
    if not isinstance(array, np.ndarray):
        raise ModelError(card.name, f"input must be a numpy array {expected}, not {type(array).__name__}")
    if array.dtype != np.float32:
        raise ModelError(card.name, f"input dtype is {array.dtype}; expected {expected}")
    if array.ndim != 4 or array.shape[0] < 1:
        raise ModelError(card.name, f"input shape is {array.shape}; expected {expected}")
    if array.shape[1] != contract.channels:
        raise ModelError(
            card.name, f"input has {array.shape[1]} channels; the model takes {contract.channels} ({expected})"
        )
    if not any_size and array.shape[2:] != (contract.height, contract.width):
        raise ModelError(
            card.name, f"input is {array.shape[2]}x{array.shape[3]} pixels; the model takes {expected}"
        )
    if not np.isfinite(array).all():
        raise ModelError(card.name, "input contains NaN or infinite values")
    low, high = contract.value_range
    if array.min() < low - RANGE_SLACK or array.max() > high + RANGE_SLACK:
        raise ModelError(
            card.name,
            f"input values span [{array.min():.4g}, {array.max():.4g}] but the model takes [{low:g}, {high:g}] "
            f"({contract.scaling} scaling)",
        )


@dataclass(frozen=True)
class LoadedModel:
    """A verified card, the backend that runs it, the provider label to show the reader, and whether
    the release signed it (`Trust.label` is what findings, worklist and reports say of its origin).
    Loaded once per version of its files by `runtime.model_cache.cached_model`."""

    card: ModelCard
    backend: Backend
    provider: str
    trust: Trust = Trust(signed=False, digest="")
    folder: Path | None = None  # the models folder it was loaded from (its lung model crops its input)

    @cached_property
    def head(self) -> maps.Head:
        """A classifier's numpy head (Grad-CAM, CAM, CRM), read once from the files the card was
        verified with, so it lives and is dropped with the model (`runtime.model_cache`)."""
        return maps.head_from_card(self.card, self.folder if self.folder is not None else paths.models_dir())
