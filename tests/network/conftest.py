"""The network tests' fixtures: Orthanc started per test module and stopped after; without the binary
the tests that need it skip, saying how to get it (README, "The reading room's network")."""

from __future__ import annotations

import pytest
from orthanc_support import MISSING, PLUGIN_PLACES, Orthanc, dicomweb_plugin, free_port, orthanc_binary


@pytest.fixture(scope="module")
def our_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory, our_port):
    if orthanc_binary() is None:
        pytest.skip(MISSING)
    if dicomweb_plugin() is None:
        pytest.skip(f"Orthanc's DICOMweb plugin is not installed (looked at {', '.join(PLUGIN_PLACES)}); {MISSING}")
    server = Orthanc(tmp_path_factory.mktemp("orthanc"), our_port)
    server.start()
    yield server
    server.stop()
