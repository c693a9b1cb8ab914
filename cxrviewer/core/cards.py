"""Model cards: what a model file is, what it expects, what it was checked against.

A card is `models/<name>.card.json` beside the files it lists (`<name>.onnx`, `<name>.saliency.onnx`,
`<name>.head.safetensors`, `<name>.safetensors`). `load_card` refuses any card whose schema is wrong
or whose files are missing or differ from their recorded sha256, so a tampered or half-copied model
is never run. Pure: json, hashlib, numpy and `safetensors.numpy` only (no torch, no onnxruntime).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from cxrviewer.core.atomic import write_text_atomically
from cxrviewer.core.errors import ModelError

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
RESIZE_POLICIES = ("none", "tile", "resize", "rescale_residual")
# Values this far outside the contract's range mean the caller skipped or doubled the scaling
# (0..255 given to a [0, 1] model), not rounding.
RANGE_SLACK = 1e-3


@dataclass(frozen=True)
class PreprocessStep:
    """One named step of the preprocessing chain, e.g. ("clahe", {"clip_limit": 2.0, "tile": 8})."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class InputContract:
    """The tensor a model takes: (N, channels, height, width) float32 within value_range.

    For image-to-image models (height, width) is the working size; `resize_policy` says how the
    runtime fits other sizes to it ("tile" keeps full resolution, "resize" scales the whole image,
    "rescale_residual" runs at the working scale and applies the removed part at full resolution;
    see `runtime.tiling`).
    """

    height: int
    width: int
    channels: int
    value_range: tuple[float, float] = (0.0, 1.0)
    scaling: str = "display pixels [0, 1], air dark"
    preprocessing: tuple[PreprocessStep, ...] = ()
    resize_policy: str = "none"


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


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_entry(role: str, path: Path) -> FileEntry:
    """Describe (and hash now) a file that will sit beside the card under the same name."""
    return FileEntry(role=role, path=path.name, sha256=file_sha256(path), size=path.stat().st_size)


def card_to_dict(card: ModelCard) -> dict[str, Any]:
    return asdict(card)


def write_card(card: ModelCard, path: Path) -> None:
    """Write atomically (`core.atomic`), so readers never see half a card."""
    write_text_atomically(path, json.dumps(card_to_dict(card), indent=2, sort_keys=False, allow_nan=False) + "\n")


class _Reader:
    """Typed access to one JSON object; every problem becomes a ModelError naming card and key."""

    def __init__(self, model: str, data: Any, where: str = ""):
        if not isinstance(data, dict):
            raise ModelError(model, f"card field {where or 'root'} must be an object")
        self.model, self.data, self.where = model, data, where

    def _fail(self, key: str, problem: str) -> ModelError:
        return ModelError(self.model, f"card field {self.where}{key} {problem}")

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        if key not in self.data:
            if default is ...:
                raise self._fail(key, "is missing")
            return default
        value = self.data[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise self._fail(key, f"has the wrong type ({type(value).__name__})")
        return value

    def choice(self, key: str, allowed: tuple[str, ...], default: Any = ...) -> str:
        value = self.get(key, str, default)
        if value not in allowed:
            raise self._fail(key, f"is {value!r}; expected one of {', '.join(allowed)}")
        return value

    def child(self, key: str) -> _Reader:
        return _Reader(self.model, self.get(key, dict), f"{self.where}{key}.")

    def children(self, key: str, default: Any = ...) -> list[_Reader]:
        items = self.get(key, list, [] if default is not ... else ...)
        return [_Reader(self.model, item, f"{self.where}{key}[{i}].") for i, item in enumerate(items)]

    def strings(self, key: str, default: Any = ...) -> tuple[str, ...]:
        items = self.get(key, list, default)
        if not all(isinstance(item, str) for item in items):
            raise self._fail(key, "must be a list of strings")
        return tuple(items)

    def numbers(self, key: str, default: Any = ...) -> tuple[float, ...]:
        items = self.get(key, list, default)
        if not all(isinstance(item, (int, float)) and not isinstance(item, bool) for item in items):
            raise self._fail(key, "must be a list of numbers")
        return tuple(float(item) for item in items)


def card_from_dict(model: str, data: Any) -> ModelCard:
    """Validate a card as parsed from JSON; ModelError names `model` and the offending field."""
    root = _Reader(model, data)
    if root.get("schema", str) != SCHEMA:
        raise ModelError(model, f"card schema is {root.data['schema']!r}, this program reads {SCHEMA!r}")
    contract = root.child("input")
    value_range = contract.numbers("value_range", [0.0, 1.0])
    if len(value_range) != 2 or value_range[0] >= value_range[1]:
        raise ModelError(model, "card field input.value_range must be [low, high] with low < high")
    size = [contract.get(k, int) for k in ("height", "width", "channels")]
    if min(size) < 1:
        raise ModelError(model, "card field input height/width/channels must be positive")
    input_contract = InputContract(
        height=size[0],
        width=size[1],
        channels=size[2],
        value_range=(value_range[0], value_range[1]),
        scaling=contract.get("scaling", str, ""),
        preprocessing=tuple(
            PreprocessStep(step.get("name", str), step.get("params", dict, {}))
            for step in contract.children("preprocessing", [])
        ),
        resize_policy=contract.choice("resize_policy", RESIZE_POLICIES, "none"),
    )
    head = None
    if root.data.get("head") is not None:
        spec = root.child("head")
        head = HeadSpec(
            kind=spec.choice("kind", HEAD_KINDS),
            file=spec.get("file", str),
            layers=tuple(
                HeadLayer(
                    op=layer.choice("op", HEAD_OPS),
                    params=layer.get("params", dict, {}),
                    weight=layer.get("weight", (str, type(None)), None),
                    bias=layer.get("bias", (str, type(None)), None),
                )
                for layer in spec.children("layers")
            ),
        )
    files = tuple(
        FileEntry(
            role=entry.choice("role", FILE_ROLES),
            path=entry.get("path", str),
            sha256=entry.get("sha256", str),
            size=entry.get("size", int),
        )
        for entry in root.children("files")
    )
    prov = root.child("provenance") if "provenance" in root.data else _Reader(model, {}, "provenance.")
    labels = root.strings("labels")
    thresholds = root.numbers("thresholds", [])
    if thresholds and len(thresholds) != len(labels):
        raise ModelError(model, f"card has {len(labels)} labels but {len(thresholds)} thresholds")
    return ModelCard(
        name=root.get("name", str),
        version=root.get("version", str),
        task=root.choice("task", TASKS),
        arch=root.get("arch", str),
        labels=labels,
        thresholds=thresholds,
        input=input_contract,
        outputs=root.strings("outputs"),
        files=files,
        head=head,
        saliency_file=root.get("saliency_file", (str, type(None)), None),
        arch_params=root.get("arch_params", dict, {}),
        provenance=Provenance(
            data=prov.strings("data", []),
            split=prov.get("split", str, ""),
            command=prov.get("command", str, ""),
            commit=prov.get("commit", str, ""),
            date=prov.get("date", str, ""),
            wall_time_s=prov.get("wall_time_s", (float, type(None)), None),
        ),
        metrics=tuple(
            Metric(m.get("name", str), m.get("value", float), m.get("split", str), _pair(m, "ci95"),
                   m.choice("scope", SCOPES, "internal"))
            for m in root.children("metrics", [])
        ),
        parity=tuple(
            ParityFigure(
                p.get("output", str),
                p.get("inputs", str),
                p.get("max_rel_diff", float),
                p.get("float32_autograd", (float, type(None)), None),
                p.get("same_piece", (float, type(None)), None),
                p.get("kinks", (int, type(None)), None),
                p.get("kink_margin", (float, type(None)), None),
            )
            for p in root.children("parity", [])
        ),
        limits=root.strings("limits", []),
        probability_meaning=root.get("probability_meaning", str, ""),
        confusion=tuple(
            Confusion(c.get("split", str), _matrix(c, len(labels))) for c in root.children("confusion", [])
        ),
        complexity=_complexity(root),
        reference=_reference(root, len(labels)),
        population=_population(root),
        known_answer=_known_answer(root, len(labels)),
        notes=root.strings("notes", []),
    )


def _pair(reader: _Reader, key: str) -> tuple[float, float] | None:
    if reader.data.get(key) is None:
        return None
    values = reader.numbers(key)
    if len(values) != 2:
        raise reader._fail(key, "must be [low, high]")
    return values[0], values[1]


def _matrix(reader: _Reader, size: int) -> tuple[tuple[int, ...], ...]:
    rows = reader.get("matrix", list)
    if len(rows) != size or not all(
        isinstance(r, list) and len(r) == size and all(isinstance(v, int) and v >= 0 for v in r) for r in rows
    ):
        raise reader._fail("matrix", f"must be {size}x{size} non-negative counts (one row per label)")
    return tuple(tuple(r) for r in rows)


def _complexity(root: _Reader) -> Complexity | None:
    if root.data.get("complexity") is None:
        return None
    c = root.child("complexity")
    return Complexity(
        parameters=c.get("parameters", int),
        macs=c.get("macs", (int, type(None)), None),
        cpu_ms=c.get("cpu_ms", (float, type(None)), None),
        cpu_note=c.get("cpu_note", str, ""),
    )


def _reference(root: _Reader, size: int, key: str = "reference") -> Reference | None:
    if root.data.get(key) is None:
        return None
    r = root.child(key)
    probabilities = r.numbers("probabilities", ())
    figures = r.data.get("figures") or {}
    if not isinstance(figures, dict) or not all(isinstance(v, (int, float)) for v in figures.values()):
        raise r._fail("figures", "must map figure names to numbers")
    if probabilities and len(probabilities) != size:
        raise r._fail("probabilities", f"must hold one probability per label ({size})")
    if not probabilities and not figures:
        raise r._fail("probabilities", "a reference needs a classifier's probabilities or an image model's figures")
    return Reference(r.get("input", str), probabilities, {str(k): float(v) for k, v in figures.items()})


def _known_answer(root: _Reader, size: int) -> KnownAnswer | None:
    if root.data.get("known_answer") is None:
        return None
    answer = root.child("known_answer")
    reference = _reference(root, size, "known_answer")
    tolerance = answer.get("tolerance", float, 1e-3)
    if not 0 < tolerance < 1:
        raise answer._fail("tolerance", "must lie between 0 and 1")
    assert reference is not None
    return KnownAnswer(reference.input, reference.probabilities, reference.figures, tolerance)


def _population(root: _Reader) -> Population | None:
    if root.data.get("population") is None:
        return None
    p = root.child("population")
    ages = _pair(p, "age_years")
    if ages is not None and not 0 <= ages[0] <= ages[1]:
        raise p._fail("age_years", "must be [low, high] years with 0 <= low <= high")
    return Population(p.get("description", str, ""), ages)


def _check_consistency(card: ModelCard) -> None:
    listed = {f.path for f in card.files}
    if len(listed) != len(card.files):
        raise ModelError(card.name, "card lists the same file twice")
    if card.file("onnx") is None and card.file("weights") is None:
        raise ModelError(card.name, "card lists neither an ONNX file nor PyTorch weights")
    for needed in filter(None, (card.saliency_file, card.head.file if card.head else None)):
        if needed not in listed:
            raise ModelError(card.name, f"card refers to {needed} but does not list its checksum")
    if card.is_classifier and card.head is None:
        raise ModelError(card.name, f"a {card.task} card needs a head (the explanations use it)")


def load_card(path: str | Path, *, verify_files: bool = True) -> ModelCard:
    """Read, validate and (by default) checksum-verify a card and every file it lists.

    Raises ModelError naming the model (or the card path when the name is unreadable) and the problem.
    """
    path = Path(path)
    model = path.name.removesuffix(CARD_SUFFIX)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(path, "card file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelError(path, f"card is not readable JSON ({error})") from error
    card = card_from_dict(model, data)
    if card.name != model:
        raise ModelError(path, f"card names the model {card.name!r}, but its file name says {model!r}")
    _check_consistency(card)
    if verify_files:
        verify_card_files(card, path.parent)
    return card


def verify_card_files(card: ModelCard, card_dir: Path, *, missing_ok: tuple[str, ...] = (),
                      hashed: bool = False) -> list[FileEntry]:
    """Check every listed file against its size and sha256; raise ModelError on any difference.

    Files whose role is in `missing_ok` may be absent (the runtime can fall back without them); they
    are returned. Any other absent file, and any file that is present but differs, is refused.
    `hashed`: the caller has just checked the present files' sums (a verified signature); only
    presence and size are checked.
    """
    missing = []
    for entry in card.files:
        target = Path(card_dir) / entry.path
        if Path(entry.path).name != entry.path:
            raise ModelError(card.name, f"file {entry.path!r} must sit beside the card, not in another folder")
        if not target.is_file():
            if entry.role in missing_ok:
                missing.append(entry)
                continue
            raise ModelError(card.name, f"file {target} ({entry.role}) is missing")
        if target.stat().st_size != entry.size or (not hashed and file_sha256(target) != entry.sha256):
            raise ModelError(
                card.name, f"file {target} ({entry.role}) does not match its checksum: altered or incomplete"
            )
    return missing


def check_input(card: ModelCard, array: npt.NDArray[Any], *, any_size: bool = False) -> None:
    """Refuse a model tensor that does not meet the card's input contract.

    array: (N, C, H, W) float32 within card.input.value_range. With `any_size` (image-to-image
        models after tiling is decided) only N, C, dtype and range are checked.
    """
    contract = card.input
    expected = f"(N, {contract.channels}, {contract.height}, {contract.width}) float32"
    if not isinstance(array, np.ndarray):
        raise ModelError(card.name, f"input must be a numpy array {expected}, not {type(array).__name__}")
    if array.dtype != np.float32:
        raise ModelError(card.name, f"input dtype is {array.dtype}; expected {expected}")
    if array.ndim != 4 or array.shape[0] < 1:
        raise ModelError(card.name, f"input shape is {array.shape}; expected {expected}")
    if array.shape[1] != contract.channels:
        raise ModelError(
            card.name, f"input has {array.shape[1]} channels; the model takes {contract.channels} ({expected})"
        )
    if not any_size and array.shape[2:] != (contract.height, contract.width):
        raise ModelError(
            card.name, f"input is {array.shape[2]}x{array.shape[3]} pixels; the model takes {expected}"
        )
    if not np.isfinite(array).all():
        raise ModelError(card.name, "input contains NaN or infinite values")
    low, high = contract.value_range
    if array.min() < low - RANGE_SLACK or array.max() > high + RANGE_SLACK:
        raise ModelError(
            card.name,
            f"input values span [{array.min():.4g}, {array.max():.4g}] but the model takes [{low:g}, {high:g}] "
            f"({contract.scaling})",
        )


def load_head_weights(card: ModelCard, card_dir: Path) -> dict[str, npt.NDArray[np.float32]]:
    """The head's tensors by key (float32), read with safetensors' numpy loader (never pickle)."""
    from safetensors.numpy import load_file

    if card.head is None:
        raise ModelError(card.name, "card has no head")
    tensors = load_file(str(Path(card_dir) / card.head.file))
    for layer in card.head.layers:
        for key in filter(None, (layer.weight, layer.bias)):
            if key not in tensors:
                raise ModelError(card.name, f"head file {card.head.file} has no tensor {key!r}")
    return {key: value.astype(np.float32, copy=False) for key, value in tensors.items()}
