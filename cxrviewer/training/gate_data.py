"""The `cxr_gate` source: every radiograph of the shared data as "frontal_cxr", and as many synthetic
"other" images made from them.

Why a classifier against synthetic negatives and not Chester's autoencoder: a small convolutional
autoencoder is local and nearly translation-equivariant, so it reconstructs a radiograph turned by
90 or 180 degrees about as well as an upright one, and it reconstructs smooth or simple images (a
flat field, a gradient, a logo) better than radiographs: reconstruction error ranks such inputs as
more "normal" than the data it was trained on. A classifier told that the turned, shuffled,
noise and drawn images are not frontal chest radiographs learns the global layout (two lungs, the
mediastinum in the middle, the shoulders at the top), which is what "frontal" means. The validation
negatives it is judged on (CT, MR, US, photographs; `training.gate_eval`) are never drawn from these
generators, so that figure says how it meets kinds it has not seen.

Each negative is derived from one radiograph and keeps its patient id, so the split keeps an image
and everything made from it on one side.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from cxrviewer.training.config import DataConfig
from cxrviewer.training.lesion_data import normal_samples
from cxrviewer.training.sources import Catalog, Sample, jsrt_bse, kermany, rsna, tbx11k

CLASSES = ("other", "frontal_cxr")
NEGATIVE_KINDS = ("rot90", "rot180", "rot270", "tiles", "noise", "shapes")
KERMANY_CAP = 300  # Kermany's 5,216 would otherwise be most of the positives
TILES = 4


def _rng(seed_text: str) -> np.random.Generator:
    return np.random.default_rng(int.from_bytes(hashlib.sha256(seed_text.encode()).digest()[:8], "little"))


def _tiles(pixels: npt.NDArray[np.float32], rng: np.random.Generator) -> npt.NDArray[np.float32]:
    h, w = (pixels.shape[0] // TILES) * TILES, (pixels.shape[1] // TILES) * TILES
    th, tw = h // TILES, w // TILES
    blocks = [pixels[r * th:(r + 1) * th, c * tw:(c + 1) * tw] for r in range(TILES) for c in range(TILES)]
    order = rng.permutation(len(blocks))
    while np.array_equal(order, np.arange(len(blocks))):
        order = rng.permutation(len(blocks))
    rows = [np.concatenate([blocks[i] for i in order[r * TILES:(r + 1) * TILES]], axis=1) for r in range(TILES)]
    return np.concatenate(rows, axis=0)


def _noise(shape: tuple[int, int], rng: np.random.Generator) -> npt.NDArray[np.float32]:
    field = rng.standard_normal(shape).astype(np.float32)
    sigma = float(rng.uniform(0, 0.08)) * max(shape)
    if sigma > 0.5:
        field = cv2.GaussianBlur(field, (0, 0), sigma)
    field = (field - field.min()) / max(float(field.max() - field.min()), 1e-6)
    low, high = sorted(rng.uniform(0, 1, 2))
    return (low + field * max(high - low, 0.1)).clip(0, 1).astype(np.float32)


def _shapes(shape: tuple[int, int], rng: np.random.Generator) -> npt.NDArray[np.float32]:
    h, w = shape
    canvas = np.full(shape, rng.uniform(0, 1), dtype=np.float32)
    for _ in range(int(rng.integers(3, 15))):
        value = float(rng.uniform(0, 1))
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        size = int(rng.integers(max(h, w) // 20, max(h, w) // 3))
        kind = rng.integers(3)
        if kind == 0:
            cv2.ellipse(canvas, (x, y), (size, int(size * rng.uniform(0.3, 1))), float(rng.uniform(0, 180)), 0, 360,
                        value, -1)
        elif kind == 1:
            cv2.rectangle(canvas, (x, y), (x + size, y + int(size * rng.uniform(0.3, 1.5))), value, -1)
        else:
            end = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            cv2.line(canvas, (x, y), end, value, int(rng.integers(1, max(2, size // 8))))
    if rng.uniform() < 0.5:
        canvas = cv2.GaussianBlur(canvas, (0, 0), float(rng.uniform(1, 6)))
    return canvas.clip(0, 1).astype(np.float32)


def derive_pixels(pixels: npt.NDArray[np.float32], kind: str, *, seed_text: str) -> npt.NDArray[np.float32]:
    """pixels (H, W) float32 [0, 1], a radiograph → a synthetic non-frontal-CXR image, float32 [0, 1]:
    turned by 90/180/270 degrees, cut into 4×4 tiles and shuffled (the radiograph's texture without its
    layout), or, at the radiograph's size, smoothed noise or drawn shapes. Deterministic in `seed_text`."""
    rng = _rng(seed_text)
    if kind in ("rot90", "rot180", "rot270"):
        return np.ascontiguousarray(np.rot90(pixels, {"rot90": 1, "rot180": 2, "rot270": 3}[kind]))
    if kind == "tiles":
        return _tiles(pixels, rng)
    if kind == "noise":
        return _noise(pixels.shape, rng)
    if kind == "shapes":
        return _shapes(pixels.shape, rng)
    raise ValueError(f"unknown synthetic image kind {kind!r}; known: {', '.join(NEGATIVE_KINDS)}")


def radiographs(cfg: DataConfig) -> list[Sample]:
    """Every frontal radiograph of the shared data (`cfg.root`), patient ids prefixed by source:
    Kermany (a seeded KERMANY_CAP patients, one image each), RSNA, TBX11K, JSRT (un-inverted), OpenIST."""
    root = Path(cfg.root)

    def sub(folder: str, **kw) -> DataConfig:
        return DataConfig(source=folder, root=str(root / folder), **kw)

    found: list[Sample] = []
    by_patient: dict[str, Sample] = {}
    for s in kermany(sub("kermany_pneumonia/train", label_columns=("label",))).samples:
        by_patient.setdefault(s.patient, s)
    chosen = np.random.default_rng(0).permutation(sorted(by_patient))[:KERMANY_CAP]
    found += [dataclasses.replace(by_patient[p], patient=f"kermany/{p}") for p in sorted(chosen)]
    for name, samples in (("rsna", rsna(sub("rsna_pneumonia")).samples),
                          ("tbx11k", tbx11k(sub("tbx11k_tb")).samples),
                          ("jsrt", jsrt_bse(sub("jsrt_bse")).samples)):
        found += [dataclasses.replace(s, patient=f"{name}/{s.patient}") for s in samples]
    found += normal_samples(cfg, "openist")
    return [Sample(s.path, s.patient, labels=(CLASSES.index("frontal_cxr"),), inverted=s.inverted) for s in found]


def cxr_gate(cfg: DataConfig) -> Catalog:
    """`cfg.root` is the shared data folder. One synthetic negative per radiograph, the kinds taken in
    turn, so both classes are the same size and every kind is about a sixth of the negatives."""
    positives = radiographs(cfg)
    other = CLASSES.index("other")
    negatives = [dataclasses.replace(s, labels=(other,), derive=NEGATIVE_KINDS[i % len(NEGATIVE_KINDS)])
                 for i, s in enumerate(positives)]
    description = (f"frontal chest radiographs of every shared source ({cfg.root}: Kermany ({KERMANY_CAP} "
                   "patients), RSNA, TBX11K, JSRT, OpenIST) against synthetic negatives made from them "
                   f"({', '.join(NEGATIVE_KINDS)}); research and non-commercial use terms of those sets")
    return Catalog(tuple(positives + negatives), CLASSES, description)


def source_of(sample: Sample) -> str:
    return sample.patient.split("/", 1)[0]
