"""Model cards: schema validation, checksum refusal, missing files, input contract, atomic writes."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from cxrviewer.core.cards import (
    HeadLayer,
    HeadSpec,
    InputContract,
    ModelCard,
    card_path,
    file_entry,
    input_to_dict,
    load_card,
    write_card,
)
from cxrviewer.core.errors import ModelError
from cxrviewer.core.maps.head import load_head_weights
from cxrviewer.core.preprocess import Step, prepare
from cxrviewer.runtime.backend import check_input


def make_model(folder: Path, name: str = "toy") -> ModelCard:
    """A card for a 2-class 1×8×8 classifier whose ONNX/weights are stand-in bytes, plus a real head."""
    (folder / f"{name}.onnx").write_bytes(b"onnx graph bytes " * 10)
    (folder / f"{name}.saliency.onnx").write_bytes(b"saliency graph bytes")
    (folder / f"{name}.safetensors").write_bytes(b"weights")
    weight = np.arange(6, dtype=np.float32).reshape(2, 3)
    save_file({"linear.weight": weight, "linear.bias": np.array([0.5, -0.5], np.float32)},
              str(folder / f"{name}.head.safetensors"))
    roles = {"onnx": ".onnx", "saliency_onnx": ".saliency.onnx", "head": ".head.safetensors", "weights": ".safetensors"}
    card = ModelCard(
        name=name, version="1", task="classification", arch="tbnet", labels=("normal", "tb"),
        thresholds=(0.5, 0.5), input=InputContract(height=8, width=8, channels=1), outputs=("logits", "features"),
        files=tuple(file_entry(role, folder / f"{name}{suffix}") for role, suffix in roles.items()),
        head=HeadSpec("gap_linear", f"{name}.head.safetensors", (
            HeadLayer("mean_hw"), HeadLayer("linear", weight="linear.weight", bias="linear.bias"))),
        saliency_file=f"{name}.saliency.onnx",
    )
    write_card(card, card_path(folder, name))
    return card


def test_round_trip_keeps_every_field(tmp_path):
    card = make_model(tmp_path)
    assert load_card(card_path(tmp_path, "toy")) == card
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp file left


def test_the_cards_input_is_the_preprocessing_contract(tmp_path):
    """What `prepare` follows is what the card says, read from its own "<scaling>/<resize>" form."""
    make_model(tmp_path)
    path = card_path(tmp_path, "toy")
    data = json.loads(path.read_text())
    data["input"].update(height=16, width=12, scaling="zscore/letterbox", value_range=[-50, 50],
                         preprocessing=[{"name": "clahe", "params": {"clip_limit": 3.0}}])
    path.write_text(json.dumps(data))
    contract = load_card(path).input
    assert contract == InputContract(16, 12, 1, "letterbox", "zscore", (Step("clahe", {"clip_limit": 3.0}),))
    tensor, _ = prepare(np.random.default_rng(0).random((40, 30), dtype=np.float32), contract)
    assert tensor.shape == (1, 16, 12) and abs(float(tensor.mean())) < 1.0
    assert input_to_dict(contract)["preprocessing"] == [{"name": "clahe", "params": {"clip_limit": 3.0, "tile": 8}}]
    assert input_to_dict(contract)["scaling"] == "zscore/letterbox"


def test_head_weights_come_back_as_float32(tmp_path):
    card = make_model(tmp_path)
    weights = load_head_weights(card, tmp_path)
    assert weights["linear.weight"].dtype == np.float32
    np.testing.assert_array_equal(weights["linear.weight"][1], [3.0, 4.0, 5.0])


@pytest.mark.parametrize("suffix", [".onnx", ".saliency.onnx", ".head.safetensors", ".safetensors"])
def test_one_changed_byte_is_refused(tmp_path, suffix):
    make_model(tmp_path)
    target = tmp_path / f"toy{suffix}"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=rf"model toy: file .*toy{suffix.replace('.', '[.]')} .* does not match its checksum"):
        load_card(card_path(tmp_path, "toy"))


def test_missing_file_is_refused_by_name(tmp_path):
    make_model(tmp_path)
    (tmp_path / "toy.saliency.onnx").unlink()
    with pytest.raises(ModelError, match=r"toy.saliency.onnx \(saliency_onnx\) is missing"):
        load_card(card_path(tmp_path, "toy"))


def test_missing_card_and_broken_json(tmp_path):
    with pytest.raises(ModelError, match="card file not found"):
        load_card(tmp_path / "none.card.json")
    (tmp_path / "bad.card.json").write_text("{not json")
    with pytest.raises(ModelError, match="not readable JSON"):
        load_card(tmp_path / "bad.card.json")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(schema="other/9"), "schema is 'other/9'"),
        (lambda d: d.update(task="guessing"), "task is 'guessing'"),
        (lambda d: d.pop("labels"), "labels is missing"),
        (lambda d: d.update(thresholds=[0.5]), "2 labels but 1 thresholds"),
        (lambda d: d["input"].update(height="512"), "input.height has the wrong type"),
        (lambda d: d["input"].update(value_range=[1, 0]), "value_range must be"),
        (lambda d: d["input"].update(preprocessing=[{"name": "sharpen"}]), "input: preprocessing step 'sharpen'"),
        (lambda d: d["input"].update(scaling="unit/fit"), "input: input resize 'fit' is unknown"),
        (lambda d: d["input"].update(resize_policy="crop"), "input.resize_policy is 'crop'"),
        (lambda d: d.update(name="other"), "card names the model 'other'"),
        (lambda d: d.update(head=None), "needs a head"),
        (lambda d: d["files"][0].update(path="../elsewhere.onnx"), "must sit beside the card"),
        (lambda d: d.update(saliency_file="unlisted.onnx"), "does not list its checksum"),
    ],
)
def test_schema_problems_are_named(tmp_path, edit, message):
    make_model(tmp_path)
    path = card_path(tmp_path, "toy")
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    with pytest.raises(ModelError, match=message):
        load_card(path)


def test_write_card_replaces_atomically(tmp_path, monkeypatch):
    card = make_model(tmp_path)
    path = card_path(tmp_path, "toy")
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", crash)
    with pytest.raises(OSError, match="disk full"):
        write_card(replace(card, version="2"), path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["toy.card.json", "toy.onnx", "toy.saliency.onnx", "toy.head.safetensors", "toy.safetensors"]
    )


class TestInputContract:
    @pytest.fixture
    def card(self, tmp_path):
        return make_model(tmp_path)

    def test_accepts_a_batch_in_range(self, card):
        check_input(card, np.full((3, 1, 8, 8), 0.5, np.float32))

    @pytest.mark.parametrize(
        ("array", "message"),
        [
            (np.zeros((1, 1, 8, 9), np.float32), r"8x9 pixels; the model takes \(N, 1, 8, 8\) float32"),
            (np.zeros((1, 3, 8, 8), np.float32), "has 3 channels; the model takes 1"),
            (np.zeros((1, 1, 8, 8), np.float64), "dtype is float64"),
            (np.zeros((1, 8, 8), np.float32), r"shape is \(1, 8, 8\)"),
            (np.full((1, 1, 8, 8), 255, np.float32), r"span \[255, 255\] but the model takes \[0, 1\]"),
            (np.full((1, 1, 8, 8), np.nan, np.float32), "NaN"),
        ],
    )
    def test_refuses_with_the_reason(self, card, array, message):
        with pytest.raises(ModelError, match=message):
            check_input(card, array)

    def test_any_size_still_checks_channels(self, card):
        check_input(card, np.zeros((1, 1, 20, 30), np.float32), any_size=True)
        with pytest.raises(ModelError, match="channels"):
            check_input(card, np.zeros((1, 2, 20, 30), np.float32), any_size=True)
