"""The lock files (lock/*.txt, `make lock`) agree with pyproject.toml: every requirement of every extra
pinned at a version its range admits, with sha256 hashes, made from the same requirements.

A failure here means pyproject.toml changed without `make lock` (or a lock was edited by hand).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import lock  # noqa: E402  (scripts/lock.py)


@pytest.fixture
def planted(tmp_path):
    """A copy of pyproject.toml and lock/ to plant disagreements in."""
    shutil.copy(lock.PYPROJECT, tmp_path / "pyproject.toml")
    shutil.copytree(lock.LOCK_DIR, tmp_path / "lock")
    return tmp_path / "pyproject.toml", tmp_path / "lock"


def test_pyproject_and_the_locks_agree():
    assert lock.problems() == []


def test_each_lock_pins_every_requirement_of_its_extras_for_its_platform():
    _, base = lock.read_lock(lock.LOCK_DIR / "base.txt")
    _, dev = lock.read_lock(lock.LOCK_DIR / "dev.txt")
    _, package = lock.read_lock(lock.LOCK_DIR / "package.txt")
    _, bench = lock.read_lock(lock.LOCK_DIR / "bench.txt")
    # The platform's marker choice: the GPU wheel of ONNX Runtime (it carries the CPU provider), never both.
    assert "onnxruntime-gpu" in base and "onnxruntime" not in base
    assert set(base) < set(dev) and set(base) < set(package) and set(dev) < set(bench)
    assert {"torch", "pytest", "ruff", "opencv-python-headless"} <= set(dev) - set(base)
    assert "pyinstaller" in package and "pyinstaller" not in dev
    assert {"captum", "grad-cam"} <= set(bench) and "opencv-python" not in bench
    header, _ = lock.read_lock(lock.LOCK_DIR / "dev.txt")
    assert header["Platform"].startswith("Linux x86_64, CPython 3.11 only")


def test_torch_is_pinned_to_the_wheel_the_projects_machines_install():
    _, dev = lock.read_lock(lock.LOCK_DIR / "dev.txt")
    assert (dev["torch"].version, dev["torchvision"].version) == ("2.14.1", "0.29.1")
    local = Path("/opt/pypi-more/files/torch-2.14.1-cp311-cp311-manylinux_2_28_x86_64.whl")
    if local.is_file():  # this machine's copy: the lock holds its hash
        expected = lock.sha256_of({"download_info": {"url": local.as_uri()}})
        assert dev["torch"].hashes == (f"sha256:{expected}",)


def test_the_check_fails_on_a_range_the_lock_does_not_meet(planted):
    pyproject, lock_dir = planted
    pyproject.write_text(pyproject.read_text().replace('"numpy>=1.26"', '"numpy>=99"'))
    found = lock.problems(pyproject, lock_dir)
    assert "base.txt: made from other pyproject.toml requirements (run `make lock`)" in found
    assert any(p.startswith("base.txt: numpy==") and "outside 'numpy>=99'" in p for p in found)


def test_the_check_fails_on_a_new_requirement_missing_from_the_lock(planted):
    pyproject, lock_dir = planted
    pyproject.write_text(pyproject.read_text().replace('dev = ["pytest>=8"', 'dev = ["hypothesis>=6", "pytest>=8"'))
    found = lock.problems(pyproject, lock_dir)
    assert "dev.txt: 'hypothesis>=6' is not pinned" in found and "bench.txt: 'hypothesis>=6' is not pinned" in found
    assert not any(p.startswith(("base.txt", "package.txt")) and "hypothesis" in p for p in found)


def test_the_check_fails_on_a_hand_edited_lock(planted):
    pyproject, lock_dir = planted
    text = (lock_dir / "dev.txt").read_text()
    version = lock.read_lock(lock_dir / "dev.txt")[1]["pytest"].version
    unhashed = text.replace(f"pytest=={version} \\\n", f"pytest=={version}\n#")
    (lock_dir / "dev.txt").write_text(unhashed.replace("numpy==", "numpy==1.0.0+", 1))
    found = lock.problems(pyproject, lock_dir)
    assert "dev.txt: pytest is not pinned to one version with sha256 hashes" in found
    assert any(p.startswith("numpy differs between the locks") for p in found)


def test_the_check_ignores_pyproject_edits_outside_its_requirements(planted):
    pyproject, lock_dir = planted
    pyproject.write_text(pyproject.read_text().replace("line-length = 110", "line-length = 100"))
    assert lock.problems(pyproject, lock_dir) == []


def test_the_platform_check_names_this_interpreter(monkeypatch):
    monkeypatch.setattr(lock.platform, "system", lambda: "Darwin")
    assert "are made for Linux x86_64, CPython 3.11; this is Darwin" in lock.platform_problem()
