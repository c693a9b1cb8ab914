"""metrics.json and the plots of a run or an evaluation, written into one folder."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from cxrviewer.core.atomic import write_text_atomically
from cxrviewer.training import plots

log = logging.getLogger(__name__)


def write_report(
    folder: Path, task: str, classes: tuple[str, ...], results: dict[str, Any], history: list[dict[str, Any]],
    preds: dict[str, Any],
) -> list[Path]:
    """results: {"val": {...}, "test": {...}, ...}; preds: {split: evaluation.Predictions}.
    Writes folder/metrics.json and folder/plots/*.png; returns the plot paths."""
    folder.mkdir(parents=True, exist_ok=True)
    write_text_atomically(folder / "metrics.json", json.dumps(results, indent=1, default=float))
    out = folder / "plots"
    out.mkdir(exist_ok=True)
    written = []
    if history:
        written.append(plots.curves(history, out / "curves.png"))
    for split, scores in results.items():
        if not isinstance(scores, dict) or split not in preds:
            continue
        if task == "classification":
            raw = scores["roc"]
            roc = {classes[-1]: raw} if "fpr" in raw else {classes[int(k)]: v for k, v in raw.items()}
            written.append(plots.roc(roc, out / f"roc_{split}.png", title=f"ROC ({split})"))
            written.append(plots.confusion(scores["confusion"], classes, out / f"confusion_{split}.png"))
            p = preds[split]
            # t-SNE costs seconds: drawn for one held-out split only.
            tsne_split = next(k for k in ("test", "evaluation", "val") if k in preds)
            if split == tsne_split and p.features is not None and len(p.features) >= 5:
                written.append(plots.tsne(p.features, p.truth, classes, out / f"tsne_{split}.png"))
        elif task in ("bone_suppression", "segmentation"):
            p = preds[split]
            written.append(plots.image_triplets(p.inputs, p.outputs, p.targets, out / f"examples_{split}.png"))
    log.info("report written to %s (%d plots)", folder, len(written))
    return written
