"""The one loader of the viewer, the worklist, `analyze`, `report` and the network: an installed
model loaded once per version of its files (`runtime.model_cache`: signature, checksums, graph shapes,
sessions, head), and checked against its card's known answer before its first use."""

from __future__ import annotations

from pathlib import Path

from cxrviewer.runtime.backend import LoadedModel
from cxrviewer.runtime.model_cache import cached_model


def installed_model(name: str, models_dir: Path | None = None) -> LoadedModel:
    """Installed model `name` of `models_dir` (default `paths.models_dir()`) that gave its known
    answer (`analysis.known_answer`); ModelError naming it when it is refused."""
    from cxrviewer.analysis.known_answer import check_known_answer

    return cached_model(name, models_dir, check=check_known_answer)
