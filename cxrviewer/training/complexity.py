"""What a classifier costs to run: parameters, multiply-adds, and measured CPU latency of its ONNX file.

Written into the card at export so readers and researchers compare models on the same footing (the
issue's "parameters, FLOPs, training time and CPU inference time"). MACs are counted by PyTorch's
FlopCounterMode on one forward pass at the model's input size (FLOPs / 2: one multiply-add = 2 FLOPs).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

LATENCY_RUNS = 20


def count_macs(net: nn.Module, example: torch.Tensor) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        net.eval()(example)
    return int(counter.get_total_flops() // 2)


def onnx_cpu_ms(onnx_file: Path, example: np.ndarray, runs: int = LATENCY_RUNS) -> tuple[float, int]:
    """Median latency (ms) of one batch-1 inference on ONNX Runtime's CPU provider, and the threads used."""
    import onnxruntime as ort

    threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    session = ort.InferenceSession(str(onnx_file), sess_options=options, providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: example}
    session.run(None, feed)  # the first run allocates; not a reader's steady state
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        session.run(None, feed)
        times.append((time.perf_counter() - started) * 1000.0)
    return float(np.median(times)), threads


def describe_cost(net: nn.Module, onnx_file: Path, example: np.ndarray) -> dict[str, Any]:
    """The card's `complexity` entry for `net` (exported as `onnx_file`) on the input `example` (1, C, H, W)."""
    ms, threads = onnx_cpu_ms(onnx_file, example)
    return {
        "parameters": int(sum(p.numel() for p in net.parameters())),
        "macs": count_macs(net, torch.from_numpy(example)),
        "cpu_ms": round(ms, 2),
        "cpu_note": f"onnxruntime CPU, batch 1, {threads} threads, median of {LATENCY_RUNS}, measured when shipped",
    }
