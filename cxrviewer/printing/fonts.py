"""The fonts the report is set in, shipped with the program (resources/fonts/, README there).

Noto Sans (Latin, Greek, Cyrillic; regular and bold), Noto Sans Mono (checksums) and a Noto Sans
Math subset (arrows and relations such as ≥) under the SIL Open Font License; Droid Sans Fallback
(Chinese, Japanese, Korean) under Apache 2.0. Each text font is a list of families that Qt tries in
order, glyph by glyph, so one line can hold a Latin label and a Japanese name; the system's fonts
come only after these, for scripts none of them covers.
"""

from __future__ import annotations

import os
import sys
import threading

from PySide6.QtGui import QFont, QFontDatabase, QGuiApplication

from cxrviewer import paths

FONT_FILES = ("NotoSans-Regular.ttf", "NotoSans-Bold.ttf", "NotoSansMono-Regular.ttf",
              "NotoSansMath-Regular.ttf", "DroidSansFallback.ttf")
TEXT_FAMILIES = ["Noto Sans", "Droid Sans Fallback", "Noto Sans Math"]
MONO_FAMILIES = ["Noto Sans Mono", "Noto Sans", "Droid Sans Fallback", "Noto Sans Math"]

_lock = threading.Lock()
_registered = False
_application = None  # the application this module made, kept alive for the process


class FontsMissing(RuntimeError):
    """A font file the report needs is not where the program keeps it."""


def fonts_dir():
    return paths.resource("fonts")


def qt_application() -> QGuiApplication:
    """The running Qt application; where there is none (the command line) one is made, offscreen
    unless QT_QPA_PLATFORM says otherwise: a report needs no screen. A QApplication, not a bare
    QGuiApplication, so that widgets made later in the same process still work."""
    global _application
    app = QGuiApplication.instance()
    if app is None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        from PySide6.QtWidgets import QApplication

        _application = app = QApplication(sys.argv[:1] or ["cxrviewer"])
    return app


def register_fonts() -> None:
    """Add the shipped fonts to Qt's font database, once per process (thread-safe)."""
    global _registered
    with _lock:
        if _registered:
            return
        qt_application()
        for name in FONT_FILES:
            path = fonts_dir() / name
            if not path.is_file() or QFontDatabase.addApplicationFont(str(path)) < 0:
                raise FontsMissing(f"the report font {path} is missing or unreadable; reinstall cxrviewer")
        _registered = True


def report_font(style: str, size: float) -> QFont:
    """The font for `style` ("regular", "bold", "mono") at `size` points (on a device whose pixels
    are points), unhinted so that widths measured and widths printed agree."""
    register_fonts()
    font = QFont()
    font.setFamilies(MONO_FAMILIES if style == "mono" else TEXT_FAMILIES)
    font.setPointSizeF(size)
    font.setBold(style == "bold")
    font.setHintingPreference(QFont.HintingPreference.PreferNoHinting)
    font.setKerning(True)
    # No ligatures: Qt maps a ligature glyph (fi, fl) back to one character only, so an extractor or a
    # reader's search would miss "finding". QFont.setFeature is Qt 6.7 or later.
    if hasattr(font, "setFeature"):
        for tag in ("liga", "clig"):
            font.setFeature(QFont.Tag(tag), 0)
    else:
        font.setStyleStrategy(QFont.StyleStrategy.PreferNoShaping)
    return font
