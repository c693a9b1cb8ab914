"""Every classifier: feature-map and logit shapes at its input size, exact parameter counts for 1
and 3 input channels, and `forward == head(features)`."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cxrviewer.nets import ARCHITECTURES, build
from cxrviewer.nets.base import Classifier, GapLinearHead

torch.set_num_threads(2)

# arch: (feature map shape (K, h, w) at the input size, parameters with 1 channel, with 3 channels),
# all with 2 classes.
EXPECTED = {
    "tbnet": ((80, 8, 8), 230_882, 231_202),
    "seqcnn": ((256, 20, 20), 103_319_106, 103_328_514),
    "densenet121": ((1024, 7, 7), 6_949_634, 6_955_906),
    "resnet34": ((512, 7, 7), 21_279_426, 21_285_698),
    "mobilenetv3_large": ((960, 7, 7), 2_973_586, 2_973_874),
    "efficientnet_b1": ((1280, 8, 8), 6_515_170, 6_515_746),
    "vgg16_gap": ((512, 14, 14), 14_714_562, 14_715_714),
}


def test_every_classifier_in_the_registry_is_covered():
    classifiers = {name for name, spec in ARCHITECTURES.items() if spec.task == "classification"}
    assert classifiers == set(EXPECTED)


@pytest.mark.parametrize("in_channels", [1, 3])
@pytest.mark.parametrize("arch", sorted(EXPECTED))
def test_classifier_shapes_parameters_and_split(arch, in_channels):
    torch.manual_seed(0)
    model = build(arch, in_channels=in_channels).eval()
    feature_shape, params_1, params_3 = EXPECTED[arch]
    spec = ARCHITECTURES[arch]
    assert isinstance(model, Classifier)
    assert (model.arch, model.in_channels, model.num_classes) == (arch, in_channels, 2)
    assert model.input_size == spec.input_size
    assert sum(p.numel() for p in model.parameters()) == (params_1 if in_channels == 1 else params_3)

    x = torch.rand(1, in_channels, *spec.input_size)
    with torch.no_grad():
        features = model.features(x)
        logits = model(x)
        assert tuple(features.shape) == (1, *feature_shape)
        assert logits.shape == (1, 2)
        assert torch.isfinite(logits).all()
        torch.testing.assert_close(logits, model.head(features), rtol=0, atol=0)


@pytest.mark.parametrize("arch", sorted(set(EXPECTED) - {"seqcnn"}))
def test_gap_heads_are_linear_in_the_pooled_map(arch):
    model = build(arch, num_classes=5).eval()
    assert isinstance(model.head, GapLinearHead)
    width = EXPECTED[arch][0][0]
    assert (model.head.linear.in_features, model.head.linear.out_features) == (width, 5)
    features = torch.rand(2, width, 3, 4)
    with torch.no_grad():
        expected = features.mean(dim=(2, 3)) @ model.head.linear.weight.T + model.head.linear.bias
        torch.testing.assert_close(model.head(features), expected)


def test_seqcnn_head_is_made_of_standard_layers_only():
    model = build("seqcnn", num_classes=3)
    allowed = (nn.MaxPool2d, nn.Flatten, nn.Linear, nn.ReLU, nn.Dropout)
    assert isinstance(model.head, nn.Sequential)
    assert all(isinstance(layer, allowed) for layer in model.head)
    assert [type(layer).__name__ for layer in model.head][:3] == ["MaxPool2d", "Flatten", "Linear"]
    assert model.head[-1].out_features == 3
    lrn = [layer for layer in model.features if isinstance(layer, nn.LocalResponseNorm)]
    assert [(n.size, n.alpha, n.beta, n.k) for n in lrn] == [(5, 1e-4, 0.75, 2.0)] * 2


def test_backbone_activations_are_not_in_place():
    model = build("densenet121", in_channels=1)
    assert not [m for m in model.modules() if getattr(m, "inplace", False)]
