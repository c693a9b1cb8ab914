"""tb-net (Pasa et al. 2019): shapes, parameter count, and the features/head split."""

from __future__ import annotations

import torch

from cxrviewer.nets import build
from cxrviewer.nets.base import Classifier, GapLinearHead

torch.set_num_threads(2)


def parameter_count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_tbnet_parameter_count_matches_the_paper():
    model = build("tbnet")
    count = parameter_count(model)
    # 230,720 in the five blocks (convs without bias, BN scale and shift) + 80·2 + 2 in the dense layer.
    assert count == 230_882
    assert 200_000 <= count <= 260_000


def test_tbnet_shapes_and_split():
    torch.manual_seed(0)
    model = build("tbnet", num_classes=3).eval()
    assert isinstance(model, Classifier)
    assert isinstance(model.head, GapLinearHead)
    assert (model.arch, model.in_channels, model.num_classes, model.input_size) == ("tbnet", 1, 3, (512, 512))
    x = torch.randn(1, 1, 512, 512)
    with torch.no_grad():
        features = model.features(x)
        logits = model(x)
        assert features.shape == (1, 80, 8, 8)
        assert logits.shape == (1, 3)
        torch.testing.assert_close(logits, model.head(features), rtol=0, atol=0)
        manual = features.mean(dim=(2, 3)) @ model.head.linear.weight.T + model.head.linear.bias
        torch.testing.assert_close(logits, manual, rtol=1e-5, atol=1e-6)


def test_tbnet_first_block_has_stride_four():
    model = build("tbnet", in_channels=3)
    with torch.no_grad():
        first_block = model.features[0](torch.zeros(1, 3, 64, 64))
    assert first_block.shape == (1, 16, 16, 16)
