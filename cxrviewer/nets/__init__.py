"""PyTorch architectures from the source papers, and the registry that builds them by name.

The registry itself does not import torch: `ARCHITECTURES` can be listed by code that must not pull
torch in, and `build` imports the architecture's module only when it is called.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from cxrviewer.core.errors import ConfigError

if TYPE_CHECKING:
    from torch import nn

Task = Literal["classification", "bone_suppression", "segmentation"]


@dataclass(frozen=True)
class ArchSpec:
    """What an architecture is, without building it.

    `input_size` is the (H, W) a classifier takes, or the working size of an image-to-image net;
    `in_channels` is the default number of input channels; `builder` is "module:function" of the
    factory, imported only by `build`.
    """

    name: str
    task: Task
    input_size: tuple[int, int]
    in_channels: int
    source: str
    description: str
    builder: str = field(repr=False)


PASA_2019 = "Pasa et al. 2019, Sci Rep 9:6268"
RAJARAMAN_2018 = "Rajaraman et al. 2018, Visualizing abnormalities in chest radiographs"
RAJARAMAN_2021 = "Rajaraman et al. 2021, Diagnostics 11:840"
CHEXNET = "Rajpurkar et al. 2017, CheXNet (DenseNet-121 + Grad-CAM)"
GROUP_Q = "Group-Q report (ResNet-34, MobileNetV3-Large, EfficientNet-B1)"
CXRVIEWER = "cxrviewer's own design"

_SPECS = (
    ArchSpec(
        "tbnet", "classification", (512, 512), 1, PASA_2019,
        "tiny TB screening CNN: 5 blocks of 16-80 filters, GAP, dense (~0.23 M parameters)",
        "cxrviewer.nets.tbnet:build_tbnet",
    ),
    ArchSpec(
        "seqcnn", "classification", (227, 227), 3, RAJARAMAN_2018,
        "AlexNet-like sequential CNN: 5 conv (7x7/2 then 3x3), LRN, 3 FC of 4096/4096/classes",
        "cxrviewer.nets.seqcnn:build_seqcnn",
    ),
    ArchSpec(
        "densenet121", "classification", (224, 224), 3, CHEXNET,
        "torchvision DenseNet-121 features + ReLU, GAP -> linear head",
        "cxrviewer.nets.backbones:build_densenet121",
    ),
    ArchSpec(
        "resnet34", "classification", (224, 224), 3, GROUP_Q,
        "torchvision ResNet-34 features, GAP -> linear head",
        "cxrviewer.nets.backbones:build_resnet34",
    ),
    ArchSpec(
        "mobilenetv3_large", "classification", (224, 224), 3, GROUP_Q,
        "torchvision MobileNetV3-Large features (960 ch), GAP -> dropout 0.2 -> linear head",
        "cxrviewer.nets.backbones:build_mobilenetv3_large",
    ),
    ArchSpec(
        "efficientnet_b1", "classification", (240, 240), 3, GROUP_Q,
        "torchvision EfficientNet-B1 features (1280 ch), GAP -> dropout 0.2 -> linear head",
        "cxrviewer.nets.backbones:build_efficientnet_b1",
    ),
    ArchSpec(
        "vgg16_gap", "classification", (224, 224), 3, RAJARAMAN_2021,
        "torchvision VGG-16 cut at conv5_3, GAP -> dropout 0.5 -> linear head",
        "cxrviewer.nets.backbones:build_vgg16_gap",
    ),
    ArchSpec(
        "ae_bs", "bone_suppression", (256, 256), 1, RAJARAMAN_2021,
        "AE-BS: conv autoencoder 16-32-64 with two 2x downsamplings, sigmoid output",
        "cxrviewer.nets.bonesup:AeBs",
    ),
    ArchSpec(
        "convnet_bs", "bone_suppression", (256, 256), 1, RAJARAMAN_2021,
        "ConvNet-BS: seven full-resolution convs 16-32-64-128-256-512-1, sigmoid output",
        "cxrviewer.nets.bonesup:ConvNetBs",
    ),
    ArchSpec(
        "rl_bs", "bone_suppression", (256, 256), 1, RAJARAMAN_2021,
        "RL-BS: eight convs 8-...-512-1 predicting the bone residual; output = input - residual",
        "cxrviewer.nets.bonesup:RlBs",
    ),
    ArchSpec(
        "resnet_bs", "bone_suppression", (256, 256), 1, RAJARAMAN_2021,
        "ResNet-BS: EDSR-style, 64 filters x 16 residual blocks scaled 0.1, global skip (~1.2 M)",
        "cxrviewer.nets.bonesup:ResNetBs",
    ),
    ArchSpec(
        "dwres_bs", "bone_suppression", (512, 512), 1, CXRVIEWER,
        "CPU-efficient BS: pixel-unshuffle x4, 12 depthwise-separable residual blocks, input - bones",
        "cxrviewer.nets.bonesup:DwResBs",
    ),
    ArchSpec(
        "msdwres_bs", "bone_suppression", (512, 512), 1, CXRVIEWER,
        "dwres_bs plus a coarse branch at 1/16 of the side (8 separable blocks) added back through a "
        "zero-initialised 1x1, so it can follow a rib across the lung",
        "cxrviewer.nets.bonesup:MsDwResBs",
    ),
    ArchSpec(
        "unet_small", "segmentation", (256, 256), 1, CXRVIEWER,
        "small U-Net 16-32-64-128-256, sigmoid channels lungs, heart (~1.9 M)",
        "cxrviewer.nets.unet:UNetSmall",
    ),
    ArchSpec(
        "unet_tiny", "segmentation", (256, 256), 1, CXRVIEWER,
        "U-Net at half unet_small's width, 8-16-32-64-128, sigmoid channels (~0.47 M); TB lesion maps",
        "cxrviewer.nets.unet_tiny:UNetTiny",
    ),
)

ARCHITECTURES: dict[str, ArchSpec] = {spec.name: spec for spec in _SPECS}


# Architectures whose head flattens the feature map, so they work at their design size only.
FIXED_SIZE = frozenset({"seqcnn"})


def build(
    arch: str,
    *,
    num_classes: int = 2,
    in_channels: int | None = None,
    input_size: tuple[int, int] | list[int] | None = None,
    **kw,
) -> nn.Module:
    """A freshly initialised network of architecture `arch` (weights random, never downloaded).

    `num_classes` is the number of logits of a classifier or of sigmoid channels of a segmentation
    net, and is ignored for bone suppression (1 image out). `in_channels` defaults to the spec's.
    `input_size` (H, W) is the size the net is trained and exported at (a classifier's input size,
    an image-to-image net's working size); it defaults to the spec's. GAP-headed classifiers and
    fully convolutional nets take any size; those in FIXED_SIZE only their own.
    Extra keyword arguments go to the architecture's factory. Raises ConfigError for an unknown
    architecture, an argument the factory does not take, or a size the net cannot take.
    """
    spec = ARCHITECTURES.get(arch)
    if spec is None:
        raise ConfigError(f"unknown architecture {arch!r}; known: {', '.join(sorted(ARCHITECTURES))}")
    if num_classes < 1:
        raise ConfigError(f"architecture {arch!r}: num_classes must be at least 1, got {num_classes}")
    channels = spec.in_channels if in_channels is None else in_channels
    if channels < 1:
        raise ConfigError(f"architecture {arch!r}: in_channels must be at least 1, got {channels}")
    module_name, function_name = spec.builder.split(":")
    factory = getattr(importlib.import_module(module_name), function_name)
    kwargs = dict(kw, in_channels=channels)
    if spec.task != "bone_suppression":
        kwargs["num_classes"] = num_classes
    try:
        inspect.signature(factory).bind(**kwargs)
    except TypeError as error:
        raise ConfigError(f"architecture {arch!r}: {error}") from None
    net = factory(**kwargs)
    if input_size is not None:
        _set_size(net, spec, (int(input_size[0]), int(input_size[1])))
    return net


def _set_size(net: nn.Module, spec: ArchSpec, size: tuple[int, int]) -> None:
    if size == spec.input_size:
        return
    if spec.name in FIXED_SIZE:
        raise ConfigError(f"architecture {spec.name!r} takes only {spec.input_size[0]}x{spec.input_size[1]} "
                          f"input (its head flattens the feature map), not {size[0]}x{size[1]}")
    multiple = getattr(net, "size_multiple", 32 if spec.task == "classification" else 1)
    if min(size) < multiple or size[0] % multiple or size[1] % multiple:
        raise ConfigError(f"architecture {spec.name!r}: input size {size[0]}x{size[1]} must be a multiple "
                          f"of {multiple} and at least {multiple}")
    if spec.task == "classification":
        net.input_size = size
    else:
        net.working_size = size
