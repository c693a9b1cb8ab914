"""Write a network's ONNX graphs: classifier (logits + features), saliency (∂score/∂input), image-to-image.

The saliency graph cannot come from `torch.onnx.export` of autograd directly. Instead the gradient
function `x ↦ ∂(Σ logits·onehot)/∂x` (`torch.func.grad`, weights held constant so no weight gradient
is ever computed) is traced with `make_fx` into plain ATen ops under the core decompositions, with
`convolution_backward` rewritten as a transposed convolution; that FX graph is then an ordinary
forward program, which the dynamo exporter turns into ONNX. The graph has the fixed input size of
the trace (batch 1), which is what the model contract fixes anyway.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn
from torch._decomp import core_aten_decompositions
from torch.fx.experimental.proxy_tensor import make_fx

from cxrviewer.core.errors import ModelError

log = logging.getLogger(__name__)

OPSET = 18
aten = torch.ops.aten


class _LogitsAndFeatures(nn.Module):
    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.net.features(image)
        return self.net.head(features), features


class _GraphModuleWrapper(nn.Module):
    """torch.onnx.export wants an nn.Module with named inputs; make_fx gives a GraphModule."""

    def __init__(self, graph: nn.Module):
        super().__init__()
        self.gradient = graph

    def forward(self, image: torch.Tensor, class_onehot: torch.Tensor) -> torch.Tensor:
        return self.gradient(image, class_onehot)


def _convolution_backward(
    grad_output, input, weight, bias_sizes, stride, padding, dilation, transposed, output_padding, groups, mask
):
    """grad_input of a convolution as a transposed convolution; weight/bias grads are not wanted.

    The output padding recovers input rows/columns that the forward stride dropped.
    """
    if transposed or mask[1] or mask[2]:
        raise NotImplementedError("only grad_input of a forward convolution is decomposed")
    extra = []
    for axis in range(len(stride)):
        size, kernel, out = input.shape[2 + axis], weight.shape[2 + axis], grad_output.shape[2 + axis]
        covered = (out - 1) * stride[axis] - 2 * padding[axis] + dilation[axis] * (kernel - 1) + 1
        extra.append(size - covered)
    grad_input = aten.convolution(grad_output, weight, None, stride, padding, dilation, True, extra, groups)
    return (grad_input, None, None)


def _avg_pool_backward(grad_output, input, kernel, stride, padding, ceil_mode, count_include_pad, divisor):
    """grad_input of an average pool as a transposed convolution with a constant 1/|window| kernel.

    Needed for LocalResponseNorm, which torch computes with avg_pool3d over a channel window and whose
    backward has no ONNX translation. Exact when every window has the same divisor.
    """
    if ceil_mode or divisor is not None or (any(padding) and not count_include_pad):
        raise NotImplementedError("average-pool backward with uneven window divisors")
    spatial = len(kernel)
    batch_shape = grad_output.shape[: grad_output.dim() - spatial]
    flat = grad_output.reshape(-1, 1, *grad_output.shape[-spatial:])
    size = 1
    for k in kernel:
        size *= k
    weight = torch.full((1, 1, *kernel), 1.0 / size, dtype=grad_output.dtype)
    extra = []
    for axis in range(spatial):
        covered = (flat.shape[2 + axis] - 1) * stride[axis] - 2 * padding[axis] + kernel[axis]
        extra.append(input.shape[input.dim() - spatial + axis] - covered)
    grad_input = aten.convolution(flat, weight, None, stride, padding, [1] * spatial, True, extra, 1)
    return grad_input.reshape(*batch_shape, *grad_input.shape[-spatial:])


def _max_pool2d_backward(grad_output, input, kernel, stride, padding, dilation, ceil_mode, indices):
    """grad_input of a max pool: each output's gradient added at the input position it came from."""
    batch, channels = input.shape[0], input.shape[1]
    flat = torch.zeros((batch, channels, input.shape[2] * input.shape[3]), dtype=grad_output.dtype)
    flat = flat.scatter_add(2, indices.reshape(batch, channels, -1), grad_output.reshape(batch, channels, -1))
    return flat.reshape(input.shape)


def _empty_permuted(size, physical_layout, *, dtype=None, layout=None, device=None, pin_memory=None):
    """Scratch tensors (from SiLU's backward in EfficientNet) have no ONNX translation; zeros do."""
    return torch.zeros(size, dtype=dtype)


def _decompositions() -> dict:
    table = dict(core_aten_decompositions())
    table[aten.convolution_backward.default] = _convolution_backward
    table[aten.avg_pool2d_backward.default] = _avg_pool_backward
    table[aten.avg_pool3d_backward.default] = _avg_pool_backward
    table[aten.max_pool2d_with_indices_backward.default] = _max_pool2d_backward
    table[aten.empty_permuted.default] = _empty_permuted
    return table


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """The exporter prints progress lines and logs INFO chatter meant for its developers: debug log only."""
    out = io.StringIO()
    chatty = [logging.getLogger(name) for name in ("onnx_ir", "onnxscript", "torch.onnx")]
    levels = [logger.level for logger in chatty]
    try:
        for logger in chatty:
            logger.setLevel(logging.WARNING)
        with warnings.catch_warnings(), contextlib.redirect_stdout(out):
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(chatty, levels, strict=True):
            logger.setLevel(level)
    if out.getvalue().strip():
        log.debug("torch.onnx: %s", out.getvalue().strip())


def _export(
    module: nn.Module, args: tuple, path: Path, inputs: list[str], outputs: list[str], optimize: bool = True, **kw
) -> None:
    module.eval()
    try:
        with _quiet_exporter(), torch.no_grad():
            program = torch.onnx.export(
                module, args, dynamo=True, opset_version=OPSET, input_names=inputs, output_names=outputs,
                verbose=False, optimize=optimize, **kw,
            )
        # One self-contained file: small enough, and a card checksum then covers all of it.
        program.save(str(path), external_data=False)
    except Exception as error:  # the exporter raises many unrelated types
        raise ModelError(path.stem, f"ONNX export failed: {type(error).__name__}: {error}") from error


def export_classifier(net: nn.Module, path: Path, example: torch.Tensor) -> None:
    """ONNX of x (N, C, H, W) → logits (N, K), features (N, F, h, w); batch dynamic, H and W fixed."""
    batch = torch.export.Dim("batch", min=1, max=64)
    _export(
        _LogitsAndFeatures(net), (example,), path, ["image"], ["logits", "features"],
        dynamic_shapes={"image": {0: batch}},
    )


def export_image_to_image(net: nn.Module, path: Path, example: torch.Tensor) -> None:
    """ONNX of x (N, C, H, W) → output (N, C_out, H, W) at the working size; batch dynamic."""
    batch = torch.export.Dim("batch", min=1, max=64)
    _export(net, (example,), path, ["image"], ["output"], dynamic_shapes={"image": {0: batch}})


def trace_saliency(net: nn.Module, example: torch.Tensor, num_classes: int) -> torch.fx.GraphModule:
    """FX graph of (image (1, C, H, W), class_onehot (1, K)) → ∂Σ(logits·onehot)/∂image (1, C, H, W)."""
    net = net.eval()
    params = {name: p.detach() for name, p in net.named_parameters()}
    buffers = {name: b.detach() for name, b in net.named_buffers()}

    def score(image: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
        logits = torch.func.functional_call(net, (params, buffers), (image,))
        return (logits * onehot).sum()

    gradient = torch.func.grad(score, argnums=0)
    onehot = torch.zeros(1, num_classes)
    onehot[0, 0] = 1.0
    try:
        return make_fx(gradient, decomposition_table=_decompositions())(example[:1], onehot)
    except Exception as error:
        raise ModelError(
            getattr(net, "arch", "net"), f"tracing the saliency gradient failed: {type(error).__name__}: {error}"
        ) from error


def export_saliency(net: nn.Module, path: Path, example: torch.Tensor, num_classes: int) -> torch.fx.GraphModule:
    """ONNX of (image (1, C, H, W), class_onehot (1, K)) → saliency (1, C, H, W) = ∂Σ(logits·onehot)/∂image.

    Returns the traced FX graph the file was exported from (for `saliency_parity.piece_check`).
    """
    graph = trace_saliency(net, example, num_classes)
    onehot = torch.zeros(1, num_classes)
    # onnxscript's optimiser takes minutes on a gradient graph of DenseNet's size (measured 284 s vs
    # 54 s without), and onnxruntime applies its own graph optimisations when it loads the file.
    _export(
        _GraphModuleWrapper(graph), (example[:1], onehot), path, ["image", "class_onehot"], ["saliency"],
        optimize=False,
    )
    return graph
