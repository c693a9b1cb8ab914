"""Packaging without building: cxrviewer.spec's choices, the frozen layout, and what the bundle says.

The spec is run against stand-ins for PyInstaller's Analysis/PYZ/EXE/COLLECT, and the folder its
COLLECT would write is laid out (as links) under a fake sys._MEIPASS: every resource and shipped model
the code looks up through cxrviewer.paths must then be found and load with its checksums. Building
the real bundle is `make package` + `make package-test` (docs/packaging.md), never part of pytest.
"""

from __future__ import annotations

import ast
import importlib.util
import logging
import os
import pkgutil
import stat
import subprocess
import sys
import tarfile
import types
from pathlib import Path

import pytest
import tomllib

from cxrviewer import cli, paths
from cxrviewer.runtime import providers
from cxrviewer.runtime.registry import installed_models, model_status

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
CUDA_LIB = "onnxruntime/capi/libonnxruntime_providers_cuda.so"
# What PyInstaller's own analysis adds besides the spec's datas: a kept library and ones the spec drops.
FOUND_BINARIES = [
    ("onnxruntime/capi/onnxruntime_pybind11_state.so", "/x/state.so", "BINARY"),
    (CUDA_LIB, "/x/cuda.so", "BINARY"),
    ("onnxruntime/capi/libonnxruntime_providers_tensorrt.so", "/x/trt.so", "BINARY"),
    ("libcudart.so.13", "/x/libcudart.so.13", "BINARY"),
]
FOUND_DATAS = [("PySide6/Qt/translations/qtbase_de.qm", "/x/qtbase_de.qm", "DATA")]


class Recorded:
    """Whatever the spec passed to one PyInstaller class."""

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


class FakeAnalysis(Recorded):
    """Expands the (source folder, destination) datas into per-file entries, as PyInstaller does."""

    def __init__(self, scripts, **kwargs):
        super().__init__(scripts, **kwargs)
        self.datas = list(FOUND_DATAS)
        for source, dest in kwargs["datas"]:
            for file in sorted(Path(source).rglob("*")):
                if file.is_file():
                    self.datas.append((f"{dest}/{file.relative_to(source).as_posix()}", str(file), "DATA"))
        self.binaries = list(FOUND_BINARIES)
        self.pure, self.scripts = [], list(scripts)


def run_spec(monkeypatch, tmp_path: Path, platform: str = "linux") -> dict:
    hooks = types.ModuleType("PyInstaller.utils.hooks")
    hooks.collect_submodules = lambda package: [package] + [
        f"{package}.{m.name}" for m in pkgutil.iter_modules(importlib.import_module(package).__path__)]
    for name, module in (("PyInstaller", types.ModuleType("PyInstaller")),
                         ("PyInstaller.utils", types.ModuleType("PyInstaller.utils")),
                         ("PyInstaller.utils.hooks", hooks)):
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(sys, "platform", platform)
    made: dict = {"EXE": []}

    def record(kind):
        def make(*args, **kwargs):
            item = (FakeAnalysis if kind == "Analysis" else Recorded)(*args, **kwargs)
            made["EXE"].append(item) if kind == "EXE" else made.__setitem__(kind, item)
            return item
        return make

    namespace = {"SPECPATH": str(ROOT), "DISTPATH": str(tmp_path / "dist"), "__file__": str(ROOT / "cxrviewer.spec")}
    namespace.update({kind: record(kind) for kind in ("Analysis", "PYZ", "EXE", "COLLECT", "BUNDLE")})
    exec(compile((ROOT / "cxrviewer.spec").read_text(encoding="utf-8"), "cxrviewer.spec", "exec"), namespace)
    return made


def lay_out(collect: Recorded, folder: Path) -> Path:
    """The `_internal` folder COLLECT would write, with links to the data files (binaries left out)."""
    internal = folder / "_internal"
    for toc in collect.args:
        if not isinstance(toc, list):
            continue
        for dest, source, kind in toc:
            if kind == "DATA" and Path(source).is_file():
                target = internal / dest
                target.parent.mkdir(parents=True, exist_ok=True)
                target.symlink_to(source)
    return internal


@pytest.fixture
def frozen(monkeypatch, tmp_path):
    """sys._MEIPASS pointing at the spec's data files laid out as the bundle has them."""
    internal = lay_out(run_spec(monkeypatch, tmp_path)["COLLECT"], tmp_path / "bundle")
    monkeypatch.setattr(sys, "_MEIPASS", str(internal), raising=False)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.delenv("CXRVIEWER_MODELS", raising=False)
    return internal


def test_spec_names_the_bundle_from_pyproject_and_leaves_out_training(monkeypatch, tmp_path):
    made = run_spec(monkeypatch, tmp_path)
    assert made["COLLECT"].kwargs["name"] == f"{PROJECT['name']}-{PROJECT['version']}"
    assert [exe.kwargs["name"] for exe in made["EXE"]] == [PROJECT["name"]]
    assert made["EXE"][0].kwargs["console"] is True
    analysis = made["Analysis"]
    # Every package the CLI names as full-install-only is left out, so its message is the one users see.
    assert set(cli.FULL_INSTALL_ONLY) <= set(analysis.kwargs["excludes"])
    assert {f"cxrviewer.commands.{name}" for name in cli.SUBCOMMANDS} <= set(analysis.kwargs["hiddenimports"])
    kept = [dest for dest, _source, _kind in analysis.binaries]
    assert kept == ["onnxruntime/capi/onnxruntime_pybind11_state.so"]
    assert not [dest for dest, _s, _k in analysis.datas if dest.startswith("PySide6/") or dest.endswith(".gitkeep")]


def test_spec_adds_a_windowed_launcher_on_windows_and_macos(monkeypatch, tmp_path):
    for platform in ("win32", "darwin"):
        made = run_spec(monkeypatch, tmp_path, platform)
        assert [(e.kwargs["name"], e.kwargs["console"]) for e in made["EXE"]] == [
            (PROJECT["name"], True), (f"{PROJECT['name']}-viewer", False)]
        assert ("BUNDLE" in made) == (platform == "darwin")


def test_frozen_lookups_resolve_inside_the_bundle(frozen):
    assert paths.install_root() == frozen
    assert paths.resources_dir() == frozen / "resources"
    assert paths.models_dir() == frozen / "models"
    assert paths.demo_study() == frozen / "resources" / "demo" / "demo_chest_pa.dcm"
    assert paths.demo_study().is_file()


def test_the_report_fonts_and_their_licences_are_in_the_bundle(frozen):
    """The PDF report embeds these (cxrviewer.printing): found through paths, as the bundle lays them out."""
    from cxrviewer.printing.fonts import FONT_FILES, fonts_dir

    assert fonts_dir() == frozen / "resources" / "fonts"
    for name in (*FONT_FILES, "OFL.txt", "LICENSE-Apache-2.0.txt"):
        assert (fonts_dir() / name).is_file(), name


def test_every_shipped_model_loads_from_the_bundle_layout(frozen):
    shipped = sorted(p.name.removesuffix(".card.json") for p in (ROOT / "models").glob("*.card.json"))
    if not shipped:
        pytest.skip("no models in models/ of this checkout")
    assert installed_models() == shipped
    # model_status verifies the checksum of every file a card lists that is there, and needs the ONNX
    # files; the bundle leaves the PyTorch weights out.
    statuses = [model_status(name) for name in shipped]
    assert [(s.name, s.status) for s in statuses] == [(name, "ok") for name in shipped]
    assert all(s.card_path.parent == frozen / "models" for s in statuses)
    assert not [p.name for p in (frozen / "models").iterdir() if p.name.endswith(".safetensors")
                and not p.name.endswith(".head.safetensors")]


def test_source_layout_is_the_checkout(monkeypatch):
    monkeypatch.delattr(sys, "_MEIPASS", raising=False)
    monkeypatch.delenv("CXRVIEWER_MODELS", raising=False)
    assert paths.install_root() == ROOT
    assert paths.demo_study().is_file()
    assert paths.models_dir() == ROOT / "models"


def test_only_paths_finds_files_beside_the_code():
    """A module that looked for a file beside itself (__file__, importlib.resources) would miss it in
    the bundle, where modules live in an archive; cxrviewer.paths is the one place that knows."""
    allowed = {
        "cxrviewer/paths.py",
        # The code commit for a training run's card: `git` in the checkout; training needs the full install.
        "cxrviewer/training/run.py",
    }
    offenders = []
    for file in sorted((ROOT / "cxrviewer").rglob("*.py")):
        relative = file.relative_to(ROOT).as_posix()
        tree = ast.parse(file.read_text(encoding="utf-8"))
        names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
        imports = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)
                   for alias in node.names} | {node.module for node in ast.walk(tree)
                                               if isinstance(node, ast.ImportFrom) and node.module}
        if ("__file__" in names or {"importlib.resources", "pkg_resources"} & imports) and relative not in allowed:
            offenders.append(relative)
    assert offenders == []


def test_training_dialog_in_the_bundle_says_how_to_get_the_full_install(qtbot, monkeypatch, tmp_path):
    from cxrviewer.gui import training_dialog

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "torch" else real_find_spec(name, *a))
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    dialog = training_dialog.TrainingDialog(models_dir=tmp_path, runs_dir=tmp_path)
    qtbot.addWidget(dialog)
    assert dialog.state == "unavailable" and dialog.message.text() == training_dialog.NO_TORCH_BUNDLE
    assert "pip install 'cxrviewer[ml]'" in dialog.message.text() and "CXRVIEWER_MODELS" in dialog.message.text()
    assert dialog.start() is False and dialog.job is None
    monkeypatch.setattr(sys, "frozen", False)
    assert training_dialog.no_torch_message() == training_dialog.NO_TORCH


def test_train_command_without_torch_names_the_full_install(monkeypatch, tmp_path, caplog):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ModuleNotFoundError
    for name in [m for m in sys.modules if m.startswith(("cxrviewer.training.run", "cxrviewer.nets"))]:
        monkeypatch.delitem(sys.modules, name)
    config = ROOT / "examples" / "jsrt_bone_suppression.json"
    with caplog.at_level(logging.ERROR):
        code = cli.main(["train", "--config", str(config), "--epochs", "1", "--out", str(tmp_path)])
    assert code == 2
    assert "`cxrviewer train` needs the full install (torch is not installed here)" in caplog.text
    assert list(tmp_path.iterdir()) == []


def test_cuda_is_offered_only_when_its_provider_library_is_installed(monkeypatch, tmp_path):
    gpu_build = ["TensorrtExecutionProvider", providers.CUDA, providers.CPU]
    monkeypatch.setattr(providers.ort, "get_available_providers", lambda: list(gpu_build))
    assert providers.available_providers(tmp_path) == ["TensorrtExecutionProvider", providers.CPU]
    choice = providers.provider_choice(providers.available_providers(tmp_path), lambda: 1, forced="")
    assert choice.providers == (providers.CPU,) and "no CUDA provider" in choice.reason
    (tmp_path / Path(CUDA_LIB).name).write_bytes(b"")
    assert providers.available_providers(tmp_path) == gpu_build
    choice = providers.provider_choice(providers.available_providers(tmp_path), lambda: 2, forced="")
    assert choice.providers == (providers.CUDA, providers.CPU) and choice.reason.startswith("CUDA: 2 device")
    assert providers.provider_choice(gpu_build, lambda: 0, forced="").reason == (
        "CPU: no usable NVIDIA driver or CUDA device")


def test_status_bar_tooltip_says_why_the_models_run_where_they_do(qtbot, monkeypatch):
    from cxrviewer.gui.status_bar import ViewerStatusBar

    monkeypatch.setenv(providers.PROVIDER_ENV, "cpu")
    bar = ViewerStatusBar()
    qtbot.addWidget(bar)
    bar.show_provider("CPU")
    assert bar.provider.text() == "models on CPU"
    assert bar.provider.toolTip().endswith(f"CPU: {providers.PROVIDER_ENV}=cpu")
    # CUDA chosen (a driver, a device, the provider library), but the session fell back to the CPU.
    monkeypatch.setenv(providers.PROVIDER_ENV, "")
    monkeypatch.setattr(providers, "available_providers", lambda: [providers.CUDA, providers.CPU])
    monkeypatch.setattr(providers, "_cached_cuda_device_count", lambda: 1)
    bar.show_provider("CPU")
    assert "CUDA: 1 device(s)" in bar.provider.toolTip()
    assert "could not start the model there" in bar.provider.toolTip()
    bar.show_provider("CUDA")
    assert "could not start" not in bar.provider.toolTip()


def fake_bundle(folder: Path) -> Path:
    bundle = folder / f"{PROJECT['name']}-{PROJECT['version']}"
    (bundle / "_internal" / "models").mkdir(parents=True)
    exe = bundle / PROJECT["name"]
    exe.write_text("#!/bin/sh\necho frozen \"$@\"\n")
    exe.chmod(0o700)
    card = bundle / "_internal" / "models" / "m.card.json"
    card.write_text("{}")
    card.chmod(0o600)  # as ship_model writes cards
    return bundle


@pytest.mark.skipif(sys.platform != "linux", reason="the archive and install.sh are the Linux installer")
def test_archive_installs_a_launcher_and_desktop_entry_for_the_user(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    import package_archive

    bundle = fake_bundle(tmp_path / "dist")
    archive = tmp_path / "out.tar.gz"
    package_archive.write_archive(bundle, archive, tmp_path)
    with tarfile.open(archive) as tar:
        members = {m.name: m for m in tar.getmembers()}
        tar.extractall(tmp_path / "opt", filter="tar")
    top = bundle.name
    assert members[f"{top}/_internal/models/m.card.json"].mode == 0o644
    assert members[f"{top}/{PROJECT['name']}"].mode == 0o755
    assert {f"{top}/install.sh", f"{top}/cxrviewer.desktop.in", f"{top}/cxrviewer.png"} <= set(members)
    home = tmp_path / "home"
    unpacked = tmp_path / "opt" / top
    subprocess.run(["sh", str(unpacked / "install.sh")], check=True, capture_output=True,
                   env={"HOME": str(home), "PATH": os.environ["PATH"]})
    entry = (home / ".local/share/applications/cxrviewer.desktop").read_text()
    assert f'Exec="{unpacked}/{PROJECT["name"]}" view %F' in entry and "Icon=cxrviewer\n" in entry
    launcher = home / ".local/bin" / PROJECT["name"]
    assert subprocess.run([str(launcher), "view", "x.dcm"], capture_output=True, text=True).stdout == "frozen view x.dcm\n"
    assert stat.S_IMODE((home / ".local/share/icons/hicolor/256x256/apps/cxrviewer.png").stat().st_mode) == 0o644
    subprocess.run(["sh", str(unpacked / "install.sh"), "--uninstall"], check=True, capture_output=True,
                   env={"HOME": str(home), "PATH": os.environ["PATH"]})
    assert not launcher.exists() and not (home / ".local/share/applications/cxrviewer.desktop").exists()


def test_smoke_test_expects_the_model_files_the_spec_bundles(monkeypatch, tmp_path):
    """package_smoke's layout check and the spec agree on which model files ship."""
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    import package_smoke

    bundled = sorted(Path(dest).name for dest, _source, _kind in run_spec(monkeypatch, tmp_path)["Analysis"].datas
                     if dest.startswith("models/"))
    assert bundled == package_smoke.viewer_model_files()


def test_smoke_test_compares_csv_numbers_within_its_tolerance(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    import package_smoke

    source = [{"path": "a.dcm", "model": "m", "normal": "0.25", "prediction": "normal"}]
    near = [{**source[0], "normal": "0.250001"}]
    assert package_smoke.csv_difference(near, source) == ""
    assert package_smoke.csv_difference([{**source[0], "normal": "0.2501"}], source) == (
        "m normal: bundle '0.2501', source '0.25'")
    assert package_smoke.csv_difference([{**source[0], "prediction": "pneumonia"}], source) != ""
    assert package_smoke.csv_difference([], source) == "different columns or rows"
