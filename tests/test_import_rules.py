"""DESIGN.md's import rules, checked on the source with an AST walk (no import side effects)."""

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


def imported_modules(path: Path) -> list[tuple[int, str, bool]]:
    """(line, module, at_top_level) for every import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, id(node) in top_level) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module, id(node) in top_level))
    return found


def violations(folder: str, forbidden: tuple[str, ...], *, top_level_only: bool = False) -> list[str]:
    root = PACKAGE / folder if (PACKAGE / folder).is_dir() else PACKAGE
    files = sorted(root.rglob("*.py")) if root != PACKAGE else [PACKAGE / f"{folder}.py"]
    bad = []
    for path in files:
        if not path.exists():
            continue
        for line, module, at_top in imported_modules(path):
            if module.split(".")[0] in forbidden and (at_top or not top_level_only):
                bad.append(f"{path.relative_to(PACKAGE)}:{line} imports {module}")
    return bad


def test_core_imports_no_qt_torch_or_onnxruntime():
    assert violations("core", QT + TORCH + ORT) == []


@pytest.mark.parametrize("folder", ["gui", "printing"])
def test_qt_layers_import_no_torch_or_onnxruntime(folder):
    # `printing` draws the PDF report with Qt's painter (QPdfWriter, embedded Unicode fonts), for the
    # viewer and for `cxrviewer report` offscreen alike, so it may import Qt.
    assert violations(folder, TORCH + ORT) == []


@pytest.mark.parametrize("folder", ["runtime", "analysis", "training", "nets", "cli", "net"])
def test_non_gui_layers_import_no_qt(folder):
    assert violations(folder, QT) == []


@pytest.mark.parametrize("folder", ["runtime", "analysis", "cli"])
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
