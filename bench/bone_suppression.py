"""What each bone-suppression candidate costs a reader, side by side in one run.

    .venv/bin/python bench/bone_suppression.py [--models runs/models] [--runs 5] [NAME ...]

For each exported candidate (default: bone-suppression-jsrt-dwres_bs and -resnet_bs in runs/models),
the viewer's own path (`analysis.pipeline.image_outputs`: scale, tile or resize per the card, ONNX Runtime
CPU) is timed on a 512² image (the JSRT size the issue asks for) and on a 2048² one (a typical
study), alternating between the candidates run by run so that load from other processes hits all
alike. Prints parameters, the medians, and each candidate's time as a ratio of the first's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from cxrviewer import paths
from cxrviewer.analysis.installed import installed_model
from cxrviewer.analysis.pipeline import image_outputs

CANDIDATES = ("bone-suppression-jsrt-dwres_bs", "bone-suppression-jsrt-resnet_bs")
SIZES = (512, 2048)


def study(size: int) -> np.ndarray:
    """A smooth synthetic (size, size) float32 [0, 1] image: latency does not depend on content."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    return (0.5 + 0.3 * np.sin(9 * x) * np.cos(7 * y)).astype(np.float32)


def measure(names: list[str], folder: Path, runs: int) -> dict[tuple[str, int], float]:
    """{(name, size): median seconds}: one warm-up each, then `runs` rounds over every candidate."""
    models = {name: installed_model(name, folder) for name in names}
    images = {size: study(size) for size in SIZES}
    times: dict[tuple[str, int], list[float]] = {(n, s): [] for n in names for s in SIZES}
    for name in names:
        image_outputs(models[name], images[SIZES[0]])
    for _ in range(runs):
        for key in times:
            started = time.perf_counter()
            image_outputs(models[key[0]], images[key[1]])
            times[key].append(time.perf_counter() - started)
    return {key: statistics.median(values) for key, values in times.items()}


def parameter_count(card, weights: Path) -> int:
    from cxrviewer.runtime.torch_backend import build_network

    return sum(p.numel() for p in build_network(card, weights).parameters())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", default=list(CANDIDATES))
    parser.add_argument("--models", type=Path, default=paths.install_root() / "runs" / "models")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    medians = measure(args.names, args.models, args.runs)
    print(f"bone suppression through analysis.pipeline.image_outputs, ONNX Runtime CPU, median of {args.runs}, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print("| candidate | parameters | working size | " + " | ".join(f"{s}² s (ratio)" for s in SIZES) + " |")
    print("| --- | ---: | --- | " + " | ".join("---:" for _ in SIZES) + " |")
    first = args.names[0]
    for name in args.names:
        card = installed_model(name, args.models).card
        params = f"{parameter_count(card, args.models / card.file('weights').path):,}"
        cells = [f"{medians[(name, s)]:.2f} ({medians[(name, s)] / medians[(first, s)]:.2f}×)" for s in SIZES]
        print(f"| {name} | {params} | {card.input.height}² {card.input.resize_policy} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
