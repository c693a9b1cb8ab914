"""Which explanation map localises, as measured on held-out boxes: the shipped verdicts, looked up.

`resources/localisation.json` (written by scripts/localisation_table.py, docs/localisation.md) holds,
per model name and the sha256 of the weights its card lists, one row per (class, map method, boxed
data set): pointing game with its bootstrap 95 % CI, chance, and the verdict. A model whose card now
lists other weights (re-trained, re-shipped) has no verdict: "not measured for this version".

Two variants of each map are measured, as the viewer draws them: whole (the entry's `rows`), and
with "Inside the lungs only" (the entry's `inside_lungs`: the lung model's name and weights sha256,
and its own `rows`, the maps times that model's P(lung)). Those rows apply only to that lung model's
weights too; an entry written before the variant existed has no `inside_lungs` and still loads.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from cxrviewer import paths
from cxrviewer.core.cards import card_path, load_card
from cxrviewer.core.errors import CxrError

log = logging.getLogger(__name__)

VERDICTS_FILE = "localisation.json"
# The boxed data set whose boxes mark each class's finding (the verdict is read there).
FINDING_DATA = {"opacity": "rsna_pneumonia", "pneumonia": "rsna_pneumonia", "bacteria": "rsna_pneumonia",
                "virus": "rsna_pneumonia", "tb": "tbx11k_tb"}
NEGATIVE_LABELS = frozenset({"normal", "no_opacity", "other", "no_finding"})  # no box marks them
DATASET_NAMES = {"rsna_pneumonia": "RSNA opacity boxes", "tbx11k_tb": "TBX11K TB boxes"}
# The status of a layer without a row.
NO_FILE = "not measured (no localisation table installed)"
NO_MODEL = "not measured for this model"
OTHER_VERSION = "not measured for this version"
OTHER_LUNGS_VERSION = "not measured for this version of the lung model"
NO_LUNGS_VARIANT = "not measured with the maps kept inside the lungs"
INSIDE_LUNGS = "inside_lungs"  # the entry's key of the maps-times-P(lung) variant
NO_CLASS = "not measured for this class (no held-out boxes mark its finding)"


@dataclass(frozen=True)
class Result:
    """One measured row: a method's pointing game on `n` held-out films of `dataset`."""

    dataset: str
    n: int
    pointing: float
    pointing_ci: tuple[float, float]
    chance: float
    mass_in_boxes: float
    iou: float
    verdict: str
    primary: bool  # the data set whose boxes mark this class's finding

    @classmethod
    def from_row(cls, row: dict) -> Result:
        return cls(row["dataset"], int(row["n"]), float(row["pointing"]), tuple(row["pointing_ci"]),
                   float(row["chance"]), float(row["mass_in_boxes"]), float(row["iou"]), row["verdict"],
                   bool(row["primary"]))


@dataclass(frozen=True)
class LayerVerdict:
    """What is known of one (model, weights, class, method): `status` is the verdict of the primary
    row ("localises", "does not localise", "not measured") or why there is none (`OTHER_VERSION`, ...)."""

    status: str
    primary: Result | None = None
    others: tuple[Result, ...] = ()


@dataclass(frozen=True)
class LungsVersion:
    """The lung model keeping the maps inside the lungs, and the weights sha256 its card lists."""

    model: str
    weights_sha256: str | None


class Verdicts:
    """The shipped table, looked up by model, weights sha256, class label and method."""

    def __init__(self, data: dict | None):
        self.data = data

    def lookup(self, model: str, weights_sha256: str | None, class_index: int, method: str,
               lungs: LungsVersion | None = None) -> LayerVerdict:
        """The verdict of `method` explaining class `class_index` of `model` with these weights: for the
        whole map, or (`lungs`) for the map kept inside the lungs by that lung model's weights."""
        if self.data is None:
            return LayerVerdict(NO_FILE)
        entry = self.data.get("models", {}).get(model)
        if entry is None:
            return LayerVerdict(NO_MODEL)
        if not weights_sha256 or entry.get("weights_sha256") != weights_sha256:
            return LayerVerdict(OTHER_VERSION)
        table = entry
        if lungs is not None:
            table = entry.get(INSIDE_LUNGS)
            if table is None:
                return LayerVerdict(NO_LUNGS_VARIANT)
            if (not lungs.weights_sha256 or table.get("lungs_model") != lungs.model
                    or table.get("lungs_weights_sha256") != lungs.weights_sha256):
                return LayerVerdict(OTHER_LUNGS_VERSION)
        rows = [Result.from_row(r) for r in table.get("rows", [])
                if int(r["class_index"]) == class_index and r["method"] == method]
        primary = next((r for r in rows if r.primary), None)
        others = tuple(r for r in rows if not r.primary)
        if primary is None and not others:
            return LayerVerdict(NO_CLASS)
        return LayerVerdict(primary.verdict if primary else NO_CLASS, primary, others)


def load_verdicts(path: Path | None = None) -> Verdicts:
    """The table at `path` (default: the installed resources/localisation.json); an empty one when it
    is missing or unreadable (logged), so every layer then says it was not measured."""
    path = Path(path) if path is not None else paths.resource(VERDICTS_FILE)
    try:
        return Verdicts(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as error:
        log.warning("%s: no localisation verdicts (%s)", path, error)
        return Verdicts(None)


def installed_weights_sha256(model: str, models_dir: Path | None = None) -> str | None:
    """The weights sha256 the installed card of `model` lists (its ONNX file's for a card without
    weights), or None when the card cannot be read."""
    folder = Path(models_dir) if models_dir is not None else paths.models_dir()
    try:
        card = load_card(card_path(folder, model), verify_files=False)
    except (CxrError, OSError, ValueError):
        return None
    entry = card.file("weights") or card.file("onnx")
    return entry.sha256 if entry else None
