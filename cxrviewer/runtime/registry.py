"""Find installed models and load one with the best backend that can run it.

ONNX when its graphs are present (and, like every file, match their checksums); otherwise PyTorch
when torch is installed and the safetensors weights are present. A file that is present but altered
is always refused, never worked around: only an absent ONNX file falls back to PyTorch.

Before any of that, a model that carries a signature must verify against the release key
(`core.signing`): its card and every present file as shipped. A model without one is a reader's own,
trained on this workstation, and is labelled so (`Trust.label`). The graph's inputs and outputs are
checked against the card when its session is built (`onnx_backend.check_graph`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from cxrviewer import paths
from cxrviewer.core.cards import CARD_SUFFIX, ModelCard, card_path, load_card
from cxrviewer.core.errors import ModelError
from cxrviewer.core.signing import Trust, verify_card_files, verify_model
from cxrviewer.runtime.backend import LoadedModel
from cxrviewer.runtime.onnx_backend import OnnxBackend
from cxrviewer.runtime.providers import choose_providers, provider_label
from cxrviewer.runtime.torch_backend import TorchBackend, torch_available

log = logging.getLogger(__name__)

ONNX_ROLES = ("onnx", "saliency_onnx")


@dataclass(frozen=True)
class ModelStatus:
    """One installed model as `cxrviewer models` lists it: its card if readable, and whether it runs."""

    name: str
    card_path: Path
    card: ModelCard | None
    status: str  # "ok", "ok (PyTorch: no ONNX file)", or the refusal message
    provider: str  # what would run it: "CPU", "CUDA", "PyTorch CPU" or "-"
    trust: Trust | None = None  # None when refused

    @property
    def refused(self) -> bool:
        return self.trust is None


def installed_models(models_dir: Path | None = None) -> list[str]:
    """Names of the cards in `models_dir` (default `paths.models_dir()`), sorted."""
    folder = Path(models_dir) if models_dir is not None else paths.models_dir()
    if not folder.is_dir():
        return []
    return sorted(p.name.removesuffix(CARD_SUFFIX) for p in folder.glob(f"*{CARD_SUFFIX}"))


def _choose(card: ModelCard, folder: Path, trust: Trust) -> str:
    """"onnx" or "torch" after verifying every present file; raises ModelError when neither can run.
    A signed model's files were just hashed against its signature, which lists the card's own sums:
    only their presence is checked again, so start-up hashes each file once."""
    missing = {entry.role for entry in verify_card_files(card, folder, missing_ok=(*ONNX_ROLES, "weights"),
                                                         hashed=trust.signed)}
    has_onnx = card.file("onnx") is not None and not missing & set(ONNX_ROLES)
    if has_onnx:
        return "onnx"
    has_weights = card.file("weights") is not None and "weights" not in missing
    if has_weights and torch_available():
        return "torch"
    absent = ", ".join(sorted(missing)) or "no ONNX listed"
    if has_weights:
        raise ModelError(card.name, f"ONNX files absent ({absent}) and PyTorch is not installed for the fallback")
    raise ModelError(card.name, f"ONNX files absent ({absent}) and no PyTorch weights to fall back on")


def load_model(name: str, models_dir: Path | None = None, *, intra_op_threads: int = 0) -> LoadedModel:
    """Verify the card `name` and its files, and wrap it in the backend that will run it."""
    folder = Path(models_dir) if models_dir is not None else paths.models_dir()
    path = card_path(folder, name)
    if not path.is_file():
        known = ", ".join(installed_models(folder)) or "none"
        raise ModelError(name, f"no card {path.name} in {folder} (installed: {known})")
    card = load_card(path, verify_files=False)
    trust = verify_model(card, folder, missing_ok=(*ONNX_ROLES, "weights"))
    if _choose(card, folder, trust) == "onnx":
        backend: OnnxBackend | TorchBackend = OnnxBackend(card, folder, intra_op_threads=intra_op_threads)
    else:
        log.warning("model %s: no ONNX file, running the PyTorch weights instead", name)
        backend = TorchBackend(card, folder, threads=intra_op_threads or None)
    return LoadedModel(card=card, backend=backend, provider=backend.provider, trust=trust, folder=folder)


def model_status(name: str, models_dir: Path | None = None) -> ModelStatus:
    """Verify a model without building a session or a network (cheap enough for a listing)."""
    folder = Path(models_dir) if models_dir is not None else paths.models_dir()
    path = card_path(folder, name)
    try:
        card = load_card(path, verify_files=False)
    except ModelError as error:
        return ModelStatus(name, path, None, error.problem, "-")
    try:
        trust = verify_model(card, folder, missing_ok=(*ONNX_ROLES, "weights"))
        choice = _choose(card, folder, trust)
    except ModelError as error:
        return ModelStatus(name, path, card, error.problem, "-")
    if choice == "onnx":
        return ModelStatus(name, path, card, "ok", provider_label(choose_providers()), trust)
    return ModelStatus(name, path, card, "ok (PyTorch: no ONNX file)", "PyTorch CPU", trust)
