"""Where resources and models live, in a source checkout and in a PyInstaller bundle.

Every lookup of a file that ships with the program goes through here, so the frozen and the source
layouts differ in one place only.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def install_root() -> Path:
    """The folder that holds `resources/` and `models/`."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root is not None:
        return Path(frozen_root)
    return Path(__file__).resolve().parent.parent


def resources_dir() -> Path:
    return install_root() / "resources"


def resource(name: str) -> Path:
    return resources_dir() / name


def models_dir() -> Path:
    """Shipped models; `CXRVIEWER_MODELS` points elsewhere (tests, a site's own model folder)."""
    override = os.environ.get("CXRVIEWER_MODELS")
    return Path(override) if override else install_root() / "models"


def demo_study() -> Path:
    return resource("demo/demo_chest_pa.dcm")


def shared_data_dir() -> Path:
    """`../shared/data` beside the checkout: real radiographs for training and tests, never shipped."""
    override = os.environ.get("CXRVIEWER_SHARED_DATA")
    return Path(override) if override else install_root().parent / "shared" / "data"
