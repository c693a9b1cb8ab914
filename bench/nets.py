"""Size and eager CPU cost of every architecture in `cxrviewer.nets`, one table in one run.

    .venv/bin/python bench/nets.py [--threads 2] [--runs 5] [ARCH ...]

Columns: parameters; GFLOPs of one forward pass at the input/working size, batch 1 (torch's
FlopCounterMode: 2 per multiply-add of convolutions and matrix products; norms, pools and
activations not counted); median eager latency over `--runs` runs after one warm-up, with
`torch.no_grad()`. Then the CPU-efficient bone suppression against ResNet-BS, both at 512², timed
alternately so load from other processes hits both alike.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from cxrviewer.nets import ARCHITECTURES, build


def _latency(model: torch.nn.Module, x: torch.Tensor, runs: int) -> list[float]:
    times = []
    with torch.no_grad():
        model(x)
        for _ in range(runs):
            start = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - start)
    return times


def _flops(model: torch.nn.Module, x: torch.Tensor) -> float:
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(x)
    return counter.get_total_flops() / 1e9


def _table(archs: list[str], runs: int) -> None:
    print(f"{'arch':<18} {'task':<16} {'input':>9} {'params':>12} {'GFLOPs':>8} {'eager ms':>9}")
    for arch in archs:
        spec = ARCHITECTURES[arch]
        model = build(arch).eval()
        x = torch.rand(1, model.in_channels, *spec.input_size)
        params = sum(p.numel() for p in model.parameters())
        median = statistics.median(_latency(model, x, runs)) * 1e3
        size = "x".join(map(str, spec.input_size))
        print(f"{arch:<18} {spec.task:<16} {size:>9} {params:>12,} {_flops(model, x):>8.2f} {median:>9.1f}")


def _efficient_vs_resnet_bs(runs: int) -> None:
    models = {name: build(name).eval() for name in ("resnet_bs", "dwres_bs")}
    x = torch.rand(1, 1, 512, 512)
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(runs):
        for name, model in models.items():
            times[name] += _latency(model, x, 1)
    medians = {name: statistics.median(t) * 1e3 for name, t in times.items()}
    print("\nbone suppression at 512x512, alternating runs:")
    for name, median in medians.items():
        print(f"  {name:<10} {median:9.1f} ms  {_flops(models[name], x):7.2f} GFLOPs")
    print(f"  speed-up of dwres_bs over resnet_bs: {medians['resnet_bs'] / medians['dwres_bs']:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("archs", nargs="*", default=list(ARCHITECTURES), help="architectures (default: all)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads, median of {args.runs} runs, batch 1\n")
    _table(args.archs, args.runs)
    _efficient_vs_resnet_bs(args.runs)


if __name__ == "__main__":
    main()
