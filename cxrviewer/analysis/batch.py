"""The batch core of `cxrviewer analyze`: one study image through installed models → figures and arrays.

Classifiers give one probability per label and the label chosen at the card's operating threshold,
and, on request, explanation maps (through `analysis.study_maps`, so the maps are exactly the
viewer's). Image-to-image models give their output image on the study's own pixel grid and a few
summary figures. No Qt; torch only if the runtime falls back to a PyTorch backend.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from cxrviewer.analysis.findings import classify_pixels, operating_thresholds
from cxrviewer.analysis.study_maps import compute_study_maps
from cxrviewer.core.cards import ModelCard
from cxrviewer.core.errors import ModelError
from cxrviewer.core.lesion_score import lesion_score
from cxrviewer.runtime.backend import LoadedModel

Array = npt.NDArray[np.float32]

MAP_METHODS = ("saliency", "gradcam", "cam", "crm")
# Columns every row has; a label or figure with one of these names is prefixed with its model's name.
FIXED_COLUMNS = ("path", "model", "prediction")
# A segmentation pixel belongs to a structure when its probability reaches this (as training scores it).
MASK_PROBABILITY = 0.5


@dataclass(frozen=True)
class ModelResult:
    """What one model says about one image.

    values: {label: probability} for a classifier (card.labels order), or {figure name: value} for an
        image-to-image model (see `figure_names`).
    prediction: the chosen label ("+"-joined for multilabel, "" when no label reaches its threshold;
        "" for image-to-image models).
    class_index: the class the maps explain (None for image-to-image models).
    arrays: {output name: (H, W) float32} on the study's pixel grid: the maps by method for a
        classifier, the output channels by card label for an image-to-image model.
    """

    model: str
    values: dict[str, float]
    prediction: str
    class_index: int | None = None
    arrays: dict[str, Array] = field(default_factory=dict)


def scores_images(card: ModelCard) -> bool:
    """A segmentation card with an operating threshold (the TB lesion model) also scores each image:
    `core.lesion_score.lesion_score` of its first channel, called at thresholds[0]."""
    return card.task == "segmentation" and len(card.thresholds) == 1


def figure_names(card: ModelCard) -> tuple[str, ...]:
    """The figures a model reports per image: its labels' probabilities for a classifier; for
    segmentation `<label>_area_fraction` (share of pixels with probability >= 0.5), and
    `<label>_score` for a card that scores images (`scores_images`); for bone suppression
    `<label>_mean_abs_change` (mean |output - input| in the card's value range)."""
    if card.is_classifier:
        return tuple(card.labels)
    if card.task == "segmentation":
        scored = (f"{card.labels[0]}_score",) if scores_images(card) else ()
        return (*(f"{label}_area_fraction" for label in card.labels), *scored)
    return tuple(f"{label}_mean_abs_change" for label in card.labels)


def csv_columns(cards: Sequence[ModelCard]) -> tuple[list[str], dict[tuple[str, str], str]]:
    """The CSV header for these models and {(model, figure): column}.

    Each row holds one model, so models share a column when they share a label (its `model` cell
    says whose it is); only a figure named like a fixed column becomes `<model>:<figure>`.
    """
    columns: list[str] = []
    where: dict[tuple[str, str], str] = {}
    for card in cards:
        for figure in figure_names(card):
            column = f"{card.name}:{figure}" if figure in FIXED_COLUMNS else figure
            where[(card.name, figure)] = column
            if column not in columns:
                columns.append(column)
    return ["path", "model", *columns, "prediction"], where


def class_index(card: ModelCard, label: str) -> int:
    """The index of `label` in a classifier's labels; ModelError naming the model's labels if absent."""
    if label not in card.labels:
        raise ModelError(card.name, f"has no label {label!r} (labels: {', '.join(card.labels)})")
    return card.labels.index(label)


def analyse(
    loaded: LoadedModel,
    pixels: Array,
    *,
    maps: Iterable[str] = (),
    explain: str | None = None,
    models_dir: Path | None = None,
) -> ModelResult:
    """Run one model on one image.

    pixels: (H, W) float32 in [0, 1], display polarity (`read_image(path).pixels`).
    maps: methods of MAP_METHODS to compute for a classifier (CAM is left out for a head that is not
        GAP → linear, where it is undefined); ignored for image-to-image models.
    explain: the label the maps explain (default: the prediction's class).
    Raises ModelError when the model cannot run on this image.
    """
    card = loaded.card
    if not card.is_classifier:
        return _transform(loaded, pixels)
    finding = classify_pixels(loaded, pixels)
    prediction = "+".join(card.labels[i] for i in finding.positive)
    # A multilabel decision may call several labels or none: its maps explain the most probable one.
    index = finding.positive[0] if finding.rule != "multilabel" else int(np.argmax(finding.probabilities))
    if explain is not None:
        index = class_index(card, explain)
    methods = [m for m in MAP_METHODS if m in set(maps)]
    arrays = compute_study_maps(loaded, pixels, methods, class_index=index, models_dir=models_dir) if methods else {}
    values = dict(zip(card.labels, finding.probabilities, strict=True))
    return ModelResult(card.name, values, prediction, index, arrays)


def _transform(loaded: LoadedModel, pixels: Array) -> ModelResult:
    """Bone suppression and segmentation: the image scaled into the card's value range, through the
    backend's any-size transform; segmentation logits become per-pixel probabilities."""
    card = loaded.card
    low, high = card.input.value_range
    scaled = (low + pixels.astype(np.float32) * (high - low)).astype(np.float32)
    image = np.repeat(scaled[None], card.input.channels, axis=0)
    output = loaded.backend.transform(image)
    if output.shape[0] != len(card.labels) or output.shape[1:] != pixels.shape:
        raise ModelError(card.name, f"output {output.shape} for an image {pixels.shape} and labels {card.labels}")
    prediction = ""
    if card.task == "segmentation":
        output = (1.0 / (1.0 + np.exp(-output.astype(np.float64)))).astype(np.float32)
        values = [float(np.mean(channel >= MASK_PROBABILITY)) for channel in output]
        if scores_images(card):
            values.append(lesion_score(output[0]))
            prediction = card.labels[0] if values[-1] >= operating_thresholds(card)[0][0] else f"no_{card.labels[0]}"
    else:
        values = [float(np.mean(np.abs(channel - scaled))) for channel in output]
    arrays = {label: np.ascontiguousarray(channel, dtype=np.float32) for label, channel in zip(card.labels, output, strict=True)}
    return ModelResult(card.name, dict(zip(figure_names(card), values, strict=True)), prediction, None, arrays)


def reference_figures(loaded: LoadedModel, pixels: Array) -> dict[str, float]:
    """An image model's output on one image, summarised for its card's `reference`: the CSV figures
    of `analyse` plus, per label, the output's mean and standard deviation (a changed weight or
    tiling moves them; float64 sums so the figures themselves are stable to ~1e-7)."""
    result = _transform(loaded, pixels)
    figures = dict(result.values)
    for label, channel in result.arrays.items():
        values = channel.astype(np.float64)
        figures[f"{label}_mean"] = float(values.mean())
        figures[f"{label}_std"] = float(values.std())
    return figures
