"""Tiny random-weight models for each part of the analysis pipeline, exported into a test folder.

gate: tb-net 64² with a "gate" card; classifier: tb-net 64²; lungs and lesions: unet_tiny (256²
working size, resized to any image); bones: AE-BS (tiled at any size). Random weights: the tests check
the plumbing and the arithmetic around the models, not what the models see.
"""

from __future__ import annotations

from pathlib import Path

# name → (architecture, task, labels, thresholds, input size or None for the architecture's own)
PIPELINE_MODELS = {
    "cxr-gate": ("tbnet", "gate", ["other", "frontal_cxr"], [0.5, 0.5], (64, 64)),
    "classifier": ("tbnet", "classification", ["normal", "abnormal"], [0.4, 0.6], (64, 64)),
    "lungs": ("unet_tiny", "segmentation", ["lungs"], [], None),
    "tb-lesions": ("unet_tiny", "segmentation", ["tb_lesions"], [0.42], None),
    # A second lesion-map model (lung opacity): not in the session folder; tests export it where needed.
    "opacity-lesions": ("unet_tiny", "segmentation", ["opacity_lesions"], [0.37], None),
    "bones": ("ae_bs", "bone_suppression", ["bone_suppressed"], [], None),
}
LESION_MEANING = "mean of the top 0.5 % of the lesion map; called at 0.42 (random weights, for tests)"


def export_pipeline_models(folder: Path, work: Path, names=tuple(PIPELINE_MODELS)) -> Path:
    """Export the models `names` of PIPELINE_MODELS into `folder` (torch needed); returns `folder`."""
    import torch

    from cxrviewer.nets import build
    from cxrviewer.training.checkpoint import save_checkpoint
    from cxrviewer.training.export import export_model

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for seed, name in enumerate(names):
            arch, task, labels, thresholds, size = PIPELINE_MODELS[name]
            torch.manual_seed(seed)
            params = {"num_classes": len(labels), "in_channels": 1}
            if size is not None:
                params["input_size"] = list(size)
            net = build(arch, **params)
            meta = {
                "arch": arch, "arch_params": params, "task": task, "labels": labels, "thresholds": thresholds,
                "version": "1",
                "provenance": {"data": ["none: random weights"], "split": "none", "command": "tests"},
                "metrics": [{"name": "auc", "value": 0.5, "split": "none (random weights)"}],
                "limits": ["random weights: for tests only"],
            }
            if name == "tb-lesions":
                meta["probability_meaning"] = LESION_MEANING
            checkpoint = save_checkpoint(net, work / f"{name}.safetensors", meta)
            export_model(checkpoint, folder / name, real_images=[])
    finally:
        torch.set_num_threads(previous)
    return folder
