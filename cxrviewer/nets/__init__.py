"""PyTorch architectures from the source papers, and `build`, which makes one by name.

What each architecture is (task, input size, channels, source) is plain data in
`cxrviewer.training.architectures`, which the training configuration and the viewer's training
dialog read without torch; this package adds how each is built (`BUILDERS`). Importing it does not
import torch either: `build` imports the architecture's module only when it is called.
"""

from __future__ import annotations

import importlib
import inspect
from typing import TYPE_CHECKING

from cxrviewer.core.errors import ConfigError
from cxrviewer.training.architectures import ARCHITECTURES, ArchSpec

if TYPE_CHECKING:
    from torch import nn

__all__ = ["ARCHITECTURES", "BUILDERS", "FIXED_SIZE", "ArchSpec", "build"]

# "module:function" of each architecture's factory, one per name in ARCHITECTURES.
BUILDERS: dict[str, str] = {
    "tbnet": "cxrviewer.nets.tbnet:build_tbnet",
    "seqcnn": "cxrviewer.nets.seqcnn:build_seqcnn",
    "densenet121": "cxrviewer.nets.backbones:build_densenet121",
    "resnet34": "cxrviewer.nets.backbones:build_resnet34",
    "mobilenetv3_large": "cxrviewer.nets.backbones:build_mobilenetv3_large",
    "efficientnet_b1": "cxrviewer.nets.backbones:build_efficientnet_b1",
    "vgg16_gap": "cxrviewer.nets.backbones:build_vgg16_gap",
    "ae_bs": "cxrviewer.nets.bonesup:AeBs",
    "convnet_bs": "cxrviewer.nets.bonesup:ConvNetBs",
    "rl_bs": "cxrviewer.nets.bonesup:RlBs",
    "resnet_bs": "cxrviewer.nets.bonesup:ResNetBs",
    "dwres_bs": "cxrviewer.nets.bonesup:DwResBs",
    "msdwres_bs": "cxrviewer.nets.bonesup:MsDwResBs",
    "unet_small": "cxrviewer.nets.unet:UNetSmall",
    "unet_tiny": "cxrviewer.nets.unet_tiny:UNetTiny",
}


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
    module_name, function_name = BUILDERS[arch].split(":")
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
