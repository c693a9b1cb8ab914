"""Bone-suppression networks of Rajaraman et al. 2021 (Diagnostics 11:840), and a CPU-efficient one.

All take a radiograph image (N, 1, H, W) float32 scaled to [0, 1] and return the soft-tissue image of
the same shape and scale. H and W must be multiples of the net's `size_multiple`. The paper trains at
256×256; its text gives filter counts but not kernel sizes, so every conv here is 3×3 with zero
padding ("zero paddings ... preserve the dimensions").
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cxrviewer.nets.base import ImageToImage

PAPER_SIZE = (256, 256)


def _conv(in_channels: int, out_channels: int) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, padding=1)


def _conv_relu_stack(in_channels: int, widths: tuple[int, ...]) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for width in widths:
        layers += [_conv(in_channels, width), nn.ReLU()]
        in_channels = width
    return layers


class AeBs(ImageToImage):
    """AE-BS: convolutional denoising autoencoder whose "noise" is the bones.

    Encoder convs of 16, 32, 64 filters with a 2×2 max-pool after the first two (the input is
    "decreased twice"); the decoder mirrors it with 2× nearest upsampling; a sigmoid output conv.
    """

    def __init__(self, *, in_channels: int = 1):
        super().__init__(
            arch="ae_bs", in_channels=in_channels, out_channels=in_channels,
            working_size=PAPER_SIZE, size_multiple=4,
        )
        self.encoder = nn.Sequential(
            _conv(in_channels, 16), nn.ReLU(), nn.MaxPool2d(2),
            _conv(16, 32), nn.ReLU(), nn.MaxPool2d(2),
            _conv(32, 64), nn.ReLU(),
        )
        self.decoder = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"), _conv(64, 32), nn.ReLU(),
            nn.Upsample(scale_factor=2, mode="nearest"), _conv(32, 16), nn.ReLU(),
            _conv(16, in_channels), nn.Sigmoid(),
        )

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """image (N, C, H, W) in [0, 1], H and W multiples of 4 → soft tissue (N, C, H, W) in (0, 1)."""
        return self.decoder(self.encoder(image))


class ConvNetBs(ImageToImage):
    """ConvNet-BS: seven full-resolution convs of 16, 32, 64, 128, 256, 512 and 1 filters, ReLU
    between, sigmoid at the end. The heaviest of the four at run time (512 filters at full size).
    """

    def __init__(self, *, in_channels: int = 1):
        super().__init__(
            arch="convnet_bs", in_channels=in_channels, out_channels=in_channels,
            working_size=PAPER_SIZE, size_multiple=1,
        )
        self.body = nn.Sequential(
            *_conv_relu_stack(in_channels, (16, 32, 64, 128, 256, 512)),
            _conv(512, in_channels),
            nn.Sigmoid(),
        )

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """image (N, C, H, W) in [0, 1] → soft tissue (N, C, H, W) in (0, 1)."""
        return self.body(image)


class RlBs(ImageToImage):
    """RL-BS: eight convs of 8, 16, 32, 64, 128, 256, 512 and 1 filters predict the residual between
    the radiograph and its soft-tissue image; the output is the input minus that bone layer.
    """

    def __init__(self, *, in_channels: int = 1):
        super().__init__(
            arch="rl_bs", in_channels=in_channels, out_channels=in_channels,
            working_size=PAPER_SIZE, size_multiple=1,
        )
        self.bones = nn.Sequential(
            *_conv_relu_stack(in_channels, (8, 16, 32, 64, 128, 256, 512)),
            _conv(512, in_channels),
        )

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """image (N, C, H, W) in [0, 1] → soft tissue (N, C, H, W), about [0, 1] (not clamped)."""
        return image - self.bones(image)


class ResidualBlock(nn.Module):
    """EDSR block: conv-ReLU-conv, scaled by `scale`, added to its input; no batch norm."""

    def __init__(self, width: int, scale: float = 0.1):
        super().__init__()
        self.body = nn.Sequential(_conv(width, width), nn.ReLU(), _conv(width, width))
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.scale * self.body(x)


class ResNetBs(ImageToImage):
    """ResNet-BS, EDSR-style: head conv, 16 residual blocks of 64 filters scaled ×0.1, a conv, a
    global skip from the head's output, and a tail conv to one channel. No batch norm, no upsampler
    (EDSR's upsampler is for super-resolution; here input and output sizes agree).

    Parameters: 640 (head) + 16 × 73,856 (blocks) + 36,928 (body conv) + 577 (tail) = 1,219,841,
    the "about 1.2 M" of the paper.
    """

    def __init__(self, *, in_channels: int = 1, width: int = 64, blocks: int = 16):
        super().__init__(
            arch="resnet_bs", in_channels=in_channels, out_channels=in_channels,
            working_size=PAPER_SIZE, size_multiple=1,
        )
        self.head = _conv(in_channels, width)
        self.body = nn.Sequential(*[ResidualBlock(width) for _ in range(blocks)], _conv(width, width))
        self.tail = _conv(width, in_channels)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """image (N, C, H, W) in [0, 1] → soft tissue (N, C, H, W), about [0, 1] (not clamped)."""
        shallow = self.head(image)
        return self.tail(shallow + self.body(shallow))


class SeparableResidualBlock(nn.Module):
    """Depthwise 3×3 → pointwise expand ×2 → ReLU → pointwise project, scaled and added to the input.

    About 2·width² + 9·width weights instead of 18·width² for an EDSR block, and the 3×3 spatial
    mixing is depthwise, which is what makes it cheap on a CPU.
    """

    def __init__(self, width: int, scale: float = 0.1):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(width, width, 3, padding=1, groups=width),
            nn.Conv2d(width, 2 * width, 1),
            nn.ReLU(),
            nn.Conv2d(2 * width, width, 1),
        )
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.scale * self.body(x)


class DwResBs(ImageToImage):
    """The project's CPU-efficient bone suppression for 512×512, built for a reader's laptop.

    Design: pixel-unshuffle by 4 turns (1, 512, 512) losslessly into (16, 128, 128), so every conv
    runs on 1/16 of the pixels while no input detail is thrown away; a 3×3 head conv; residual blocks
    with depthwise-separable convs (ResNet-BS's EDSR recipe: ×0.1 scaling, no batch norm, a global
    skip); a 3×3 tail back to 16 channels and a pixel-shuffle to full size. The net predicts the bone
    layer and returns input − bones, so an untrained or unsure net starts near the identity, the
    floor every bone-suppression figure is read against. Each block's 3×3 depthwise conv at 1/4
    resolution reaches 8 full-resolution pixels further, so 12 blocks see about 200 pixels across,
    several rib spacings at 512².
    """

    def __init__(self, *, in_channels: int = 1, width: int = 64, blocks: int = 12, factor: int = 4):
        super().__init__(
            arch="dwres_bs", in_channels=in_channels, out_channels=in_channels,
            working_size=(512, 512), size_multiple=factor,
        )
        packed = in_channels * factor * factor
        self.unshuffle = nn.PixelUnshuffle(factor)
        self.head = _conv(packed, width)
        self.body = nn.Sequential(*[SeparableResidualBlock(width) for _ in range(blocks)], _conv(width, width))
        self.tail = _conv(width, packed)
        self.shuffle = nn.PixelShuffle(factor)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """image (N, C, H, W) in [0, 1], H and W multiples of 4 → soft tissue (N, C, H, W), about
        [0, 1] (not clamped)."""
        shallow = self.head(self.unshuffle(image))
        return image - self.shuffle(self.tail(shallow + self.body(shallow)))


class MsDwResBs(DwResBs):
    """DwResBs with a coarse branch: the 1/4-resolution features are taken down twice more (stride-2
    convs, 1/16 of the image side), pass through separable residual blocks there and come back
    (bilinear) to be added to the fine branch's output through a 1×1 projection.

    Why: a rib shadow is a long band crossing the whole lung; the fine branch sees about 200 pixels
    of a 512² film, the coarse blocks each reach 32 more, so the net can follow a rib across the
    lung and separate it from a vessel or a nodule it crosses. The projection starts at zero, so a
    net initialised from a trained DwResBs (`init_from`) starts exactly where that model ended.
    """

    def __init__(self, *, in_channels: int = 1, width: int = 64, blocks: int = 12, factor: int = 4,
                 coarse_blocks: int = 8):
        super().__init__(in_channels=in_channels, width=width, blocks=blocks, factor=factor)
        self.arch = "msdwres_bs"
        self.size_multiple = factor * 4  # two stride-2 steps below the pixel-unshuffle
        self.down = nn.Sequential(nn.Conv2d(width, width, 3, stride=2, padding=1), nn.ReLU(),
                                  nn.Conv2d(width, width, 3, stride=2, padding=1))
        self.coarse = nn.Sequential(*[SeparableResidualBlock(width) for _ in range(coarse_blocks)])
        self.lift = nn.Conv2d(width, width, 1)
        nn.init.zeros_(self.lift.weight)
        nn.init.zeros_(self.lift.bias)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        shallow = self.head(self.unshuffle(image))
        coarse = self.coarse(self.down(shallow))
        up = F.interpolate(coarse, size=shallow.shape[-2:], mode="bilinear", align_corners=False)
        return image - self.shuffle(self.tail(shallow + self.body(shallow) + self.lift(up)))
