"""tb-net, the tiny tuberculosis screening network of Pasa et al. 2019 (Sci Rep 9:6268).

512×512×1 input; five blocks of 16/32/48/64/80 filters; 3×3/2 max-pool after blocks 1–4; global
average pooling; one dense layer. About 0.23 M parameters.
"""

from __future__ import annotations

import torch
from torch import nn

from cxrviewer.nets.base import Classifier, GapLinearHead

WIDTHS = (16, 32, 48, 64, 80)
INPUT_SIZE = (512, 512)


def _conv_bn_relu(in_channels: int, out_channels: int, kernel: int, stride: int) -> nn.Sequential:
    # The conv bias is left out because the batch norm right after it has its own shift.
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
    )


class TbBlock(nn.Module):
    """Two 3×3 conv-BN-ReLU, averaged with a parallel 1×1 conv-BN-ReLU of the same total stride.

    x (N, in_channels, H, W) → (N, out_channels, H / stride², W / stride²) when `stride` is applied
    to both 3×3 convs (block 1: stride 2 twice = 4), so the 1×1 path takes stride² in one step.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = _conv_bn_relu(in_channels, out_channels, 3, stride)
        self.conv2 = _conv_bn_relu(out_channels, out_channels, 3, stride)
        self.shortcut = _conv_bn_relu(in_channels, out_channels, 1, stride * stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * (self.conv2(self.conv1(x)) + self.shortcut(x))


def build_tbnet(*, num_classes: int = 2, in_channels: int = 1) -> Classifier:
    """tb-net: features (N, 80, 8, 8) at 512×512, head GAP → linear.

    The pools use padding 1 so 128 → 64 → 32 → 16 → 8 halves exactly; the paper does not state the
    padding and an 8×8 map keeps CAM cells aligned with 64-pixel squares of the input.
    """
    layers: list[nn.Module] = []
    previous = in_channels
    for index, width in enumerate(WIDTHS):
        layers.append(TbBlock(previous, width, stride=2 if index == 0 else 1))
        if index < len(WIDTHS) - 1:
            layers.append(nn.MaxPool2d(3, stride=2, padding=1))
        previous = width
    return Classifier(
        arch="tbnet",
        features=nn.Sequential(*layers),
        head=GapLinearHead(WIDTHS[-1], num_classes),
        in_channels=in_channels,
        num_classes=num_classes,
        input_size=INPUT_SIZE,
    )
