"""torchvision backbones cut at their last conv map, with a GAP → linear head.

Each builder returns a `Classifier` whose `features` is the torchvision feature extractor up to and
including the activation of its deepest conv map, and whose `head` is a `GapLinearHead`. The head
replaces torchvision's classifier everywhere: for MobileNetV3-Large that drops its hidden
960→1280 Hardswish layer, so the score is linear in the pooled map and CAM/CRM are exact. Weights are
always random (`weights=None`): the project trains its own and never downloads any.
"""

from __future__ import annotations

from torch import nn
from torchvision import models

from cxrviewer.nets.base import Classifier, GapLinearHead


def _stem(conv: nn.Conv2d, in_channels: int) -> nn.Conv2d:
    """`conv` itself for 3 channels, else a fresh conv of the same geometry taking `in_channels`.

    Kaiming-normal with fan_out (torchvision's own stem init for these nets) depends only on the
    output side, so the replacement starts on the same scale as the original.
    """
    if in_channels == conv.in_channels:
        return conv
    stem = nn.Conv2d(
        in_channels,
        conv.out_channels,
        conv.kernel_size,
        stride=conv.stride,
        padding=conv.padding,
        bias=conv.bias is not None,
    )
    nn.init.kaiming_normal_(stem.weight, mode="fan_out", nonlinearity="relu")
    if stem.bias is not None:
        nn.init.zeros_(stem.bias)
    return stem


def _out_of_place(module: nn.Module) -> nn.Module:
    """Turn torchvision's in-place activations and dropouts off.

    In-place ops gain nothing at batch 1 and get in the way of functional tracing (make_fx of
    torch.func.grad for the saliency graph) and of hooks that keep the feature map.
    """
    for child in module.modules():
        if hasattr(child, "inplace"):
            child.inplace = False
    return module


def _classifier(
    arch: str,
    features: nn.Module,
    width: int,
    *,
    num_classes: int,
    in_channels: int,
    input_size: tuple[int, int],
    dropout: float,
) -> Classifier:
    return Classifier(
        arch=arch,
        features=_out_of_place(features),
        head=GapLinearHead(width, num_classes, dropout),
        in_channels=in_channels,
        num_classes=num_classes,
        input_size=input_size,
    )


def build_densenet121(*, num_classes: int = 2, in_channels: int = 3, dropout: float = 0.0) -> Classifier:
    """DenseNet-121 (CheXNet-style), 224×224: features (N, 1024, 7, 7).

    torchvision applies ReLU after `norm5` outside its `features`; here that ReLU is part of
    `features`, so the map is the one its classifier pools.
    """
    net = models.densenet121(weights=None)
    net.features.conv0 = _stem(net.features.conv0, in_channels)
    features = nn.Sequential(net.features, nn.ReLU())
    return _classifier(
        "densenet121", features, 1024,
        num_classes=num_classes, in_channels=in_channels, input_size=(224, 224), dropout=dropout,
    )


def build_resnet34(*, num_classes: int = 2, in_channels: int = 3, dropout: float = 0.0) -> Classifier:
    """ResNet-34, 224×224: features (N, 512, 7, 7)."""
    net = models.resnet34(weights=None)
    features = nn.Sequential(
        _stem(net.conv1, in_channels), net.bn1, net.relu, net.maxpool,
        net.layer1, net.layer2, net.layer3, net.layer4,
    )
    return _classifier(
        "resnet34", features, 512,
        num_classes=num_classes, in_channels=in_channels, input_size=(224, 224), dropout=dropout,
    )


def build_mobilenetv3_large(
    *, num_classes: int = 2, in_channels: int = 3, dropout: float = 0.2
) -> Classifier:
    """MobileNetV3-Large, 224×224: features (N, 960, 7, 7), the last conv block before its avgpool."""
    net = models.mobilenet_v3_large(weights=None)
    net.features[0][0] = _stem(net.features[0][0], in_channels)
    return _classifier(
        "mobilenetv3_large", net.features, 960,
        num_classes=num_classes, in_channels=in_channels, input_size=(224, 224), dropout=dropout,
    )


def build_efficientnet_b1(
    *, num_classes: int = 2, in_channels: int = 3, dropout: float = 0.2
) -> Classifier:
    """EfficientNet-B1 at its native 240×240: features (N, 1280, 8, 8)."""
    net = models.efficientnet_b1(weights=None)
    net.features[0][0] = _stem(net.features[0][0], in_channels)
    return _classifier(
        "efficientnet_b1", net.features, 1280,
        num_classes=num_classes, in_channels=in_channels, input_size=(240, 240), dropout=dropout,
    )


def build_vgg16_gap(*, num_classes: int = 2, in_channels: int = 3, dropout: float = 0.5) -> Classifier:
    """VGG-16 truncated at its deepest conv (conv5_3 + ReLU, the last max-pool dropped), then GAP,
    dropout 0.5 and a linear layer, as in Rajaraman et al. 2021. 224×224: features (N, 512, 14, 14).
    """
    net = models.vgg16(weights=None)
    net.features[0] = _stem(net.features[0], in_channels)
    features = nn.Sequential(*list(net.features)[:-1])
    return _classifier(
        "vgg16_gap", features, 512,
        num_classes=num_classes, in_channels=in_channels, input_size=(224, 224), dropout=dropout,
    )
