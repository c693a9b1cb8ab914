"""Fixtures of the map tests: one model per classifier architecture per module, 2 torch threads."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

@pytest.fixture(scope="module", autouse=True)
def _two_threads():
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(previous)
