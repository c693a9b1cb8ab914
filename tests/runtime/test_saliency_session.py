"""The saliency graph is loaded without onnxruntime's Conv+BatchNorm fusion, which flips ReLU masks.

A conv with integer weights on an integer image followed by a BatchNorm whose running mean is an
integer gives pre-activations that are exactly zero in float32 and float64 alike when the conv and the
BatchNorm are evaluated one after the other. Folded into one conv, the BatchNorm scale is rounded into
every weight and the zeros come out as ±1e-7: the positive ones open their ReLU, and the saliency is
10 % (max relative) off. The same mechanism, on one pre-activation within rounding of zero, put
DenseNet-121's saliency graph 2e-3 off float64 autograd.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from cxrviewer.runtime.onnx_backend import build_session
from cxrviewer.runtime.providers import CPU, SALIENCY_DISABLED_OPTIMIZERS
from cxrviewer.training import onnx_graphs
from cxrviewer.training.export import max_rel_diff


@pytest.fixture(scope="module")
def conv_bn_relu(tmp_path_factory):
    """(saliency ONNX path, image (1, 3, 16, 16) float32, float64 autograd ∂logit_0/∂image)."""
    torch.set_num_threads(1)
    generator = torch.Generator().manual_seed(0)
    channels = 8
    net = nn.Sequential(
        nn.Conv2d(3, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, 2),
    )
    with torch.no_grad():
        net[0].weight.copy_(torch.randint(-2, 3, (channels, 3, 3, 3), generator=generator).float())
        net[1].running_mean.copy_(torch.arange(channels).float() % 4)
        net[1].weight.copy_(torch.rand(channels, generator=generator) + 0.1)
        net[1].bias.zero_()
        net[1].running_var.copy_(torch.rand(channels, generator=generator) + 0.5)
    net.eval()
    image = torch.randint(0, 4, (1, 3, 16, 16), generator=generator).float()
    exact = image.double().requires_grad_(True)
    copy.deepcopy(net).double()(exact)[0, 0].backward()
    path = tmp_path_factory.mktemp("saliency") / "conv_bn_relu.saliency.onnx"
    onnx_graphs.export_saliency(net, path, image, 2)
    return path, image.numpy(), exact.grad.numpy()


def saliency(path, image, disabled_optimizers):
    session = build_session(path, [CPU], 1, disabled_optimizers=disabled_optimizers)
    onehot = np.array([[1.0, 0.0]], np.float32)
    return session.run(["saliency"], {"image": image, "class_onehot": onehot})[0]


def test_saliency_session_matches_float64_autograd(conv_bn_relu):
    path, image, reference = conv_bn_relu
    assert max_rel_diff(saliency(path, image, SALIENCY_DISABLED_OPTIMIZERS), reference) < 1e-6


def test_conv_bn_fusion_is_what_breaks_it(conv_bn_relu):
    # Guards the test above: with every optimisation on, this graph does hit the flipped masks.
    path, image, reference = conv_bn_relu
    assert max_rel_diff(saliency(path, image, ()), reference) > 1e-2
