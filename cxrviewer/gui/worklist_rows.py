"""The worklist's rows and columns as plain data, and the pictures its cells carry: a study's row
(its ids, thumbnail, answers, gate verdict, status and reading state), a model's column (its
readable title, card and labels), each model's figure (`score_of`), the thumbnail and the call's
colour swatch. The table model (`gui.worklist_model`) paints them.

Figures: a two-label classifier's is P(labels[1]) (the card's positive label); a single-label
classifier with more labels 1 − P(labels[0]) (its first label is the normal class in every shipped
card); a multilabel one its highest probability; a lesion model its image-level lesion score.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPixmap

from cxrviewer.analysis.pipeline import LESION_LABELS, LESIONS_LABEL
from cxrviewer.core.cards import ModelCard
from cxrviewer.core.image import ImageMeta
from cxrviewer.core.imageops.resample import resize
from cxrviewer.core.reading_store import ReadingState
from cxrviewer.core.reading_words import Summary, model_title

THUMBNAIL_SIZE = 48
SWATCH_SIZE = 12  # px: the call's colour beside its word


@dataclass(frozen=True)
class ScoreColumn:
    """key: "<kind>:<model>" of the results it shows; title: the header, a reader's name for the
    model (`core.reading_words.model_title`); tooltip: what the figure is; ident: the column's name in
    the CSV export (the model's id); labels: the model's labels; card: its card, None when unknown."""

    key: str
    title: str
    tooltip: str = ""
    ident: str = ""
    labels: tuple[str, ...] = ()
    card: ModelCard | None = None

    @property
    def kind(self) -> str:
        return self.key.partition(":")[0]

    @property
    def model(self) -> str:
        return self.key.partition(":")[2]


@dataclass
class StudyRow:
    """The UI state of one study in the worklist (mutable, owned by the model)."""

    study: int
    path: Path
    patient: str = ""
    study_text: str = ""
    thumbnail: QPixmap | None = None
    loaded: bool = False
    load_error: str = ""
    analysis: str = ""  # "", "queued", "analysing" or "done"
    step_errors: dict[str, str] = field(default_factory=dict)  # score/gate key → message
    scores: dict[str, float] = field(default_factory=dict)
    summaries: dict[str, Summary] = field(default_factory=dict)  # score key → the answer in words
    gate: tuple[bool, float] | None = None  # (accepted, P(frontal chest radiograph))
    meta: ImageMeta | None = None  # the study's metadata (its age), once loaded
    reading: ReadingState | None = None

    def pending(self, key: str | None) -> str:
        """What the answer cell of `key` (None: the most urgent of every model's) says without an
        answer: why there is none yet, or none at all."""
        failed = key in self.step_errors if key is not None else any(k != "gate" for k in self.step_errors)
        if self.load_error or failed or "read" in self.step_errors:
            return "failed"
        if not self.loaded:
            return "loading…"
        return {"queued": "queued", "analysing": "triaging…"}.get(self.analysis, "not run")

    @property
    def status(self) -> str:
        if self.load_error:
            return f"failed: {self.load_error}"
        if not self.loaded:
            return "loading…"
        if self.analysis == "analysing":
            return "analysing"
        if self.step_errors:
            return f"failed: {next(iter(self.step_errors.values()))}"
        return self.analysis or "loaded"


def score_of(kind: str, payload: object) -> float:
    """The triage score of a "finding" (analysis.findings.Finding) or "lesions" (LesionFinding) result."""
    if kind == "lesions":
        return float(payload.score)
    probabilities = tuple(float(p) for p in payload.probabilities)
    if getattr(payload, "rule", "") == "multilabel":
        return max(probabilities)
    if len(probabilities) == 2:
        return probabilities[1]
    return 1.0 - probabilities[0]


def score_column(kind: str, model: str, payload: object | None = None, card: ModelCard | None = None) -> ScoreColumn:
    """The column of a "finding" or "lesions" model: its readable title and what its figure is, from
    its card (else the result's labels); `payload`, its first result (None before one), says whether
    a site threshold makes the calls and whether the release signed the model, which the column says
    too, since its calls are read without the findings panel."""
    if kind == "lesions":
        label = getattr(payload, "label", None) or (card.labels[0] if card is not None else LESIONS_LABEL)
        labels = card.labels if card is not None else (label,)
    else:
        label, labels = LESIONS_LABEL, card.labels if card is not None else tuple(getattr(payload, "labels", ()))
    lesion = LESION_LABELS.get(label, "TB")
    ident = model if kind != "lesions" else f"{model} ({lesion})"
    title = model_title(model, labels, kind, card)
    tooltip = score_tooltip(kind, labels, getattr(payload, "rule", ""), lesion)
    origin, site = getattr(payload, "origin", ""), getattr(payload, "site", None)
    if origin:
        title, tooltip = f"{title} (unsigned)", f"{tooltip}\n{origin}"
    if site is not None:
        tooltip = f"{tooltip}\nCalls at the {site.describe()}"
    return ScoreColumn(f"{kind}:{model}", title, tooltip, ident, labels, card)


def score_tooltip(kind: str, labels: tuple[str, ...], rule: str = "", lesion: str = "TB") -> str:
    """`lesion`: a lesion model's short name (`analysis.pipeline.LESION_LABELS`), "TB" or "opacity"."""
    if kind == "lesions":
        return f"{lesion} lesion score: mean of the lesion map's top 0.5 % of pixels"
    if rule == "multilabel":
        return "highest probability of " + ", ".join(labels)
    if len(labels) == 2:
        return f"P({labels[1]})"
    return f"1 − P({labels[0]})" if labels else ""


def thumbnail(pixels: npt.NDArray[np.float32], size: int = THUMBNAIL_SIZE) -> QPixmap:
    """pixels (H, W) float32 [0, 1], display polarity → a grey pixmap whose longer side is `size`."""
    rows, columns = pixels.shape
    scale = size / max(rows, columns)
    small = resize(pixels, (max(1, round(rows * scale)), max(1, round(columns * scale))), "area")
    grey = np.ascontiguousarray(np.clip(small * 255.0 + 0.5, 0, 255).astype(np.uint8))
    image = QImage(grey.data, grey.shape[1], grey.shape[0], grey.strides[0], QImage.Format.Format_Grayscale8)
    return QPixmap.fromImage(image.copy())


@cache
def swatch(colour: str) -> QIcon:
    """A disc of `colour` ("#b3261e"), SWATCH_SIZE across; an icon, so the table draws it at its own
    size rather than at the thumbnails' icon size."""
    pixmap = QPixmap(SWATCH_SIZE, SWATCH_SIZE)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(colour))
    painter.drawEllipse(0, 0, SWATCH_SIZE, SWATCH_SIZE)
    painter.end()
    return QIcon(pixmap)


def study_ids(meta: ImageMeta) -> tuple[str, str]:
    """(patient, study): Patient ID (else the file name) and Accession Number, Study ID or date."""
    tags = {name: value for _tag, name, _vr, value in meta.tags}
    study = tags.get("Accession Number") or tags.get("Study ID") or meta.study_date or meta.description
    return meta.patient_id or meta.path.name, study
