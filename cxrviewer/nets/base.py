"""The two shapes every network in `cxrviewer.nets` takes: a classifier split into features and head,
and an image-to-image net (bone suppression, segmentation).

Export and the explanation maps depend on this split: `features` is the last convolutional feature
map (the map CAM, Grad-CAM and CRM are computed on) and `head` is everything after it, so the ONNX
graph can output both and the head can be evaluated again from its weights outside torch.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn


class Classifier(nn.Module):
    """An image classifier written as `head(features(x))`.

    Attributes:
        features: x (N, C, H, W) float32 → A (N, K, h, w) float32, the last convolutional feature map.
        head: A (N, K, h, w) → logits (N, num_classes) float32 (no softmax/sigmoid applied).
        arch: registry name of the architecture (`cxrviewer.training.architectures`).
        in_channels: C expected by `features`.
        num_classes: number of logits.
        input_size: (H, W) the network was designed and is exported for.
    """

    def __init__(
        self,
        *,
        arch: str,
        features: nn.Module,
        head: nn.Module,
        in_channels: int,
        num_classes: int,
        input_size: tuple[int, int],
    ):
        super().__init__()
        self.features = features
        self.head = head
        self.arch = arch
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.input_size = input_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, in_channels, H, W) float32 → logits (N, num_classes) float32."""
        return self.head(self.features(x))


class GapLinearHead(nn.Module):
    """Global average pooling → dropout → linear, the head CAM and CRM are exact for.

    With this head the class score is linear in the pooled features, so CAM and CRM follow from the
    feature map and `linear.weight` / `linear.bias` alone.
    """

    def __init__(self, in_features: int, num_classes: int, dropout: float = 0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(in_features, num_classes)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """features (N, K, h, w) float32 → logits (N, num_classes) float32."""
        return self.linear(self.dropout(features.mean(dim=(2, 3))))


class ImageToImage(nn.Module):
    """Base of nets that map an image to an image of the same height and width.

    Subclasses name their forward argument `image`, the graph input name export uses
    (`torch.export` matches dynamic shapes to argument names).

    Attributes:
        arch: registry name of the architecture.
        in_channels: C of the input (1 for a radiograph).
        out_channels: channels of the output (1 for bone suppression, `num_classes` for segmentation).
        working_size: (H, W) the net is trained and exported at; the runtime tiles or resizes to it.
        size_multiple: H and W must be multiples of this (the product of the net's downsamplings).
        output_activation: what the consumer still applies to the raw output: "none" (the output is
            the image itself) or "sigmoid" (the output is per-channel logits, as a segmentation
            net's are so training can use a numerically stable BCE-with-logits).
    """

    def __init__(
        self,
        *,
        arch: str,
        in_channels: int,
        out_channels: int,
        working_size: tuple[int, int],
        size_multiple: int,
        output_activation: Literal["none", "sigmoid"] = "none",
    ):
        super().__init__()
        self.arch = arch
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.working_size = working_size
        self.size_multiple = size_multiple
        self.output_activation = output_activation
