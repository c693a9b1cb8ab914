"""The one cache of loaded models: per version of a model's files, its verified card, its backend
(which holds its ONNX sessions) and, once asked for, its numpy head (`LoadedModel.head`).

Loading verifies the signature and every checksum and builds the sessions, which costs far more than
a study's forward pass, so the viewer, the worklist's triage, `analyze` and `report` all load through
here. A model is loaded again when any of its files changes on disk (an export or an install), so a
result is never computed with stale weights; the oldest of more than `MODELS_KEPT` is dropped.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from cxrviewer import paths
from cxrviewer.core.errors import ModelError
from cxrviewer.runtime.backend import LoadedModel

MODELS_KEPT = 8  # the shipped models and one of the reader's own

_models: dict[tuple, LoadedModel] = {}
_lock = threading.Lock()


def file_stamps(folder: Path, name: str) -> tuple:
    """(file name, size, mtime) of each of model `name`'s files: another stamp is another version."""
    try:
        return tuple(sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in folder.glob(f"{name}.*")))
    except OSError as error:  # a file replaced under us by an export in progress
        raise ModelError(name, f"its files in {folder} are changing ({error.strerror}); try again") from None


def cached_model(name: str, models_dir: Path | None = None, *,
                 check: Callable[[LoadedModel], None] | None = None) -> LoadedModel:
    """Model `name` of `models_dir` (default `paths.models_dir()`), loaded by `registry.load_model`
    once per version of its files. `check` runs on a fresh load before it is kept (the analysis layer
    passes its known-answer check); a model that fails it is not kept, so it fails again next time."""
    from cxrviewer.runtime.registry import load_model

    folder = Path(models_dir) if models_dir is not None else paths.models_dir()
    key = (str(folder.resolve()), name, file_stamps(folder, name))
    with _lock:
        loaded = _models.get(key)
    if loaded is not None:
        return loaded
    # Signature, checksums, sessions and the check: outside the lock, they take a while.
    loaded = load_model(name, folder)
    if check is not None:
        check(loaded)
    with _lock:
        loaded = _models.setdefault(key, loaded)  # another thread may have loaded it meanwhile
        while len(_models) > MODELS_KEPT:
            _models.pop(next(iter(_models)))
    return loaded


def forget_models() -> None:
    """Drop every cached model (the next use loads it again)."""
    with _lock:
        _models.clear()
