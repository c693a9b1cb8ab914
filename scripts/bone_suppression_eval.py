"""Every bone-suppression candidate on the same held-out JSRT ids at the same 512² size, through the
viewer's own path, so candidates trained at different working sizes compare like for like.

    python scripts/bone_suppression_eval.py [--run runs/bone-suppression-jsrt-dwres_bs] [--models runs/models] [NAME ...]

Each test id of the run's split (by JSRT id; every candidate's run rebuilt the same split from the
same seed) is read at its stored 512², run through `analysis.pipeline.image_outputs` (the card's resize policy:
rescale_residual), and scored inside the SCR lung mask against the harmonised BSE-JSRT target with
`training.metrics.image_metrics` (PSNR and MAE pooled over lung pixels, SSIM and MS-SSIM averaged per
image), next to the identity baseline. Writes RUN/../bone_suppression_512.json and prints the table.
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
from cxrviewer.analysis.pipeline import image_outputs
from cxrviewer.training.data import harmonise_target, read_mask, read_pixels
from cxrviewer.training.metrics import image_metrics
from cxrviewer.training.run_split import load_run

CANDIDATES = ("bone-suppression-jsrt-dwres_bs", "bone-suppression-jsrt-dwres_bs-continued",
              "bone-suppression-jsrt-resnet_bs")


def test_images(run: Path, part: str = "test") -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(source, harmonised target, lung mask) (H, W) for each id of `run`'s `part` (test, or val: the
    ids candidates are chosen on), display polarity."""
    _, catalog, split = load_run(run)
    out = []
    for index in getattr(split, part):
        sample = catalog.samples[index]
        source = read_pixels(sample.path, inverted=sample.inverted)
        target = read_pixels(sample.target, inverted=sample.inverted)
        mask = read_mask(sample.mask, sample.mask_kind)
        if mask.shape != source.shape:
            mask = cv2.resize(mask.astype(np.uint8), source.shape[::-1], interpolation=cv2.INTER_NEAREST) > 0
        out.append((source, harmonise_target(source, target, mask), mask))
    return out


def evaluate(names: list[str], run: Path, models: Path,
             part: str = "test") -> tuple[int, dict[str, dict[str, dict[str, float]]]]:
    """(how many images, {candidate: image_metrics of it}) for the installed candidates among `names`."""
    images = test_images(run, part)
    stack = [np.stack([item[k] for item in images])[:, None].astype(np.float32) for k in range(3)]
    results = {}
    for name in names:
        if not (models / f"{name}.card.json").exists():
            continue
        loaded = installed_model(name, models)
        label = loaded.card.labels[0]
        pred = np.stack([np.clip(image_outputs(loaded, s)[label], 0, 1) for s, _, _ in images])[:, None]
        results[name] = image_metrics(pred, stack[1], stack[0], stack[2])
    return len(images), results


def to_markdown(results: dict[str, dict[str, dict[str, float]]], images: int, part: str = "test") -> str:
    which = "held-out (test)" if part == "test" else "validation"
    lines = [f"{images} {which} JSRT ids at 512², in-lung, through the viewer's path:", "",
             "| candidate | PSNR dB (identity) | gain dB | SSIM (identity) | MS-SSIM (identity) | MAE (identity) |",
             "| --- | --- | ---: | --- | --- | --- |"]
    for name, r in results.items():
        m, i = r["model"], r["identity"]
        lines.append(f"| {name} | {m['psnr']:.2f} ({i['psnr']:.2f}) | {m['psnr'] - i['psnr']:+.2f} | "
                     f"{m['ssim']:.4f} ({i['ssim']:.4f}) | {m['ms_ssim']:.4f} ({i['ms_ssim']:.4f}) | "
                     f"{m['mae']:.4f} ({i['mae']:.4f}) |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", default=list(CANDIDATES))
    parser.add_argument("--run", type=Path, default=paths.install_root() / "runs" / CANDIDATES[0])
    parser.add_argument("--models", type=Path, default=paths.install_root() / "runs" / "models")
    parser.add_argument("--part", choices=("test", "val"), default="test",
                        help="the split's ids to score: test (held out) or val (what candidates are chosen on)")
    args = parser.parse_args(argv)
    images, results = evaluate(args.names, args.run, args.models, args.part)
    suffix = "" if args.part == "test" else f"_{args.part}"
    (args.run.parent / f"bone_suppression_512{suffix}.json").write_text(
        json.dumps({"images": images, "part": args.part, "results": results}, indent=1), encoding="utf-8")
    print(to_markdown(results, images, args.part))
    return 0


if __name__ == "__main__":
    sys.exit(main())
