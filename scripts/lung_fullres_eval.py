"""lungs-unet on its held-out test images at each image's full stored resolution, per source, with
and without the viewer's cleaning (`core.lung_mask.keep_largest_regions`, inside
`analysis.pipeline.lung_probability`).

    python scripts/lung_fullres_eval.py [--run runs/lungs-unet] [--models models]

The card's figures are at the 256² working size; a reader sees the mask on the whole film, through
the viewer's own path (`analysis.pipeline.lung_probability`: resize, CLAHE, net, resize back). Writes
RUN/fullres.json and prints the table (Dice, and the 95th-percentile and maximum Hausdorff distance
in stored-image pixels).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from cxrviewer import paths
from cxrviewer.analysis.installed import installed_model
from cxrviewer.analysis.pipeline import LUNGS_LABEL, lung_probability, segmentation_channel
from cxrviewer.training.data import read_mask, read_pixels
from cxrviewer.training.metrics import hausdorff
from cxrviewer.training.run_split import load_run


def dice(pred: np.ndarray, truth: np.ndarray) -> float:
    return float(2 * (pred & truth).sum() / max(1, pred.sum() + truth.sum()))


def evaluate(run: Path, models: Path) -> dict[str, dict[str, float]]:
    _, catalog, split = load_run(run)
    loaded = installed_model("lungs-unet", models)
    rows: dict[str, list[list[float]]] = {}
    for index in split.test:
        sample = catalog.samples[index]
        pixels = read_pixels(sample.path, inverted=sample.inverted)
        truth = read_mask(sample.mask, sample.mask_kind)
        if truth.shape != pixels.shape:
            truth = cv2.resize(truth.astype(np.uint8), pixels.shape[::-1], interpolation=cv2.INTER_NEAREST) > 0
        row = []
        for probability in (segmentation_channel(loaded, pixels, LUNGS_LABEL), lung_probability(loaded, pixels)):
            pred = probability >= 0.5
            row += [dice(pred, truth), *hausdorff(pred, truth)]
        rows.setdefault(sample.patient.split("/", 1)[0], []).append(row)
    names = ("dice", "hd95", "hausdorff")
    return {source: {"images": len(v), **{f"{kind}_{name}": float(np.mean(np.array(v)[:, 3 * k + i]))
                                          for k, kind in enumerate(("raw", "cleaned")) for i, name in enumerate(names)},
                     "cleaned_dice_worst": float(np.min(np.array(v)[:, 3]))}
            for source, v in rows.items()}


def to_markdown(figures: dict[str, dict[str, float]]) -> str:
    lines = ["| source | test images | Dice raw → cleaned | worst Dice cleaned | HD95 px raw → cleaned | "
             "Hausdorff px raw → cleaned |", "| --- | ---: | --- | ---: | --- | --- |"]
    for source, f in figures.items():
        lines.append(f"| {source} | {f['images']} | {f['raw_dice']:.4f} → {f['cleaned_dice']:.4f} | "
                     f"{f['cleaned_dice_worst']:.3f} | {f['raw_hd95']:.1f} → {f['cleaned_hd95']:.1f} | "
                     f"{f['raw_hausdorff']:.1f} → {f['cleaned_hausdorff']:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, default=paths.install_root() / "runs" / "lungs-unet")
    parser.add_argument("--models", type=Path, default=paths.models_dir())
    args = parser.parse_args(argv)
    figures = evaluate(args.run, args.models)
    (args.run / "fullres.json").write_text(json.dumps(figures, indent=1), encoding="utf-8")
    print(to_markdown(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
