"""A classifier's head (everything after the last conv feature map) evaluated in numpy, with its
exact gradient, so CAM, Grad-CAM and CRM need only the ONNX `features` output and the card's head.

A head is a chain of the layers the model cards allow (`core.cards.HEAD_OPS`): global mean over
(h, w), 2-D max pooling, flatten, linear, ReLU and dropout (identity: heads only ever run in eval
mode). Tie-breaking follows PyTorch so gradients match autograd bit for bit in structure: a max-pool
window routes its gradient to the first maximum in row-major order, and ReLU passes gradient only
where its output is > 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from cxrviewer.core.errors import ModelError

Array = npt.NDArray[np.float32]


@dataclass(frozen=True)
class MeanHW:
    """Global average pooling: (N, K, h, w) → (N, K)."""


@dataclass(frozen=True)
class MaxPool2d:
    """Max pooling over (h, w) of (N, K, h, w), PyTorch semantics (floor mode, −inf padding)."""

    kernel: int
    stride: int
    padding: int = 0


@dataclass(frozen=True)
class Flatten:
    """(N, K, h, w) → (N, K·h·w) in C order, as `nn.Flatten`."""


@dataclass(frozen=True, eq=False)
class Linear:
    """y = x Wᵀ + b. `weight` (out, in) float32, `bias` (out,) float32."""

    weight: Array
    bias: Array

    def __post_init__(self) -> None:
        # A contiguous transpose makes forward a plain row-major GEMM and lets CRM gather rows cheaply.
        object.__setattr__(self, "weight_t", np.ascontiguousarray(self.weight.T, dtype=np.float32))


@dataclass(frozen=True)
class ReLU:
    """max(x, 0)."""


@dataclass(frozen=True)
class Dropout:
    """Identity: the head is only evaluated in eval mode."""


Layer = MeanHW | MaxPool2d | Flatten | Linear | ReLU | Dropout


@dataclass(frozen=True, eq=False)
class Head:
    """features A (N, K, h, w) float32 → logits (N, classes) float32, as a chain of `layers`."""

    layers: tuple[Layer, ...]
    name: str = field(default="head")

    @property
    def num_classes(self) -> int:
        return self.linears[-1].weight.shape[0]

    @property
    def linears(self) -> list[Linear]:
        return [layer for layer in self.layers if isinstance(layer, Linear)]

    @property
    def is_gap_linear(self) -> bool:
        """True for GAP → (dropout) → linear, where CAM/Grad-CAM/CRM have closed forms."""
        core = [layer for layer in self.layers if not isinstance(layer, Dropout)]
        return len(core) == 2 and isinstance(core[0], MeanHW) and isinstance(core[1], Linear)

    def forward(self, features: Array) -> Array:
        """features (N, K, h, w) float32, any range → logits (N, classes) float32."""
        x = np.asarray(features, dtype=np.float32)
        for layer in self.layers:
            x = _forward(layer, x)
        return x

    def gradient(self, features: Array, class_index: int) -> tuple[Array, Array]:
        """(logits (N, classes), ∂logit[class_index]/∂features (N, K, h, w)) float32, exact."""
        x = np.asarray(features, dtype=np.float32)
        inputs = []
        for layer in self.layers:
            inputs.append(x)
            x = _forward(layer, x)
        logits = x
        grad = np.zeros_like(logits)
        grad[:, class_index] = 1.0
        for layer, layer_input in zip(reversed(self.layers), reversed(inputs), strict=True):
            grad = _backward(layer, layer_input, grad)
        return logits, grad


def _pool_windows(layer: MaxPool2d, x: Array) -> Array:
    """(N, K, h', w', kernel·kernel) windows of x padded with −inf, row-major inside a window."""
    p = layer.padding
    if p:
        x = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=-np.inf)
    windows = sliding_window_view(x, (layer.kernel, layer.kernel), axis=(2, 3))
    windows = windows[:, :, :: layer.stride, :: layer.stride]
    return windows.reshape(*windows.shape[:4], layer.kernel * layer.kernel)


def _forward(layer: Layer, x: Array) -> Array:
    if isinstance(layer, MeanHW):
        return x.mean(axis=(2, 3), dtype=np.float32)
    if isinstance(layer, MaxPool2d):
        return _pool_windows(layer, x).max(axis=-1)
    if isinstance(layer, Flatten):
        return x.reshape(len(x), -1)
    if isinstance(layer, Linear):
        return x @ layer.weight_t + layer.bias
    if isinstance(layer, ReLU):
        return np.maximum(x, 0)
    return x


def _backward(layer: Layer, x: Array, grad: Array) -> Array:
    """Vector–Jacobian product of one layer at input x."""
    if isinstance(layer, MeanHW):
        n, k, h, w = x.shape
        return np.broadcast_to((grad / (h * w))[:, :, None, None], x.shape).astype(np.float32)
    if isinstance(layer, MaxPool2d):
        return _maxpool_backward(layer, x, grad)
    if isinstance(layer, Flatten):
        return grad.reshape(x.shape)
    if isinstance(layer, Linear):
        return grad @ layer.weight
    if isinstance(layer, ReLU):
        return grad * (x > 0)
    return grad


def _maxpool_backward(layer: MaxPool2d, x: Array, grad: Array) -> Array:
    n, k, h, w = x.shape
    windows = _pool_windows(layer, x)
    first_max = windows.argmax(axis=-1)  # first maximum, as PyTorch's CPU kernel
    oh, ow = first_max.shape[2:]
    rows = np.arange(oh)[:, None] * layer.stride - layer.padding + first_max // layer.kernel
    cols = np.arange(ow)[None, :] * layer.stride - layer.padding + first_max % layer.kernel
    flat_index = rows * w + cols + (np.arange(n * k) * h * w).reshape(n, k, 1, 1)
    out = np.zeros(n * k * h * w, np.float32)
    np.add.at(out, flat_index.ravel(), grad.ravel())
    return out.reshape(x.shape)


def _square(value: object, name: str, key: str) -> int:
    """A pooling parameter given as n or (n, n) (PyTorch allows both; JSON turns tuples into lists)."""
    values = list(value) if isinstance(value, list | tuple) else [value]
    if len(set(values)) != 1:
        raise ModelError(name, f"head maxpool2d {key} {value} is not square")
    return int(values[0])


def head_from_spec(
    ops: list[tuple[str, Mapping[str, object]]], tensors: Mapping[str, npt.NDArray], *, name: str = "head"
) -> Head:
    """A Head from the card's layer list: (op, params) pairs in order; `linear` params name the
    weight and bias keys of `tensors` (`{"weight": key, "bias": key}`).

    Raises ModelError naming the head when an op is unknown or a tensor is missing or misshapen.
    """
    layers: list[Layer] = []
    for op, params in ops:
        if op == "mean_hw":
            layers.append(MeanHW())
        elif op == "maxpool2d":
            kernel, stride, padding = (
                _square(params.get(key, default), name, key)
                for key, default in (("kernel_size", 0), ("stride", params.get("kernel_size", 0)), ("padding", 0))
            )
            if kernel < 1 or _square(params.get("dilation", 1), name, "dilation") != 1 or params.get("ceil_mode"):
                raise ModelError(name, f"head maxpool2d {dict(params)} is not a plain floor-mode pool")
            layers.append(MaxPool2d(kernel, stride, padding))
        elif op == "flatten":
            layers.append(Flatten())
        elif op == "linear":
            try:
                weight = np.asarray(tensors[str(params["weight"])], np.float32)
                bias = np.asarray(tensors[str(params["bias"])], np.float32)
            except KeyError as missing:
                raise ModelError(name, f"head tensor {missing} missing") from None
            if weight.ndim != 2 or bias.shape != (weight.shape[0],):
                raise ModelError(name, f"head linear layer has weight {weight.shape} and bias {bias.shape}")
            layers.append(Linear(weight, bias))
        elif op == "relu":
            layers.append(ReLU())
        elif op == "dropout":
            layers.append(Dropout())
        else:
            raise ModelError(name, f"head op {op!r} cannot be evaluated (known: mean_hw, maxpool2d, flatten, linear, relu, dropout)")
    if not any(isinstance(layer, Linear) for layer in layers):
        raise ModelError(name, "head has no linear layer")
    return Head(tuple(layers), name=name)


def head_from_card(card, card_dir: Path) -> Head:
    """The numpy Head of a classifier card (`core.cards.ModelCard`) whose files live in `card_dir`."""
    if card.head is None:
        raise ModelError(card.name, "card has no head; CAM, Grad-CAM and CRM need it")
    tensors = load_head_weights(card, card_dir)
    ops = []
    for layer in card.head.layers:
        params = dict(layer.params)
        if layer.op == "linear":
            params = {"weight": layer.weight, "bias": layer.bias}
        ops.append((layer.op, params))
    return head_from_spec(ops, tensors, name=card.name)


def load_head_weights(card, card_dir: Path) -> dict[str, npt.NDArray[np.float32]]:
    """The head's tensors by key (float32), read with safetensors' numpy loader (never pickle)."""
    from safetensors.numpy import load_file

    if card.head is None:
        raise ModelError(card.name, "card has no head")
    tensors = load_file(str(Path(card_dir) / card.head.file))
    for layer in card.head.layers:
        for key in filter(None, (layer.weight, layer.bias)):
            if key not in tensors:
                raise ModelError(card.name, f"head file {card.head.file} has no tensor {key!r}")
    return {key: value.astype(np.float32, copy=False) for key, value in tensors.items()}
