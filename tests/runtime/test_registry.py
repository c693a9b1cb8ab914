"""Loading installed models: backend choice, refusals, atomic re-export, `cxrviewer models`."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pytest

from cxrviewer.cli import main
from cxrviewer.commands.models import print_table, table
from cxrviewer.core.errors import ModelError
from cxrviewer.runtime.onnx_backend import OnnxBackend
from cxrviewer.runtime.registry import installed_models, load_model
from cxrviewer.runtime.torch_backend import TorchBackend
from cxrviewer.training.export import export_model


@pytest.fixture
def models(exported, tmp_path) -> Path:
    """A private copy of the exported tb-net model, free to be damaged."""
    source, card = exported("tbnet")
    for entry in card.files:
        shutil.copy2(source / entry.path, tmp_path / entry.path)
    shutil.copy2(source / "tbnet.card.json", tmp_path / "tbnet.card.json")
    return tmp_path


def test_onnx_is_chosen_when_present(models):
    loaded = load_model("tbnet", models)
    assert isinstance(loaded.backend, OnnxBackend)
    assert loaded.provider == "CPU"
    logits, features = loaded.backend.classify(np.zeros((2, 1, 512, 512), np.float32))
    assert logits.shape == (2, 2) and features.shape == (2, 80, 8, 8)


def test_missing_onnx_falls_back_to_torch_with_the_same_answers(models):
    x = np.random.default_rng(3).random((1, 1, 512, 512), dtype=np.float32)
    expected, _ = load_model("tbnet", models).backend.classify(x)
    (models / "tbnet.onnx").unlink()
    loaded = load_model("tbnet", models)
    assert isinstance(loaded.backend, TorchBackend) and loaded.provider == "PyTorch CPU"
    logits, _ = loaded.backend.classify(x)
    np.testing.assert_allclose(logits, expected, rtol=0, atol=1e-4 * np.abs(expected).max())


def test_altered_onnx_is_refused_not_worked_around(models):
    data = bytearray((models / "tbnet.onnx").read_bytes())
    data[-10] ^= 0xFF
    (models / "tbnet.onnx").write_bytes(bytes(data))
    with pytest.raises(ModelError, match="tbnet.onnx .* does not match its checksum"):
        load_model("tbnet", models)


def test_nothing_runnable_is_refused(models):
    (models / "tbnet.onnx").unlink()
    (models / "tbnet.safetensors").unlink()
    with pytest.raises(ModelError, match="no PyTorch weights to fall back on"):
        load_model("tbnet", models)


def test_unknown_model_lists_the_installed_ones(models):
    assert installed_models(models) == ["tbnet"]
    with pytest.raises(ModelError, match=r"model lungs: no card lungs.card.json .* \(installed: tbnet\)"):
        load_model("lungs", models)


def test_contract_refusal_through_the_backend(models):
    backend = load_model("tbnet", models).backend
    with pytest.raises(ModelError, match="model tbnet: input has 3 channels; the model takes 1"):
        backend.classify(np.zeros((1, 3, 512, 512), np.float32))
    with pytest.raises(ModelError, match="input is 256x256 pixels"):
        backend.saliency(np.zeros((1, 1, 256, 256), np.float32), 0)
    with pytest.raises(ModelError, match="class index 2 outside 0..1"):
        backend.saliency(np.zeros((1, 1, 512, 512), np.float32), 2)
    with pytest.raises(ModelError, match="does not transform images"):
        backend.transform(np.zeros((512, 512), np.float32))


def test_failed_parity_leaves_the_installed_model_untouched(models, tmp_path_factory, make_checkpoint):
    before = {path.name: path.read_bytes() for path in models.iterdir()}
    # The replacement is a small bone-suppression net, to keep this test's export fast.
    checkpoint = make_checkpoint(tmp_path_factory.mktemp("ckpt"), "ae_bs", seed=5, version="2")
    with pytest.raises(ModelError, match="export parity failed: .* limit 1e-12.*installed model was not changed"):
        export_model(checkpoint, models / "tbnet", real_images=[], tolerance=1e-12)
    after = {path.name: path.read_bytes() for path in models.iterdir()}
    assert after == before  # same files, same bytes, no staging folder left behind
    assert load_model("tbnet", models).card.version == "1"


def test_models_command_lists_status(models, capsys):
    assert main(["models", "--models-dir", str(models)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["name", "task", "labels", "input", "provider", "origin", "status", "internal", "external"]
    assert out[1].split()[:7] == ["tbnet", "classification", "normal,abnormal", "1x512x512", "CPU", "unsigned", "ok"]
    assert out[1].endswith("none measured")  # the fixture's card reports no external figure, and says so
    assert out[-1] == "unsigned: trained on this workstation (not a release model)"
    (models / "tbnet.head.safetensors").write_bytes(b"tampered")
    stream = io.StringIO()
    rows, refused = table(models)
    print_table(rows, stream)
    assert refused == 1
    assert "tbnet.head.safetensors (head) does not match its checksum" in stream.getvalue()
    assert main(["models", "--models-dir", str(models)]) == 1
    assert "1 of 1 models refused" in capsys.readouterr().err


def test_one_loaded_model_per_file_version_shared_across_threads(models):
    from concurrent.futures import ThreadPoolExecutor

    from cxrviewer.runtime.model_cache import cached_model

    loaded = cached_model("tbnet", models)
    assert cached_model("tbnet", models) is loaded  # one card, session and head per version of the files
    assert loaded.head is loaded.head
    first, second = loaded.backend, cached_model("tbnet", models).backend
    x = np.random.default_rng(4).random((1, 1, 512, 512), dtype=np.float32)
    expected, _ = first.classify(x)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda i: (first, second)[i % 2].classify(x)[0], range(8)))
    for logits in results:
        np.testing.assert_array_equal(logits, expected)
    card = models / "tbnet.card.json"
    card.write_text(card.read_text())  # rewritten as an export does: another version of the files
    assert cached_model("tbnet", models) is not loaded
