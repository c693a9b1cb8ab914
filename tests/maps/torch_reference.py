"""PyTorch references for the map tests: the torch head as a numpy Head, autograd Grad-CAM with hooks
that are always removed, and CRM by really zeroing each spatial element and re-running the head."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
import torch
from torch import nn

from cxrviewer import paths
from cxrviewer.core.maps import head as nphead
from cxrviewer.core.preprocess import InputContract, prepare
from cxrviewer.nets import ARCHITECTURES
from cxrviewer.nets.base import GapLinearHead


def _linear(module: nn.Linear) -> nphead.Linear:
    return nphead.Linear(module.weight.detach().numpy().copy(), module.bias.detach().numpy().copy())


def numpy_head(head: nn.Module) -> nphead.Head:
    """The numpy Head equal to a torch head made of GapLinearHead or standard layers."""
    if isinstance(head, GapLinearHead):
        return nphead.Head((nphead.MeanHW(), nphead.Dropout(), _linear(head.linear)))
    layers: list[nphead.Layer] = []
    for module in head:
        if isinstance(module, nn.MaxPool2d):
            assert not module.ceil_mode and module.dilation == 1
            layers.append(nphead.MaxPool2d(int(module.kernel_size), int(module.stride), int(module.padding)))
        elif isinstance(module, nn.Flatten):
            layers.append(nphead.Flatten())
        elif isinstance(module, nn.Linear):
            layers.append(_linear(module))
        elif isinstance(module, nn.ReLU):
            layers.append(nphead.ReLU())
        elif isinstance(module, nn.Dropout):
            layers.append(nphead.Dropout())
        else:
            raise TypeError(f"no numpy equivalent for {module}")
    return nphead.Head(tuple(layers))


@contextmanager
def activations_and_gradients(layer: nn.Module) -> Iterator[dict[str, torch.Tensor]]:
    """Records `layer`'s output and the gradient flowing into it; the hooks go when the block ends,
    and any error inside the block propagates."""
    record: dict[str, torch.Tensor] = {}

    def forward_hook(_module, _inputs, output):
        record["activation"] = output.detach()
        output.register_hook(lambda grad: record.__setitem__("gradient", grad.detach()))

    handle = layer.register_forward_hook(forward_hook)
    try:
        yield record
    finally:
        handle.remove()


def autograd_references(model: nn.Module, x: torch.Tensor) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per class c: (Grad-CAM (h, w) as Selvaraju et al. and pytorch-grad-cam compute it, with hooks
    on the last conv map; ∂logit_c/∂x (C, H, W)), from one forward pass and one backward per class."""
    x = x.clone().requires_grad_(True)
    out = []
    with activations_and_gradients(model.features) as record:
        logits = model(x)
        for c in range(logits.shape[1]):
            x.grad = None
            logits[0, c].backward(retain_graph=True)
            alpha = record["gradient"].mean(dim=(2, 3), keepdim=True)
            gradcam = torch.relu((alpha * record["activation"]).sum(dim=1))[0].numpy()
            out.append((gradcam, x.grad[0].numpy().copy()))
    return out


def bruteforce_crm(head: nn.Module, features: torch.Tensor, chunk: int = 50) -> np.ndarray:
    """Σ_c (S_c − S_c(l, m))² with S(l, m) from the torch head on features with element (l, m) zeroed
    in every channel; in float64 so the oracle itself does not lose digits to cancellation."""
    head64 = copy.deepcopy(head).double().eval()
    features = features.double()
    _, _, h, w = features.shape
    with torch.no_grad():
        scores = head64(features)
        out = torch.empty(h * w, dtype=torch.float64)
        for start in range(0, h * w, chunk):
            positions = range(start, min(start + chunk, h * w))
            batch = features.repeat(len(positions), 1, 1, 1)
            for row, p in enumerate(positions):
                batch[row, :, p // w, p % w] = 0.0
            out[start : start + len(positions)] = ((head64(batch) - scores) ** 2).sum(dim=1)
    return out.reshape(h, w).numpy()


def calibrate_batch_norm(model: nn.Module, x: torch.Tensor) -> None:
    """Set every batch norm's running statistics from one input, as training would.

    At initialisation the running statistics are (0, 1), and some deep nets (EfficientNet-B1) then
    shrink their features to ~1e-13 in eval mode, where no float comparison means anything.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average: one batch sets the statistics exactly
    model.train()
    with torch.no_grad():
        model(x)
    model.eval()


def rel_diff(ours: np.ndarray, reference: np.ndarray) -> float:
    """max|ours − reference| / max|reference| (0 when both are all zero)."""
    scale = float(np.abs(reference).max())
    err = float(np.abs(np.asarray(ours, np.float64) - reference).max())
    return err / scale if scale > 0 else err


CLASSIFIERS = sorted(name for name, spec in ARCHITECTURES.items() if spec.task == "classification")


def real_radiograph() -> np.ndarray | None:
    """The first RSNA radiograph as (H, W) float32 in [0, 1], or None when the shared data is absent."""
    import cv2

    folder = paths.shared_data_dir() / "rsna_pneumonia" / "images"
    files = sorted(folder.glob("*.jpg")) if folder.is_dir() else []
    if not files:
        return None
    return cv2.imread(str(files[0]), cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255.0


# The maths does not depend on the input size, so the big torchvision backbones run at 128² (4×4 to
# 8×8 feature grids) to keep the suite fast; tb-net and the sequential CNN (whose MLP head fixes its
# input size) run at their own sizes.
TEST_SIZES = {"tbnet": (512, 512), "seqcnn": (227, 227)}
BACKBONE_TEST_SIZE = (128, 128)


def model_input(arch: str, kind: str, seed: int = 0) -> np.ndarray:
    """(1, C, H, W) float32 input for `arch`: "random" noise or the "real" radiograph (skips if absent)."""
    spec = ARCHITECTURES[arch]
    size = TEST_SIZES.get(arch, BACKBONE_TEST_SIZE)
    if kind == "random":
        rng = np.random.default_rng(seed)
        return rng.random((1, spec.in_channels, *size), dtype=np.float32)
    pixels = real_radiograph()
    if pixels is None:
        pytest.skip(f"no real radiograph: {paths.shared_data_dir()} is absent")
    contract = InputContract(height=size[0], width=size[1], channels=spec.in_channels)
    tensor, _ = prepare(pixels, contract)
    return tensor[None]
