"""Starting the viewer: the QApplication, the main window, and the offscreen screenshot mode."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from cxrviewer.core.image import WindowPreset
from cxrviewer.core.viewstate import Ruler
from cxrviewer.paths import demo_study

log = logging.getLogger(__name__)

DEFAULT_SIZE = (1400, 900)


def run_viewer(
    paths: Sequence[str | Path],
    *,
    screenshot: str | Path | None = None,
    quit_after_load: bool = False,
    max_megapixels: float | None = None,
    window: tuple[float, float] | None = None,
    ruler: tuple[float, float, float, float] | None = None,
    size: tuple[int, int] = DEFAULT_SIZE,
) -> int:
    """Open the viewer on `paths` (the demo study when empty) and run until it closes.

    screenshot: once every study has loaded, save the window to this PNG.
    quit_after_load: then exit; without a display this renders offscreen.
    window: (centre, width) to apply to the first study shown instead of its own first window.
    ruler: (x0, y0, x1, y1) in image pixels, drawn on the first study shown.
    Returns 0, or 1 when screenshot mode could load nothing or could not write the picture.
    """
    if quit_after_load and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    # Qt is imported only here, so `cxrviewer --help` and batch commands start without it.
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from cxrviewer.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication(["cxrviewer"])
    app.setOrganizationName("cxrviewer")
    app.setApplicationName("cxrviewer")
    main = MainWindow(max_megapixels=max_megapixels)
    main.resize(*size)
    loaded: list[int] = []
    main.session.study_loaded.connect(lambda study, _image: loaded.append(study))
    _apply_once_shown(main, window, ruler)

    outcome = {"code": 0}

    def finish() -> None:
        if main.findings_panel.busy:  # the picture should show the findings, not "Running…"
            main.findings_panel.idle.connect(finish, type=Qt.ConnectionType.SingleShotConnection)
            return
        if screenshot is not None:
            app.processEvents()
            saved = main.grab().save(str(screenshot), "PNG")
            if not saved:
                log.error("could not write the screenshot %s", screenshot)
            elif not loaded:
                log.error("no study could be loaded; the screenshot shows the error")
            else:
                log.info("screenshot saved to %s", screenshot)
            outcome["code"] = 0 if saved and loaded else 1
        if quit_after_load:
            app.exit(outcome["code"])

    if screenshot is not None or quit_after_load:
        main.session.idle.connect(finish, type=Qt.ConnectionType.SingleShotConnection)
    main.show()
    targets = [Path(p) for p in paths] or [demo_study()]
    main.open_paths(targets, remember=bool(paths) and screenshot is None)
    # Leaving after the screenshot must not queue a "last window closed" quit for whatever event
    # loop runs next in this process (a test's, for instance).
    quit_on_close = app.quitOnLastWindowClosed()
    app.setQuitOnLastWindowClosed(not quit_after_load)
    try:
        code = app.exec()
    finally:
        app.setQuitOnLastWindowClosed(quit_on_close)
    main.session.shutdown()
    main.findings_panel.shutdown()
    main.hide()
    main.deleteLater()
    return outcome["code"] if quit_after_load else code


def _apply_once_shown(main, window: tuple[float, float] | None, ruler: tuple[float, float, float, float] | None):
    """Apply the command line's window and ruler to the first study that reaches the canvas."""
    from PySide6.QtCore import Qt

    if window is None and ruler is None:
        return

    def apply(_study, _loaded, state) -> None:
        if window is not None:
            state.window = WindowPreset(center=window[0], width=window[1], name="command line")
        if ruler is not None:
            state.ruler = Ruler(*ruler)

    main.session.current_ready.connect(apply, type=Qt.ConnectionType.SingleShotConnection)
