"""Model cards: what a model file is, what it expects, what it was checked against.

`schema` holds the dataclasses (the card's `input` is `core.preprocess.InputContract`, the contract
`prepare` follows), `reading` the validating JSON reader and `load_card`, `writing` `write_card`,
`card_to_dict` and the file entries with their sha256. Whether a model's files are the ones its card
lists is `core.signing.verify_card_files`; what a backend accepts is `runtime.backend.check_input`;
a classifier's head is loaded by `core.maps.head.head_from_card`. No torch, no onnxruntime.
"""

from __future__ import annotations

from cxrviewer.core.cards.reading import card_from_dict, input_from_dict, load_card
from cxrviewer.core.cards.schema import (
    CARD_SUFFIX,
    CLASSIFIER_TASKS,
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
    InputContract,
    KnownAnswer,
    Metric,
    ModelCard,
    ParityFigure,
    Population,
    Provenance,
    Reference,
    card_path,
)
from cxrviewer.core.cards.writing import card_to_dict, file_entry, file_sha256, input_to_dict, write_card

__all__ = [
    "CARD_SUFFIX", "CLASSIFIER_TASKS", "FILE_ROLES", "HEAD_KINDS", "HEAD_OPS", "SCHEMA", "SCOPES", "TASKS",
    "Complexity", "Confusion", "FileEntry", "HeadLayer", "HeadSpec", "InputContract", "KnownAnswer", "Metric",
    "ModelCard", "ParityFigure", "Population", "Provenance", "Reference", "card_from_dict", "card_path",
    "card_to_dict", "file_entry", "file_sha256", "input_from_dict", "input_to_dict", "load_card", "write_card",
]
