"""Metrics on held-out data: classification (scikit-learn) and image-to-image (pytorch-msssim).

Classification: accuracy, AUC with a bootstrap 95 % CI, sensitivity, specificity, precision, F1
(macro for multi-class), MCC, confusion matrix, ROC; the operating threshold is chosen on
validation data (Youden's J or a target sensitivity) and only applied to test data.
Image-to-image: PSNR, SSIM, MS-SSIM, MAE inside a mask, for the model and for the identity baseline
(input vs target), so a model that learnt nothing is visible at once. Segmentation: Dice, IoU and
the Hausdorff distance (95th percentile and maximum, in pixels of the working size).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from sklearn import metrics as skm

from cxrviewer.training.losses import msssim_window
from cxrviewer.training.masked_ssim import masked_ms_ssim, masked_ssim


def _rank_auc(y: npt.NDArray[np.bool_], score: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Binary AUC of each row by the Mann-Whitney rank sum (ties share ranks, as roc_auc_score).
    y, score: (B, N). Equals sklearn's roc_auc_score row by row; vectorised for the bootstrap."""
    from scipy.stats import rankdata

    ranks = rankdata(score, axis=1)
    n_pos = y.sum(axis=1)
    n_neg = y.shape[1] - n_pos
    return ((ranks * y).sum(axis=1) - n_pos * (n_pos + 1) / 2) / np.maximum(n_pos * n_neg, 1)


def bootstrap_auc(
    y_true: npt.NDArray[np.int64], score: npt.NDArray[np.float64], *, n_boot: int = 1000, seed: int = 0,
    multi_class: bool = False,
) -> tuple[float, float, float]:
    """(AUC, low, high): AUC (sklearn; macro one-vs-rest for multi-class) and the 2.5/97.5 percentiles
    over `n_boot` resamples of the cases; resamples missing a class are dropped. score: (N,) for
    binary, (N, K) probabilities for multi-class. n_boot == 0 gives NaN bounds."""
    if multi_class:
        point = float(skm.roc_auc_score(y_true, score, multi_class="ovr", average="macro"))
    else:
        point = float(skm.roc_auc_score(y_true, score))
    if n_boot == 0:
        return point, float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(y_true), (n_boot, len(y_true)))
    ys, ss = y_true[idx], score[idx]
    classes = np.unique(y_true)
    if multi_class:
        per_class = [_rank_auc(ys == c, ss[..., c]) for c in classes]
        valid = np.all([(ys == c).any(axis=1) for c in classes], axis=0)
        values = np.mean(per_class, axis=0)[valid]
    else:
        positives = ys == classes[-1]
        valid = positives.any(axis=1) & ~positives.all(axis=1)
        values = _rank_auc(positives, ss)[valid]
    low, high = np.percentile(values, [2.5, 97.5])
    return point, float(low), float(high)


def bootstrap_macro_f1(
    y_true: npt.NDArray[np.int64], pred: npt.NDArray[np.int64], *, n_boot: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """Percentile 95 % interval of the macro F1 over `n_boot` resamples of the cases."""
    rng = np.random.default_rng(seed)
    n = len(y_true)
    values = [
        skm.f1_score(y_true[idx], pred[idx], average="macro", zero_division=0)
        for idx in (rng.integers(0, n, n) for _ in range(n_boot))
    ]
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def calibration(y_true: npt.NDArray[np.int64], prob: npt.NDArray[np.float64], bins: int = 10) -> dict[str, float]:
    """How far the displayed probabilities are from observed frequencies. y_true: (N,) class
    indices; prob: (N, K). `ece`: expected calibration error of the top class over `bins` equal-width
    confidence bins; `brier`: the multi-class Brier score (mean squared error of the one-hot truth)."""
    confidence = prob.max(axis=1)
    correct = prob.argmax(axis=1) == y_true
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    ece = sum(
        abs(correct[which == b].mean() - confidence[which == b].mean()) * np.mean(which == b)
        for b in range(bins) if np.any(which == b)
    )
    onehot = np.eye(prob.shape[1])[y_true]
    return {"ece": float(ece), "brier": float(np.mean(np.sum((prob - onehot) ** 2, axis=1)))}


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """The Wilson score 95 % interval of a proportion successes / n ((nan, nan) for n == 0)."""
    if n == 0:
        return float("nan"), float("nan")
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def choose_threshold(
    y_true: npt.NDArray[np.int64], score: npt.NDArray[np.float64], method: str = "youden",
    target_sensitivity: float = 0.9,
) -> float:
    """A positive-class probability threshold from validation data: Youden's J (max sens + spec - 1)
    or the highest threshold whose sensitivity reaches `target_sensitivity`."""
    # Every distinct score is a candidate: the default drop_intermediate would hide the highest
    # threshold that just reaches the target sensitivity.
    fpr, tpr, thresholds = skm.roc_curve(y_true, score, drop_intermediate=False)
    finite = np.isfinite(thresholds)
    fpr, tpr, thresholds = fpr[finite], tpr[finite], thresholds[finite]
    if method == "youden":
        return float(thresholds[np.argmax(tpr - fpr)])
    reaching = np.flatnonzero(tpr >= target_sensitivity)
    return float(thresholds[reaching[0]]) if reaching.size else float(thresholds[-1])


def binary_metrics(
    y_true: npt.NDArray[np.int64], score: npt.NDArray[np.float64], threshold: float, *, n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """y_true: (N,) {0, 1}; score: (N,) positive-class probability in [0, 1]."""
    pred = (score >= threshold).astype(np.int64)
    tn, fp, fn, tp = skm.confusion_matrix(y_true, pred, labels=[0, 1]).ravel()
    auc, low, high = bootstrap_auc(y_true, score, n_boot=n_boot, seed=seed)
    fpr, tpr, _ = skm.roc_curve(y_true, score)
    return {
        "n": int(len(y_true)),
        "threshold": float(threshold),
        "accuracy": float(skm.accuracy_score(y_true, pred)),
        "auc": auc,
        "auc_ci95": [low, high],
        "sensitivity": float(tp / max(tp + fn, 1)),
        "specificity": float(tn / max(tn + fp, 1)),
        "precision": float(tp / max(tp + fp, 1)),
        "f1": float(skm.f1_score(y_true, pred, zero_division=0)),
        "mcc": float(skm.matthews_corrcoef(y_true, pred)),
        "confusion": [[int(tn), int(fp)], [int(fn), int(tp)]],
        "roc": {"fpr": fpr.tolist(), "tpr": tpr.tolist()},
        **calibration(y_true, np.stack([1.0 - score, score], axis=1)),
    }


def multiclass_metrics(
    y_true: npt.NDArray[np.int64], prob: npt.NDArray[np.float64], *, n_boot: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """y_true: (N,) class indices; prob: (N, K) softmax probabilities. Macro averages over classes."""
    k = prob.shape[1]
    pred = prob.argmax(axis=1)
    confusion = skm.confusion_matrix(y_true, pred, labels=list(range(k)))
    tp = np.diag(confusion)
    fn = confusion.sum(axis=1) - tp
    fp = confusion.sum(axis=0) - tp
    tn = confusion.sum() - tp - fn - fp
    auc, low, high = bootstrap_auc(y_true, prob, n_boot=n_boot, seed=seed, multi_class=True)
    return {
        "n": int(len(y_true)),
        "accuracy": float(skm.accuracy_score(y_true, pred)),
        "auc": auc,
        "auc_ci95": [low, high],
        "sensitivity": float(np.mean(tp / np.maximum(tp + fn, 1))),
        "specificity": float(np.mean(tn / np.maximum(tn + fp, 1))),
        "precision": float(skm.precision_score(y_true, pred, average="macro", zero_division=0)),
        "f1": float(skm.f1_score(y_true, pred, average="macro", zero_division=0)),
        # n_boot=0 (the per-epoch validation score) asks for no interval at all.
        "f1_ci95": list(bootstrap_macro_f1(y_true, pred, n_boot=n_boot, seed=seed)) if n_boot else None,
        "f1_per_class": [float(v) for v in skm.f1_score(y_true, pred, average=None, labels=list(range(k)),
                                                         zero_division=0)],
        "mcc": float(skm.matthews_corrcoef(y_true, pred)),
        "confusion": confusion.tolist(),
        **calibration(y_true, prob),
        "roc": {
            str(c): dict(zip(("fpr", "tpr"), (a.tolist() for a in skm.roc_curve(y_true == c, prob[:, c])[:2]), strict=True))
            for c in range(k)
        },
    }


def multilabel_metrics(y_true: npt.NDArray[np.int64], prob: npt.NDArray[np.float64], classes) -> dict[str, Any]:
    """y_true: (N, K) {0, 1}; prob: (N, K) sigmoid probabilities; per-class AUC, macro AUC and F1 at 0.5."""
    per_class = {}
    for c, name in enumerate(classes):
        if len(np.unique(y_true[:, c])) == 2:
            per_class[name] = float(skm.roc_auc_score(y_true[:, c], prob[:, c]))
    pred = (prob >= 0.5).astype(np.int64)
    return {
        "n": int(len(y_true)),
        "auc_per_class": per_class,
        "auc": float(np.mean(list(per_class.values()))) if per_class else float("nan"),
        "f1": float(skm.f1_score(y_true, pred, average="macro", zero_division=0)),
    }


def image_metrics(
    pred: npt.NDArray[np.float32], target: npt.NDArray[np.float32], source: npt.NDArray[np.float32],
    mask: npt.NDArray[np.float32] | None = None,
) -> dict[str, dict[str, float]]:
    """pred, target, source: (N, 1, H, W) float32 [0, 1]; mask (N, 1, H, W) {0, 1} or None.
    All four are over mask pixels: PSNR and MAE pool the mask pixels of all images; SSIM and
    MS-SSIM average each image's SSIM map inside its mask (`masked_ssim`), then over images.
    Returns {"model": {...}, "identity": {...}} where identity compares the input with the target."""
    t = torch.from_numpy(np.ascontiguousarray(target, dtype=np.float32))
    m = torch.ones_like(t) if mask is None else torch.from_numpy(np.ascontiguousarray(mask, dtype=np.float32))
    win = msssim_window(min(t.shape[-2:]))
    out = {}
    for name, arr in (("model", pred), ("identity", source)):
        p = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))
        inside = m.sum().clamp_min(1.0)
        mse = float((((p - t) ** 2) * m).sum() / inside)
        out[name] = {
            "psnr": float(10 * np.log10(1.0 / max(mse, 1e-12))),
            "mae": float(((p - t).abs() * m).sum() / inside),
            "ssim": float(masked_ssim(p, t, m, win_size=min(win, 11))),
            "ms_ssim": float(masked_ms_ssim(p, t, m, win_size=win)),
        }
    return out


def hausdorff(pred: npt.NDArray[np.bool_], truth: npt.NDArray[np.bool_]) -> tuple[float, float]:
    """(HD95, HD) in pixels between two (H, W) bool masks' boundaries. A boundary pixel is a mask
    pixel with a 4-neighbour outside the mask (or on the image edge). HD is the largest distance
    from a boundary pixel of either mask to the other's boundary; HD95 the 95th percentile of the
    distances of both directions pooled (as medpy's hd95). Both empty: (0, 0); one empty: (inf, inf)."""
    from scipy import ndimage

    def boundary(m: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
        return m & ~ndimage.binary_erosion(m, border_value=0)

    a, b = boundary(pred.astype(bool)), boundary(truth.astype(bool))
    if not a.any() and not b.any():
        return 0.0, 0.0
    if not a.any() or not b.any():
        return float("inf"), float("inf")
    to_b = ndimage.distance_transform_edt(~b)[a]
    to_a = ndimage.distance_transform_edt(~a)[b]
    both = np.concatenate([to_b, to_a])
    return float(np.percentile(both, 95)), float(both.max())


def segmentation_metrics(prob: npt.NDArray[np.float32], target: npt.NDArray[np.float32]) -> dict[str, float]:
    """prob, target: (N, 1, H, W); prob thresholded at 0.5. Mean per-image Dice and IoU, and the
    mean and largest per-image Hausdorff distances (`hausdorff`, pixels of the working size) over
    the images where neither mask is empty; `hd_undefined` counts the others."""
    pred = prob >= 0.5
    truth = target >= 0.5
    inter = (pred & truth).reshape(len(pred), -1).sum(1)
    union = (pred | truth).reshape(len(pred), -1).sum(1)
    sizes = pred.reshape(len(pred), -1).sum(1) + truth.reshape(len(pred), -1).sum(1)
    distances = np.array([hausdorff(p[0], t[0]) for p, t in zip(pred, truth, strict=True)]).reshape(-1, 2)
    finite = distances[np.isfinite(distances[:, 1])]
    return {
        "n": int(len(pred)),
        "dice": float(np.mean(2 * inter / np.maximum(sizes, 1))),
        "iou": float(np.mean(inter / np.maximum(union, 1))),
        "hd95": float(finite[:, 0].mean()) if len(finite) else float("nan"),
        "hausdorff": float(finite[:, 1].mean()) if len(finite) else float("nan"),
        "hausdorff_max": float(finite[:, 1].max()) if len(finite) else float("nan"),
        "hd_undefined": int(len(distances) - len(finite)),
    }
