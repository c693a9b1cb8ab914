"""`cxrviewer evaluate` on a trained tiny model: metrics.json and plots, through a stand-in runtime
backend that runs the checkpoint in torch (the ONNX path is tested by the export/runtime tests)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import torch
from tiny_configs import tiny_config

from cxrviewer.cli import main
from cxrviewer.core.cards import input_from_dict
from cxrviewer.training.checkpoint import build_from_checkpoint, read_checkpoint
from cxrviewer.training.run import train


def test_evaluate_command_writes_metrics_and_plots(tmp_path, folder_dataset, monkeypatch):
    result = train(tiny_config(folder_dataset, tmp_path / "runs", epochs=1))
    checkpoint = read_checkpoint(result.best_checkpoint)
    net = build_from_checkpoint(checkpoint)
    meta = checkpoint.meta

    def classify(x):
        with torch.no_grad():
            features = net.features(torch.from_numpy(x))
            return net.head(features).numpy(), features.numpy()

    card = SimpleNamespace(
        task="classification", labels=tuple(meta["labels"]), thresholds=tuple(meta["thresholds"]),
        input=input_from_dict("tiny", {**meta["input"], "height": 32, "width": 32, "channels": 1}),
    )
    loaded = SimpleNamespace(card=card, backend=SimpleNamespace(classify=classify), provider="PyTorch CPU")
    monkeypatch.setattr("cxrviewer.runtime.registry.load_model", lambda name, models_dir=None: loaded)
    out = tmp_path / "eval"
    assert main(["evaluate", "--model", "tiny", str(folder_dataset), "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data"]["n"] == 32 and metrics["evaluation"]["n"] == 32
    assert metrics["evaluation"]["threshold"] == meta["thresholds"][1]
    assert np.sum(metrics["evaluation"]["confusion"]) == 32
    assert {"roc_evaluation.png", "confusion_evaluation.png"} <= {p.name for p in (out / "plots").iterdir()}
