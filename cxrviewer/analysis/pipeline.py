"""The analysis of one study, step by step: the gate, classifiers, lesion maps, lungs, soft tissue, maps.

Each step takes the study's pixels (H, W) float32 in [0, 1], display polarity (air dark), and a
loaded model, and returns plain data on the study's own pixel grid. `analysis.study.StudyAnalysis`
runs them for one study, each once, for the viewer's analysis service, the worklist's triage,
`analyze`, `report` and the results sent to the archive. Which installed model plays which part is
read from the cards (`model_roles`), never from a file name.

An image-to-image model's outputs (`image_outputs`) are the same for every caller: a segmentation
model's per-pixel probabilities, with its lung channel reduced to the two largest regions (a stray
patch outside the chest is no lung), and a bone-suppression model's image in the card's value range.

The soft-tissue view needs the lung mask: the bone-suppression model was trained inside the lungs
only, so without a lung model its output is not shown at all (`NoLungModelError`), rather than its
unconstrained output outside the lungs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from cxrviewer import paths
from cxrviewer.analysis.findings import Finding, classify_pixels, operating_thresholds, origin_text
from cxrviewer.analysis.gate import GateResult, gate_check
from cxrviewer.analysis.study_maps import MAP_METHODS, compute_study_maps
from cxrviewer.core.cards import ModelCard, card_path, load_card
from cxrviewer.core.errors import ModelError
from cxrviewer.core.lesion_score import lesion_score
from cxrviewer.core.lung_mask import keep_largest_regions
from cxrviewer.core.site_settings import SiteThreshold
from cxrviewer.core.soft_tissue import bones_view, soft_tissue_view
from cxrviewer.runtime.backend import LoadedModel
from cxrviewer.runtime.registry import installed_models

log = logging.getLogger(__name__)

Array = npt.NDArray[np.float32]

LUNGS_LABEL = "lungs"
LESIONS_LABEL = "tb_lesions"
# Lesion-map models: a segmentation model whose first channel is one of these is a lesion model (its
# image score comes from the map, `core.lesion_score`). The channel names the finding and its layer
# (`core.layers`); the value is the short name the worklist and reports put beside the model's name.
LESION_LABELS = {LESIONS_LABEL: "TB", "opacity_lesions": "opacity"}
# A TB screening classifier's positive label: its finding leads, and the maps explain it by default.
SCREENING_LABEL = "tb"
# The seam between suppressed lungs and the original: 3 % of the image width (about 60 px at 2048²,
# 8 px at 256², the model's working size), wide enough that the blend shows no edge, narrow enough
# that the lung periphery is still suppressed.
FEATHER_FRACTION = 0.03
# A segmentation pixel belongs to a structure when its probability reaches this (as training scores it).
MASK_PROBABILITY = 0.5
NO_LUNG_MODEL_TEXT = ("the bone-suppressed view is not offered: no lung segmentation model is installed, and "
                      "outside the lungs the bone-suppression model's output means nothing")


class NoLungModelError(ModelError):
    """The soft-tissue view was asked for without a lung mask (no lung model installed, or it failed)."""

    def __init__(self, model: str, reason: str = NO_LUNG_MODEL_TEXT):
        super().__init__(model, reason)


@dataclass(frozen=True)
class ModelRoles:
    """The installed model playing each part of the analysis (None / () when none does).

    gate: task "gate". classifiers: every other classifier, TB screening first (a classifier with
        a "tb" label: the score the people who use this most read first), then by name. lungs: a segmentation
    model with a "lungs" channel. lesions: every lesion-map model (first channel in `LESION_LABELS`:
    the TB lesion model, the opacity lesion model), each one running and shown, by name; at most one
    per lesion label (the first by name), since each label has one layer. bone_suppression: task
    "bone_suppression". When several models fit another part, the first by name.
    """

    gate: str | None = None
    classifiers: tuple[str, ...] = ()
    lungs: str | None = None
    bone_suppression: str | None = None
    lesions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.lesions, str):  # one lesion model named on its own
            object.__setattr__(self, "lesions", (self.lesions,))
        elif self.lesions is None:
            object.__setattr__(self, "lesions", ())


def role_of(card: ModelCard) -> str | None:
    """"gate", "classifier", "lungs", "lesions", "bone_suppression", or None for no part."""
    if card.task == "gate":
        return "gate"
    if card.is_classifier:
        return "classifier"
    if card.task == "bone_suppression":
        return "bone_suppression"
    if card.task == "segmentation" and card.labels and card.labels[0] in LESION_LABELS:
        return "lesions"
    if card.task == "segmentation" and LUNGS_LABEL in card.labels:
        return "lungs"
    return None


def model_roles(models_dir: Path | None = None) -> ModelRoles:
    """The parts the installed models in `models_dir` (default `paths.models_dir()`) play, from their
    cards (files not verified here: loading the model does that). Unreadable cards play no part."""
    folder = Path(models_dir) if models_dir is not None else paths.models_dir()
    found: dict[str, list[str]] = {}
    screening: set[str] = set()
    lesion_label: dict[str, str] = {}
    for name in installed_models(folder):
        try:
            card = load_card(card_path(folder, name), verify_files=False)
        except (OSError, ModelError) as error:
            log.warning("model %s plays no part in the analysis: %s", name, error)
            continue
        role = role_of(card)
        if role is not None:
            found.setdefault(role, []).append(name)
        if role == "lesions":
            lesion_label[name] = card.labels[0]
        if SCREENING_LABEL in card.labels:
            screening.add(name)

    def first(role: str) -> str | None:
        return found.get(role, [None])[0]

    classifiers = sorted(found.get("classifier", ()), key=lambda name: (name not in screening, name))
    lesions: dict[str, str] = {}  # label -> the first model by name with it (one layer per label)
    for name in sorted(found.get("lesions", ())):
        lesions.setdefault(lesion_label[name], name)
    return ModelRoles(first("gate"), tuple(classifiers), first("lungs"),
                      first("bone_suppression"), tuple(sorted(lesions.values())))


def lesion_model(models_dir: Path | None = None, label: str = LESIONS_LABEL) -> str | None:
    """The installed lesion model (of `model_roles`) whose channel is `label` (default the TB
    lesions), or None."""
    folder = Path(models_dir) if models_dir is not None else paths.models_dir()
    for name in model_roles(folder).lesions:
        try:
            card = load_card(card_path(folder, name), verify_files=False)
        except (OSError, ModelError):
            continue
        if card.labels and card.labels[0] == label:
            return name
    return None


def lesion_label_of(card: ModelCard) -> str:
    """The lesion channel of a lesion-map model's card (its first label), e.g. "tb_lesions"."""
    if card.task != "segmentation" or not card.labels or card.labels[0] not in LESION_LABELS:
        raise ModelError(card.name, f"is a {card.task} model with labels {list(card.labels)}, not a lesion-map "
                                    f"model (first channel one of {', '.join(LESION_LABELS)})")
    return card.labels[0]


def card_stamp(models_dir: Path | None, name: str) -> tuple[int, ...]:
    """The card file's (size, mtime_ns), (0, 0) if absent, and the site settings file's: an export
    rewrites the card last, and a site threshold changes the calls, so a result computed under
    another stamp came from another version of the model or of its operating point."""
    folder = Path(models_dir) if models_dir is not None else paths.models_dir()
    return (*_file_stamp(card_path(folder, name)), *_file_stamp(paths.site_settings_file()))


def _file_stamp(path: Path) -> tuple[int, int]:
    try:
        stat = path.stat()
    except OSError:
        return (0, 0)
    return (stat.st_size, stat.st_mtime_ns)


@dataclass(frozen=True, eq=False)
class LesionFinding:
    """A lesion-map model (the TB lesion model, the opacity lesion model) on one study.

    probability: (H, W) float32 in [0, 1] on the study's grid, per-pixel P(lesion of `label`).
    score: `core.lesion_score.lesion_score(probability)` in [0, 1], the image-level score.
    threshold: the card's image-level operating threshold (thresholds[0]); positive: score >= threshold.
    label: the lesion channel (a key of `LESION_LABELS`), which also names the layer it is shown in.
    """

    model: str
    probability: Array
    score: float
    threshold: float
    positive: bool
    provider: str = ""
    seconds: float = 0.0
    site: SiteThreshold | None = None  # the site's own threshold, when it replaced the card's
    origin: str = ""  # "" for a signed release model, else `core.signing.UNSIGNED_TEXT`
    label: str = LESIONS_LABEL


def gate(loaded: LoadedModel, pixels: Array) -> GateResult:
    """Is this a frontal chest radiograph? (`analysis.gate.gate_check`)"""
    return gate_check(loaded, pixels)


def classify(loaded: LoadedModel, pixels: Array) -> Finding:
    """A classifier's probabilities and the decision at the card's operating threshold."""
    return classify_pixels(loaded, pixels)


def scores_images(card: ModelCard) -> bool:
    """A segmentation card with an operating threshold (a lesion model) also scores each image:
    `core.lesion_score.lesion_score` of its first channel, called at thresholds[0]."""
    return card.task == "segmentation" and len(card.thresholds) == 1


def net_outputs(loaded: LoadedModel, pixels: Array) -> dict[str, Array]:
    """An image-to-image net's own outputs on the study: {card label: (H, W) float32 on its grid}.

    Segmentation: per-pixel probability in [0, 1]. Bone suppression: the output image in the card's
    value range. The image is scaled into the card's value range and run through the backend's
    any-size transform; the arithmetic is done in place, so a 2048² study costs about two full-frame
    float32 temporaries beyond the backend's own. A card's known answer checks these (the weights and
    the runtime); what the reader is shown is `image_outputs`.
    """
    card = loaded.card
    if card.is_classifier:
        raise ModelError(card.name, f"is a {card.task} model: it gives no image outputs")
    pixels = np.asarray(pixels, dtype=np.float32)
    low, high = card.input.value_range
    scaled = pixels * np.float32(high - low)
    scaled += np.float32(low)
    image = scaled[None] if card.input.channels == 1 else np.repeat(scaled[None], card.input.channels, axis=0)
    output = loaded.backend.transform(image)
    del image, scaled
    if output.shape[0] != len(card.labels) or output.shape[1:] != pixels.shape:
        raise ModelError(card.name, f"output {output.shape} for an image {pixels.shape} and labels {card.labels}")
    output = np.asarray(output, dtype=np.float32)
    if card.task == "segmentation":
        with np.errstate(over="ignore"):  # exp(-logit) overflows to inf for confident background: P = 0
            np.negative(output, out=output)
            np.exp(output, out=output)
        output += 1.0
        np.reciprocal(output, out=output)
    return {label: output[i] for i, label in enumerate(card.labels)}


def image_outputs(loaded: LoadedModel, pixels: Array) -> dict[str, Array]:
    """What every caller shows or writes of an image-to-image model (`net_outputs`), with a "lungs"
    channel kept to its two largest regions (`core.lung_mask.keep_largest_regions`): the lung layer,
    the soft-tissue blend, a lung-cropped classifier's box and `analyze` all see the same lungs."""
    arrays = net_outputs(loaded, pixels)
    if loaded.card.task == "segmentation" and LUNGS_LABEL in arrays:
        arrays[LUNGS_LABEL] = keep_largest_regions(arrays[LUNGS_LABEL])
    return arrays


def segmentation_channel(loaded: LoadedModel, pixels: Array, label: str) -> Array:
    """Channel `label` of a segmentation model: (H, W) float32 probability in [0, 1] on the study's grid.
    Raises ModelError when the model is not a segmentation model with that channel."""
    card = loaded.card
    if card.task != "segmentation" or label not in card.labels:
        raise ModelError(card.name, f"is a {card.task} model with labels {list(card.labels)}, "
                                    f"not a segmentation model with a {label!r} channel")
    return image_outputs(loaded, pixels)[label]


def lung_probability(loaded: LoadedModel, pixels: Array) -> Array:
    """(H, W) float32 P(lung) in [0, 1] from the lung segmentation model, 0 outside its two largest
    regions (`image_outputs`)."""
    return segmentation_channel(loaded, pixels, LUNGS_LABEL)


def lesion_finding(loaded: LoadedModel, pixels: Array) -> LesionFinding:
    """A lesion model's map (TB lesions, lung opacity), its image-level score, and the call at the
    card's threshold. Raises ModelError when the card gives no image-level threshold."""
    started = time.perf_counter()
    lesion_label_of(loaded.card)
    return lesion_finding_of(loaded, image_outputs(loaded, pixels), time.perf_counter() - started)


def lesion_finding_of(loaded: LoadedModel, outputs: dict[str, Array], seconds: float = 0.0) -> LesionFinding:
    """The LesionFinding of a lesion model's `image_outputs`: its first channel's map, the image score
    (`core.lesion_score`) and the call at the threshold in force (the card's or the site's)."""
    card = loaded.card
    label = card.labels[0] if card.labels else ""
    if not scores_images(card) or label not in LESION_LABELS:
        raise ModelError(card.name, "its card gives no image-level threshold (thresholds[0]) for the lesion score of "
                                    f"its first channel, one of {', '.join(LESION_LABELS)}")
    probability = outputs[label]
    thresholds, site = operating_thresholds(card)
    score, threshold = lesion_score(probability), float(thresholds[0])
    return LesionFinding(card.name, probability, score, threshold, score >= threshold,
                         loaded.provider, seconds, site, origin_text(loaded), label)


def suppressed_image(loaded: LoadedModel, pixels: Array) -> Array:
    """The bone-suppression model's output mapped from the card's value range back onto the pixels'
    [0, 1] scale: (H, W) float32 in [0, 1], everywhere (inside and outside the lungs)."""
    card = loaded.card
    if card.task != "bone_suppression":
        raise ModelError(card.name, f"is a {card.task} model, not a bone-suppression model")
    output = image_outputs(loaded, pixels)[card.labels[0]]
    low, high = card.input.value_range
    output -= np.float32(low)  # the output is ours alone: scaled back in place
    output /= np.float32(high - low)
    return np.clip(output, 0.0, 1.0, out=output)


def feather_px(shape: tuple[int, ...]) -> float:
    """The soft-tissue seam width for an image of `shape` (H, W): FEATHER_FRACTION of its width."""
    return FEATHER_FRACTION * shape[1]


def soft_tissue(loaded: LoadedModel, pixels: Array, lungs: Array | None,
                feather: float | None = None) -> tuple[Array, Array]:
    """The soft-tissue view and the bones layer, both (H, W) float32 on the pixels' [0, 1] scale.

    lungs: (H, W) P(lung) in [0, 1] (`lung_probability`); None raises NoLungModelError, since
    without it the model's output would be shown outside the lungs. feather: seam width in pixels
    (default `feather_px`). soft tissue = suppressed inside the lungs, the original outside;
    bones = original - soft tissue (0 outside the lungs).
    """
    if lungs is None:
        raise NoLungModelError(loaded.card.name)
    pixels = np.asarray(pixels, dtype=np.float32)
    suppressed = suppressed_image(loaded, pixels)
    soft = soft_tissue_view(pixels, suppressed, lungs, feather_px(pixels.shape) if feather is None else feather)
    return soft, bones_view(pixels, soft)


def class_maps(loaded: LoadedModel, pixels: Array, class_index: int,
               methods: Sequence[str] = MAP_METHODS) -> dict[str, Array]:
    """{method: (H, W) float32 raw map} explaining class `class_index` of a classifier, with a forward
    pass of its own (`StudyAnalysis.maps` reuses the finding's). CAM is absent for a head that is not
    GAP → linear. Raises ModelError for a class the card does not have."""
    return compute_study_maps(loaded, np.asarray(pixels, dtype=np.float32), list(methods), class_index=class_index)
