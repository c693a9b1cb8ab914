"""Which ONNX Runtime execution provider to use: CUDA only when a CUDA device is really usable.

The GPU wheel of onnxruntime always *lists* CUDAExecutionProvider and `ort.get_device()` says "GPU"
even on a machine without a driver; asking it for a CUDA session there prints a screen of error-log
lines before it falls back to CPU. So the decision is made without onnxruntime: the CUDA driver
library is loaded with ctypes and asked for a device count. Sessions are still created with a quiet
logger, and the provider a session really got is what is reported.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import os
import sys
from collections.abc import Callable, Sequence

import onnxruntime as ort

log = logging.getLogger(__name__)

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
# `CXRVIEWER_PROVIDER=cpu` forces the CPU (a site whose GPU is busy or misbehaving).
PROVIDER_ENV = "CXRVIEWER_PROVIDER"
_DRIVER_NAMES = {"win32": ("nvcuda.dll",), "linux": ("libcuda.so.1", "libcuda.so")}


def cuda_device_count() -> int:
    """Number of CUDA devices the driver reports; 0 when no driver is installed or it fails."""
    names = _DRIVER_NAMES.get(sys.platform, ())
    found = ctypes.util.find_library("cuda")
    for name in (*names, *([found] if found else [])):
        try:
            driver = ctypes.CDLL(name)
        except OSError:
            continue
        count = ctypes.c_int(0)
        try:
            if driver.cuInit(0) != 0 or driver.cuDeviceGetCount(ctypes.byref(count)) != 0:
                return 0
        except AttributeError:
            return 0
        return count.value
    return 0


@functools.lru_cache(maxsize=1)
def _cached_cuda_device_count() -> int:
    return cuda_device_count()


def choose_providers(
    available: Sequence[str] | None = None,
    device_count: Callable[[], int] | None = None,
    forced: str | None = None,
) -> list[str]:
    """Execution providers in preference order: [CUDA, CPU] when CUDA is usable, else [CPU].

    available: the providers this onnxruntime build has (default `ort.get_available_providers()`).
    device_count: probe for usable CUDA devices (default: the CUDA driver via ctypes, cached).
    forced: "cpu" or "cuda" (default from the CXRVIEWER_PROVIDER environment variable).
    """
    available = list(ort.get_available_providers() if available is None else available)
    forced = (os.environ.get(PROVIDER_ENV, "") if forced is None else forced).strip().lower()
    if forced == "cpu":
        return [CPU]
    if CUDA not in available:
        if forced == "cuda":
            log.warning("%s=cuda, but this onnxruntime has no CUDA provider; using the CPU", PROVIDER_ENV)
        return [CPU]
    count = (device_count or _cached_cuda_device_count)()
    if count <= 0:
        if forced == "cuda":
            log.warning("%s=cuda, but no CUDA device is usable; using the CPU", PROVIDER_ENV)
        return [CPU]
    return [CUDA, CPU]


def provider_label(providers: Sequence[str]) -> str:
    """Short name for the UI and `cxrviewer models`: "CUDA" or "CPU" (the first provider wins)."""
    return providers[0].removesuffix("ExecutionProvider") if providers else "none"


# onnxruntime graph optimisations the saliency graph is loaded without. ConvBNFusion folds a
# BatchNorm into the preceding convolution's weights: exact in real arithmetic, but it rounds the
# pre-activation differently from the conv-then-BN that PyTorch computes, and a ReLU mask taken
# from a pre-activation within float32 rounding of zero then flips. On a random-weight DenseNet-121
# (224², seed 0) one such unit, -3.2e-7 in float64 against a layer maximum of 13.7, comes out
# +4.1e-7 fused (-1.2e-6 unfused) and puts a 19×19 patch 2e-3 (max relative) off float64 autograd;
# unfused the graph is within 5e-7, as close as PyTorch float32 autograd (ResNet-34 at 64², seed 0:
# 2.4e-2 fused, 8.3e-7 unfused). The forward graphs keep the fusion: their outputs are continuous.
SALIENCY_DISABLED_OPTIMIZERS = ("ConvBNFusion",)


def session_options(intra_op_threads: int = 0) -> ort.SessionOptions:
    """Options for every session: errors only (no warning chatter), full graph optimisation."""
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if intra_op_threads:
        options.intra_op_num_threads = intra_op_threads
    return options
