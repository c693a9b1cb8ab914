"""The architecture registry: its table, and the errors `build` raises."""

from __future__ import annotations

import pytest

from cxrviewer.core.errors import ConfigError
from cxrviewer.nets import ARCHITECTURES, build


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


def test_every_spec_is_named_by_its_key_and_has_a_known_task():
    for name, spec in ARCHITECTURES.items():
        assert spec.name == name
        assert spec.task in {"classification", "bone_suppression", "segmentation"}
        assert spec.in_channels in {1, 3}
