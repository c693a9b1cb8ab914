"""A finished run's split, checked against the catalog its config builds today.

split.json holds indices into the catalog and the paths they named; when a source's reader or the
data changed since the run, the same indices would name other images, so evaluation refuses.
"""

from __future__ import annotations

import json
from pathlib import Path

from cxrviewer.core.errors import ConfigError
from cxrviewer.training.config import TrainConfig, config_from_dict
from cxrviewer.training.sources import Catalog, load_catalog, subsample
from cxrviewer.training.splits import Split


def load_run_split(run_dir: Path, catalog: Catalog) -> Split:
    """The Split of `run_dir`/split.json; ConfigError when its paths are not the catalog's at its indices."""
    path = run_dir / "split.json"
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigError(f"{path}: cannot read the run's split: {error}") from None
    split = Split.load(path)
    for part in Split.PARTS:
        if part not in saved:
            continue
        named = saved[part].get("paths", [])
        indices = getattr(split, part)
        if any(i >= len(catalog.samples) for i in indices) or (
                named and named != [str(catalog.samples[i].path) for i in indices]):
            raise ConfigError(f"{path}: the {part} images differ from those the data source lists now; "
                              "evaluate with the data and code the run was trained with")
    return split


def load_run(run_dir: Path) -> tuple[TrainConfig, Catalog, Split]:
    """A finished run's config (run_dir/config.json), the catalog it builds today (subsampled as
    training did, so the split's indices mean the same images), and its checked split
    (`load_run_split`), for evaluating the run again on its own held-out images."""
    path = run_dir / "config.json"
    try:
        config = config_from_dict(json.loads(path.read_text(encoding="utf-8")), origin=str(path))
    except (OSError, ValueError) as error:
        raise ConfigError(f"{path}: cannot read the run's config: {error}") from None
    catalog = subsample(load_catalog(config.data), config.data, seed=config.seed)
    return config, catalog, load_run_split(run_dir, catalog)
