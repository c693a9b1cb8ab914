"""A finished run's split, checked against the catalog its config builds today.

split.json holds indices into the catalog and the paths they named; when a source's reader or the
data changed since the run, the same indices would name other images, so evaluation refuses.
"""

from __future__ import annotations

import json
from pathlib import Path

from cxrviewer.core.errors import ConfigError
from cxrviewer.training.sources import Catalog
from cxrviewer.training.splits import Split


def load_run_split(run_dir: Path, catalog: Catalog) -> Split:
    """The Split of `run_dir`/split.json; ConfigError when its paths are not the catalog's at its indices."""
    path = run_dir / "split.json"
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigError(f"{path}: cannot read the run's split: {error}") from None
    split = Split.load(path)
    for part in ("train", "val", "test"):
        named = saved[part].get("paths", [])
        indices = getattr(split, part)
        if any(i >= len(catalog.samples) for i in indices) or (
                named and named != [str(catalog.samples[i].path) for i in indices]):
            raise ConfigError(f"{path}: the {part} images differ from those the data source lists now; "
                              "evaluate with the data and code the run was trained with")
    return split
