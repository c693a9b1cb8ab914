"""docs/study-map.png: a study as a reader first sees it, with a captioned map and its legend.

    xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python scripts/study_map_screenshot.py [--out docs]

The window at 1920×1080 with the layers' factory default (one heat map by default, issue 20),
opened on the worklist of scripts/screenshots.py; a TBX11K TB film is shown once its findings, its
default map, the map's caption and its colour legend are drawn. Kept apart
from scripts/screenshots.py, which another session was changing at the time.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication
from screenshots import FILES, study_folder, wait

from cxrviewer import paths

FILM = "tb0018.jpg"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=paths.install_root() / "docs")
    args = parser.parse_args(argv)
    app = QApplication(sys.argv[:1])
    from cxrviewer.gui.main_window import MainWindow

    with tempfile.TemporaryDirectory() as scratch:
        folder = study_folder(Path(scratch), "studies", FILES)
        window = MainWindow(settings=QSettings(str(Path(scratch) / "settings.ini"), QSettings.Format.IniFormat))
        window.resize(1920, 1080)
        window.show()
        worklist, controller = window.worklist, window.layers
        window.open_paths([folder])
        wait(app, lambda: len(worklist.model.rows) == len(FILES) and not worklist.busy
             and all(r.status in ("done", "failed") or r.status.startswith("failed") for r in worklist.model.rows))
        # A TBX11K TB film, one of the worklist's two.
        study = next(s for s in worklist.visible_order() if worklist.model.rows[s].path.name == FILM)
        worklist.study_activated.emit(study)
        wait(app, lambda: window.analysis.study == study and not window.analysis.pending(study)
             and not window.findings_panel.busy and controller.legend.isVisible()
             and bool(window.canvas.film_text.caption.text()))
        app.processEvents()
        out = args.out / "study-map.png"
        window.grab().save(str(out))
        print(f"wrote {out}: {worklist.model.rows[study].path.name}, {window.canvas.film_text.caption.text()}; "
              f"legend: {[legend.title for legend in controller.legend.legends]}")
        window.session.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
