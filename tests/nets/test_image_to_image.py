"""Bone-suppression nets and the U-Net: output shapes, parameter counts, and the residual designs."""

from __future__ import annotations

import pytest
import torch

from cxrviewer.nets import ARCHITECTURES, build
from cxrviewer.nets.base import ImageToImage
from cxrviewer.nets.unet import LABELS

torch.set_num_threads(2)

# arch: (parameters, size_multiple, output_activation)
EXPECTED = {
    "ae_bs": (46_529, 4, "none"),
    "convnet_bs": (1_577_089, 1, "none"),
    "rl_bs": (1_578_177, 1, "none"),
    "resnet_bs": (1_219_841, 1, "none"),
    "dwres_bs": (262_032, 4, "none"),
    "msdwres_bs": (477_776, 16, "none"),
    "unet_small": (1_942_306, 16, "sigmoid"),
    "unet_tiny": (486_418, 16, "sigmoid"),
}
# The three full-resolution nets cost 3-16 s each at 256² on this CPU; their shapes do not depend on
# the size, so they are checked at 64² and the cheap ones at their working size.
HEAVY = {"convnet_bs", "rl_bs", "resnet_bs"}


def test_every_image_net_in_the_registry_is_covered():
    image_nets = {name for name, spec in ARCHITECTURES.items() if spec.task != "classification"}
    assert image_nets == set(EXPECTED)


@pytest.mark.parametrize("arch", sorted(EXPECTED))
def test_image_net_shape_and_parameters(arch):
    torch.manual_seed(0)
    model = build(arch).eval()
    params, multiple, activation = EXPECTED[arch]
    spec = ARCHITECTURES[arch]
    assert isinstance(model, ImageToImage)
    assert (model.arch, model.in_channels, model.working_size) == (arch, 1, spec.input_size)
    assert (model.size_multiple, model.output_activation) == (multiple, activation)
    assert sum(p.numel() for p in model.parameters()) == params
    size = (64, 64) if arch in HEAVY else model.working_size
    x = torch.rand(1, 1, *size)
    with torch.no_grad():
        y = model(x)
    assert tuple(y.shape) == (1, model.out_channels, *size)
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("arch", ["ae_bs", "dwres_bs", "msdwres_bs", "unet_small"])
def test_downsampling_nets_take_any_multiple_of_their_stride(arch):
    model = build(arch).eval()
    height, width = 3 * model.size_multiple, 5 * model.size_multiple
    with torch.no_grad():
        y = model(torch.rand(2, 1, height, width))
    assert tuple(y.shape) == (2, model.out_channels, height, width)


def test_resnet_bs_matches_the_paper_size():
    model = build("resnet_bs")
    assert len(model.body) == 17  # 16 residual blocks + the conv before the global skip
    assert all(block.scale == 0.1 for block in list(model.body)[:16])
    assert not [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert abs(sum(p.numel() for p in model.parameters()) - 1.2e6) < 0.02e6


@pytest.mark.parametrize(("arch", "last_conv"), [("rl_bs", "bones"), ("dwres_bs", "tail")])
def test_residual_nets_are_the_identity_when_they_predict_no_bones(arch, last_conv):
    model = build(arch).eval()
    layer = getattr(model, last_conv)
    conv = layer[-1] if isinstance(layer, torch.nn.Sequential) else layer
    torch.nn.init.zeros_(conv.weight)
    torch.nn.init.zeros_(conv.bias)
    x = torch.rand(1, 1, 32, 48)
    with torch.no_grad():
        torch.testing.assert_close(model(x), x, rtol=0, atol=0)


def test_sigmoid_outputs_stay_in_the_unit_interval():
    model = build("ae_bs").eval()
    with torch.no_grad():
        y = model(torch.rand(1, 1, 64, 64) * 4 - 2)
    assert float(y.min()) > 0.0 and float(y.max()) < 1.0


def test_unet_channels_follow_num_classes():
    assert LABELS == ("lungs", "heart")
    model = build("unet_small", num_classes=1, in_channels=3).eval()
    assert (model.num_classes, model.out_channels, model.in_channels) == (1, 1, 3)
    with torch.no_grad():
        assert tuple(model(torch.rand(1, 3, 32, 32)).shape) == (1, 1, 32, 32)


def test_bone_suppression_ignores_num_classes_and_keeps_one_image_out():
    model = build("resnet_bs", num_classes=5)
    assert model.out_channels == 1


def test_multiscale_bone_net_starts_as_the_dwres_net_it_extends():
    """Its coarse branch enters through a zero 1×1, so dwres_bs weights loaded into it give the same
    output: a candidate initialised from the shipped model starts exactly where that model ended."""
    torch.manual_seed(1)
    fine = build("dwres_bs").eval()
    multi = build("msdwres_bs").eval()
    missing, unexpected = multi.load_state_dict(fine.state_dict(), strict=False)
    assert not unexpected and missing and all(k.startswith(("down.", "coarse.", "lift.")) for k in missing)
    x = torch.rand(1, 1, 96, 128)
    with torch.no_grad():
        torch.testing.assert_close(multi(x), fine(x), rtol=0, atol=0)
        torch.nn.init.normal_(multi.lift.weight, std=0.1)
        assert (multi(x) - fine(x)).abs().max() > 1e-4  # the branch does reach the output once trained
