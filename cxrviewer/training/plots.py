"""PNG plots of a run (matplotlib, Agg backend: no screen): training curves, ROC, confusion matrix,
t-SNE of pooled features coloured by label (Group-Q)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def curves(history: Sequence[dict[str, Any]], path: Path) -> Path:
    """Train and validation loss per epoch, and every val_* metric on a second axis."""
    fig, (ax_loss, ax_metric) = plt.subplots(1, 2, figsize=(9, 3.5))
    epochs = [h["epoch"] for h in history]
    for key in ("train_loss", "val_loss"):
        ax_loss.plot(epochs, [h[key] for h in history], marker="o", label=key)
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("loss")
    ax_loss.legend()
    for key in sorted(k for k in (history[0] if history else {}) if k.startswith("val_") and k != "val_loss"):
        values = [h.get(key, np.nan) for h in history]
        ax_metric.plot(epochs, values, marker=".", label=key)
    ax_metric.set_xlabel("epoch")
    ax_metric.legend(fontsize=7)
    return _save(fig, path)


def roc(curves_by_name: dict[str, dict[str, list[float]]], path: Path, title: str = "ROC") -> Path:
    """curves_by_name: {label: {"fpr": [...], "tpr": [...]}}."""
    fig, ax = plt.subplots(figsize=(4, 4))
    for name, c in curves_by_name.items():
        ax.plot(c["fpr"], c["tpr"], label=name)
    ax.plot([0, 1], [0, 1], "k:", linewidth=0.8)
    ax.set_xlabel("1 - specificity")
    ax.set_ylabel("sensitivity")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return _save(fig, path)


def confusion(matrix: Sequence[Sequence[int]], classes: Sequence[str], path: Path) -> Path:
    """matrix[i][j]: images of true class i predicted as j."""
    values = np.asarray(matrix)
    fig, ax = plt.subplots(figsize=(1.2 * len(classes) + 2, 1.2 * len(classes) + 1.5))
    ax.imshow(values, cmap="Blues")
    for (i, j), v in np.ndenumerate(values):
        ax.text(j, i, str(v), ha="center", va="center", color="black")
    ax.set_xticks(range(len(classes)), classes, rotation=30)
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    return _save(fig, path)


def tsne(features: npt.NDArray[np.float32], labels: npt.NDArray[np.int64], classes: Sequence[str], path: Path,
         seed: int = 0) -> Path:
    """features: (N, F) pooled last-conv features; labels: (N,) class indices."""
    from sklearn.manifold import TSNE

    perplexity = float(min(30, max(2, (len(features) - 1) // 3)))
    points = TSNE(perplexity=perplexity, random_state=seed, init="pca", max_iter=300).fit_transform(features.astype(np.float64))
    fig, ax = plt.subplots(figsize=(4.5, 4))
    for c, name in enumerate(classes):
        sel = labels == c
        ax.scatter(points[sel, 0], points[sel, 1], s=8, label=name)
    ax.set_title("t-SNE of features")
    ax.legend(fontsize=8)
    return _save(fig, path)


def image_triplets(inputs, outputs, targets, path: Path, n: int = 4) -> Path:
    """Rows of input | output | target for the first n items, each (1, h, w) in [0, 1]."""
    n = min(n, len(inputs))
    fig, axes = plt.subplots(n, 3, figsize=(6, 2 * n), squeeze=False)
    for i in range(n):
        for j, (name, arr) in enumerate((("input", inputs), ("output", outputs), ("target", targets))):
            axes[i, j].imshow(np.clip(arr[i, 0], 0, 1), cmap="gray", vmin=0, vmax=1)
            axes[i, j].set_axis_off()
            if i == 0:
                axes[i, j].set_title(name)
    return _save(fig, path)
