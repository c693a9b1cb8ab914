"""A small U-Net for lung (and heart) segmentation.

Output channels are independent sigmoid logits, not a softmax over classes: the project's
convention is channel 0 = "lungs" (both lungs), channel 1 = "heart", so a pixel where the heart
overlaps the lungs on the radiograph can be both; the model card names the channels. The net
returns logits (`output_activation == "sigmoid"`) so training can use BCE-with-logits.
"""

from __future__ import annotations

from itertools import pairwise

import torch
from torch import nn

from cxrviewer.nets.base import ImageToImage

LABELS = ("lungs", "heart")
WIDTHS = (16, 32, 64, 128, 256)


def _double_conv(in_channels: int, out_channels: int) -> nn.Sequential:
    # No conv bias: the batch norm that follows has its own shift.
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
    )


class _Up(nn.Module):
    """2× transposed-conv upsampling, concatenation with the skip, double conv."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.up = nn.ConvTranspose2d(in_channels, out_channels, 2, stride=2)
        self.conv = _double_conv(2 * out_channels, out_channels)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.cat([self.up(x), skip], dim=1))


class UNetSmall(ImageToImage):
    """U-Net with 16-32-64-128-256 channels (four 2× downsamplings), 256×256 working size.

    image (N, in_channels, H, W) float32, H and W multiples of 16 → logits (N, num_classes, H, W).
    Subclasses change `ARCH` and `WIDTHS` (same depth, other widths).
    """

    ARCH = "unet_small"
    WIDTHS = WIDTHS

    def __init__(self, *, num_classes: int = len(LABELS), in_channels: int = 1):
        widths = self.WIDTHS
        super().__init__(
            arch=self.ARCH, in_channels=in_channels, out_channels=num_classes,
            working_size=(256, 256), size_multiple=2 ** (len(widths) - 1), output_activation="sigmoid",
        )
        self.num_classes = num_classes
        self.stem = _double_conv(in_channels, widths[0])
        self.down = nn.ModuleList(
            nn.Sequential(nn.MaxPool2d(2), _double_conv(narrow, wide))
            for narrow, wide in pairwise(widths)
        )
        self.up = nn.ModuleList(
            _Up(wide, narrow) for narrow, wide in reversed(list(pairwise(widths)))
        )
        self.classify = nn.Conv2d(widths[0], num_classes, 1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        skips = [self.stem(image)]
        for down in self.down:
            skips.append(down(skips[-1]))
        y = skips.pop()
        for up in self.up:
            y = up(y, skips.pop())
        return self.classify(y)
