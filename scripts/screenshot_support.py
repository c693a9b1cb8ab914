"""What the screenshot scripts share: waiting on the real window while Qt keeps drawing."""

from __future__ import annotations

import time

from PySide6.QtWidgets import QApplication


def wait(app: QApplication, done, seconds: float = 300, what: str = "the viewer") -> None:
    """Process events until `done()` is true; TimeoutError naming `what` after `seconds`."""
    deadline = time.time() + seconds
    while not done():
        if time.time() > deadline:
            raise TimeoutError(f"{what} did not finish in time")
        app.processEvents()
        time.sleep(0.02)
