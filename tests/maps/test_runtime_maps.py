"""Maps through the real runtime: a random-weight tb-net exported to ONNX (logits, features, the
saliency graph, the card's head), then every map from ONNX outputs against PyTorch autograd."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_reference import (
    autograd_references,
    bruteforce_crm,
    calibrate_batch_norm,
    model_input,
    rel_diff,
)

from cxrviewer.analysis.study_maps import compute_study_maps, model_space_maps
from cxrviewer.core.maps import cam
from cxrviewer.nets import build
from cxrviewer.runtime.registry import load_model
from cxrviewer.training.checkpoint import save_checkpoint
from cxrviewer.training.export import export_model

TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    torch.manual_seed(3)
    net = build("tbnet")
    calibrate_batch_norm(net, torch.from_numpy(model_input("tbnet", "random", seed=1)))
    net.eval()
    folder = tmp_path_factory.mktemp("maps_models")
    meta = {
        "format": "cxrviewer.checkpoint/1", "arch": "tbnet", "arch_params": {"num_classes": 2, "in_channels": 1},
        "task": "classification", "labels": ["normal", "tb"], "thresholds": [0.5, 0.5], "version": "1",
        "input": {"value_range": [0, 1], "scaling": "unit/stretch", "preprocessing": [], "resize_policy": "none"},
    }
    checkpoint = save_checkpoint(net, folder / "tbnet_maps.safetensors", meta)
    export_model(checkpoint, folder / "models" / "tbnet_maps", real_images=[], random_inputs=1)
    return net, load_model("tbnet_maps", folder / "models", intra_op_threads=2), folder / "models"


@pytest.mark.parametrize("kind", ["random", "real"])
def test_onnx_maps_equal_autograd(exported, kind):
    net, loaded, models_dir = exported
    x = model_input("tbnet", kind)
    references = autograd_references(net, torch.from_numpy(x))
    with torch.no_grad():
        features = net.features(torch.from_numpy(x))
    _, model_features = loaded.backend.classify(x)
    for c in range(2):
        ours = model_space_maps(loaded, x[0], model_features[0], ["saliency", "gradcam", "cam", "crm"], c)
        gradcam_ref, gradient_ref = references[c]
        assert rel_diff(ours["saliency"], np.abs(gradient_ref).max(axis=0)) < TOLERANCE
        assert rel_diff(ours["gradcam"], gradcam_ref) < TOLERANCE
        cam_ref = torch.einsum("k,khw->hw", net.head.linear.weight[c].detach(), features[0]).numpy()
        assert rel_diff(ours["cam"], cam_ref) < TOLERANCE
    assert rel_diff(ours["crm"], bruteforce_crm(net.head, features)) < TOLERANCE
    assert rel_diff(cam(features[0].numpy(), loaded.head, 1), ours["cam"]) < TOLERANCE


def test_study_maps_land_on_the_image_grid(exported):
    _, loaded, models_dir = exported
    pixels = np.random.default_rng(5).random((300, 420), dtype=np.float32)
    maps = compute_study_maps(loaded, pixels, ["saliency", "gradcam", "crm"])
    assert set(maps) == {"saliency", "gradcam", "crm"}
    assert all(m.shape == (300, 420) and m.dtype == np.float32 for m in maps.values())


def test_evaluate_maps_command_writes_the_localisation_table(exported, tmp_path):
    import json

    import cv2

    from cxrviewer.cli import main

    _, _, models_dir = exported
    data = tmp_path / "rsna_pneumonia"
    data.mkdir()
    rows = ["file,Target,x,y,width,height"]
    rng = np.random.default_rng(0)
    for i in range(3):
        image = (rng.random((512, 512)) * 60).astype(np.uint8)
        cv2.imwrite(str(data / f"p{i}.png"), image)
        rows.append(f"p{i}.png,1,{100 + 40 * i},120,150,200")
    rows.append("p9.png,0,,,,")  # a Target 0 row: no box, not scored
    (data / "labels.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "evaluation"
    code = main(["evaluate", "--model", "tbnet_maps", "--models-dir", str(models_dir), "--maps", "gradcam,crm",
                 "--out", str(out), str(data)])
    assert code == 0
    (table,) = json.loads((out / "localisation.json").read_text())
    methods = {row["method"]: row for row in table["rows"]}
    assert {"gradcam", "crm"} <= set(methods)
    assert all(row["images"] == 3 for row in methods.values())
    assert all(0.0 <= row["mass_in_boxes"] <= 1.0 for row in methods.values())
    assert "| gradcam | 3 |" in (out / "localisation.md").read_text()
    # A model trained on this data set is scored on its run's test images only.
    split = tmp_path / "split.json"
    split.write_text(json.dumps({"test": {"paths": [str(data / "p0.png"), str(data / "p2.png")]}}))
    assert main(["evaluate", "--model", "tbnet_maps", "--models-dir", str(models_dir), "--maps", "crm",
                 "--out", str(out), "--held-out", str(split), str(data)]) == 0
    (table,) = json.loads((out / "localisation.json").read_text())
    assert {row["images"] for row in table["rows"]} == {2}
