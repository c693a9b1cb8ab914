"""The export parity figures of every architecture, as one table (the numbers tests/runtime check).

    .venv/bin/python bench/parity.py [ARCH ...]

Each architecture is built with random weights (seed 0), exported by `cxrviewer.training.export`
(parity on a random input and on the shared real radiographs when present) into a temporary folder,
and the card's figures are summarised: the worst max relative difference of logits, features or the
image output against float64, and of the saliency graph against float64 autograd — plain, and, where
that exceeds 1e-4 at a kink of the network, on the graph's own linear piece (see export.py).
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import torch

from cxrviewer.nets import ARCHITECTURES, build
from cxrviewer.training.checkpoint import save_checkpoint
from cxrviewer.training.export import export_model

LABELS = {"classification": ["normal", "abnormal"], "bone_suppression": ["bone_suppressed"],
          "segmentation": ["lungs", "heart"]}


def _worst(card, prefix: str, key: str = "max_rel_diff") -> float | None:
    values = [getattr(f, key) for f in card.parity if f.output.startswith(prefix) and getattr(f, key, None) is not None]
    return max(values) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("archs", nargs="*", default=sorted(ARCHITECTURES))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(2)
    print("| arch | input | logits | features / output | saliency vs float64 | float32 autograd vs float64 "
          "| saliency on its own piece | kinks | export s |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    fmt = lambda v: "–" if v is None else f"{v:.1e}"  # noqa: E731
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for arch in args.archs:
            spec = ARCHITECTURES[arch]
            labels = LABELS[spec.task]
            torch.manual_seed(0)
            net = build(arch, num_classes=len(labels))
            weights = folder / f"{arch}.safetensors"
            save_checkpoint(net, weights, {
                "arch": arch, "arch_params": {"num_classes": len(labels), "in_channels": spec.in_channels},
                "task": spec.task, "labels": labels, "thresholds": [0.5] * len(labels), "version": "1",
                "provenance": {"data": ["none: random weights"], "split": "none", "command": "bench/parity.py"},
            })
            started = time.perf_counter()
            card = export_model(weights, folder / "models" / arch)
            seconds = time.perf_counter() - started
            size = f"{card.input.channels}×{card.input.height}×{card.input.width}"
            kinks = [f.kinks for f in card.parity if getattr(f, "kinks", None) is not None]
            print(f"| {arch} | {size} | {fmt(_worst(card, 'logits'))} "
                  f"| {fmt(_worst(card, 'features') or _worst(card, 'output'))} | {fmt(_worst(card, 'saliency'))} "
                  f"| {fmt(_worst(card, 'saliency', 'float32_autograd'))} "
                  f"| {fmt(_worst(card, 'saliency', 'same_piece'))} | {max(kinks) if kinks else '–'} | {seconds:.0f} |",
                  flush=True)


if __name__ == "__main__":
    main()
