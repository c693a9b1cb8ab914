"""A tiny training config over generated data, and a bare TB-lesion card for the evaluation to fill (imported
by name, not from conftest: see tests/gui/viewer_support.py)."""

from __future__ import annotations

from pathlib import Path


def tiny_config(root: Path, out: Path, **changes):
    from cxrviewer.training.config import config_from_dict

    d = {
        "name": "tiny",
        "task": "classification",
        "arch": "tbnet",
        "data": {"source": "folders", "root": str(root)},
        "input": {"height": 32, "width": 32, "channels": 1},
        "split": {"val_fraction": 0.25, "test_fraction": 0.25},
        "augment": {"hflip": 0.5, "rotation_deg": 5},
        "optim": {"lr": 0.01},
        "epochs": 3,
        "batch_size": 8,
        "out_dir": str(out),
        "seed": 3,
        "threads": 2,
    }
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(d.get(key), dict):
            d[key] = {**d[key], **value}
        else:
            d[key] = value
    return config_from_dict(d, origin="test config")


def lesion_card_with(folder: Path, normals, **figures):
    """A `tb_lesions` card written to folder/tb-lesions.card.json with lesion_eval's figures applied
    (split "holdout seed=0"), read back. `normals`: the SourceRates; `figures`: any LesionFigures
    field to set instead of its plain default."""
    from cxrviewer.core.cards import FileEntry, InputContract, ModelCard, load_card, write_card
    from cxrviewer.training.lesion_eval import LesionFigures, apply_to_card

    card_file = folder / "tb-lesions.card.json"
    write_card(ModelCard(name="tb-lesions", version="1", task="segmentation", arch="unet_tiny", labels=("tb_lesions",),
                         thresholds=(), input=InputContract(256, 256, 1), outputs=("output",),
                         files=(FileEntry("onnx", "tb-lesions.onnx", "0" * 64, 1),)), card_file)
    plain = dict(tb_images=100, boxes=150, pointing_game=0.8, box_recall={"0.05": 0.9}, pixel_recall={"0.05": 0.7},
                 pixel_threshold={"0.05": 0.1}, image_threshold=0.6, tb_sensitivity=0.9)
    apply_to_card(card_file, LesionFigures(**{**plain, **figures}, normals=tuple(normals)), "holdout seed=0")
    return load_card(card_file, verify_files=False)
