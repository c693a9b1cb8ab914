"""The rows of `cxrviewer analyze`: one study's results for one model as CSV figures and arrays.

The results come from the study's `analysis.study.StudyAnalysis`, the steps the viewer runs: a
classifier's probabilities and the label chosen at the operating threshold, and, on request, its
explanation maps from the same forward pass; an image-to-image model's outputs on the study's own
pixel grid (the lungs kept to their two largest regions, as the viewer shows them) and a few summary
figures. No Qt; torch only if the runtime falls back to a PyTorch backend.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from cxrviewer.analysis.findings import operating_thresholds
from cxrviewer.analysis.pipeline import MASK_PROBABILITY, net_outputs, scores_images
from cxrviewer.analysis.study import StudyAnalysis
from cxrviewer.analysis.study_maps import MAP_METHODS
from cxrviewer.core.cards import ModelCard
from cxrviewer.core.errors import ModelError
from cxrviewer.core.lesion_score import lesion_score
from cxrviewer.runtime.backend import LoadedModel

Array = npt.NDArray[np.float32]

# Columns every row has; a label or figure with one of these names is prefixed with its model's name.
FIXED_COLUMNS = ("path", "model", "prediction")


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


def model_result(study: StudyAnalysis, loaded: LoadedModel, *, maps: Iterable[str] = (),
                 explain: str | None = None) -> ModelResult:
    """What installed model `loaded` says about the study, for one CSV row and its arrays.

    maps: methods of MAP_METHODS to compute for a classifier (CAM is left out for a head that is not
        GAP → linear, where it is undefined); ignored for image-to-image models.
    explain: the label the maps explain (default: the prediction's class).
    Raises ModelError when the model cannot run on this image.
    """
    card = loaded.card
    if not card.is_classifier:
        arrays = study.image_outputs(card.name)
        return ModelResult(card.name, image_figures(card, arrays, study.pixels), image_prediction(card, arrays), None, arrays)
    finding = study.finding(card.name)
    prediction = "+".join(card.labels[i] for i in finding.positive)
    # A multilabel decision may call several labels or none: its maps explain the most probable one.
    index = finding.positive[0] if finding.rule != "multilabel" else int(np.argmax(finding.probabilities))
    if explain is not None:
        index = class_index(card, explain)
    methods = [m for m in MAP_METHODS if m in set(maps)]
    arrays = study.maps(card.name, index, methods) if methods else {}
    values = dict(zip(card.labels, finding.probabilities, strict=True))
    return ModelResult(card.name, values, prediction, index, arrays)


def image_figures(card: ModelCard, arrays: dict[str, Array], pixels: Array) -> dict[str, float]:
    """The CSV figures (`figure_names`) of an image-to-image model's outputs on `pixels`."""
    if card.task == "segmentation":
        values = [float(np.count_nonzero(arrays[label] >= MASK_PROBABILITY)) / arrays[label].size
                  for label in card.labels]
        if scores_images(card):
            values.append(lesion_score(arrays[card.labels[0]]))
    else:
        low, high = card.input.value_range
        scaled = pixels * np.float32(high - low)
        scaled += np.float32(low)
        values = [float(np.mean(np.abs(arrays[label] - scaled))) for label in card.labels]
    return dict(zip(figure_names(card), values, strict=True))


def image_prediction(card: ModelCard, arrays: dict[str, Array]) -> str:
    """A lesion model's call on the image at its operating threshold ("" for other image models)."""
    if not scores_images(card):
        return ""
    label = card.labels[0]
    return label if lesion_score(arrays[label]) >= operating_thresholds(card)[0][0] else f"no_{label}"


def reference_figures(loaded: LoadedModel, pixels: Array) -> dict[str, float]:
    """An image model's net output on one image (`pipeline.net_outputs`: the weights and the runtime,
    before the lungs' clean-up), summarised for its card's `reference` and known answer: the CSV
    figures plus, per label, the output's mean and standard deviation (a changed weight or tiling
    moves them; float64 sums so the figures themselves are stable to ~1e-7)."""
    pixels = np.asarray(pixels, dtype=np.float32)
    arrays = net_outputs(loaded, pixels)
    figures = image_figures(loaded.card, arrays, pixels)
    for label, channel in arrays.items():
        values = channel.astype(np.float64)
        figures[f"{label}_mean"] = float(values.mean())
        figures[f"{label}_std"] = float(values.std())
    return figures
