"""The training checkpoint that `cxrviewer export` turns into an installed model.

A checkpoint is two files with one stem: `<stem>.safetensors` (the network's state dict; never
pickle) and `<stem>.json`, a draft of the model card with what only training knows:

    {"format": "cxrviewer.checkpoint/1",
     "arch": "tbnet", "arch_params": {"num_classes": 2, "in_channels": 1},
     "task": "classification", "labels": ["normal", "tb"], "thresholds": [0.5, 0.5],
     "version": "1",
     "input": {"value_range": [0, 1], "scaling": "...", "preprocessing": [{"name": ..., "params": {}}],
               "resize_policy": "none"},
     "provenance": {"data": [...], "split": "...", "command": "...", "commit": "...", "date": "...",
                    "wall_time_s": 123.0},
     "metrics": [{"name": "auc", "value": 0.91, "split": "..."}],
     "limits": ["not validated for ..."]}

`arch_params` are the keyword arguments of `cxrviewer.nets.build`. Input height, width and
channels are not written: they are the network's own (`input_size` / `working_size`, `in_channels`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cxrviewer.core.cards import TASKS
from cxrviewer.core.errors import ModelError

FORMAT = "cxrviewer.checkpoint/1"


@dataclass(frozen=True)
class Checkpoint:
    weights: Path
    meta: dict[str, Any]  # the JSON draft, validated for the keys export needs

    @property
    def arch(self) -> str:
        return self.meta["arch"]


def meta_path(weights: Path) -> Path:
    return Path(weights).with_suffix(".json")


def save_checkpoint(net: nn.Module, weights: Path, meta: dict[str, Any]) -> Checkpoint:
    """Write `net`'s state dict as safetensors and `meta` (the card draft) beside it."""
    from safetensors.torch import save_file

    weights = Path(weights)
    state = {key: value.detach().contiguous() for key, value in net.state_dict().items()}
    save_file(state, str(weights))
    meta = {"format": FORMAT, **meta}
    meta_path(weights).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return read_checkpoint(weights)


def read_checkpoint(weights: Path) -> Checkpoint:
    """Read and check the JSON beside `weights`; ModelError names the checkpoint and the problem."""
    weights = Path(weights)
    if weights.suffix != ".safetensors":
        raise ModelError(weights, "a checkpoint is a .safetensors file with a .json of the same stem beside it")
    if not weights.is_file():
        raise ModelError(weights, "checkpoint weights not found")
    try:
        meta = json.loads(meta_path(weights).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(weights, f"checkpoint description {meta_path(weights).name} not found") from None
    except (OSError, json.JSONDecodeError) as error:
        raise ModelError(weights, f"checkpoint description is not readable JSON ({error})") from error
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelError(weights, f"checkpoint description must have format {FORMAT!r}")
    for key, kind in (("arch", str), ("task", str), ("labels", list)):
        if not isinstance(meta.get(key), kind):
            raise ModelError(weights, f"checkpoint description needs {key!r} ({kind.__name__})")
    if meta["task"] not in TASKS:
        raise ModelError(weights, f"checkpoint task {meta['task']!r} is not one of {', '.join(TASKS)}")
    return Checkpoint(weights=weights, meta=meta)


def build_from_checkpoint(checkpoint: Checkpoint) -> nn.Module:
    """The checkpoint's network with its weights loaded strictly, in eval mode."""
    from safetensors.torch import load_file

    from cxrviewer.core.errors import ConfigError
    from cxrviewer.nets import build

    try:
        net = build(checkpoint.arch, **checkpoint.meta.get("arch_params", {}))
    except ConfigError as error:
        raise ModelError(checkpoint.weights, str(error)) from error
    try:
        net.load_state_dict(load_file(str(checkpoint.weights)), strict=True)
    except RuntimeError as error:
        raise ModelError(checkpoint.weights, f"weights do not fit {checkpoint.arch}: {error}") from error
    return net.eval().to(torch.float32)
