"""A U-Net at half the width of `unet_small` (8-16-32-64-128), for lesion maps trained on this CPU.

A quarter of unet_small's multiply-adds at the same depth and receptive field: the TB lesion model
sees 256² radiographs with boxes tens of pixels wide, where depth (context) matters more than width,
and a 2-hour CPU budget buys about four times as many epochs. Same blocks as unet_small; the output
channels are independent sigmoid logits named by the card.
"""

from __future__ import annotations

from itertools import pairwise

import torch
from torch import nn

from cxrviewer.nets.base import ImageToImage
from cxrviewer.nets.unet import _double_conv, _Up

WIDTHS = (8, 16, 32, 64, 128)


class UNetTiny(ImageToImage):
    """image (N, in_channels, H, W) float32, H and W multiples of 16 → logits (N, num_classes, H, W)."""

    def __init__(self, *, num_classes: int = 1, in_channels: int = 1):
        super().__init__(
            arch="unet_tiny", in_channels=in_channels, out_channels=num_classes,
            working_size=(256, 256), size_multiple=2 ** (len(WIDTHS) - 1), output_activation="sigmoid",
        )
        self.num_classes = num_classes
        self.stem = _double_conv(in_channels, WIDTHS[0])
        self.down = nn.ModuleList(nn.Sequential(nn.MaxPool2d(2), _double_conv(a, b)) for a, b in pairwise(WIDTHS))
        self.up = nn.ModuleList(_Up(b, a) for a, b in reversed(list(pairwise(WIDTHS))))
        self.classify = nn.Conv2d(WIDTHS[0], num_classes, 1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        skips = [self.stem(image)]
        for down in self.down:
            skips.append(down(skips[-1]))
        y = skips.pop()
        for up in self.up:
            y = up(y, skips.pop())
        return self.classify(y)
