"""Reading a model card: JSON → `ModelCard`, every field validated, and (by default) its files checked.

`load_card` refuses any card whose schema is wrong or whose files are missing or differ from their
recorded sha256 (`core.signing.verify_card_files`), so a tampered or half-copied model is never run.
Every problem is a ModelError naming the model and the field. Pure: json only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cxrviewer.core.cards.schema import (
    CARD_SUFFIX,
    FILE_ROLES,
    HEAD_KINDS,
    HEAD_OPS,
    SCHEMA,
    SCOPES,
    TASKS,
    Complexity,
    Confusion,
    FileEntry,
    HeadLayer,
    HeadSpec,
    KnownAnswer,
    Metric,
    ModelCard,
    ParityFigure,
    Population,
    Provenance,
    Reference,
)
from cxrviewer.core.errors import ConfigError, ModelError
from cxrviewer.core.preprocess import RESIZE_POLICIES, SCALINGS, InputContract, Step


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
    input_contract = _input(root.child("input"))
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


def input_from_dict(model: str, data: Any) -> InputContract:
    """A card's `input` object (as parsed from JSON) → the preprocessing contract; ModelError names
    `model` and the field. The card's "scaling" is "<scaling>/<resize>" (`writing.input_to_dict`);
    one written by other tools without "/<resize>" means "stretch", and a value scaling this program
    does not know means "unit" (display pixels [0, 1]). Without a value_range, the scaling's own."""
    return _input(_Reader(model, data, "input."))


def _input(contract: _Reader) -> InputContract:
    model = contract.model
    value_range = contract.numbers("value_range") if "value_range" in contract.data else None
    if value_range is not None and (len(value_range) != 2 or value_range[0] >= value_range[1]):
        raise ModelError(model, "card field input.value_range must be [low, high] with low < high")
    size = [contract.get(k, int) for k in ("height", "width", "channels")]
    if min(size) < 1:
        raise ModelError(model, "card field input height/width/channels must be positive")
    value_scaling, _, resize = contract.get("scaling", str, "").partition("/")
    steps = [(step.get("name", str), step.get("params", dict, {})) for step in contract.children("preprocessing", [])]
    try:
        return InputContract(
            height=size[0],
            width=size[1],
            channels=size[2],
            resize=resize or "stretch",
            scaling=value_scaling if value_scaling in SCALINGS else "unit",
            steps=tuple(Step(name, params) for name, params in steps),
            resize_policy=contract.choice("resize_policy", RESIZE_POLICIES, "none"),
            value_range=None if value_range is None else (value_range[0], value_range[1]),
        )
    except (ConfigError, TypeError, ValueError) as error:
        raise ModelError(model, f"card field input: {error}") from None


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
        # Imported here: signing reads the schema, and its checksum check is what refuses the files.
        from cxrviewer.core.signing import verify_card_files

        verify_card_files(card, path.parent)
    return card
