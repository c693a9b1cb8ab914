"""The training loop on tiny generated data: it learns, reports progress, cancels, resumes to the
same weights, is deterministic, writes metrics and plots; DDP with gloo on 2 CPU processes."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from tiny_configs import tiny_config

from cxrviewer.training.run import Progress, train


def _weights(run_dir):
    return load_file(str(run_dir / "checkpoints" / "last.safetensors"))


def test_train_reports_progress_learns_and_writes_report(tmp_path, folder_dataset):
    seen: list[Progress] = []
    result = train(tiny_config(folder_dataset, tmp_path / "runs", epochs=3), progress=seen.append)
    phases = [p.phase for p in seen]
    assert phases.count("epoch") == 3 and phases[-1] == "done" and "train" in phases
    steps = [p for p in seen if p.phase == "train"]
    assert steps[0].eta_s > 0 and steps[-1].epoch == 3
    # Every step of each epoch is reported once, numbered from 1 to the epoch's step count.
    assert all([p.step for p in steps if p.epoch == epoch] == list(range(1, steps[0].steps + 1)) for epoch in (1, 2, 3))
    history = result.history
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    metrics = json.loads((result.run_dir / "metrics.json").read_text())
    assert metrics["test"]["n"] == len(json.loads((result.run_dir / "split.json").read_text())["test"]["index"])
    assert 0.0 <= metrics["threshold"] <= 1.0 and len(metrics["test"]["auc_ci95"]) == 2
    plots = {p.name for p in (result.run_dir / "plots").iterdir()}
    assert {"curves.png", "roc_test.png", "confusion_test.png", "tsne_test.png"} <= plots
    best = json.loads((result.run_dir / "checkpoints" / "best.json").read_text())
    assert best["arch"] == "tbnet" and best["labels"] == ["disease", "normal"] and len(best["thresholds"]) == 2
    assert best["input"]["scaling"] == "unit/stretch" and best["metrics"][0]["split"].startswith("test")


class CancelAfter:
    """A cancel token that trips after n progress reports of the training phase."""

    def __init__(self, n: int):
        self.n, self.event = n, threading.Event()

    def progress(self, p: Progress) -> None:
        if p.phase == "train":
            self.n -= 1
            if self.n <= 0:
                self.event.set()

    def is_set(self) -> bool:
        return self.event.is_set()


def test_cancel_keeps_the_last_epoch_and_two_resumes_match_an_uninterrupted_run(tmp_path, folder_dataset):
    config = tiny_config(folder_dataset, tmp_path / "a", epochs=3, augment={"elastic": 0.5})
    full = train(config)
    interrupted_cfg = tiny_config(folder_dataset, tmp_path / "b", epochs=3, augment={"elastic": 0.5})
    token = CancelAfter(n=3)  # 2 steps per epoch: cancels inside epoch 2
    stopped = train(interrupted_cfg, progress=token.progress, cancel=token)
    assert stopped.cancelled and stopped.epochs_done == 1
    assert json.loads((stopped.run_dir / "checkpoints" / "last.json").read_text())["epoch"] == 1
    # A second interruption: the state written by a resumed session must itself be resumable
    # (it once carried the first session's scheduler state and checksum forward).
    token = CancelAfter(n=3)
    again = train(interrupted_cfg, progress=token.progress, cancel=token, resume=True)
    assert again.cancelled and again.epochs_done == 2
    state = json.loads((again.run_dir / "checkpoints" / "last.json").read_text())
    assert state["scheduler"]["last_epoch"] == 2
    resumed = train(interrupted_cfg, resume=True)
    assert not resumed.cancelled and resumed.epochs_done == 3
    a, b = _weights(full.run_dir), _weights(resumed.run_dir)
    for key in a:
        if key.startswith("model."):
            torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)
    assert resumed.history[0] == full.history[0]
    card_time = json.loads((resumed.run_dir / "checkpoints" / "best.json").read_text())["provenance"]["wall_time_s"]
    assert card_time >= state["train_seconds"] > 0  # the card counts every session's training time


def test_same_seed_same_weights(tmp_path, folder_dataset):
    runs = [train(tiny_config(folder_dataset, tmp_path / name, epochs=1, seed=1, split={"test_fraction": 0.0}))
            for name in ("x", "y")]
    w = [_weights(r.run_dir) for r in runs]
    for key in w[0]:
        if key.startswith("model."):
            assert torch.equal(w[0][key], w[1][key]), key
    torch.manual_seed(1)
    from cxrviewer.nets import build

    initial = build("tbnet", num_classes=2, in_channels=1).state_dict()["head.linear.weight"]
    assert not torch.equal(initial, w[0]["model.head.linear.weight"])  # it did train


def test_bone_suppression_pairs_train_and_report_identity_baseline(tmp_path, pairs_dataset):
    config = tiny_config(pairs_dataset, tmp_path / "runs", task="bone_suppression", arch="dwres_bs",
                         data={"source": "pairs", "root": str(pairs_dataset)}, balance="none",
                         input={"height": 64, "width": 64, "channels": 1},
                         augment={"hflip": 0.5, "rotation_deg": 0}, optim={"lr": 0.003}, epochs=2)
    result = train(config)
    test = result.metrics["test"]
    assert set(test) == {"model", "identity"} and set(test["model"]) == {"psnr", "ssim", "ms_ssim", "mae"}
    assert np.isfinite(test["model"]["mae"]) and test["identity"]["mae"] > 0.0
    assert (result.run_dir / "plots" / "examples_test.png").exists()


def test_ddp_two_cpu_processes_train_one_epoch(tmp_path, folder_dataset):
    from cxrviewer.training.launch import launch

    config = tiny_config(folder_dataset, tmp_path / "ddp", epochs=1, threads=1)
    launch(config, 2)
    state = json.loads((config.run_dir / "checkpoints" / "last.json").read_text())
    assert state["epoch"] == 1 and np.isfinite(state["history"][0]["train_loss"])
    assert (config.run_dir / "metrics.json").exists()


def test_initialise_from_copies_a_whole_image_net_and_refuses_another_architecture(tmp_path):
    """Continuing a bone-suppression run (no features/head split) copies every tensor; a file of
    another architecture is refused, never a silent start from scratch."""
    from safetensors.torch import save_file

    from cxrviewer.core.errors import ConfigError
    from cxrviewer.nets import build
    from cxrviewer.training.run import initialise_from

    torch.manual_seed(0)
    source, target = build("dwres_bs"), build("dwres_bs")
    save_file({k: v.contiguous() for k, v in source.state_dict().items()}, str(tmp_path / "dwres.safetensors"))
    assert initialise_from(target, tmp_path / "dwres.safetensors") == len(target.state_dict())
    for name, value in target.state_dict().items():
        assert torch.equal(value, source.state_dict()[name]), name
    other = build("unet_tiny")
    save_file({k: v.contiguous() for k, v in other.state_dict().items()}, str(tmp_path / "unet.safetensors"))
    with pytest.raises(ConfigError, match="no feature tensor matches"):
        initialise_from(build("dwres_bs"), tmp_path / "unet.safetensors")
