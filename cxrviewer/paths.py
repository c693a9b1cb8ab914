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


def _user_folder(windows_variable: str, xdg_variable: str, xdg_default: str) -> Path:
    if sys.platform == "win32" and os.environ.get(windows_variable):
        return Path(os.environ[windows_variable]) / "cxrviewer"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "cxrviewer"
    return Path(os.environ.get(xdg_variable) or Path.home() / xdg_default) / "cxrviewer"


def cache_dir() -> Path:
    """What may be thrown away and recomputed (the known-answer verdicts); `CXRVIEWER_CACHE` overrides."""
    override = os.environ.get("CXRVIEWER_CACHE")
    return Path(override) if override else _user_folder("LOCALAPPDATA", "XDG_CACHE_HOME", ".cache")


def site_settings_file() -> Path:
    """The site's own settings (operating thresholds calibrated on local films): never a card edit.
    `CXRVIEWER_SITE_SETTINGS` points at a shared file for a reading room's workstations."""
    override = os.environ.get("CXRVIEWER_SITE_SETTINGS")
    return Path(override) if override else _user_folder("APPDATA", "XDG_CONFIG_HOME", ".config") / "site-settings.json"
