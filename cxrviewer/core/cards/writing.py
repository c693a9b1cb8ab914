"""Writing a model card: `ModelCard` → the JSON on disk, field for field, and the files it lists.

`card_to_dict` is the card's JSON object in schema order; the shipped cards are signed, so a card
read by `reading.load_card` and written here again must come out byte for byte as it was (a test says so).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from cxrviewer.core.atomic import write_text_atomically
from cxrviewer.core.cards.schema import FileEntry, ModelCard
from cxrviewer.core.preprocess import InputContract


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_entry(role: str, path: Path) -> FileEntry:
    """Describe (and hash now) a file that will sit beside the card under the same name."""
    return FileEntry(role=role, path=path.name, sha256=file_sha256(path), size=path.stat().st_size)


def input_to_dict(contract: InputContract) -> dict[str, Any]:
    """The card's `input` object: the contract with its scaling and resize as "<scaling>/<resize>"
    (e.g. "unit/stretch") and its steps as `preprocessing` (`reading.input_from_dict` reads it back)."""
    return {
        "height": contract.height,
        "width": contract.width,
        "channels": contract.channels,
        "value_range": list(contract.value_range or ()),
        "scaling": f"{contract.scaling}/{contract.resize}",
        "preprocessing": [step.to_dict() for step in contract.steps],
        "resize_policy": contract.resize_policy,
    }


def card_to_dict(card: ModelCard) -> dict[str, Any]:
    data = asdict(card)
    data["input"] = input_to_dict(card.input)
    return data


def write_card(card: ModelCard, path: Path) -> None:
    """Write atomically (`core.atomic`), so readers never see half a card."""
    write_text_atomically(path, json.dumps(card_to_dict(card), indent=2, sort_keys=False, allow_nan=False) + "\n")
