"""The architectures a run can name, with the facts about each that the training configuration, the
training dialog and `cxrviewer.nets.build` use. Plain data: no torch, so the viewer can list them.

`cxrviewer.nets` holds how each one is built (`nets.BUILDERS`, one entry per name here; a test holds
the two tables to the same names) and reads its defaults from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Task = Literal["classification", "bone_suppression", "segmentation"]


@dataclass(frozen=True)
class ArchSpec:
    """What an architecture is, without building it.

    `input_size` is the (H, W) a classifier takes, or the working size of an image-to-image net, and
    the size its model is exported at; `in_channels` is the default number of input channels.
    """

    name: str
    task: Task
    input_size: tuple[int, int]
    in_channels: int
    source: str
    description: str


PASA_2019 = "Pasa et al. 2019, Sci Rep 9:6268"
RAJARAMAN_2018 = "Rajaraman et al. 2018, Visualizing abnormalities in chest radiographs"
RAJARAMAN_2021 = "Rajaraman et al. 2021, Diagnostics 11:840"
CHEXNET = "Rajpurkar et al. 2017, CheXNet (DenseNet-121 + Grad-CAM)"
GROUP_Q = "Group-Q report (ResNet-34, MobileNetV3-Large, EfficientNet-B1)"
CXRVIEWER = "cxrviewer's own design"

_SPECS = (
    ArchSpec("tbnet", "classification", (512, 512), 1, PASA_2019,
             "tiny TB screening CNN: 5 blocks of 16-80 filters, GAP, dense (~0.23 M parameters)"),
    ArchSpec("seqcnn", "classification", (227, 227), 3, RAJARAMAN_2018,
             "AlexNet-like sequential CNN: 5 conv (7x7/2 then 3x3), LRN, 3 FC of 4096/4096/classes"),
    ArchSpec("densenet121", "classification", (224, 224), 3, CHEXNET,
             "torchvision DenseNet-121 features + ReLU, GAP -> linear head"),
    ArchSpec("resnet34", "classification", (224, 224), 3, GROUP_Q,
             "torchvision ResNet-34 features, GAP -> linear head"),
    ArchSpec("mobilenetv3_large", "classification", (224, 224), 3, GROUP_Q,
             "torchvision MobileNetV3-Large features (960 ch), GAP -> dropout 0.2 -> linear head"),
    ArchSpec("efficientnet_b1", "classification", (240, 240), 3, GROUP_Q,
             "torchvision EfficientNet-B1 features (1280 ch), GAP -> dropout 0.2 -> linear head"),
    ArchSpec("vgg16_gap", "classification", (224, 224), 3, RAJARAMAN_2021,
             "torchvision VGG-16 cut at conv5_3, GAP -> dropout 0.5 -> linear head"),
    ArchSpec("ae_bs", "bone_suppression", (256, 256), 1, RAJARAMAN_2021,
             "AE-BS: conv autoencoder 16-32-64 with two 2x downsamplings, sigmoid output"),
    ArchSpec("convnet_bs", "bone_suppression", (256, 256), 1, RAJARAMAN_2021,
             "ConvNet-BS: seven full-resolution convs 16-32-64-128-256-512-1, sigmoid output"),
    ArchSpec("rl_bs", "bone_suppression", (256, 256), 1, RAJARAMAN_2021,
             "RL-BS: eight convs 8-...-512-1 predicting the bone residual; output = input - residual"),
    ArchSpec("resnet_bs", "bone_suppression", (256, 256), 1, RAJARAMAN_2021,
             "ResNet-BS: EDSR-style, 64 filters x 16 residual blocks scaled 0.1, global skip (~1.2 M)"),
    ArchSpec("dwres_bs", "bone_suppression", (512, 512), 1, CXRVIEWER,
             "CPU-efficient BS: pixel-unshuffle x4, 12 depthwise-separable residual blocks, input - bones"),
    ArchSpec("msdwres_bs", "bone_suppression", (512, 512), 1, CXRVIEWER,
             "dwres_bs plus a coarse branch at 1/16 of the side (8 separable blocks) added back through a "
             "zero-initialised 1x1, so it can follow a rib across the lung"),
    ArchSpec("unet_small", "segmentation", (256, 256), 1, CXRVIEWER,
             "small U-Net 16-32-64-128-256, sigmoid channels lungs, heart (~1.9 M)"),
    ArchSpec("unet_tiny", "segmentation", (256, 256), 1, CXRVIEWER,
             "U-Net at half unet_small's width, 8-16-32-64-128, sigmoid channels (~0.47 M); TB lesion maps"),
)

ARCHITECTURES: dict[str, ArchSpec] = {spec.name: spec for spec in _SPECS}
