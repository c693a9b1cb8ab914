"""Predictions on a data loader and the metrics bundle that goes into metrics.json and the card.

Shared by the training loop (validation, held-out test) and `cxrviewer evaluate`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from cxrviewer.training import metrics as m


@dataclass(frozen=True)
class Predictions:
    """Outputs on one split. Classification: scores (N, K) probabilities, truth (N,) or (N, K);
    features (N, F) pooled last-conv features for t-SNE. Image-to-image: outputs, targets, inputs,
    masks (N, 1, h, w) float32; scores/truth empty."""

    scores: npt.NDArray[np.float64]
    truth: npt.NDArray[np.int64]
    features: npt.NDArray[np.float32] | None = None
    outputs: npt.NDArray[np.float32] | None = None
    targets: npt.NDArray[np.float32] | None = None
    inputs: npt.NDArray[np.float32] | None = None
    masks: npt.NDArray[np.float32] | None = None


@torch.no_grad()
def predict(
    model: torch.nn.Module, loader, task: str, *, device: torch.device, keep_features: bool = False,
    cancelled: Callable[[], bool] = lambda: False,
) -> Predictions:
    model.eval()
    scores, truth, feats, outs, tgts, ins, masks = [], [], [], [], [], [], []
    for batch in loader:
        if cancelled():
            break
        x = batch[0].to(device)
        if task in ("classification", "multilabel"):
            features = model.features(x)
            logits = model.head(features)
            prob = torch.softmax(logits, 1) if task == "classification" else torch.sigmoid(logits)
            scores.append(prob.cpu().double().numpy())
            truth.append(batch[1].numpy())
            if keep_features:
                feats.append(features.mean(dim=(2, 3)).cpu().numpy())
        else:
            y = model(x)
            if task == "segmentation":
                y = torch.sigmoid(y)
            outs.append(y.cpu().numpy())
            tgts.append(batch[1].numpy())
            ins.append(x.cpu().numpy())
            masks.append(batch[2].numpy())
    if task in ("classification", "multilabel"):
        return Predictions(
            np.concatenate(scores), np.concatenate(truth).astype(np.int64),
            np.concatenate(feats) if feats else None,
        )
    empty = np.zeros((0,))
    return Predictions(empty, empty.astype(np.int64), outputs=np.concatenate(outs), targets=np.concatenate(tgts),
                       inputs=np.concatenate(ins), masks=np.concatenate(masks))


def score_split(
    task: str, pred: Predictions, classes: tuple[str, ...], *, threshold: float | None = None, n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """The metrics of one split. For two classes `threshold` applies to class 1's probability."""
    if task == "classification":
        if len(classes) == 2:
            return m.binary_metrics(pred.truth, pred.scores[:, 1], 0.5 if threshold is None else threshold,
                                    n_boot=n_boot, seed=seed)
        return m.multiclass_metrics(pred.truth, pred.scores, n_boot=n_boot, seed=seed)
    if task == "multilabel":
        return m.multilabel_metrics(pred.truth, pred.scores, classes)
    if task == "segmentation":
        return m.segmentation_metrics(pred.outputs, pred.targets)
    return m.image_metrics(np.clip(pred.outputs, 0, 1), pred.targets, pred.inputs, pred.masks)


def score_by_source(
    task: str, pred: Predictions, origins: list[str], classes: tuple[str, ...], *, threshold: float | None = None,
    seed: int = 0,
) -> dict[str, dict[str, Any]]:
    """`score_split` for each source of a combined catalog; origins[i] names the source of item i."""
    out = {}
    for origin in dict.fromkeys(origins):
        rows = np.array([o == origin for o in origins])
        values = (getattr(pred, f.name) for f in dataclasses.fields(Predictions))
        # Arrays with one row per item are cut; the empty scores of image-to-image tasks pass as they are.
        subset = Predictions(*(a if a is None or len(a) != len(rows) else a[rows] for a in values))
        if task == "classification" and len(classes) == 2 and len(np.unique(subset.truth)) < 2:
            out[origin] = _one_class_rates(subset, 0.5 if threshold is None else threshold)
            continue
        out[origin] = score_split(task, subset, classes, threshold=threshold, seed=seed)
    return out


def _one_class_rates(pred: Predictions, threshold: float) -> dict[str, Any]:
    """A source with one class only (TB-only or normal-only): no AUC, only the rate at the threshold
    (sensitivity for positives, specificity for negatives) with its Wilson 95 % interval."""
    positive = int(pred.truth[0]) == 1
    called = pred.scores[:, 1] >= threshold
    hits = int(called.sum() if positive else (~called).sum())
    n = len(pred.truth)
    key = "sensitivity" if positive else "specificity"
    return {"n": n, "threshold": float(threshold), key: hits / n, f"{key}_ci95": list(m.wilson_interval(hits, n)),
            "accuracy": hits / n}


def headline(task: str, scores: dict[str, Any]) -> dict[str, float]:
    """The few numbers shown live and in the card's metrics list."""
    if task in ("classification", "multilabel"):
        keys = ("accuracy", "auc", "f1", "sensitivity", "specificity", "mcc")
        return {k: float(scores[k]) for k in keys if k in scores}
    if task == "segmentation":
        return {k: scores[k] for k in ("dice", "iou", "hd95", "hausdorff") if k in scores}
    return {f"{k}": v for k, v in scores["model"].items()} | {f"identity_{k}": v for k, v in scores["identity"].items()}
