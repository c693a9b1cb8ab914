"""Provider choice, simulated: CUDA only when the build has it AND a device is really there."""

from __future__ import annotations

import ctypes
import ctypes.util
import subprocess

import pytest

from cxrviewer.runtime import providers
from cxrviewer.runtime.providers import CPU, CUDA, choose_providers, cuda_device_count, provider_label

GPU_BUILD = ["TensorrtExecutionProvider", CUDA, CPU]


@pytest.fixture(autouse=True)
def no_forced_provider(monkeypatch):
    monkeypatch.delenv(providers.PROVIDER_ENV, raising=False)


def test_cuda_build_with_a_device_uses_cuda_first():
    assert choose_providers(GPU_BUILD, lambda: 1) == [CUDA, CPU]


def test_cuda_build_without_a_device_uses_the_cpu():
    # The GPU wheel lists CUDA even without a driver: the listing alone must not pick it.
    assert choose_providers(GPU_BUILD, lambda: 0) == [CPU]


def test_cpu_build_never_probes_the_driver():
    def probe():
        raise AssertionError("probed")

    assert choose_providers([CPU], probe) == [CPU]


def test_environment_forces_the_cpu(monkeypatch):
    monkeypatch.setenv(providers.PROVIDER_ENV, "cpu")
    assert choose_providers(GPU_BUILD, lambda: 4) == [CPU]


def test_forcing_cuda_without_a_device_warns_and_uses_the_cpu(caplog):
    assert choose_providers(GPU_BUILD, lambda: 0, forced="cuda") == [CPU]
    assert "no CUDA device is usable" in caplog.text


def test_labels():
    assert provider_label([CUDA, CPU]) == "CUDA"
    assert provider_label([CPU]) == "CPU"


class FakeDriver:
    def __init__(self, init_status: int, count: int):
        self.init_status, self.count = init_status, count

    def cuInit(self, flags):  # noqa: N802 (the CUDA driver API's name)
        return self.init_status

    def cuDeviceGetCount(self, pointer):  # noqa: N802
        pointer._obj.value = self.count
        return 0


@pytest.mark.parametrize(("driver", "expected"), [(FakeDriver(0, 2), 2), (FakeDriver(100, 2), 0), (None, 0)])
def test_device_count_asks_the_driver(monkeypatch, driver, expected):
    def load(name):
        if driver is None:
            raise OSError(f"{name}: cannot open shared object file")
        return driver

    monkeypatch.setattr(ctypes, "CDLL", load)
    assert cuda_device_count() == expected


@pytest.mark.parametrize(("platform", "found", "expected"), [
    ("linux", {"libcuda.so.1": FakeDriver(0, 3)}, 3),
    ("linux", {"libcuda.so": FakeDriver(0, 1)}, 1),  # only the development link installed
    ("linux", {}, 0),
    ("win32", {"nvcuda.dll": FakeDriver(0, 2)}, 2),
    ("darwin", {"libcuda.so.1": FakeDriver(0, 2)}, 0),  # no CUDA driver on macOS: nothing is loaded
])
def test_the_driver_is_found_by_name_without_spawning_anything(monkeypatch, platform, found, expected):
    """The start-up probe never runs ldconfig, gcc or ld (ctypes.util.find_library does all three)."""
    def no_spawn(*args, **kwargs):
        raise AssertionError(f"spawned {args[:1]}")

    loaded = []

    def load(name, *args, **kwargs):
        loaded.append(name)
        if name not in found:
            raise OSError(f"{name}: cannot open shared object file")
        return found[name]

    monkeypatch.setattr(subprocess, "Popen", no_spawn)
    monkeypatch.setattr(ctypes.util, "find_library", no_spawn)
    monkeypatch.setattr(providers.sys, "platform", platform)
    monkeypatch.setattr(ctypes, "CDLL", load)
    providers._cached_cuda_device_count.cache_clear()
    try:
        assert cuda_device_count() == expected
        assert choose_providers(GPU_BUILD) == ([CUDA, CPU] if expected else [CPU])
    finally:
        providers._cached_cuda_device_count.cache_clear()
    assert all(name in ("libcuda.so.1", "libcuda.so", "nvcuda.dll") for name in loaded)


def test_real_choice_here_is_quiet(capfd):
    """On this machine (GPU wheel, no driver) the choice is made without onnxruntime's error lines."""
    chosen = choose_providers()
    captured = capfd.readouterr()
    assert chosen[-1] == CPU
    assert captured.err == "" and captured.out == ""
