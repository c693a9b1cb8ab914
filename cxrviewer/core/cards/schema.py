"""The model card's schema: what a model file is, what it expects, what it was checked against.

A card is `models/<name>.card.json` beside the files it lists (`<name>.onnx`, `<name>.saliency.onnx`,
`<name>.head.safetensors`, `<name>.safetensors`). These frozen dataclasses are the card as the program
holds it; `reading` validates the JSON into them, `writing` writes them back field for field. The
card's `input` is the preprocessing contract itself (`core.preprocess.InputContract`): what
`prepare` makes from display pixels is what the model takes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cxrviewer.core.preprocess import InputContract

SCHEMA = "cxrviewer.card/1"
CARD_SUFFIX = ".card.json"
TASKS = ("classification", "multilabel", "bone_suppression", "segmentation", "gate")
# Where a figure was measured: "internal" is a held-out part of the sources the model trained on;
# "external" is a source (or a named part of one: another hospital, another acquisition period)
# that played no part in training or model selection. Only external figures say how a model holds.
SCOPES = ("internal", "external")
CLASSIFIER_TASKS = ("classification", "multilabel", "gate")
FILE_ROLES = ("onnx", "saliency_onnx", "head", "weights")
HEAD_KINDS = ("gap_linear", "mlp")
HEAD_OPS = ("mean_hw", "maxpool2d", "flatten", "linear", "relu", "dropout")


@dataclass(frozen=True)
class HeadLayer:
    """One layer of the head after the features. `weight`/`bias` are keys in the head file."""

    op: str
    params: dict[str, Any] = field(default_factory=dict)
    weight: str | None = None
    bias: str | None = None


@dataclass(frozen=True)
class HeadSpec:
    """The head that maps the `features` output to `logits`; weights live in `file` (safetensors)."""

    kind: str
    file: str
    layers: tuple[HeadLayer, ...]


@dataclass(frozen=True)
class FileEntry:
    role: str
    path: str  # relative to the card's folder
    sha256: str
    size: int


@dataclass(frozen=True)
class Provenance:
    data: tuple[str, ...] = ()
    split: str = ""
    command: str = ""
    commit: str = ""
    date: str = ""
    wall_time_s: float | None = None


@dataclass(frozen=True)
class Metric:
    """One figure on one named split; `ci95` is a bootstrap 95 % interval when one was computed;
    `scope` says whether the split is internal or external (see SCOPES)."""

    name: str
    value: float
    split: str
    ci95: tuple[float, float] | None = None
    scope: str = "internal"


@dataclass(frozen=True)
class Confusion:
    """Counts on one split: rows are the true labels, columns the predicted ones (card.labels order)."""

    split: str
    matrix: tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class Complexity:
    """What the model costs: parameters, multiply-adds of one forward pass at the input size, and
    the median ONNX Runtime CPU latency of one image measured when shipped (threads as noted)."""

    parameters: int
    macs: int | None = None
    cpu_ms: float | None = None
    cpu_note: str = ""


@dataclass(frozen=True)
class Reference:
    """A fixed input and what the shipped files give for it, so anyone can check that a copy of the
    model still answers as it did. `input` is relative to the shared data folder.

    probabilities: a classifier's, one per label. figures: an image model's summary of its output on
    the input's own grid (`analysis.batch.reference_figures`: per label the output's mean and
    standard deviation, and the model's CSV figures), empty for a classifier.
    """

    input: str
    probabilities: tuple[float, ...] = ()
    figures: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class KnownAnswer:
    """What the shipped files give for a study that ships with the program (`input`, relative to
    `resources/`: the demo study), recomputed through the viewer's own path the first time a copy of
    the model is loaded (`analysis.known_answer`). Unlike `reference`, its input is always there.

    probabilities / figures: as in `Reference`. tolerance: the largest absolute difference accepted
    for a probability, and relative (to max(|value|, 1)) for a figure: other CPUs and providers round
    differently, a different weight or preprocessing moves them far more.
    """

    input: str
    probabilities: tuple[float, ...] = ()
    figures: dict[str, float] = field(default_factory=dict)
    tolerance: float = 1e-3


@dataclass(frozen=True)
class Population:
    """Who the training images came from, so a reader can see when a study falls outside it.

    `age_years` is (low, high), inclusive; whole-number ends count completed years, as DICOM records
    ages, so (1, 5) takes in a child of 5 years 11 months. None when the card does not say.
    """

    description: str = ""  # in the reader's words, e.g. "children aged 1–5, one Guangzhou hospital"
    age_years: tuple[float, float] | None = None


@dataclass(frozen=True)
class ParityFigure:
    """max|onnx - reference| / max|reference| of one output on one input ("random:<i>" or "real:<file>").

    For saliency, `float32_autograd` is the same figure for PyTorch's own float32 autograd: how well
    float32 can do on this input at all. When `max_rel_diff` exceeds the tolerance, `same_piece` is
    the figure against float64 autograd on the ONNX graph's own linear piece (its ReLU masks and
    max-pool argmaxes), `kinks` how many of those choices differ from float64's and `kink_margin`
    the farthest of them from its kink, relative (see `cxrviewer.training.saliency_parity`).
    """

    output: str
    inputs: str
    max_rel_diff: float
    float32_autograd: float | None = None
    same_piece: float | None = None
    kinks: int | None = None
    kink_margin: float | None = None


@dataclass(frozen=True)
class ModelCard:
    name: str
    version: str
    task: str
    arch: str
    labels: tuple[str, ...]
    thresholds: tuple[float, ...]  # operating threshold per label, same order as labels
    input: InputContract
    outputs: tuple[str, ...]
    files: tuple[FileEntry, ...]
    head: HeadSpec | None = None
    saliency_file: str | None = None
    arch_params: dict[str, Any] = field(default_factory=dict)  # kwargs of nets.build
    provenance: Provenance = Provenance()
    metrics: tuple[Metric, ...] = ()
    parity: tuple[ParityFigure, ...] = ()
    limits: tuple[str, ...] = ()  # what the model was not validated for, in the reader's words
    # What the displayed probability means and how the operating threshold was chosen, for readers.
    probability_meaning: str = ""
    confusion: tuple[Confusion, ...] = ()
    complexity: Complexity | None = None
    reference: Reference | None = None
    population: Population | None = None
    known_answer: KnownAnswer | None = None
    notes: tuple[str, ...] = ()  # anything else a reader or researcher should know (small data, ...)
    schema: str = SCHEMA

    @property
    def is_classifier(self) -> bool:
        return self.task in CLASSIFIER_TASKS

    def file(self, role: str) -> FileEntry | None:
        return next((f for f in self.files if f.role == role), None)


def card_path(models_dir: Path, name: str) -> Path:
    return Path(models_dir) / f"{name}{CARD_SUFFIX}"
