"""Run a model card's safetensors weights with PyTorch, for a model whose ONNX file is missing.

torch and the nets are imported inside the functions, so the viewer starts (and runs ONNX models)
on an install without torch.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from cxrviewer.core.cards import ModelCard
from cxrviewer.core.errors import ConfigError, ModelError
from cxrviewer.runtime.backend import check_input
from cxrviewer.runtime.tiling import transform_any_size


def torch_available() -> bool:
    """Whether the fallback could run, without paying for importing torch just to ask."""
    return importlib.util.find_spec("torch") is not None


def build_network(card: ModelCard, weights: Path) -> Any:
    """The card's architecture with the weights in `weights` (safetensors), in eval mode."""
    from safetensors.torch import load_file

    from cxrviewer.nets import build

    params = dict(card.arch_params)
    try:
        net = build(card.arch, **params)
    except ConfigError as error:
        raise ModelError(card.name, f"cannot build architecture {card.arch!r}: {error}") from error
    state = load_file(str(weights))
    missing, unexpected = net.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ModelError(
            card.name,
            f"weights {weights.name} do not fit {card.arch}: missing {sorted(missing)[:3]}, "
            f"unexpected {sorted(unexpected)[:3]}",
        )
    return net.eval()


class TorchBackend:
    """The `Backend` protocol on PyTorch eager (CPU), from `<name>.safetensors` beside the card."""

    def __init__(self, card: ModelCard, model_dir: Path, threads: int | None = None):
        entry = card.file("weights")
        if entry is None:
            raise ModelError(card.name, "card lists no PyTorch weights")
        self.card = card
        self._threads = threads
        self._net = build_network(card, Path(model_dir) / entry.path)
        # A torch module is not safe to run from two threads with different thread settings.
        self._lock = threading.Lock()

    @property
    def provider(self) -> str:
        return "PyTorch CPU"

    def classify(
        self, x: npt.NDArray[np.float32]
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """x (N, C, H, W) float32 per the card → (logits (N, K) float32, features (N, F, h, w) float32)."""
        import torch

        self._require_classifier()
        check_input(self.card, x)
        with self._lock, torch.no_grad():
            self._set_threads()
            features = self._net.features(torch.from_numpy(x))
            logits = self._net.head(features)
        return logits.numpy(), features.numpy()

    def saliency(self, x: npt.NDArray[np.float32], class_index: int) -> npt.NDArray[np.float32]:
        """∂logit[class_index]/∂x by autograd; x (N, C, H, W) float32 → same shape float32."""
        import torch

        self._require_classifier()
        check_input(self.card, x)
        if not 0 <= class_index < len(self.card.labels):
            raise ModelError(self.card.name, f"class index {class_index} outside 0..{len(self.card.labels) - 1}")
        with self._lock:
            self._set_threads()
            image = torch.from_numpy(x.copy()).requires_grad_(True)
            self._net(image)[:, class_index].sum().backward()
        assert image.grad is not None
        return image.grad.numpy()

    def transform(self, image: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """(H, W) or (C, H, W) float32, any size → (C_out, H, W) float32 (tiled or resized per card)."""
        import torch

        def run(tile: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
            check_input(self.card, tile)
            with self._lock, torch.no_grad():
                self._set_threads()
                return self._net(torch.from_numpy(tile)).numpy()

        return transform_any_size(self.card, run, image)

    def _set_threads(self) -> None:
        if self._threads:
            import torch

            torch.set_num_threads(self._threads)

    def _require_classifier(self) -> None:
        if not self.card.is_classifier:
            raise ModelError(self.card.name, f"a {self.card.task} model has no logits; use transform")
