"""ONNX Runtime vs PyTorch eager on the CPU for every architecture, side by side in one run.

    .venv/bin/python bench/runtime.py [--threads 2] [--runs 7] [--opt all|extended|basic|disable] [ARCH ...]

Each architecture is built with random weights (latency does not depend on them), exported with
the project's exporter (`cxrviewer.training.onnx_graphs`: the classifier graph with logits and
features, or the image-to-image graph) into a temporary folder, and timed at batch 1 at its input
size: onnxruntime's CPU provider with `--threads` intra-op threads and the chosen graph optimisation
level, against eager PyTorch with `torch.set_num_threads(--threads)`, eval mode and `no_grad`. One
warm-up each, then `--runs` runs alternating between the two so that load from other processes hits
both alike; the table gives the medians and eager/ORT (> 1 means ONNX Runtime is faster). The
saliency graph is timed separately with `--saliency` (exporting it is slow for the big backbones).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from cxrviewer.nets import ARCHITECTURES, build
from cxrviewer.training import onnx_graphs

LEVELS = {
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
}


def _session(path: Path, threads: int, level: str) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = LEVELS[level]
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def _timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def _bench(arch: str, folder: Path, threads: int, runs: int, level: str, saliency: bool) -> list[str]:
    spec = ARCHITECTURES[arch]
    torch.manual_seed(0)
    model = build(arch).eval()
    x = torch.rand(1, model.in_channels, *spec.input_size)
    path = folder / f"{arch}.onnx"
    classifier = spec.task == "classification"
    if classifier:
        onnx_graphs.export_classifier(model, path, x)
    else:
        onnx_graphs.export_image_to_image(model, path, x)
    session = _session(path, threads, level)
    feed = {"image": x.numpy()}

    def eager() -> None:
        with torch.no_grad():
            model(x)

    def onnx() -> None:
        session.run(None, feed)

    eager(), onnx()
    times: dict[str, list[float]] = {"eager": [], "ort": []}
    for _ in range(runs):
        times["eager"].append(_timed(eager))
        times["ort"].append(_timed(onnx))
    eager_ms, ort_ms = (statistics.median(times[k]) * 1e3 for k in ("eager", "ort"))
    row = [arch, "x".join(map(str, spec.input_size)), f"{eager_ms:.1f}", f"{ort_ms:.1f}", f"{eager_ms / ort_ms:.2f}"]
    if saliency and classifier:
        sal_path = folder / f"{arch}.saliency.onnx"
        onnx_graphs.export_saliency(model, sal_path, x, model.num_classes)
        sal_session = _session(sal_path, threads, level)
        onehot = np.eye(1, model.num_classes, dtype=np.float32)

        def autograd() -> None:
            image = x.clone().requires_grad_(True)
            model(image)[:, 0].sum().backward()

        def graph() -> None:
            sal_session.run(None, {"image": feed["image"], "class_onehot": onehot})

        autograd(), graph()
        sal = {"autograd": [], "graph": []}
        for _ in range(runs):
            sal["autograd"].append(_timed(autograd))
            sal["graph"].append(_timed(graph))
        grad_ms, graph_ms = (statistics.median(sal[k]) * 1e3 for k in ("autograd", "graph"))
        row += [f"{grad_ms:.1f}", f"{graph_ms:.1f}", f"{grad_ms / graph_ms:.2f}"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("archs", nargs="*", default=list(ARCHITECTURES), help="architectures (default: all)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--opt", choices=sorted(LEVELS), default="all", help="ORT graph optimisation level")
    parser.add_argument("--saliency", action="store_true", help="also time the saliency graph vs autograd")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    header = ["arch", "input", "eager ms", "ORT ms", "eager/ORT"]
    if args.saliency:
        header += ["autograd ms", "sal. graph ms", "autograd/graph"]
    # Eager PyTorch's OpenMP threads suffer most when the CPU is oversubscribed: say how busy it was.
    print(f"onnxruntime {ort.__version__} CPU, torch {torch.__version__}, {args.threads} threads, "
          f"ORT optimisation '{args.opt}', median of {args.runs}, batch 1, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    rows = [header]
    with tempfile.TemporaryDirectory() as tmp:
        for arch in args.archs:
            rows.append(_bench(arch, Path(tmp), args.threads, args.runs, args.opt, args.saliency))
            print("  ".join(rows[-1]), flush=True)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    print()
    for row in rows:
        print("  ".join(cell.rjust(width) if i else cell.ljust(width) for i, (cell, width) in enumerate(zip(row, widths, strict=True))))


if __name__ == "__main__":
    main()
