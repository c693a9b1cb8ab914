"""An image-to-image model's outputs on a 2048² study: wall time and the peak of numpy memory the
project's own code allocates around the backend (tracemalloc sees numpy's allocations, not ONNX
Runtime's), for the shipped lung and bone-suppression models. Prints a table; not a test.

    .venv/bin/python bench/image_outputs.py [--size 2048] [--repeats 5]

Run it on two checkouts to compare them: it calls `analysis.pipeline.net_outputs` where it exists
(issue 18: scaling and the sigmoid in place, float32) and `analysis.batch._transform` before it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODELS = ("lungs-unet", "bone-suppression-jsrt")


def outputs_function():
    """(name, callable(loaded, pixels)) of this checkout's image-model path."""
    from cxrviewer.analysis import pipeline

    if hasattr(pipeline, "net_outputs"):
        return "pipeline.net_outputs", pipeline.net_outputs
    from cxrviewer.analysis import batch

    return "batch._transform", batch._transform


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    from cxrviewer.runtime.registry import load_model

    name, run = outputs_function()
    pixels = np.random.default_rng(0).random((args.size, args.size), dtype=np.float32)
    frame_mb = pixels.nbytes / 2**20
    print(f"checkout {ROOT.name}: {name}; study {args.size}² float32 ({frame_mb:.0f} MB a frame)")
    print()
    print("| model | median s | peak numpy MB beyond the study | in frames |")
    print("| --- | ---: | ---: | ---: |")
    for model in MODELS:
        loaded = load_model(model, ROOT / "models", intra_op_threads=1)
        run(loaded, pixels)  # warm the session
        seconds, peaks = [], []
        for _ in range(args.repeats):
            tracemalloc.start()
            start = time.perf_counter()
            result = run(loaded, pixels)
            seconds.append(time.perf_counter() - start)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            peaks.append(peak / 2**20)
            del result
        peak = statistics.median(peaks)
        print(f"| {model} | {statistics.median(seconds):.2f} | {peak:.0f} | {peak / frame_mb:.1f} |")


if __name__ == "__main__":
    main()
