"""Which cxrviewer package may import which: the layers of DESIGN.md, checked on the source with an
AST walk (tests/test_import_rules.py checks the third-party imports).

core is pure (numpy, pydicom) and imports no other cxrviewer package but `paths`; runtime runs
models and never reaches the analysis; analysis never reaches the GUI, the commands or training;
nets are bare architectures; training never reaches the GUI or the commands; the GUI never reaches
the commands (a command builds on the GUI, not the other way round) nor the torch networks.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "cxrviewer"

# package → the cxrviewer packages (and top-level modules) it may import, besides itself.
ALLOWED = {
    "core": {"paths"},
    "runtime": {"core", "paths", "nets"},  # nets: the PyTorch fallback builds the network (lazily)
    "nets": {"core", "training"},  # training.architectures: the torch-free list nets builds from
    "analysis": {"core", "runtime", "paths"},
    "training": {"core", "runtime", "analysis", "nets", "paths"},
    "gui": {"core", "runtime", "analysis", "training", "paths", "printing"},
    "printing": {"core", "paths"},  # the PDF report drawn with Qt: ExportContent in, a file out
    "net": {"core", "paths"},  # DICOM/DICOMweb: files and datasets in and out; no analysis, no Qt
}
# Known exceptions, each with the issue that removes it; an exception that is no longer needed fails.
EXCEPTIONS: set[str] = set()


def internal_imports(path: Path) -> list[tuple[int, str]]:
    """(line, cxrviewer sub-package or module) for every import of the project in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.startswith("cxrviewer.")]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "cxrviewer":
                found += [(node.lineno, f"cxrviewer.{alias.name}") for alias in node.names]
            elif node.module.startswith("cxrviewer."):
                found.append((node.lineno, node.module))
    return found


def layer_violations(package: str) -> list[str]:
    root = PACKAGE / package
    allowed = ALLOWED[package] | {package}
    bad = []
    for path in sorted(root.rglob("*.py")):
        for _line, module in internal_imports(path):
            target = module.split(".")[1]
            if target not in allowed and target != "__version__":
                bad.append(f"{path.relative_to(PACKAGE)} imports cxrviewer.{target}")
    return sorted(set(bad))


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_each_package_imports_only_the_layers_below_it(package):
    found = set(layer_violations(package))
    assert found - EXCEPTIONS == set()


def test_every_exception_is_still_needed():
    found = {line for package in ALLOWED for line in layer_violations(package)}
    assert EXCEPTIONS <= found


def test_the_layer_check_sees_a_planted_violation(tmp_path, monkeypatch):
    (tmp_path / "analysis").mkdir()
    (tmp_path / "analysis" / "bad.py").write_text(
        "import numpy\nfrom cxrviewer.core import image\n\ndef f():\n    from cxrviewer.gui import canvas\n")
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "worse.py").write_text("from cxrviewer import analysis\nimport cxrviewer.runtime.registry\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path)
    assert layer_violations("analysis") == ["analysis/bad.py imports cxrviewer.gui"]
    assert layer_violations("core") == ["core/worse.py imports cxrviewer.analysis", "core/worse.py imports cxrviewer.runtime"]
