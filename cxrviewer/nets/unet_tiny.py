"""A U-Net at half the width of `unet_small` (8-16-32-64-128), for lesion maps trained on this CPU.

A quarter of unet_small's multiply-adds at the same depth and receptive field: the TB lesion model
sees 256² radiographs with boxes tens of pixels wide, where depth (context) matters more than width,
and a 2-hour CPU budget buys about four times as many epochs. Same blocks as unet_small; the output
channels are independent sigmoid logits named by the card.
"""

from __future__ import annotations

from cxrviewer.nets.unet import UNetSmall


class UNetTiny(UNetSmall):
    """image (N, in_channels, H, W) float32, H and W multiples of 16 → logits (N, num_classes, H, W)."""

    ARCH = "unet_tiny"
    WIDTHS = (8, 16, 32, 64, 128)

    def __init__(self, *, num_classes: int = 1, in_channels: int = 1):
        super().__init__(num_classes=num_classes, in_channels=in_channels)
