"""Small random-weight models for the analyze tests, exported once per session into one folder.

Classifiers are tb-net at 64² (a few seconds to export with its saliency graph); the image model is
the AE-BS bone suppressor, whose tiles the runtime runs at any image size.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="exporting test models needs the `ml` extra (torch)")

from cxrviewer.core.cards import ModelCard  # noqa: E402
from cxrviewer.nets import ARCHITECTURES, build  # noqa: E402
from cxrviewer.training.checkpoint import save_checkpoint  # noqa: E402
from cxrviewer.training.export import export_model  # noqa: E402

# name → (architecture, labels, input size or None for the architecture's own)
MODELS = {
    "binary": ("tbnet", ["normal", "abnormal"], (64, 64)),
    "three": ("tbnet", ["normal", "bacteria", "virus"], (64, 64)),
    "bones": ("ae_bs", ["bone_suppressed"], (64, 64)),
}


def _checkpoint(folder: Path, name: str) -> Path:
    arch, labels, size = MODELS[name]
    spec = ARCHITECTURES[arch]
    torch.manual_seed(len(name))
    params = {"num_classes": len(labels), "in_channels": spec.in_channels, "input_size": list(size)}
    net = build(arch, **params)
    weights = folder / f"{name}.safetensors"
    save_checkpoint(net, weights, {
        "arch": arch, "arch_params": params, "task": spec.task, "labels": labels,
        "thresholds": [0.5] * len(labels) if spec.task == "classification" else [],
        "version": "1",
        "provenance": {"data": ["none: random weights"], "split": "none", "command": "tests/analysis"},
        "metrics": [{"name": "auc", "value": 0.5, "split": "none (random weights)"}],
        "limits": ["random weights: for analyze tests only"],
    })
    return weights


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory) -> Path:
    """A models folder holding every model of MODELS, under its key as model name."""
    folder = tmp_path_factory.mktemp("models")
    checkpoints = tmp_path_factory.mktemp("checkpoints")
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        for name in MODELS:
            export_model(_checkpoint(checkpoints, name), folder / name, real_images=[])
    finally:
        torch.set_num_threads(previous)
    return folder


@pytest.fixture(scope="session")
def card_of(models_dir) -> Callable[[str], ModelCard]:
    from cxrviewer.core.cards import card_path, load_card

    return lambda name: load_card(card_path(models_dir, name))
