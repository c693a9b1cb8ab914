"""The resumable training state: weights, optimiser and scheduler state, RNG, history. No pickle.

Tensors go to `<stem>.safetensors`, everything else to `<stem>.json`. Both are written to temporary
names and moved into place with os.replace, weights first; the json records the weights' sha256,
so a crash between the two moves is detected on load instead of resuming from a mismatched pair.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from cxrviewer.core.atomic import atomic_target, write_text_atomically
from cxrviewer.core.errors import ModelError

FORMAT = "cxrviewer.train_state/1"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _split_optimizer(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors, scalars = {}, {}
    for pid, entry in state["state"].items():
        for key, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{pid}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{pid}.{key}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _join_optimizer(tensors: dict[str, torch.Tensor], info: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, pid, name = key.split(".", 2)
            state.setdefault(int(pid), {})[name] = value
    for key, value in info["scalars"].items():
        pid, name = key.split(".", 1)
        state.setdefault(int(pid), {})[name] = value
    return {"state": state, "param_groups": info["param_groups"]}


# Keys of the state file that describe the saved tensors, not the run: never handed back as `info`.
STATE_KEYS = ("format", "weights_sha256", "optimizer", "scheduler")


def save_state(
    folder: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any, info: dict[str, Any],
    stem: str = "last",
) -> None:
    """Write the state after a finished epoch. `info` holds json-able scalars (epoch, best loss, history)."""
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    optim_tensors, optim_info = _split_optimizer(optimizer.state_dict())
    tensors.update(optim_tensors)
    tensors["rng.torch"] = torch.get_rng_state()
    weights = folder / f"{stem}.safetensors"
    with atomic_target(weights) as tmp:
        save_file(tensors, str(tmp))
    payload = {
        **info,  # first, so a stale key carried in `info` can never shadow the state written now
        "format": FORMAT,
        "weights_sha256": _sha256(weights),
        "optimizer": optim_info,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
    }
    write_text_atomically(folder / f"{stem}.json", json.dumps(payload, indent=1))


def load_state(
    folder: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any, stem: str = "last"
) -> dict[str, Any]:
    """Restore model, optimiser, scheduler and torch RNG in place; return the json info."""
    weights, meta = folder / f"{stem}.safetensors", folder / f"{stem}.json"
    if not weights.exists() or not meta.exists():
        raise ModelError(folder, f"no resumable state ({stem}.safetensors + {stem}.json) in the run folder")
    info = json.loads(meta.read_text(encoding="utf-8"))
    if info.get("format") != FORMAT or info.get("weights_sha256") != _sha256(weights):
        raise ModelError(weights, "training state and its description disagree (interrupted write?)")
    tensors = load_file(str(weights))
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")}, strict=True)
    optimizer.load_state_dict(_join_optimizer(tensors, info["optimizer"]))
    if scheduler is not None and info.get("scheduler") is not None:
        scheduler.load_state_dict(info["scheduler"])
    torch.set_rng_state(tensors["rng.torch"])
    return {k: v for k, v in info.items() if k not in STATE_KEYS}
