"""Which ONNX Runtime execution provider to use: CUDA only when a CUDA device is really usable.

The GPU wheel of onnxruntime always *lists* CUDAExecutionProvider and `ort.get_device()` says "GPU"
even on a machine without a driver; asking it for a CUDA session there prints a screen of error-log
lines before it falls back to CPU. So the decision is made without onnxruntime: the CUDA driver
library is loaded with ctypes and asked for a device count. It is loaded by its explicit names
(`libcuda.so.1`, `libcuda.so`; `nvcuda.dll`) only: `ctypes.util.find_library` would run `ldconfig -p`,
`gcc` and `ld` at every start. Sessions are still created with a quiet logger, and the provider a
session really got is what is reported.

The viewer bundle leaves out the CUDA provider library (cxrviewer.spec; a GPU site unpacks it as an
add-on, docs/packaging.md), while the GPU wheel's core still lists the provider; so CUDA counts as
available only when its library is really beside onnxruntime.
"""

from __future__ import annotations

import ctypes
import dataclasses
import functools
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import onnxruntime as ort

log = logging.getLogger(__name__)

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
# `CXRVIEWER_PROVIDER=cpu` forces the CPU (a site whose GPU is busy or misbehaving).
PROVIDER_ENV = "CXRVIEWER_PROVIDER"
# The CUDA driver API library (cuInit, cuDeviceGetCount), by the names its installers give it: the
# versioned soname first (what the driver package installs), then the unversioned development link.
# macOS has had no CUDA driver since CUDA 10.2, so none there.
_DRIVER_NAMES = {"win32": ("nvcuda.dll",), "linux": ("libcuda.so.1", "libcuda.so")}
_CUDA_PROVIDER_LIBRARY = {"win32": "onnxruntime_providers_cuda.dll"}.get(sys.platform,
                                                                         "libonnxruntime_providers_cuda.so")


def onnxruntime_library_dir() -> Path:
    """The folder holding onnxruntime's native libraries and provider plugins (`onnxruntime/capi`)."""
    return Path(ort.__file__).parent / "capi"


def available_providers(library_dir: Path | None = None) -> list[str]:
    """The providers this onnxruntime lists, less CUDA when its provider library is not installed.

    library_dir: where the provider plugins live (default `onnxruntime_library_dir()`).
    """
    folder = onnxruntime_library_dir() if library_dir is None else library_dir
    listed = list(ort.get_available_providers())
    if CUDA in listed and not (folder / _CUDA_PROVIDER_LIBRARY).is_file():
        listed.remove(CUDA)
    return listed


def cuda_device_count() -> int:
    """Number of CUDA devices the driver reports; 0 when no driver is installed or it fails.

    The driver is loaded by its explicit names only (never `ctypes.util.find_library`, which spawns
    ldconfig and a compiler): the dynamic loader's own search (LD_LIBRARY_PATH, ld.so.cache, PATH on
    Windows) finds it wherever the driver installer put it."""
    for name in _DRIVER_NAMES.get(sys.platform, ()):
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


@dataclasses.dataclass(frozen=True)
class ProviderChoice:
    """The execution providers in preference order, and in words why (for the status bar's tooltip)."""

    providers: tuple[str, ...]
    reason: str


def provider_choice(
    available: Sequence[str] | None = None,
    device_count: Callable[[], int] | None = None,
    forced: str | None = None,
) -> ProviderChoice:
    """(CUDA, CPU) when CUDA is usable, else (CPU,), with the reason.

    available: the providers this install has (default `available_providers()`).
    device_count: probe for usable CUDA devices (default: the CUDA driver via ctypes, cached).
    forced: "cpu" or "cuda" (default from the CXRVIEWER_PROVIDER environment variable).
    """
    available = list(available_providers() if available is None else available)
    forced = (os.environ.get(PROVIDER_ENV, "") if forced is None else forced).strip().lower()
    if forced == "cpu":
        return ProviderChoice((CPU,), f"CPU: {PROVIDER_ENV}=cpu")
    if CUDA not in available:
        if forced == "cuda":
            log.warning("%s=cuda, but this onnxruntime has no CUDA provider; using the CPU", PROVIDER_ENV)
        return ProviderChoice((CPU,), "CPU: this install has no CUDA provider (the GPU add-on, docs/packaging.md)")
    count = (device_count or _cached_cuda_device_count)()
    if count <= 0:
        if forced == "cuda":
            log.warning("%s=cuda, but no CUDA device is usable; using the CPU", PROVIDER_ENV)
        return ProviderChoice((CPU,), "CPU: no usable NVIDIA driver or CUDA device")
    return ProviderChoice((CUDA, CPU), f"CUDA: {count} device(s); the CPU if a model cannot run there")


def choose_providers(
    available: Sequence[str] | None = None,
    device_count: Callable[[], int] | None = None,
    forced: str | None = None,
) -> list[str]:
    """Execution providers in preference order: [CUDA, CPU] when CUDA is usable, else [CPU]
    (the arguments as for `provider_choice`)."""
    return list(provider_choice(available, device_count, forced).providers)


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
