"""Label-free checks of a lung model on films of any source (issue 17): does its mask survive a
flip, a re-exposure, noise and a loss of resolution, and is it two plausible lungs?

    python scripts/lungs_consistency.py --models models [--name lungs-unet] [--label shipped]
                                        [--out /work/runs17/lungs/consistency-shipped.json]

Every mask comes through the viewer's own path (`analysis.pipeline.lung_probability`: resize, CLAHE,
net, resize back to the film, the two largest regions kept), at 0.5, on the film's stored grid.

Sources: every Shenzhen film (`shenzhen_tb_128`, 128x128 squashed, no masks: never a target, only
these checks), and the test images of JSRT and OpenIST in configs/lungs-unet.yaml's split (the split
both the shipped and the candidate model were trained on), whose drawn masks also give the Dice and
the plausibility ranges.

Checks, per film, each the Dice between the mask of the film and the mask of a changed copy:
- flip: the film mirrored left-right, its mask mirrored back;
- gamma 0.7 / gamma 1.5: pixel values raised to that power (a darker / lighter exposure);
- noise: Gaussian noise, sd 0.03 of the range, seed by film;
- down-up 50 %: resized to half its size (area) and back (linear);
- 128 squash (JSRT, OpenIST only): squashed to 128x128 and back, as the Shenzhen films were stored.
Plausible: at least two regions and the two largest each hold a share of the film inside the range
of single lungs in the drawn masks of JSRT and OpenIST (all 467 films), their sum inside the range of
both lungs together, and their centroids on either side of the film's vertical midline.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from cxrviewer import paths
from cxrviewer.analysis.installed import installed_model
from cxrviewer.analysis.pipeline import lung_probability
from cxrviewer.core.imageops.morphology import connected_components
from cxrviewer.training.config import load_config
from cxrviewer.training.data import read_mask, read_pixels
from cxrviewer.training.run import make_split
from cxrviewer.training.sources import load_catalog, source_of

ROOT = Path(__file__).resolve().parents[1]


def dice(a: np.ndarray, b: np.ndarray) -> float:
    total = a.sum() + b.sum()
    return 1.0 if total == 0 else float(2 * (a & b).sum() / total)


def regions(mask: np.ndarray) -> list[tuple[float, float]]:
    """(area fraction, centroid column fraction) of each 8-connected region, largest first."""
    labels, areas = connected_components(mask)
    out = []
    for k in np.argsort(areas[1:])[::-1] + 1:
        cols = np.nonzero(labels == k)[1]
        out.append((float(areas[k]) / mask.size, float(cols.mean()) / mask.shape[1]))
    return out


def plausible(mask: np.ndarray, ranges: dict[str, tuple[float, float]]) -> bool:
    found = regions(mask)
    if len(found) < 2:
        return False
    (a1, c1), (a2, c2) = found[:2]
    one_lo, one_hi = ranges["one_lung"]
    both_lo, both_hi = ranges["both_lungs"]
    return (one_lo <= a1 <= one_hi and one_lo <= a2 <= one_hi and both_lo <= a1 + a2 <= both_hi
            and min(c1, c2) < 0.5 < max(c1, c2))


def _resize(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    h, w = pixels.shape
    small = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float32)


def variants(pixels: np.ndarray, seed: int, squash: bool) -> dict[str, tuple[np.ndarray, bool]]:
    """name -> (changed film, flipped?)."""
    h, w = pixels.shape
    rng = np.random.default_rng(seed)
    out = {
        "flip": (np.ascontiguousarray(pixels[:, ::-1]), True),
        "gamma 0.7": (np.clip(pixels, 0, 1) ** 0.7, False),
        "gamma 1.5": (np.clip(pixels, 0, 1) ** 1.5, False),
        "noise 0.03": (np.clip(pixels + rng.normal(0, 0.03, pixels.shape), 0, 1).astype(np.float32), False),
        "down-up 50%": (_resize(pixels, (max(8, w // 2), max(8, h // 2))), False),
    }
    if squash:
        out["squash 128"] = (_resize(pixels, (128, 128)), False)
    return {k: (v.astype(np.float32), f) for k, (v, f) in out.items()}


def films() -> dict[str, list[tuple[str, Path, bool, Path | None, str]]]:
    """source -> [(id, image, inverted, mask or None, mask kind)]."""
    data = paths.shared_data_dir()
    out: dict[str, list] = {"shenzhen": []}
    with open(data / "shenzhen_tb_128" / "labels.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            out["shenzhen"].append((row["case_id"], data / "shenzhen_tb_128" / row["image"], False, None, ""))
    config = load_config(ROOT / "configs" / "lungs-unet.yaml")
    catalog = load_catalog(config.data)
    split = make_split(config, catalog)
    for index in split.test:
        s = catalog.samples[index]
        out.setdefault(source_of(s), []).append((s.patient, s.path, s.inverted, s.mask, s.mask_kind))
    return out


def drawn_ranges() -> dict[str, tuple[float, float]]:
    """Single-lung and both-lung area fractions over every drawn mask of JSRT and OpenIST."""
    config = load_config(ROOT / "configs" / "lungs-unet.yaml")
    catalog = load_catalog(config.data)
    one, both = [], []
    for s in catalog.samples:
        found = regions(read_mask(s.mask, s.mask_kind))
        one += [a for a, _ in found[:2]]
        both.append(sum(a for a, _ in found[:2]))
    return {"one_lung": (min(one), max(one)), "both_lungs": (min(both), max(both)),
            "one_lung_p1_p99": (float(np.percentile(one, 1)), float(np.percentile(one, 99))),
            "drawn_films": len(catalog.samples)}


def check(models: Path, name: str, ranges: dict, limit: int = 0, sources: tuple[str, ...] = (),
          stride: int = 1) -> tuple[dict[str, dict], dict[str, list[dict]]]:
    """Per source: mean, sd and minimum of every check; and every film's row."""
    loaded = installed_model(name, models)
    result, per_film = {}, {}
    for source, items in films().items():
        if sources and source not in sources:
            continue
        rows: dict[str, list[float]] = {}
        chosen = list(enumerate(items))[::stride]
        for n, (ident, image, inverted, mask_path, kind) in chosen[:limit] if limit else chosen:
            pixels = read_pixels(image, inverted=inverted)
            base = lung_probability(loaded, pixels) >= 0.5
            rows.setdefault("area fraction", []).append(float(base.mean()))
            rows.setdefault("plausible", []).append(float(plausible(base, ranges)))
            if mask_path is not None:
                truth = read_mask(mask_path, kind)
                if truth.shape != base.shape:
                    truth = cv2.resize(truth.astype(np.uint8), base.shape[::-1], interpolation=cv2.INTER_NEAREST) > 0
                rows.setdefault("dice to drawn mask", []).append(dice(base, truth))
            for key, (changed, flipped) in variants(pixels, n, squash=source != "shenzhen").items():
                other = lung_probability(loaded, changed) >= 0.5
                if flipped:
                    other = other[:, ::-1]
                rows.setdefault(f"agreement {key}", []).append(dice(base, other))
            per_film.setdefault(source, []).append({"film": ident, **{k: v[-1] for k, v in rows.items()}})
        result[source] = {"films": len(rows["plausible"]),
                          **{k: {"mean": float(np.mean(v)), "sd": float(np.std(v)), "min": float(np.min(v))}
                             for k, v in rows.items()}}
        print(source, json.dumps({k: round(v["mean"], 4) for k, v in result[source].items() if isinstance(v, dict)}),
              flush=True)
    return result, per_film


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=ROOT / "models")
    parser.add_argument("--name", default="lungs-unet")
    parser.add_argument("--label", default="")
    parser.add_argument("--limit", type=int, default=0, help="films per source (0: all)")
    parser.add_argument("--sources", default="", help="comma-separated: shenzhen,jsrt_lungs,openist_lungs (default all)")
    parser.add_argument("--stride", type=int, default=1, help="every k-th film of each source (1: all)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    ranges = drawn_ranges()
    print("drawn ranges", ranges, flush=True)
    figures, per_film = check(args.models, args.name, ranges, args.limit,
                              tuple(filter(None, args.sources.split(","))), args.stride)
    args.out.write_text(json.dumps({"model": args.name, "models": str(args.models), "label": args.label,
                                    "stride": args.stride, "ranges": ranges, "sources": figures,
                                    "films": per_film}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
