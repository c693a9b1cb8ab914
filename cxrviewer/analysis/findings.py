"""One study through one installed classifier: its probabilities and the decision the card implies.

The decision follows the card: for two labels, label 1 is called when its probability reaches the
card's operating threshold `thresholds[1]` (chosen on validation data, not 0.5); for more labels of
a single-label task, the most probable one; for a multilabel task, every label at or above its own
threshold. Loaded models are kept per version of their files, so each study does not hash them again.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from cxrviewer import paths
from cxrviewer.analysis.model_input import model_input
from cxrviewer.core.cards import ModelCard
from cxrviewer.core.errors import ModelError
from cxrviewer.core.signing import UNSIGNED_TEXT
from cxrviewer.core.site_settings import SiteThreshold, load_site_thresholds
from cxrviewer.runtime.backend import LoadedModel

DEFAULT_THRESHOLD = 0.5
_MODELS_KEPT = 8
_models: dict[tuple, LoadedModel] = {}
_models_lock = threading.Lock()


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


def classify_pixels(loaded: LoadedModel, pixels: npt.NDArray[np.float32]) -> Finding:
    """pixels (H, W) float32 [0, 1], display polarity (air dark) → the model's Finding.

    Raises ModelError when the card is not a classifier, ConfigError when its preprocessing cannot
    be applied to a whole image (a lung crop needs a lung box).
    """
    card = loaded.card
    if not card.is_classifier:
        raise ModelError(card.name, f"is a {card.task} model, not a classifier")
    started = time.perf_counter()
    x, _ = model_input(loaded, pixels)
    logits, _ = loaded.backend.classify(x[None])
    if logits.shape != (1, len(card.labels)):
        raise ModelError(card.name, f"returned logits of shape {logits.shape} for {len(card.labels)} labels")
    probs = probabilities(card, logits[0])
    positive, rule, threshold = decide(card, probs)
    _, site = operating_thresholds(card)
    return Finding(card.name, tuple(card.labels), tuple(float(p) for p in probs), positive, rule, threshold,
                   loaded.provider, time.perf_counter() - started, site, origin_text(loaded))


def installed_model(name: str, models_dir: Path | None = None) -> LoadedModel:
    """`runtime.registry.load_model` that gave its known answer (`analysis.known_answer`), reused while
    none of the model's files changed on disk. The one loader of the viewer, `analyze` and `report`."""
    from cxrviewer.runtime.registry import load_model

    folder = Path(models_dir) if models_dir is not None else paths.models_dir()
    try:
        stamps = tuple(sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in folder.glob(f"{name}.*")))
    except OSError as error:  # a file replaced under us by an export in progress
        raise ModelError(name, f"its files in {folder} are changing ({error.strerror}); try again") from None
    key = (str(folder.resolve()), name, stamps)
    with _models_lock:
        loaded = _models.get(key)
    if loaded is None:
        from cxrviewer.analysis.known_answer import check_known_answer

        # Signature, checksums, graph shapes, then the known answer: outside the lock, they take a while.
        loaded = load_model(name, folder)
        check_known_answer(loaded)
        with _models_lock:
            while len(_models) >= _MODELS_KEPT:
                _models.pop(next(iter(_models)))
            _models[key] = loaded
    return loaded


def classify_study(name: str, pixels: npt.NDArray[np.float32], models_dir: Path | None = None) -> Finding:
    """Installed classifier `name` on pixels (H, W) float32 [0, 1], air dark → its Finding."""
    return classify_pixels(installed_model(name, models_dir), pixels)
