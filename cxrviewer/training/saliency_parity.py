"""Saliency parity on the graph's own linear piece: float64 autograd with the graph's ReLU masks and argmaxes.

A ReLU/max-pool network is piecewise linear in its input. Where a ReLU pre-activation lies within
float32 rounding of zero, or two values of a max-pool window within rounding of each other, any
float32 implementation may land on either neighbouring piece, and the two pieces' gradients differ
by a whole path's contribution (a random-weight VGG-16 at 224²: one flipped unit out of 15 M moves
the saliency 1 % of its maximum; one max-pool tie on an 8-bit radiograph, 8 %). There the network
has no unique derivative, so "∂score/∂input" is only defined once the piece is fixed.

This module fixes it: the traced FX gradient graph (the program the ONNX file was exported from) is
evaluated in float64 with every discrete choice — each boolean mask and each max-pool index — taken
from the ONNX graph itself (read as extra outputs of a copy of the model), and the ONNX saliency is
compared with that. Every place where the graph's choice differs from float64's own is checked to be
a genuine near-kink: the compared value within `tolerance` (relative to its tensor's largest
magnitude) of the threshold on both the float64 and the ONNX side, or the chosen max-pool element
within `tolerance` of the window's maximum. A wrong forward value or a wrong index is a far-from-kink
difference and is reported as such.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
import torch

aten = torch.ops.aten
_COMPARISONS = {aten.le.Scalar, aten.lt.Scalar, aten.ge.Scalar, aten.gt.Scalar,
                aten.le.Tensor, aten.lt.Tensor, aten.ge.Tensor, aten.gt.Tensor}
_VIEWS = {aten.view.default, aten.reshape.default, aten._unsafe_view.default}


@dataclass(frozen=True)
class PieceCheck:
    """The ONNX saliency against float64 autograd on the ONNX graph's own linear piece.

    max_rel_diff: max|onnx − piece| / max|piece| (float64 reference with the graph's choices).
    kinks: elements where the graph's choice (mask bit or max-pool index) differs from float64's.
    worst_margin: largest distance from its kink among those, relative to the tensor's largest
        magnitude (0.0 when kinks == 0; inf for a choice whose kink cannot be measured).
    """

    max_rel_diff: float
    kinks: int
    worst_margin: float


class _Float64(torch.fx.Interpreter):
    """Runs a traced graph in float64, replacing named discrete nodes by given values."""

    def __init__(self, graph: torch.fx.GraphModule, overrides: dict[str, npt.NDArray[Any]]):
        super().__init__(graph)
        self.overrides = overrides
        self.values: dict[str, Any] = {}

    def run_node(self, node: torch.fx.Node) -> Any:
        out = super().run_node(node)
        if node.name in self.overrides:
            out = torch.from_numpy(self.overrides[node.name]).to(out.dtype).reshape(out.shape)
        if isinstance(out, torch.Tensor) and out.is_floating_point():
            out = out.double()
        self.values[node.name] = out
        return out

    def call_function(self, target: Any, args: Any, kwargs: dict[str, Any]) -> Any:
        # Tensors the graph creates itself (zeros for scatter-add, scalars) carry a float32 dtype.
        if kwargs.get("dtype") == torch.float32:
            kwargs = {**kwargs, "dtype": torch.float64}
        return super().call_function(target, args, kwargs)


def _discrete_nodes(graph: torch.fx.GraphModule, available: set[str]) -> list[torch.fx.Node]:
    """Nodes holding a data-dependent choice (bool masks, int64 indices) that the ONNX file also names."""
    found = []
    for node in graph.graph.nodes:
        value = node.meta.get("val")
        if (node.op == "call_function" and isinstance(value, torch.Tensor) and value.numel() > 1
                and value.dtype in (torch.bool, torch.int64) and node.name in available):
            found.append(node)
    return found


def _with_outputs(model: onnx.ModelProto, names: list[str]) -> bytes:
    augmented = onnx.ModelProto()
    augmented.CopyFrom(model)
    for name in names:
        augmented.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
    return augmented.SerializeToString()


def _margin(node: torch.fx.Node, flipped: torch.Tensor, exact: _Float64, onnx_values: dict[str, Any]) -> float:
    """Distance from the kink at the flipped elements, relative to the compared tensor's largest magnitude."""
    if node.target in _VIEWS:  # a reshaped copy of another choice, which is measured there
        return 0.0
    if node.target in _COMPARISONS:
        left, right = node.args[0], node.args[1]
        if not isinstance(left, torch.fx.Node) or left.name not in onnx_values:
            return float("inf")
        threshold = exact.values[right.name] if isinstance(right, torch.fx.Node) else float(right)
        value = exact.values[left.name]
        scale = float(value.abs().max()) or 1.0
        ours = torch.from_numpy(onnx_values[left.name]).double().reshape(value.shape)
        distance = torch.maximum((value - threshold).abs(), (ours - threshold).abs())
        return float(distance.reshape(flipped.shape)[flipped].max()) / scale
    source = node.args[0] if node.target is operator.getitem else None
    if (isinstance(source, torch.fx.Node) and source.target is aten.max_pool2d_with_indices.default
            and node.args[1] == 1):
        pooled = exact.values[source.args[0].name].flatten(2)
        chosen = torch.from_numpy(onnx_values[node.name]).reshape(exact.values[node.name].shape).flatten(2)
        gap = pooled.gather(2, exact.values[node.name].flatten(2)) - pooled.gather(2, chosen)
        return float(gap.abs().reshape(flipped.shape)[flipped].max()) / (float(pooled.abs().max()) or 1.0)
    return float("inf")


def piece_check(
    graph: torch.fx.GraphModule,
    model: onnx.ModelProto,
    make_session: Any,
    image: npt.NDArray[np.float32],
    onehot: npt.NDArray[np.float32],
    saliency: npt.NDArray[np.float32],
) -> PieceCheck:
    """Compare the ONNX saliency of `model` with float64 autograd on the graph's own linear piece.

    graph: `onnx_graphs.trace_saliency` of the network (the program `model` was exported from).
    make_session: bytes of an ONNX model → onnxruntime session, configured as the runtime does.
    image (1, C, H, W) float32, onehot (1, K) float32: the saliency graph's inputs.
    saliency (1, C, H, W) float32: what the runtime's own session gave for them (the choices are
        read from a copy with extra outputs; had that copy chosen otherwise, the check fails).
    """
    available = {out for node in model.graph.node for out in node.output}
    choices = _discrete_nodes(graph, available)
    compared = {n.args[0].name for n in choices if n.target in _COMPARISONS and isinstance(n.args[0], torch.fx.Node)}
    fetched = [n.name for n in choices] + sorted(compared & available - {n.name for n in choices})
    session = make_session(_with_outputs(model, fetched))
    got = session.run(["saliency", *fetched], {"image": image, "class_onehot": onehot})
    onnx_values = dict(zip(fetched, got[1:], strict=True))
    inputs = (torch.from_numpy(image).double(), torch.from_numpy(onehot).double())
    exact = _Float64(graph, {})
    exact.run(*inputs)
    piece = _Float64(graph, {n.name: onnx_values[n.name] for n in choices}).run(*inputs).numpy()
    kinks, worst = 0, 0.0
    for node in choices:
        mine = exact.values[node.name]
        flipped = torch.from_numpy(onnx_values[node.name]).reshape(mine.shape) != mine
        if bool(flipped.any()):
            kinks += int(flipped.sum()) if node.target not in _VIEWS else 0
            worst = max(worst, _margin(node, flipped, exact, onnx_values))
    scale = float(np.abs(piece).max())
    error = float(np.abs(saliency.astype(np.float64) - piece).max())
    return PieceCheck(error / scale if scale else (0.0 if error == 0.0 else float("inf")), kinks, worst)
