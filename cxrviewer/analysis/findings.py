"""One study through one installed classifier: its probabilities and the decision the card implies.

The decision follows the card: for two labels, label 1 is called when its probability reaches the
card's operating threshold `thresholds[1]` (chosen on validation data, not 0.5); for more labels of
a single-label task, the most probable one; for a multilabel task, every label at or above its own
threshold. The classifier runs once per study (`forward_pass`): the same logits give the finding and
the same features give the Grad-CAM, CAM and CRM maps (`analysis.study_maps`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from cxrviewer.analysis.installed import installed_model
from cxrviewer.analysis.model_input import model_input
from cxrviewer.core.cards import ModelCard
from cxrviewer.core.errors import ModelError
from cxrviewer.core.preprocess import Geometry
from cxrviewer.core.signing import UNSIGNED_TEXT
from cxrviewer.core.site_settings import SiteThreshold, load_site_thresholds
from cxrviewer.runtime.backend import LoadedModel

DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class Finding:
    """What one classifier says about one study.

    probabilities: one per card label, in the card's order, each in [0, 1] (softmax over the labels
        for single-label tasks, an independent sigmoid per label for multilabel).
    positive: indices of the labels the decision calls (exactly one for single-label tasks).
    rule: how the decision was made: "threshold" (two labels, label 1 against `threshold`),
        "argmax" (more labels, one answer) or "multilabel" (each label against its own threshold).
    threshold: the operating threshold of the "threshold" rule; None for the others.
    """

    model: str
    labels: tuple[str, ...]
    probabilities: tuple[float, ...]
    positive: tuple[int, ...]
    rule: str
    threshold: float | None
    provider: str
    seconds: float
    site: SiteThreshold | None = None  # the site's own threshold, when it replaced the card's
    origin: str = ""  # "" for a signed release model, else `core.signing.UNSIGNED_TEXT`


def probabilities(card: ModelCard, logits: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
    """logits (K,) raw → (K,) float64 probabilities in [0, 1], as the card's task reads them."""
    z = np.asarray(logits, dtype=np.float64)
    if card.task == "multilabel":
        return 1.0 / (1.0 + np.exp(-z))
    e = np.exp(z - z.max())
    return e / e.sum()


def operating_thresholds(card: ModelCard) -> tuple[tuple[float, ...], SiteThreshold | None]:
    """The thresholds calls are made at: the card's, or with the site's own (`core.site_settings`) in
    place of its label's. Raises ModelError when the site calibrated another version of the model
    or a label it does not have, ConfigError when the site settings are damaged."""
    thresholds = card.thresholds or (DEFAULT_THRESHOLD,) * len(card.labels)
    site = load_site_thresholds().get(card.name)
    if site is None:
        return tuple(thresholds), None
    if site.card_version != card.version:
        raise ModelError(card.name, f"its site threshold was calibrated for version {site.card_version}, the "
                                    f"installed model is version {card.version}: recalibrate or remove it "
                                    f"(cxrviewer site clear --model {card.name})")
    if site.label not in card.labels:
        raise ModelError(card.name, f"its site threshold is for label {site.label!r}, which it does not have")
    index = card.labels.index(site.label)
    return tuple(site.threshold if i == index else t for i, t in enumerate(thresholds)), site


def positive_label(card: ModelCard) -> tuple[str, float]:
    """(the label a site threshold calls, the card's threshold for it): a two-label classifier's
    second, a segmentation model's image-level first (`commands.site`, the calibration)."""
    index = 1 if card.is_classifier else 0
    thresholds = card.thresholds or (DEFAULT_THRESHOLD,) * len(card.labels)
    return card.labels[index], float(thresholds[index])


def origin_text(loaded: LoadedModel) -> str:
    """What a reading says of the model's origin: nothing for a signed release model."""
    return "" if loaded.trust.signed else UNSIGNED_TEXT


def decide(card: ModelCard, probs: npt.NDArray[np.floating]) -> tuple[tuple[int, ...], str, float | None]:
    """(indices of the called labels, the rule, the binary operating threshold or None)."""
    thresholds, _ = operating_thresholds(card)
    if card.task == "multilabel":
        return tuple(i for i, p in enumerate(probs) if p >= thresholds[i]), "multilabel", None
    if len(card.labels) == 2:
        return ((1,) if probs[1] >= thresholds[1] else (0,)), "threshold", float(thresholds[1])
    return (int(np.argmax(probs)),), "argmax", None


@dataclass(frozen=True, eq=False)
class ForwardPass:
    """One classifier's one forward pass on one study, kept so its maps need no second one.

    x: (C, h, w) float32 model input; geometry: where it lies on the study (maps go back through it);
    logits: (K,) raw; features: (F, fh, fw) the last conv feature maps; seconds: input + pass.
    """

    model: str
    x: npt.NDArray[np.float32]
    geometry: Geometry
    logits: npt.NDArray[np.float32]
    features: npt.NDArray[np.float32]
    seconds: float


def forward_pass(loaded: LoadedModel, pixels: npt.NDArray[np.float32],
                 lungs: npt.NDArray[np.float32] | None = None) -> ForwardPass:
    """pixels (H, W) float32 [0, 1], air dark → the classifier's input, logits and features.

    lungs: the study's P(lung) (H, W) when already computed, for a contract cropped to the lungs
    (`analysis.model_input`). Raises ModelError when the card is not a classifier or the graph
    returns logits of another shape, ConfigError when the preprocessing cannot be applied.
    """
    card = loaded.card
    if not card.is_classifier:
        raise ModelError(card.name, f"is a {card.task} model, not a classifier")
    started = time.perf_counter()
    x, geometry = model_input(loaded, pixels, lungs)
    logits, features = loaded.backend.classify(x[None])
    if logits.shape != (1, len(card.labels)):
        raise ModelError(card.name, f"returned logits of shape {logits.shape} for {len(card.labels)} labels")
    return ForwardPass(card.name, x, geometry, logits[0], features[0], time.perf_counter() - started)


def finding_of(loaded: LoadedModel, forward: ForwardPass) -> Finding:
    """The Finding a forward pass gives: probabilities and the decision at the threshold in force."""
    card = loaded.card
    probs = probabilities(card, forward.logits)
    positive, rule, threshold = decide(card, probs)
    _, site = operating_thresholds(card)
    return Finding(card.name, tuple(card.labels), tuple(float(p) for p in probs), positive, rule, threshold,
                   loaded.provider, forward.seconds, site, origin_text(loaded))


def classify_pixels(loaded: LoadedModel, pixels: npt.NDArray[np.float32],
                    lungs: npt.NDArray[np.float32] | None = None) -> Finding:
    """pixels (H, W) float32 [0, 1], display polarity (air dark) → the model's Finding (`forward_pass`)."""
    return finding_of(loaded, forward_pass(loaded, pixels, lungs))


def classify_study(name: str, pixels: npt.NDArray[np.float32], models_dir: Path | None = None) -> Finding:
    """Installed classifier `name` on pixels (H, W) float32 [0, 1], air dark → its Finding."""
    return classify_pixels(installed_model(name, models_dir), pixels)
