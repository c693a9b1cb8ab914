"""The figure of docs/models.md: what the image models do to held-out radiographs of every source.

    python scripts/image_models_figure.py [--models models] [--runs runs] [--out docs/models/image_models.png]

One row per radiograph, columns: original | bone-suppressed soft-tissue view | bones (original minus
soft tissue) | lung mask | TB lesion map (TBX11K's own TB boxes drawn in white where it has them).
Every image is held out from the models that touch it: the JSRT rows come from the bone-suppression
run's test ids, the TBX11K, OpenIST and RSNA rows from the lesion run's test split (the lung model
never saw TBX11K, RSNA or Kermany); Kermany is a child's radiograph no image model was trained on.
The views are computed by the viewer's own pipeline (`analysis.pipeline`), so this is what a reader
sees. A column whose model is not installed is left out.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from cxrviewer import paths  # noqa: E402
from cxrviewer.analysis import pipeline  # noqa: E402
from cxrviewer.analysis.findings import installed_model  # noqa: E402
from cxrviewer.training.data import read_pixels  # noqa: E402

log = logging.getLogger("image_models_figure")
ROOT = paths.install_root()
DATA = paths.shared_data_dir()


def held_out(run_dir: Path, source: str, count: int) -> list[str]:
    """The first `count` test-split files of `run_dir` whose path contains `source`."""
    split = json.loads((run_dir / "split.json").read_text(encoding="utf-8"))
    return [p for p in split["test"]["paths"] if f"/{source}" in p][:count]


@functools.cache
def tbx11k_boxes() -> dict[Path, tuple]:
    """TB area boxes (x0, y0, x1, y1) in image pixels of every TBX11K TB image, from the source's
    catalogue (read once for all rows)."""
    from cxrviewer.training.config import DataConfig
    from cxrviewer.training.lesion_data import tb_lesions

    catalog = tb_lesions(DataConfig(source="tb_lesions", root=str(DATA)))
    return {s.path: s.boxes for s in catalog.samples if s.boxes}


def rows(runs: Path) -> list[tuple[str, Path, bool]]:
    """(title, file, stored inverted) for each row of the figure."""
    bs_run = runs / "bone-suppression-jsrt-dwres_bs"
    lesion_run = runs / "tb-lesions-tbx11k"
    out = [(f"JSRT {Path(p).stem}", Path(p), True) for p in held_out(bs_run, "jsrt_bse", 2)]
    out += [(f"TBX11K {Path(p).stem}", Path(p), False) for p in held_out(lesion_run, "tbx11k", 2)]
    out += [(f"{name} {Path(p).stem[:10]}", Path(p), False)
            for s, name in (("openist_lungs", "OpenIST"), ("rsna_pneumonia", "RSNA")) for p in held_out(lesion_run, s, 1)]
    kermany = sorted((DATA / "kermany_pneumonia" / "train" / "images" / "NORMAL").glob("*.jpeg"))[:1]
    out += [(f"Kermany {p.stem} (child)", p, False) for p in kermany]
    return out


def draw(models: Path, runs: Path, out: Path) -> None:
    roles = pipeline.model_roles(models)
    load = {role: installed_model(name, models) if name else None
            for role, name in (("lungs", roles.lungs), ("bones", roles.bone_suppression), ("lesions", pipeline.lesion_model(models)))}
    columns = ["original"] + (["soft tissue", "bones"] if load["bones"] and load["lungs"] else []) \
        + (["lung mask"] if load["lungs"] else []) + (["TB lesion map"] if load["lesions"] else [])
    items = rows(runs)
    figure, axes = plt.subplots(len(items), len(columns), figsize=(2.6 * len(columns), 2.7 * len(items)), squeeze=False)
    for row, (title, path, inverted) in enumerate(items):
        pixels = read_pixels(path, inverted=inverted)
        panels = {"original": (pixels, None)}
        lungs = pipeline.lung_probability(load["lungs"], pixels) if load["lungs"] else None
        if "soft tissue" in columns:
            soft, bones = pipeline.soft_tissue(load["bones"], pixels, lungs)
            panels["soft tissue"] = (soft, None)
            # Bones at ±3 standard deviations inside the lungs: the layer is small next to the image.
            spread = 3 * float(bones[lungs >= 0.5].std() or 1e-3)
            panels["bones"] = (np.clip(0.5 + bones / (2 * spread), 0, 1), None)
        if lungs is not None:
            panels["lung mask"] = (pixels, ("lungs", lungs))
        if load["lesions"]:
            finding = pipeline.lesion_finding(load["lesions"], pixels)
            panels["TB lesion map"] = (pixels, ("lesions", finding))
        for col, name in enumerate(columns):
            ax = axes[row][col]
            image, overlay = panels[name]
            ax.imshow(image, cmap="gray", vmin=0, vmax=1)
            if overlay and overlay[0] == "lungs":
                ax.contour(overlay[1] >= 0.5, levels=[0.5], colors="lime", linewidths=0.8)
            elif overlay:
                found = overlay[1]
                ax.imshow(np.ma.masked_less(found.probability, 0.1), cmap="inferno", vmin=0, vmax=1, alpha=0.6)
                for x0, y0, x1, y1 in tbx11k_boxes().get(path, ()):
                    ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor="white", lw=0.8))
                ax.set_xlabel(f"score {found.score:.3f} ({'≥' if found.positive else '<'} {found.threshold:.3f})",
                              fontsize=7)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(name, fontsize=9)
            if col == 0:
                ax.set_ylabel(title, fontsize=7)
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)
    log.info("wrote %s (%d rows, columns: %s)", out, len(items), ", ".join(columns))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=Path, default=paths.models_dir())
    parser.add_argument("--runs", type=Path, default=ROOT / "runs")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "models" / "image_models.png")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    draw(args.models, args.runs, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
