"""Run a model card's ONNX graphs with onnxruntime.

A backend builds its main session when it is made and its saliency session on first use, and keeps
both: models are loaded once per version of their files (`runtime.model_cache`), so the viewer,
`analyze` and the workers share one session per graph. onnxruntime's `run` is thread-safe; a lock
makes sure two threads never build the same saliency session twice.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from cxrviewer.core.cards import ModelCard
from cxrviewer.core.errors import ModelError
from cxrviewer.runtime.backend import check_input
from cxrviewer.runtime.providers import (
    SALIENCY_DISABLED_OPTIMIZERS,
    choose_providers,
    provider_label,
    session_options,
)
from cxrviewer.runtime.tiling import transform_any_size

INPUT = "image"
ONEHOT = "class_onehot"


def build_session(
    path: Path,
    providers: Sequence[str],
    intra_op_threads: int = 0,
    *,
    model: str = "",
    disabled_optimizers: Sequence[str] = (),
) -> ort.InferenceSession:
    """An InferenceSession for the graph at `path`; ModelError naming the model when it cannot load.

    `disabled_optimizers` names onnxruntime graph transformers not to apply (see
    `SALIENCY_DISABLED_OPTIMIZERS`).
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(model or path, f"ONNX file {path} is not readable")
    try:
        return ort.InferenceSession(
            str(path),
            sess_options=session_options(intra_op_threads),
            providers=list(providers),
            disabled_optimizers=list(disabled_optimizers),
        )
    except Exception as error:  # onnxruntime raises its own untyped exceptions
        raise ModelError(model or path, f"onnxruntime cannot load {path.name}: {error}") from error


def check_graph(card: ModelCard, session: ort.InferenceSession, file_name: str) -> None:
    """Refuse a graph whose inputs or outputs disagree with the card (an edited input size, another
    model's graph, a different number of labels) with a ModelError naming the model, before any
    onnxruntime shape error can surface as a traceback. Symbolic dimensions ("batch") match anything."""
    contract = card.input
    expected_image = (contract.channels, contract.height, contract.width)
    inputs = {i.name: i.shape for i in session.get_inputs()}
    outputs = {o.name: o.shape for o in session.get_outputs()}

    def refuse(problem: str) -> ModelError:
        return ModelError(card.name, f"graph {file_name} does not match its card: {problem}")

    def agrees(shape: Sequence, wanted: Sequence[int]) -> bool:
        return len(shape) == len(wanted) and all(not isinstance(d, int) or w < 0 or d == w
                                                  for d, w in zip(shape, wanted, strict=True))

    if INPUT not in inputs:
        raise refuse(f"it has no input {INPUT!r} (inputs: {', '.join(inputs)})")
    # Image-to-image models are tiled or resized to the card's working size, so it must match too.
    if not agrees(inputs[INPUT], (-1, *expected_image)):
        raise refuse(f"it takes {_dims(inputs[INPUT])}, the card says (N, {', '.join(map(str, expected_image))})")
    labels = len(card.labels)
    if ONEHOT in inputs:  # the saliency graph
        wanted = {"saliency": (-1, *expected_image)}
        if not agrees(inputs[ONEHOT], (-1, labels)):
            raise refuse(f"its class input is {_dims(inputs[ONEHOT])} for {labels} labels")
    elif card.is_classifier:
        wanted = {"logits": (-1, labels), "features": (-1, -1, -1, -1)}
    else:
        wanted = {"output": (-1, labels, -1, -1)}
    for name, shape in wanted.items():
        if name not in outputs:
            raise refuse(f"it has no output {name!r} (outputs: {', '.join(outputs)})")
        if not agrees(outputs[name], shape):
            what = f"{labels} labels" if name in ("logits", "output") else "the card"
            raise refuse(f"its output {name!r} is {_dims(outputs[name])}, which does not fit {what}")


def _dims(shape: Sequence) -> str:
    return "(" + ", ".join(str(d) if isinstance(d, int) else "N" for d in shape) + ")"


class OnnxBackend:
    """The `Backend` protocol on onnxruntime, for the model described by `card` in `model_dir`."""

    def __init__(
        self,
        card: ModelCard,
        model_dir: Path,
        providers: Sequence[str] | None = None,
        intra_op_threads: int = 0,
    ):
        entry = card.file("onnx")
        if entry is None:
            raise ModelError(card.name, "card lists no ONNX file")
        self.card = card
        self.model_dir = Path(model_dir)
        self._threads = intra_op_threads
        self._providers = list(providers) if providers is not None else choose_providers()
        self._main = build_session(self.model_dir / entry.path, self._providers, intra_op_threads, model=card.name)
        check_graph(card, self._main, entry.path)
        self._saliency: ort.InferenceSession | None = None
        self._saliency_lock = threading.Lock()

    @property
    def provider(self) -> str:
        return provider_label(self._main.get_providers())

    def classify(
        self, x: npt.NDArray[np.float32]
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """x (N, C, H, W) float32 per the card → (logits (N, K) float32, features (N, F, h, w) float32)."""
        self._require_classifier()
        check_input(self.card, x)
        logits, features = self._main.run(["logits", "features"], {INPUT: x})
        return logits, features

    def saliency(self, x: npt.NDArray[np.float32], class_index: int) -> npt.NDArray[np.float32]:
        """∂logit[class_index]/∂x by the exported gradient graph; x (N, C, H, W) float32 → same shape."""
        self._require_classifier()
        check_input(self.card, x)
        classes = len(self.card.labels)
        if not 0 <= class_index < classes:
            raise ModelError(self.card.name, f"class index {class_index} outside 0..{classes - 1}")
        if self.card.saliency_file is None:
            raise ModelError(self.card.name, "card has no saliency graph")
        session = self._saliency_session()
        onehot = np.zeros((1, classes), np.float32)
        onehot[0, class_index] = 1.0
        # The gradient graph is traced at batch 1.
        return np.concatenate(
            [session.run(["saliency"], {INPUT: x[i : i + 1], ONEHOT: onehot})[0] for i in range(len(x))]
        )

    def _saliency_session(self) -> ort.InferenceSession:
        with self._saliency_lock:
            if self._saliency is None:
                session = build_session(self.model_dir / self.card.saliency_file, self._providers, self._threads,
                                        model=self.card.name, disabled_optimizers=SALIENCY_DISABLED_OPTIMIZERS)
                check_graph(self.card, session, self.card.saliency_file)
                self._saliency = session
            return self._saliency

    def transform(self, image: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """(H, W) or (C, H, W) float32, any size → (C_out, H, W) float32 (tiled or resized per card)."""

        def run(tile: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
            check_input(self.card, tile)
            return self._main.run(["output"], {INPUT: tile})[0]

        return transform_any_size(self.card, run, image)

    def _require_classifier(self) -> None:
        if not self.card.is_classifier:
            raise ModelError(self.card.name, f"a {self.card.task} model has no logits; use transform")
