"""Held-out localisation of every map method of one classifier: per-image scores, bootstrap CIs, verdict.

The maps are the viewer's own (`study_maps.maps_of_pass` of one forward pass: ONNX Runtime outputs
taken to the image's pixel grid), scored against radiologists' boxes with `analysis.localisation`'s
measures:

- pointing game at the peak the reader sees: the centre (median row and column) of the map's maximal
  plateau (Grad-CAM, CAM and CRM are bicubic between feature-cell centres, fading to 0 at the border,
  `core.maps.geometry`; in the earlier bilinear drawing a peak in an edge cell was a plateau from
  its centre to the film's edge, whose centre is where the reader saw it). For a single-pixel peak
  it is the first maximum, which is also kept (`pointing_first_max`), as the earlier tables measured it;
- mass in boxes, and IoU of the map above 0.2 of its maximum with the boxes;
- chance: the boxes' share of the image (a uniform map's pointing chance and mass share).

Each figure is a mean over images with a percentile bootstrap 95 % CI (images resampled, 2000 times,
one seeded set of resamples shared by every method, so the rows are comparable). The verdict: a
method "localises" only if the CI's lower bound of its pointing game is above chance.

Given the study's lung probability (`lungs_of`), each map is also scored as the viewer draws it with
"Inside the lungs only" (`core.lung_mask.keep_inside_lungs`, the viewer's own rule), on the same
images. Its chance is the boxes' share of the lung probability (a uniform map kept inside the lungs:
a peak anywhere in the lungs), since a map confined to the lungs beats the film's chance by
being confined alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from cxrviewer.analysis.localisation import (
    METHODS,
    Box,
    boxes_mask,
    mass_share,
    pointing_game,
    thresholded_iou,
)
from cxrviewer.core.lung_mask import keep_inside_lungs

RESAMPLES = 2000
FRACTION = 0.2
LOCALISES = "localises"
DOES_NOT = "does not localise"
NOT_MEASURED = "not measured"


def peak_pointing(values: npt.NDArray, mask: npt.NDArray[np.bool_]) -> bool:
    """Is the centre of the map's maximal plateau (pixels within 1e-6 of the peak; median row and
    column) inside mask? An all-zero (or all-negative) map points nowhere: False."""
    evidence = np.maximum(np.asarray(values, dtype=np.float64), 0.0)
    peak = evidence.max()
    if peak <= 0:
        return False
    rows, cols = np.nonzero(evidence >= peak * (1 - 1e-6))
    return bool(mask[int(np.median(rows)), int(np.median(cols))])


@dataclass
class ImageScores:
    """Per-image scores of one (class, method), in the order the images were measured."""

    pointing: list[float]
    pointing_first_max: list[float]
    mass: list[float]
    iou: list[float]


def score(values: npt.NDArray, mask: npt.NDArray[np.bool_], into: ImageScores) -> None:
    into.pointing.append(float(peak_pointing(values, mask)))
    into.pointing_first_max.append(float(pointing_game(values, mask)))
    into.mass.append(mass_share(values, mask))
    into.iou.append(thresholded_iou(values, mask, FRACTION))


@dataclass(frozen=True)
class Measured:
    """Per-image scores of one model on one data set: {(class index, method): ImageScores}, and the
    boxes' share of each image (chance). With lungs: the same for the maps kept inside the lungs,
    and the boxes' share of each image's lung probability (their chance)."""

    scores: dict[tuple[int, str], ImageScores]
    chance: list[float]
    inside_lungs: dict[tuple[int, str], ImageScores] = field(default_factory=dict)
    chance_inside_lungs: list[float] = field(default_factory=list)


def _scores(class_indices: Sequence[int], methods: Sequence[str]) -> dict[tuple[int, str], ImageScores]:
    return {(c, m): ImageScores([], [], [], []) for c in class_indices for m in methods}


def measure_model(
    loaded,
    items: Sequence[tuple[Path, Sequence[Box]]],
    class_indices: Sequence[int],
    *,
    methods: Sequence[str] = METHODS,
    models_dir: Path | None = None,
    read_pixels: Callable[[Path], npt.NDArray[np.float32]] | None = None,
    progress: Callable[[int, int], None] | None = None,
    lungs_of: Callable[[npt.NDArray[np.float32]], npt.NDArray[np.float32]] | None = None,
) -> Measured:
    """Maps of `class_indices` by `methods` for every (image path, boxes) item, scored on its boxes;
    with `lungs_of` (pixels → the study's (H, W) P(lung), as the viewer's lung step gives it) also
    scored kept inside the lungs. One forward pass per image serves every class (as in the viewer,
    `StudyAnalysis.maps`), and a lung-cropped classifier is cropped by the same lungs."""
    from cxrviewer.analysis.findings import forward_pass
    from cxrviewer.analysis.study_maps import maps_of_pass

    if read_pixels is None:
        from cxrviewer.core.io import read_image

        def read_pixels(path: Path) -> npt.NDArray[np.float32]:
            return read_image(path).pixels

    scores, inside = _scores(class_indices, methods), _scores(class_indices, methods)
    chance: list[float] = []
    chance_inside: list[float] = []
    for done, (path, boxes) in enumerate(items, start=1):
        pixels = read_pixels(path)
        mask = boxes_mask(pixels.shape, boxes)
        chance.append(float(mask.mean()))
        lungs = lungs_of(pixels) if lungs_of is not None else None
        if lungs is not None:
            chance_inside.append(mass_share(lungs, mask))
        forward = forward_pass(loaded, pixels, lungs)  # without lungs, a lung-cropped one finds its own
        for c in class_indices:
            for method, values in maps_of_pass(loaded, forward, methods, c).items():
                score(values, mask, scores[(c, method)])
                if lungs is not None:
                    score(keep_inside_lungs(values, lungs), mask, inside[(c, method)])
        if progress is not None:
            progress(done, len(items))
    return Measured({k: v for k, v in scores.items() if v.pointing}, chance,
                    {k: v for k, v in inside.items() if v.pointing}, chance_inside)


def paired_change(after: Sequence[float], before: Sequence[float],
                  draws: npt.NDArray[np.int64]) -> tuple[float, float, float]:
    """(mean of after − before, its bootstrap 95 % CI) over the same images: how much a variant of
    the maps changes a score, resampled in pairs so the images' own difficulty cancels."""
    return mean_ci(np.asarray(after, np.float64) - np.asarray(before, np.float64), draws)


def resamples(n: int, count: int = RESAMPLES, seed: int = 0) -> npt.NDArray[np.int64]:
    """(count, n) image indices drawn with replacement: one shared set for every method of a table."""
    return np.random.default_rng(seed).integers(0, n, size=(count, n))


def mean_ci(values: Sequence[float], draws: npt.NDArray[np.int64]) -> tuple[float, float, float]:
    """(mean, 2.5th, 97.5th percentile of the resampled means)."""
    array = np.asarray(values, dtype=np.float64)
    means = array[draws].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(array.mean()), float(low), float(high)


def verdict(pointing_low: float | None, chance: float | None) -> str:
    """"localises" when the pointing game's CI lower bound beats chance; unmeasured: "not measured"."""
    if pointing_low is None or chance is None:
        return NOT_MEASURED
    return LOCALISES if pointing_low > chance else DOES_NOT


def summarise(scores: ImageScores, chance: Sequence[float], draws: npt.NDArray[np.int64]) -> dict:
    """One row's figures: n, pointing (+ CI), first-maximum pointing, mass and IoU (+ CIs), chance
    (+ CI), and the verdict (on the pointing game's lower bound against the mean chance)."""
    pointing, p_low, p_high = mean_ci(scores.pointing, draws)
    first, f_low, f_high = mean_ci(scores.pointing_first_max, draws)
    mass, m_low, m_high = mean_ci(scores.mass, draws)
    iou, i_low, i_high = mean_ci(scores.iou, draws)
    base, b_low, b_high = mean_ci(chance, draws)
    return {
        "n": len(scores.pointing),
        "pointing": pointing, "pointing_ci": [p_low, p_high],
        "pointing_first_max": first, "pointing_first_max_ci": [f_low, f_high],
        "mass_in_boxes": mass, "mass_in_boxes_ci": [m_low, m_high],
        "iou": iou, "iou_ci": [i_low, i_high],
        "chance": base, "chance_ci": [b_low, b_high],
        "verdict": verdict(p_low, base),
    }
