"""Datasets: read each sample through `core.io`, prepare it with the model's input contract exactly as
inference will, augment (training only), and hand torch tensors to the loop.

Prepared arrays are cached in memory in unit range before augmentation, so later epochs pay only for
augmentation; value scaling (imagenet, zscore) is applied last, after augmentation, as at inference.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch
from PIL import Image as PilImage
from torch.utils.data import Dataset

from cxrviewer.core.errors import StudyError
from cxrviewer.core.io import read_image
from cxrviewer.core.preprocess import InputContract, prepare, scale_values
from cxrviewer.training.augment import augment
from cxrviewer.training.config import AugmentConfig
from cxrviewer.training.sources import Catalog, Sample


def read_pixels(sample_path: Path, *, inverted: bool = False) -> npt.NDArray[np.float32]:
    """(H, W) float32 [0, 1], display polarity (air dark); `inverted` files are flipped back."""
    pixels = read_image(sample_path).pixels
    return (1.0 - pixels).astype(np.float32) if inverted else pixels


def read_mask(path: Path, kind: str = "grey") -> npt.NDArray[np.bool_]:
    """(H, W) bool: "grey" masks are inside above 127 (anti-aliased edges count half-way);
    "seg_rgb_lungs" are JSRT SCR colour masks with the lungs in the green and blue channels."""
    try:
        with PilImage.open(path) as img:
            if kind == "seg_rgb_lungs":
                rgb = np.asarray(img.convert("RGB"))
                return (rgb[..., 1] > 127) | (rgb[..., 2] > 127)
            return np.asarray(img.convert("L")) > 127
    except OSError as exc:
        raise StudyError(path, f"cannot read the mask: {exc}") from None


def boxes_mask(shape: tuple[int, int], boxes: tuple[tuple[float, float, float, float], ...]) -> npt.NDArray[np.bool_]:
    """(H, W) bool: pixels whose centre (col, row) lies in any (x0, y0, x1, y1) box; all False without boxes."""
    rows, cols = np.arange(shape[0]), np.arange(shape[1])  # pixel centres, as analysis.localisation
    mask = np.zeros(shape, dtype=bool)
    for x0, y0, x1, y1 in boxes:
        mask |= ((rows >= y0) & (rows < y1))[:, None] & ((cols >= x0) & (cols < x1))[None, :]
    return mask


def _resize_mask(mask: npt.NDArray[np.bool_], shape: tuple[int, int]) -> npt.NDArray[np.bool_]:
    if mask.shape == shape:
        return mask
    import cv2

    return cv2.resize(mask.astype(np.float32), (shape[1], shape[0]), interpolation=cv2.INTER_AREA) >= 0.5


def harmonise_target(
    source: npt.NDArray[np.float32], target: npt.NDArray[np.float32], mask: npt.NDArray[np.bool_]
) -> npt.NDArray[np.float32]:
    """source, target: (H, W) float32 [0, 1], display polarity; mask (H, W) bool (the lungs).
    BSE-JSRT min-max normalises each image on its own, so the target is brought onto the source's
    intensity scale by the least-squares line source ~ a * target + b fitted inside the mask; the
    bones are what the line cannot explain. The target is mapped, not the source, because at view
    time the model sees an untouched radiograph. Outside the mask the source is used (the loss and
    the metrics ignore it). Fewer than 16 mask pixels or a flat target: the source itself."""
    inside = mask.astype(bool)
    t, x = target[inside].astype(np.float64), source[inside].astype(np.float64)
    if t.size < 16 or t.var() < 1e-12:
        return source.copy()
    slope = float(np.mean((t - t.mean()) * (x - x.mean())) / t.var())
    matched = slope * (target - t.mean()) + x.mean()
    return np.clip(np.where(inside, matched, source), 0.0, 1.0).astype(np.float32)


class PreparedDataset(Dataset):
    """One item per catalog sample in `indices`.

    Classification items: (x (C, h, w) float32 scaled per contract, y). y is an int64 class index
    (task "classification") or a float32 multi-hot vector (task "multilabel").
    Image-to-image items: (x (1, h, w), target (1, h, w) float32 [0, 1], mask (1, h, w) float32 {0, 1});
    for segmentation the target is the mask itself and the loss mask is all ones.
    """

    def __init__(
        self, catalog: Catalog, indices: list[int] | tuple[int, ...], contract: InputContract, task: str, *,
        augment_cfg: AugmentConfig | None = None, seed: int = 0,
    ):
        self.catalog = catalog
        self.indices = list(indices)
        self.contract = contract
        self.unit_contract = dataclasses.replace(contract, scaling="unit")
        self.plain_contract = dataclasses.replace(contract, scaling="unit", steps=())
        self.task = task
        self.augment_cfg = augment_cfg
        self.seed = seed
        self.epoch = 0
        self._cache: dict[int, tuple[np.ndarray, np.ndarray | None, np.ndarray | None]] = {}

    def set_epoch(self, epoch: int) -> None:
        """Augmentation for item i in epoch e is drawn from a generator seeded by (seed, e, i)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.indices)

    def labels(self) -> list[tuple[int, ...]]:
        return [self.catalog.samples[i].labels for i in self.indices]

    def _load(self, index: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        cached = self._cache.get(index)
        if cached is not None:
            return cached
        sample: Sample = self.catalog.samples[index]
        pixels = read_pixels(sample.path, inverted=sample.inverted)
        if sample.derive:
            from cxrviewer.training.gate_data import derive_pixels

            pixels = derive_pixels(pixels, sample.derive, seed_text=f"{sample.path}|{sample.derive}")
        target = mask = None
        if self.task in ("bone_suppression", "segmentation"):
            if sample.mask_kind == "boxes":
                full_mask = boxes_mask(pixels.shape, sample.boxes)
            elif sample.mask is not None:
                full_mask = _resize_mask(read_mask(sample.mask, sample.mask_kind), pixels.shape)
            else:
                full_mask = np.ones(pixels.shape, dtype=bool)
            if self.task == "bone_suppression":
                target_pixels = read_pixels(sample.target, inverted=sample.inverted)
                if sample.inverted:  # BSE-JSRT: separately normalised, zero outside the lungs
                    target_pixels = harmonise_target(pixels, target_pixels, full_mask)
                target, _ = prepare(target_pixels, self.plain_contract)
            mask, _ = prepare(full_mask.astype(np.float32), self.plain_contract)
            mask = (mask >= 0.5).astype(np.float32)
        crop_box = sample.crop_box if self.contract.needs_lung_box else None
        image, _ = prepare(pixels, self.unit_contract, crop_box=crop_box)
        entry = (image, target, mask)
        self._cache[index] = entry
        return entry

    def __getitem__(self, position: int):
        index = self.indices[position]
        image, target, mask = self._load(index)
        if self.augment_cfg is not None:
            rng = np.random.default_rng((self.seed, self.epoch, index))
            image, target, mask = augment(self.augment_cfg, rng, image, target=target, mask=mask)
        h, w = image.shape[1:]
        x = torch.from_numpy(scale_values(image, self.contract, (0, 0, h, w)).astype(np.float32))
        if self.task == "classification":
            return x, torch.tensor(self.catalog.samples[index].labels[0], dtype=torch.int64)
        if self.task == "multilabel":
            y = torch.zeros(len(self.catalog.classes), dtype=torch.float32)
            y[list(self.catalog.samples[index].labels)] = 1.0
            return x, y
        if self.task == "segmentation":
            return x, torch.from_numpy(mask.copy()), torch.ones_like(torch.from_numpy(mask))
        return x, torch.from_numpy(target.copy()), torch.from_numpy(mask.copy())


def class_counts(labels: list[tuple[int, ...]], num_classes: int) -> npt.NDArray[np.int64]:
    counts = np.zeros(num_classes, dtype=np.int64)
    for lab in labels:
        counts[list(lab)] += 1
    return counts
