"""Activation views (Rajaraman et al. 2018): the first conv layer's filters as small images, and the
channels of the last conv layer that respond most to the study on screen, each a map like the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from cxrviewer.core.errors import ModelError

Array = npt.NDArray[np.float32]
RANKINGS = ("mean", "max")


def filter_images(weight: npt.NDArray) -> Array:
    """First-layer conv filters as images: weight (O, C, kh, kw) → (O, kh, kw, C) float32, raw.

    C = 3 filters read as RGB, C = 1 as grey; the values stay signed (display scales them, e.g.
    each filter to its own [min, max], as the paper's mosaic does).
    """
    weight = np.asarray(weight, dtype=np.float32)
    if weight.ndim != 4:
        raise ValueError(f"conv weight must be (O, C, kh, kw), got shape {weight.shape}")
    return np.ascontiguousarray(weight.transpose(0, 2, 3, 1))


def first_conv_weight(weights_file: Path, in_channels: int, *, model: str = "") -> Array:
    """The first conv layer's weight (O, C, kh, kw) float32 from a model's safetensors weights.

    It is the one 4-D tensor whose input channels equal the model's (every later conv reads the
    previous layer's many channels); a file with none or several such tensors is refused.
    """
    from safetensors.numpy import load_file

    tensors = load_file(str(weights_file))
    found = [v for v in tensors.values() if v.ndim == 4 and v.shape[1] == in_channels and v.shape[2] > 1]
    if len(found) != 1:
        raise ModelError(
            model or weights_file,
            f"{Path(weights_file).name}: expected one conv weight with {in_channels} input channels, found {len(found)}",
        )
    return found[0].astype(np.float32)


@dataclass(frozen=True, eq=False)
class ChannelMaps:
    """The last conv layer's strongest channels on one study.

    channels: (k,) int channel indices, strongest first. scores: (k,) float32, the ranking values.
    maps: (k, h, w) float32 raw activations in model space (feature grid).
    """

    channels: npt.NDArray[np.int64]
    scores: Array
    maps: Array
    ranking: str


def top_channels(features: Array, k: int = 8, *, ranking: str = "mean") -> ChannelMaps:
    """The k channels of features (K, h, w) float32 with the largest spatial mean (or max).

    Ties keep the lower channel index first, so the order is reproducible.
    """
    if ranking not in RANKINGS:
        raise ValueError(f"ranking must be one of {RANKINGS}, got {ranking!r}")
    features = np.asarray(features, dtype=np.float32)
    if features.ndim != 3:
        raise ValueError(f"features must be (K, h, w), got shape {features.shape}")
    scores = features.mean(axis=(1, 2)) if ranking == "mean" else features.max(axis=(1, 2))
    order = np.argsort(-scores, kind="stable")[: max(1, min(k, len(scores)))]
    return ChannelMaps(order, scores[order].astype(np.float32), features[order].copy(), ranking)
