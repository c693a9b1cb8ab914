"""Evaluate an installed model (card + ONNX, through the runtime) on labelled data."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cxrviewer.core.errors import ConfigError, ModelError
from cxrviewer.core.preprocess import prepare
from cxrviewer.training.config import DataConfig
from cxrviewer.training.data import read_pixels
from cxrviewer.training.evaluation import Predictions, headline, score_split
from cxrviewer.training.report import write_report
from cxrviewer.training.sources import Catalog, load_catalog, subsample


def evaluate_installed(
    model: str, data: Sequence[Path], *, source: str = "folders", label_column: str = "label",
    out: Path = Path("evaluation"), models_dir: Path | None = None, limit_per_class: int = 0, batch: int = 16,
) -> dict[str, Any]:
    """Run classifier `model` on every image of `data` and write out/metrics.json + out/plots.
    Returns the metrics dict (also written). Binary models use the card's operating threshold."""
    from cxrviewer.runtime.registry import load_model

    loaded = load_model(model, models_dir)
    card = loaded.card
    if card.task not in ("classification", "multilabel"):
        raise ModelError(model, f"evaluate measures classifiers; this is a {card.task} model")
    catalogs: list[Catalog] = []
    for folder in data:
        cfg = DataConfig(source=source, root=str(folder), label_columns=(label_column,), classes=tuple(card.labels),
                         limit_per_class=limit_per_class)
        catalogs.append(subsample(load_catalog(cfg), cfg, seed=0))
    samples = tuple(s for c in catalogs for s in c.samples)
    if not samples:
        raise ConfigError(f"no images found in {', '.join(map(str, data))}")
    contract = card.input
    scores, feats = [], []
    for start in range(0, len(samples), batch):
        x = np.stack([prepare(read_pixels(s.path, inverted=s.inverted), contract)[0] for s in samples[start:start + batch]])
        logits, features = loaded.backend.classify(x)
        logits = logits.astype(np.float64)
        if card.task == "classification":
            e = np.exp(logits - logits.max(axis=1, keepdims=True))
            scores.append(e / e.sum(axis=1, keepdims=True))
        else:
            scores.append(1 / (1 + np.exp(-logits)))
        feats.append(features.mean(axis=(2, 3)))
    truth = np.array([s.labels[0] for s in samples], dtype=np.int64)
    preds = Predictions(np.concatenate(scores), truth, np.concatenate(feats))
    threshold = card.thresholds[1] if len(card.labels) == 2 and card.thresholds else None
    split_scores = score_split(card.task, preds, tuple(card.labels), threshold=threshold)
    results = {
        "model": model, "provider": loaded.provider,
        "data": {"folders": [str(p) for p in data], "source": source, "n": len(samples)},
        "evaluation": split_scores, "headline": headline(card.task, split_scores),
    }
    write_report(Path(out), card.task, tuple(card.labels), results, [], {"evaluation": preds})
    return results
