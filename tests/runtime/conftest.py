"""Export each architecture once per test session (random weights: these tests check the runtime)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="export tests need the `ml` extra (torch)")

from cxrviewer.core.cards import ModelCard  # noqa: E402
from cxrviewer.nets import ARCHITECTURES, build  # noqa: E402
from cxrviewer.training.checkpoint import save_checkpoint  # noqa: E402
from cxrviewer.training.export import default_real_images, export_model  # noqa: E402

LABELS = {
    "classification": ["normal", "abnormal"],
    "bone_suppression": ["bone_suppressed"],
    "segmentation": ["lungs", "heart"],
}


def write_checkpoint(folder: Path, arch: str, seed: int = 0, version: str = "1") -> Path:
    spec = ARCHITECTURES[arch]
    torch.manual_seed(seed)
    labels = LABELS[spec.task]
    net = build(arch, num_classes=len(labels))
    weights = folder / f"{arch}-{seed}.safetensors"
    save_checkpoint(net, weights, {
        "arch": arch,
        "arch_params": {"num_classes": len(labels), "in_channels": spec.in_channels},
        "task": spec.task,
        "labels": labels,
        "thresholds": [0.5] * len(labels),
        "version": version,
        "provenance": {"data": ["none: random weights"], "split": "none", "command": "tests/runtime"},
        "metrics": [{"name": "auc", "value": 0.5, "split": "none (random weights)"}],
        "limits": ["random weights: for runtime tests only"],
    })
    return weights


@pytest.fixture(scope="session")
def exported(tmp_path_factory) -> Callable[[str], tuple[Path, ModelCard]]:
    """exported(arch) → (models folder, card): the architecture exported as model `arch`, once."""
    folder = tmp_path_factory.mktemp("models")
    checkpoints = tmp_path_factory.mktemp("checkpoints")
    real = default_real_images()[:1]
    torch.set_num_threads(2)
    cache: dict[str, ModelCard | Exception] = {}

    def get(arch: str) -> tuple[Path, ModelCard]:
        if arch not in cache:
            try:
                cache[arch] = export_model(write_checkpoint(checkpoints, arch), folder / arch, real_images=real)
            except Exception as error:  # remembered, so a failing export costs its time only once
                cache[arch] = error
        result = cache[arch]
        if isinstance(result, Exception):
            raise result
        return folder, result

    return get


@pytest.fixture(scope="session")
def make_checkpoint() -> Callable[..., Path]:
    """make_checkpoint(folder, arch, seed=0, version="1") → a checkpoint of random weights."""
    return write_checkpoint
