"""The architecture registry: its table (kept in training, torch-free), the builders nets adds to it,
and the errors `build` raises."""

from __future__ import annotations

import pytest

from cxrviewer import nets
from cxrviewer.core.errors import ConfigError
from cxrviewer.nets import ARCHITECTURES, BUILDERS, build
from cxrviewer.training import architectures


def test_unknown_architecture_names_it_and_lists_the_known_ones():
    with pytest.raises(ConfigError) as caught:
        build("alexnet")
    message = str(caught.value)
    assert "'alexnet'" in message
    assert "tbnet" in message


def test_unknown_keyword_is_a_config_error_naming_the_architecture():
    with pytest.raises(ConfigError, match="'tbnet'.*width_multiplier"):
        build("tbnet", width_multiplier=2)


@pytest.mark.parametrize("bad", [{"num_classes": 0}, {"in_channels": 0}])
def test_nonpositive_sizes_are_refused(bad):
    with pytest.raises(ConfigError, match="must be at least 1"):
        build("tbnet", **bad)


def test_nets_builds_exactly_the_architectures_a_training_config_can_name():
    # One table: nets reads the training configuration's list and adds only how each is built.
    assert nets.ARCHITECTURES is architectures.ARCHITECTURES
    assert list(BUILDERS) == list(architectures.ARCHITECTURES)
    for name, builder in BUILDERS.items():
        module, _, function = builder.partition(":")
        assert module.startswith("cxrviewer.nets.") and function, name


def test_every_spec_is_named_by_its_key_and_has_a_known_task():
    for name, spec in ARCHITECTURES.items():
        assert spec.name == name
        assert spec.task in {"classification", "bone_suppression", "segmentation"}
        assert spec.in_channels in {1, 3}


def test_input_size_sets_the_size_a_net_is_trained_and_exported_at():
    import torch

    tbnet = build("tbnet", input_size=(224, 224))
    assert tbnet.input_size == (224, 224)
    with torch.no_grad():
        assert tbnet(torch.zeros(1, 1, 224, 224)).shape == (1, 2)
    assert build("unet_small", input_size=[128, 128]).working_size == (128, 128)


@pytest.mark.parametrize(("arch", "size", "problem"), [
    ("seqcnn", (224, 224), "takes only 227x227"),
    ("tbnet", (100, 100), "multiple of 32"),
])
def test_input_size_a_net_cannot_take_is_refused(arch, size, problem):
    with pytest.raises(ConfigError, match=problem):
        build(arch, input_size=size)
