"""Explanation maps in numpy from ONNX Runtime outputs: saliency, SmoothGrad, CAM, Grad-CAM, CRM and
activation views, each raw float32 in model space (`geometry` takes them to the image grid)."""

from cxrviewer.core.maps.activations import ChannelMaps, filter_images, first_conv_weight, top_channels
from cxrviewer.core.maps.head import Head, head_from_card, head_from_spec
from cxrviewer.core.maps.methods import (
    cam,
    crm,
    crm_bruteforce,
    gradcam,
    gradcam_weights,
    predicted_class,
    saliency,
    smoothgrad,
    weighted_channel_sum,
)

__all__ = [
    "ChannelMaps",
    "Head",
    "cam",
    "crm",
    "crm_bruteforce",
    "filter_images",
    "first_conv_weight",
    "gradcam",
    "gradcam_weights",
    "head_from_card",
    "head_from_spec",
    "predicted_class",
    "saliency",
    "smoothgrad",
    "top_channels",
    "weighted_channel_sum",
]
