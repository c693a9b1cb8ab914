"""What an export says: the composed view, the layers shown, the models' readings, their cards, the
study it came from, and whether identifiers must be left out. Shared by the PNG, PDF and DICOM writers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import numpy.typing as npt

from cxrviewer import __version__
from cxrviewer.core.cards import ModelCard
from cxrviewer.core.export.atomic import ExportError
from cxrviewer.core.image import ImageMeta
from cxrviewer.core.legend import LayerLegend
from cxrviewer.core.orientation import Orientation
from cxrviewer.core.reading_words import Summary, card_text, not_run, population_reason, withheld
from cxrviewer.core.suitability import age_fit, model_cautions, study_cautions

SOFTWARE = f"cxrviewer {__version__}"
NOT_CLINICAL = ("Research tool, not for clinical use: model outputs are aids for a reader, not diagnoses, "
                "and were not validated for clinical decisions.")
WITHHELD = "withheld (anonymised export)"
BURNED_IN_TAG = "(0028,0301)"
BURNED_IN_CAUTION = ("the source is marked as carrying burned-in annotation: text in the pixels may identify "
                     "the patient, and anonymising does not remove it")


@dataclass(frozen=True)
class Reading:
    """One model's reading of the study as a report prints it.

    result: the call in words with its figure, e.g. "pneumonia: P(pneumonia) 97.3 % >= threshold 72.6 %".
    threshold: the operating threshold the call was made at; None when the call needs none (argmax).
    meaning: what the figure and the threshold mean, in the card's words (may be "").
    summary: the answer in one line (`core.reading_words`), as the findings panel's summary says it;
        None where only `result` is known (a report then says "not run" with `result` as the reason).
    origin: "" for a signed release model, else what it is ("unsigned: trained on this workstation").
    """

    model: str
    result: str
    threshold: float | None = None
    meaning: str = ""
    summary: Summary | None = None
    origin: str = ""


@dataclass(frozen=True, eq=False)
class ExportContent:
    """Everything one export of the current view needs.

    composed: (H', W', 3) uint8 RGB from `core.display.compose.compose`, on the study's pixel grid
        turned by `orientation` (Orientation.apply), as the reader saw it.
    layers: the layers shown, in the reader's words, bottom to top.
    meta: the study's metadata (None for a view that came from no file).
    gate: the frontal chest radiograph check's verdict in words ("" when no gate ran).
    cards: the cards of the models behind the readings and layers (versions and checksums).
    anonymise: leave every patient identifier and the source file's name out of the export.
    orientation: how the reader had flipped and rotated the study; the identity for a view as stored.
    legends: one per layer drawn over the base (colour map, scale, display threshold), bottom to top.
    """

    composed: npt.NDArray[np.uint8]
    layers: tuple[str, ...] = ()
    meta: ImageMeta | None = None
    readings: tuple[Reading, ...] = ()
    gate: str = ""
    cards: tuple[ModelCard, ...] = ()
    anonymise: bool = False
    created: datetime = field(default_factory=lambda: datetime.now(timezone.utc).astimezone())
    orientation: Orientation = Orientation()
    legends: tuple[LayerLegend, ...] = ()

    def __post_init__(self) -> None:
        composed = np.asarray(self.composed)
        if composed.dtype != np.uint8 or composed.ndim != 3 or composed.shape[2] != 3:
            raise ValueError(f"the composed view must be (H, W, 3) uint8, got {composed.dtype} {composed.shape}")
        object.__setattr__(self, "composed", np.ascontiguousarray(composed))
        if not isinstance(self.orientation, Orientation):
            raise TypeError(f"orientation must be an Orientation, got {type(self.orientation).__name__}")

    @property
    def orientation_note(self) -> str:
        """The orientation in words, saying that it is the reader's when it is not the file's."""
        if self.orientation.is_identity:
            return "as stored in the source file"
        return f"as the reader turned it: {self.orientation.describe()} from the source file's pixel grid"

    @property
    def source_name(self) -> str:
        """The source file's name, or WITHHELD: a file name may carry a patient's name or number."""
        if self.meta is None:
            return "none"
        return WITHHELD if self.anonymise else self.meta.path.name

    def check_target(self, path: str | Path) -> None:
        """Raise ExportError when `path` is the study's own file: an export must never replace it."""
        path = Path(path)
        if self.meta is not None and path.exists() and self.meta.path.exists() and path.samefile(self.meta.path):
            raise ExportError(path, "this is the study's own file; choose another name (nothing was written)")

    @property
    def burned_in(self) -> bool:
        """The source file says its pixels carry burned-in annotation (text anonymising cannot remove)."""
        tags = self.meta.tags if self.meta is not None else ()
        return any(tag == BURNED_IN_TAG and value.strip().upper() == "YES" for tag, _name, _vr, value in tags)

    def study_facts(self) -> list[tuple[str, str]]:
        """(label, value) pairs describing the study; identifiers only when not anonymising."""
        height, width = self.composed.shape[:2]
        facts = [("Source", self.source_name)]
        meta = self.meta
        if meta is not None:
            kind = " ".join(part for part in (meta.format, meta.modality) if part)
            facts.append(("Image", f"{kind}, {width} x {height} pixels"))
            if self.anonymise:
                facts.append(("Patient", WITHHELD))
                if self.burned_in:
                    facts.append(("Caution", BURNED_IN_CAUTION))
            else:
                identity = [
                    ("Patient", " / ".join(p for p in (meta.patient_name, meta.patient_id) if p)),
                    ("Study date", meta.study_date),
                    ("Study UID", meta.study_uid),
                    ("Description", meta.description),
                ]
                facts += [(label, value) for label, value in identity if value]
        else:
            facts.append(("Image", f"{width} x {height} pixels"))
        facts.append(("Orientation", self.orientation_note))
        return facts

    def cautions(self) -> list[str]:
        """The cautions the findings panel shows for this study: about the study itself (a phantom),
        then per model (a recorded age outside its training population; the age itself left out of
        an anonymised export)."""
        said = list(study_cautions(self.meta))
        for card in self.cards:
            said += [f"{card.name}: {text}" for text in model_cautions(self.meta, card, name_age=not self.anonymise)]
        return said

    def summaries(self) -> list[Summary]:
        """One line per reading, as the findings panel's summary says it: an answer that does not
        apply to this patient (age outside the card's population, or unknown for an age-bound card)
        is withheld with the reason, as on screen; a reading without a summary did not run."""
        cards = {card.name: card for card in self.cards}
        lines = []
        for reading in self.readings:
            if reading.summary is None:
                lines.append(not_run(reading.model, reading.result))
                continue
            card = cards.get(reading.model)
            reason = population_reason(age_fit(self.meta, card), card) if card is not None else ""
            lines.append(withheld(reading.summary, reason) if reason and reading.summary.answered else reading.summary)
        return lines

    def limits(self) -> list[str]:
        """The general statement, then each distinct card limit once, with the models that state it."""
        models: dict[str, list[str]] = {}
        for card in self.cards:
            for limit in card.limits:  # in the findings panel's words: no data folders or file names
                models.setdefault(card_text(limit), []).append(card.name)
        return [NOT_CLINICAL] + [f"{', '.join(names)}: {limit}" for limit, names in models.items()]
