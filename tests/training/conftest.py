"""Tiny generated data sets in the real layouts, made fresh in each test's tmp folder."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from blob_images import blob_image


@pytest.fixture(autouse=True)
def _two_threads():
    torch.set_num_threads(2)


@pytest.fixture
def folder_dataset(tmp_path: Path) -> Path:
    """root/normal/*.png and root/disease/*.png, 16 each, 32x32."""
    rng = np.random.default_rng(0)
    root = tmp_path / "folders"
    for name, positive in (("normal", False), ("disease", True)):
        (root / name).mkdir(parents=True)
        for i in range(16):
            cv2.imwrite(str(root / name / f"{name}{i:02d}.png"), blob_image(rng, positive, size=32))
    return root


@pytest.fixture
def pairs_dataset(tmp_path: Path) -> Path:
    """root/input, root/target (input with its bright 'bones' removed), root/mask."""
    rng = np.random.default_rng(1)
    root = tmp_path / "pairs"
    for sub in ("input", "target", "mask"):
        (root / sub).mkdir(parents=True)
    for i in range(16):
        soft = cv2.GaussianBlur(rng.random((64, 64)).astype(np.float32), (0, 0), 6)
        soft = (soft - soft.min()) / (soft.max() - soft.min()) * 0.6 + 0.2
        ribs = np.zeros_like(soft)
        ribs[(np.arange(64) + i) % 12 < 3] = 0.2
        cv2.imwrite(str(root / "input" / f"p{i:02d}.png"), (np.clip(soft + ribs, 0, 1) * 255).astype(np.uint8))
        cv2.imwrite(str(root / "target" / f"p{i:02d}.png"), (soft * 255).astype(np.uint8))
        mask = np.zeros((64, 64), np.uint8)
        mask[8:56, 8:56] = 255
        cv2.imwrite(str(root / "mask" / f"p{i:02d}.png"), mask)
    return root
