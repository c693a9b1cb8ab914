"""Saliency, SmoothGrad, CAM, Grad-CAM and CRM as array maths on ONNX outputs (no autograd).

Inputs are one study at a time: `features` A (K, h, w) float32 (the ONNX `features` output without
its batch axis, any real values), the numpy `Head` after it, and for saliency the input gradient from
the exported saliency graph. Every map comes back raw, float32, in model space: (h, w) for the
feature-grid maps, (H, W) of the model input for saliency. Normalisation and thresholds are display
choices (`core.display.compose`), never applied here.

The CAM family shares one shape (as pytorch-grad-cam's base class does): a method supplies channel
weights, and the map is Σ_k weight_k · A_k, rectified or not.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from cxrviewer.core.errors import ModelError
from cxrviewer.core.maps.head import (
    Dropout,
    Flatten,
    Head,
    Layer,
    Linear,
    MaxPool2d,
    MeanHW,
    ReLU,
    _forward,
    _pool_windows,
)

Array = npt.NDArray[np.float32]


def _check_features(features: Array) -> Array:
    features = np.asarray(features, dtype=np.float32)
    if features.ndim != 3:
        raise ValueError(f"features must be (K, h, w), got shape {features.shape}")
    return features


def predicted_class(features: Array, head: Head) -> int:
    """Index of the largest logit for features (K, h, w)."""
    return int(np.argmax(head.forward(_check_features(features)[None])[0]))


def _class_or_predicted(features: Array, head: Head, class_index: int | None) -> int:
    if class_index is None:
        return predicted_class(features, head)
    if not 0 <= class_index < head.num_classes:
        raise ModelError(head.name, f"class index {class_index} outside 0..{head.num_classes - 1}")
    return class_index


# --- gradient saliency -------------------------------------------------------------------------


def saliency(gradient: Array) -> Array:
    """Simonyan et al. 2014 / Pasa et al. 2019: |∂S_c/∂I| with the maximum over input channels.

    gradient: (C, H, W) float32, ∂logit_c/∂input for one study (the saliency graph's output).
    Returns (H, W) float32 ≥ 0 at model input resolution.
    """
    gradient = np.asarray(gradient, dtype=np.float32)
    if gradient.ndim != 3:
        raise ValueError(f"gradient must be (C, H, W), got shape {gradient.shape}")
    return np.abs(gradient).max(axis=0)


def smoothgrad(
    image: Array,
    gradient_fn: Callable[[Array], Array],
    *,
    n: int = 25,
    sigma: float = 0.15,
    seed: int = 0,
) -> Array:
    """SmoothGrad (Smilkov et al. 2017): the mean saliency map over n noisy copies of the input.

    image: (C, H, W) float32 model input. gradient_fn: (C, H, W) → ∂logit_c/∂input, same shape.
    sigma: noise standard deviation as a fraction of the input's value range (max − min), the
    paper's "noise level" (it recommends 0.1–0.2). The per-copy map is `saliency` (|g|, max over
    channels), so the result is comparable with the plain saliency map. Deterministic for a seed.
    """
    if n < 1:
        raise ValueError(f"SmoothGrad needs n >= 1 copies, got {n}")
    if sigma < 0:
        raise ValueError(f"SmoothGrad sigma must be >= 0, got {sigma}")
    image = np.asarray(image, dtype=np.float32)
    std = np.float32(sigma * float(image.max() - image.min()))
    rng = np.random.default_rng(seed)
    total = np.zeros(image.shape[1:], np.float64)
    for _ in range(n):
        noisy = image + std * rng.standard_normal(image.shape, dtype=np.float32)
        total += saliency(gradient_fn(noisy))
    return (total / n).astype(np.float32)


# --- the CAM family ----------------------------------------------------------------------------


def weighted_channel_sum(features: Array, weights: npt.NDArray, *, rectify: bool) -> Array:
    """Σ_k weights_k · A_k over features (K, h, w) with weights (K,); ReLU'd when `rectify`."""
    features = _check_features(features)
    weights = np.asarray(weights, dtype=np.float32)
    if weights.shape != features.shape[:1]:
        raise ValueError(f"weights {weights.shape} do not match {features.shape[0]} feature channels")
    out = np.tensordot(weights, features, axes=1).astype(np.float32)
    return np.maximum(out, 0) if rectify else out


def _gap_linear(head: Head) -> Linear:
    if not head.is_gap_linear:
        raise ModelError(head.name, "CAM is defined only for a GAP → linear head; use Grad-CAM or CRM")
    return head.linears[0]


def cam(features: Array, head: Head, class_index: int | None = None) -> Array:
    """CAM (Zhou et al. 2016): M_c = Σ_k w_ck A_k, for a GAP → linear head only.

    features: (K, h, w) float32. Returns (h, w) float32, signed, without bias and without the 1/(h·w)
    of the pooling, as the paper defines it. class_index defaults to the predicted class.
    """
    linear = _gap_linear(head)
    c = _class_or_predicted(features, head, class_index)
    return weighted_channel_sum(features, linear.weight[c], rectify=False)


def gradcam_weights(features: Array, head: Head, class_index: int) -> npt.NDArray[np.float32]:
    """α_k = spatial mean of ∂y_c/∂A_k (y_c the pre-softmax logit), exactly.

    GAP → linear: ∂y_c/∂A_k(x, y) = w_ck / (h·w) everywhere, so α_k = w_ck / (h·w) in closed form.
    Any other head: the head's exact gradient in numpy (`Head.gradient`).
    """
    features = _check_features(features)
    if head.is_gap_linear:
        h, w = features.shape[1:]
        return (head.linears[0].weight[class_index] / np.float32(h * w)).astype(np.float32)
    _, grad = head.gradient(features[None], class_index)
    return grad[0].mean(axis=(1, 2), dtype=np.float32)


def gradcam(features: Array, head: Head, class_index: int | None = None) -> Array:
    """Grad-CAM (Selvaraju et al. 2017): ReLU(Σ_k α_k^c A_k), α from `gradcam_weights`.

    features: (K, h, w) float32. Returns (h, w) float32 ≥ 0. For a GAP → linear head this is
    ReLU(CAM)/(h·w). class_index defaults to the predicted class.
    """
    c = _class_or_predicted(features, head, class_index)
    return weighted_channel_sum(features, gradcam_weights(features, head, c), rectify=True)


# --- CRM ---------------------------------------------------------------------------------------


def crm(features: Array, head: Head) -> Array:
    """Class-selective relevance map (Kim, Rajaraman, Antani 2019, Diagnostics 9:38).

    R(l, m) = Σ_{c=1..N} (S_c − S_c(l, m))², where S_c is the score of output node c and S_c(l, m)
    the same score with the spatial element (l, m) removed — set to zero in every channel — from the
    last conv feature maps. The sum runs over all output nodes, so CRM is one map per study, not per
    class: an element is relevant when removing it lowers the predicted node's score and also when it
    raises the other nodes' scores.

    The scores S_c are the output layer's pre-softmax values (the logits). The paper writes S_c as
    the output node's weighted sum of the pooled feature maps, i.e. before softmax, and that is what
    makes it "class-selective": each node's change is measured on its own. After a softmax the
    changes are coupled (two classes give equal and opposite changes) and shrink towards zero as the
    prediction saturates, so a confident model would show an almost empty map.

    features: (K, h, w) float32. Returns (h, w) float32 ≥ 0, exact (no sampling):
    GAP → linear in closed form, S_c − S_c(l, m) = Σ_k w_ck A_k(l, m)/(h·w); any other head by
    propagating the h·w removals as a batch of differences through the head, which avoids the
    cancellation of subtracting two nearly equal scores.
    """
    features = _check_features(features)
    k, h, w = features.shape
    if head.is_gap_linear:
        # float64: the class sums cancel across channels, and squaring doubles any relative error.
        diff = head.linears[0].weight.astype(np.float64) @ features.reshape(k, h * w) / (h * w)
        return (diff**2).sum(axis=0).reshape(h, w).astype(np.float32)
    first = next(i for i, layer in enumerate(head.layers) if isinstance(layer, Linear))
    prefix = [layer for layer in head.layers[:first] if not isinstance(layer, Dropout)]
    rest = head.layers[first + 1 :]
    if any(not isinstance(layer, Linear | ReLU | Dropout) for layer in rest):
        return crm_bruteforce(features, head)
    linear: Linear = head.layers[first]
    if [type(layer) for layer in prefix] == [MeanHW]:
        base = _forward(linear, features.mean(axis=(1, 2), dtype=np.float32)[None])
        delta = -(features.reshape(k, h * w).T / np.float32(h * w)) @ linear.weight_t
    elif [type(layer) for layer in prefix] == [Flatten]:
        base, delta = _removal_deltas_pooled(features, MaxPool2d(1, 1), linear)
    elif [type(layer) for layer in prefix] == [MaxPool2d, Flatten]:
        base, delta = _removal_deltas_pooled(features, prefix[0], linear)
    else:
        return crm_bruteforce(features, head)
    for layer in rest:
        base, delta = _propagate(layer, base, delta)
    return (delta.astype(np.float64) ** 2).sum(axis=1).reshape(h, w).astype(np.float32)


def _removal_deltas_pooled(features: Array, pool: MaxPool2d, linear: Linear) -> tuple[Array, Array]:
    """First linear layer's output (1, out) and its change (h·w, out) when each element is zeroed.

    Zeroing element p changes only the pool windows that contain p: a window's new maximum is
    max(largest other value, 0). The largest other value is the window's top value, or its second
    value where p holds the (first) top. Each window's changes meet the linear weights of that
    window's K inputs only, so the work is one (kernel², K) × (K, out) product per window.
    """
    k, h, w = features.shape
    windows = _pool_windows(pool, features[None])[0]  # (K, oh, ow, kk)
    top_index = windows.argmax(axis=-1)
    top = np.take_along_axis(windows, top_index[..., None], -1)[..., 0]
    others = windows.copy()
    np.put_along_axis(others, top_index[..., None], -np.inf, -1)
    second = others.max(axis=-1)
    oh, ow, kk = windows.shape[1:]
    kernel_pos = np.arange(kk)
    largest_other = np.where(kernel_pos == top_index[..., None], second[..., None], top[..., None])
    pooled_change = np.maximum(largest_other, 0) - top[..., None]  # (K, oh, ow, kk)
    base = top.reshape(1, -1) @ linear.weight_t + linear.bias
    delta = np.zeros((h * w, linear.weight.shape[0]), np.float32)
    cells = oh * ow
    for i in range(oh):
        for j in range(ow):
            rows = i * pool.stride - pool.padding + kernel_pos // pool.kernel
            cols = j * pool.stride - pool.padding + kernel_pos % pool.kernel
            inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
            change = pooled_change[:, i, j, inside].T  # (positions, K)
            if not change.any():
                continue
            weights = linear.weight_t[i * ow + j :: cells]  # (K, out): the window's inputs
            delta[rows[inside] * w + cols[inside]] += change @ weights  # distinct elements
    return base, delta


def _propagate(layer: Layer, base: Array, delta: Array) -> tuple[Array, Array]:
    """(activation (1, n), changes (P, n)) through one layer, as differences, not as two passes."""
    if isinstance(layer, Linear):
        return base @ layer.weight_t + layer.bias, delta @ layer.weight_t
    if isinstance(layer, ReLU):
        moved = base + delta
        both_on = (base > 0) & (moved > 0)
        change = np.where(both_on, delta, np.maximum(moved, 0) - np.maximum(base, 0))
        return np.maximum(base, 0), change.astype(np.float32)
    return base, delta


def crm_bruteforce(features: Array, head: Head, *, chunk: int = 64) -> Array:
    """CRM by its definition: zero each spatial element in every channel, re-run the whole head
    (float64, to keep the subtraction of nearly equal scores honest), sum the squared changes.

    features: (K, h, w) float32. Returns (h, w) float32 ≥ 0. Slow; the oracle and the fallback.
    """
    features = _check_features(features).astype(np.float64)
    k, h, w = features.shape
    scores = _forward_f64(head, features[None])[0]
    out = np.empty(h * w, np.float64)
    for start in range(0, h * w, chunk):
        positions = np.arange(start, min(start + chunk, h * w))
        batch = np.repeat(features[None], len(positions), axis=0).reshape(len(positions), k, h * w)
        batch[np.arange(len(positions)), :, positions] = 0.0
        changed = _forward_f64(head, batch.reshape(len(positions), k, h, w))
        out[positions] = ((changed - scores) ** 2).sum(axis=1)
    return out.reshape(h, w).astype(np.float32)


def _forward_f64(head: Head, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    for layer in head.layers:
        if isinstance(layer, Linear):
            x = x @ layer.weight_t.astype(np.float64) + layer.bias
        elif isinstance(layer, MeanHW):
            x = x.mean(axis=(2, 3))
        else:
            x = _forward(layer, x)
    return x
