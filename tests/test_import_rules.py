"""DESIGN.md's import rules, checked on the source with an AST walk (no import side effects): which
third-party libraries each layer may import, and which of cxrviewer's own packages each may import.

Every import counts, at top level or inside a function; an import inside a function (or under
`if TYPE_CHECKING:`) is lazy, and some rules allow only that.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "cxrviewer"
QT = ("PySide6", "pyqtgraph", "shiboken6")
TORCH = ("torch", "torchvision", "onnx", "onnxscript")
ORT = ("onnxruntime",)
OPENCV = ("cv2",)

# Each package (a folder or top-level module of cxrviewer/, or one module in it, dotted) → what of
# cxrviewer it may import besides itself ("training.config": that module only), and why.
# A package or module missing from the table fails `test_every_package_has_a_layer`.
LAYERS: dict[str, tuple[tuple[str, ...], str]] = {
    "paths": ((), "where the program's files are: every layer may ask it, and it asks none"),
    "core": (("paths",), "pure data and maths (numpy, pydicom) that every other layer builds on"),
    "nets": (("core", "training.architectures"),
             "bare torch architectures; the torch-free list of what each is belongs to the training config"),
    "training.architectures": ((), "plain data that nets, the config and the viewer read: a leaf, so nets' "
                                   "one reach into training cannot come back round"),
    "training.distributed": ((), "the DDP helpers run.train calls; the launcher that calls run.train is "
                                 "training.launch, so run and distributed do not import each other"),
    "runtime": (("core", "paths", "nets"),
                "runs a model behind the Backend protocol; the study path, training and the UI sit on it"),
    "analysis": (("core", "paths", "runtime"),
                 "the one study path of viewer and CLI: models through runtime, offline, without torch or UI"),
    "training": (("core", "paths", "nets", "runtime", "analysis"),
                 "runs in the CLI or the dialog's child process; evaluates through runtime and analysis; no UI"),
    "net": (("core", "paths"), "moves DICOM files and datasets in and out; what is sent is made elsewhere"),
    "printing": (("core", "paths"), "draws a report composed elsewhere (core.export.content) into a PDF"),
    "gui": (("core", "paths", "runtime", "analysis", "printing", "net", "training.architectures",
             "training.config", "training.subprocess_run"),
            "the viewer: calls analysis and runtime, trains in a child process through training's torch-free "
            "modules, and never reaches a command or the torch networks"),
    "commands": (("core", "paths", "runtime", "nets", "analysis", "training", "net", "printing", "gui"),
                 "the top: each sub-command wires the layers below it"),
    "cli": ((), "parses the command line and finds each sub-command by name (importlib), importing none itself"),
    "__main__": (("cli",), "`python -m cxrviewer` is the `cxrviewer` command"),
}
# Names of cxrviewer/__init__.py itself (the version, from importlib.metadata), which any layer may use.
ROOT_NAMES = ("__version__",)

# (package, what of cxrviewer it may import only inside functions, why).
LAZY_ONLY = (
    ("runtime", "nets", "the PyTorch backend builds its net when asked, so the ONNX path starts without torch"),
    ("commands", "gui", "the parser imports every command module, so batch commands start without Qt"),
    ("commands", "printing", "the report's Qt painter is loaded by `report` when it runs, not by `--help`"),
    ("commands", "training", "only train, export and evaluate load torch, and only when they run"),
    ("commands", "nets", "only train, export and evaluate load torch, and only when they run"),
)

# (package, a module of cxrviewer it must not import although its layer may import the package, why).
NOT_REACHED = (
    ("gui", "runtime.onnx_backend", "the viewer calls runtime through its protocol, never a concrete backend"),
    ("gui", "runtime.torch_backend", "the viewer calls runtime through its protocol, never a concrete backend"),
)


def _resolve(path: Path, node: ast.ImportFrom) -> str:
    """The absolute module of a `from ... import`, relative ones resolved against the file's package."""
    if node.level == 0:
        return node.module or ""
    package = ("cxrviewer", *path.relative_to(PACKAGE).with_suffix("").parts)[:-1]
    base = package[:len(package) - node.level + 1]
    return ".".join((*base, node.module) if node.module else base)


def imported_modules(path: Path) -> list[tuple[int, str, bool]]:
    """(line, module, at_top_level) for every import in the file; for `from cxrviewer.x import y` the
    module is `cxrviewer.x.y`, as y may be a module. An import inside a function or under
    `if TYPE_CHECKING:` is not at top level (it runs when called, or never)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []

    def visit(node: ast.AST, at_top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                found.extend((child.lineno, alias.name, at_top) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                module = _resolve(path, child)
                if _within(module, "cxrviewer"):  # a name may be a module: `from cxrviewer.runtime import registry`
                    found.extend((child.lineno, f"{module}.{alias.name}", at_top) for alias in child.names)
                elif module:
                    found.append((child.lineno, module, at_top))
            lazy = isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) or (
                isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test))
            visit(child, at_top and not lazy)

    visit(tree, True)
    return sorted(found)


def source_files(name: str) -> list[Path]:
    """The files of a package folder, or the one file of a module, named dotted under cxrviewer/."""
    path = PACKAGE.joinpath(*name.split("."))
    if path.is_dir():
        return sorted(path.rglob("*.py"))
    return [file] if (file := path.with_suffix(".py")).exists() else []


def violations(folder: str, forbidden: tuple[str, ...], *, top_level_only: bool = False) -> list[str]:
    """Imports of the third-party packages `forbidden` in a package or module of cxrviewer."""
    bad = []
    for path in source_files(folder):
        for line, module, at_top in imported_modules(path):
            if module.split(".")[0] in forbidden and (at_top or not top_level_only):
                bad.append(f"{path.relative_to(PACKAGE)}:{line} imports {module}")
    return bad


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def project_imports(name: str) -> list[tuple[str, str, bool]]:
    """(where, imported module under cxrviewer/ dotted, at_top_level) for each import of the project
    in package `name`; its imports of itself and of the root package's own names are left out."""
    found = []
    for path in source_files(name):
        for line, module, at_top in imported_modules(path):
            target = module.removeprefix("cxrviewer.")
            if target != module and not _within(target, name) and target.split(".")[0] not in ROOT_NAMES:
                found.append((f"{path.relative_to(PACKAGE)}:{line}", target, at_top))
    return found


def layer_violations(name: str) -> list[str]:
    may_import, _reason = LAYERS[name]
    return [f"{where} imports cxrviewer.{target}" for where, target, _ in project_imports(name)
            if not any(_within(target, allowed) for allowed in may_import)]


def eager_imports(name: str, target: str) -> list[str]:
    return [f"{where} imports cxrviewer.{module} at top level" for where, module, at_top in project_imports(name)
            if at_top and _within(module, target)]


def reached(name: str, target: str) -> list[str]:
    return [f"{where} imports cxrviewer.{module}" for where, module, _ in project_imports(name)
            if _within(module, target)]


# -- third-party libraries --------------------------------------------------------------------------

def test_core_imports_no_qt_torch_or_onnxruntime():
    assert violations("core", QT + TORCH + ORT) == []


@pytest.mark.parametrize("folder", ["gui", "printing"])
def test_qt_layers_import_no_torch_or_onnxruntime(folder):
    # `printing` draws the PDF report with Qt's painter (QPdfWriter, embedded Unicode fonts), for the
    # viewer and for `cxrviewer report` offscreen alike, so it may import Qt.
    assert violations(folder, TORCH + ORT) == []


@pytest.mark.parametrize("folder", ["runtime", "analysis", "training", "nets", "cli", "commands", "net"])
def test_non_gui_layers_import_no_qt(folder):
    assert violations(folder, QT) == []


@pytest.mark.parametrize("folder", ["runtime", "analysis", "cli", "commands"])
def test_torch_is_imported_lazily_outside_nets_and_training(folder):
    # The runtime's PyTorch backend may import torch, but only inside functions, so the viewer and
    # the ONNX path start without it.
    assert violations(folder, TORCH, top_level_only=True) == []


@pytest.mark.parametrize("folder", ["core", "gui", "printing", "runtime", "analysis", "commands", "cli", "paths",
                                    "net"])
def test_the_viewer_path_imports_no_opencv(folder):
    # The viewer bundle leaves OpenCV out (docs/packaging.md): only training and the scripts use it.
    # The demo phantom (core/phantom.py) is drawn in numpy too, so that it regenerates byte for byte.
    assert violations(folder, OPENCV) == []


def test_the_checker_sees_a_violation(tmp_path, monkeypatch):
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "bad.py").write_text("import numpy\nfrom PySide6 import QtCore\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path)
    assert violations("core", QT) == ["core/bad.py:2 imports PySide6"]


# -- cxrviewer's own packages -----------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(LAYERS))
def test_each_package_imports_only_what_its_layer_may(name):
    assert layer_violations(name) == [], LAYERS[name][1]


@pytest.mark.parametrize(("name", "target", "reason"), LAZY_ONLY, ids=[f"{n}-{t}" for n, t, _ in LAZY_ONLY])
def test_some_layers_are_imported_only_inside_functions(name, target, reason):
    assert eager_imports(name, target) == [], reason


@pytest.mark.parametrize(("name", "target", "reason"), NOT_REACHED, ids=[f"{n}-{t}" for n, t, _ in NOT_REACHED])
def test_some_modules_are_not_reached_past_their_package(name, target, reason):
    assert reached(name, target) == [], reason


def test_every_package_has_a_layer():
    names = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    names |= {p.stem for p in PACKAGE.glob("*.py") if p.name != "__init__.py"}
    assert names == {name.split(".")[0] for name in LAYERS}
    assert all(source_files(name) for name in LAYERS)
    for name, (may_import, _reason) in LAYERS.items():
        assert all(source_files(allowed) for allowed in may_import), name


def test_the_layer_check_sees_planted_violations(tmp_path, monkeypatch):
    for folder in ("core", "analysis", "runtime", "gui", "commands"):
        (tmp_path / folder).mkdir()
    (tmp_path / "analysis" / "bad.py").write_text(
        "import numpy\nfrom cxrviewer.core import image\nfrom cxrviewer.runtime.backend import Backend\n\n"
        "def f():\n    from cxrviewer.gui import canvas\n")
    (tmp_path / "analysis" / "relative.py").write_text("from . import findings\nfrom ..commands import analyze\n")
    (tmp_path / "core" / "worse.py").write_text(
        "from typing import TYPE_CHECKING\nfrom cxrviewer import analysis, __version__\nimport cxrviewer.paths\n"
        "if TYPE_CHECKING:\n    import cxrviewer.runtime.registry\n")
    (tmp_path / "runtime" / "eager.py").write_text("from cxrviewer.nets import build\n")
    (tmp_path / "runtime" / "lazy.py").write_text("def f():\n    from cxrviewer.nets import build\n")
    (tmp_path / "gui" / "form.py").write_text(
        "from cxrviewer.training.config import TASKS\nfrom cxrviewer.training.run import train\n"
        "from cxrviewer.runtime import registry, onnx_backend\n")
    (tmp_path / "commands" / "view.py").write_text("from cxrviewer.gui.app import run\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path)
    assert layer_violations("analysis") == ["analysis/bad.py:6 imports cxrviewer.gui.canvas",
                                            "analysis/relative.py:2 imports cxrviewer.commands.analyze"]
    assert layer_violations("core") == ["core/worse.py:2 imports cxrviewer.analysis",
                                        "core/worse.py:5 imports cxrviewer.runtime.registry"]
    assert layer_violations("runtime") == []
    assert eager_imports("runtime", "nets") == ["runtime/eager.py:1 imports cxrviewer.nets.build at top level"]
    assert layer_violations("gui") == ["gui/form.py:2 imports cxrviewer.training.run.train"]
    assert reached("gui", "runtime.onnx_backend") == ["gui/form.py:3 imports cxrviewer.runtime.onnx_backend"]
    assert eager_imports("commands", "gui") == ["commands/view.py:1 imports cxrviewer.gui.app.run at top level"]
