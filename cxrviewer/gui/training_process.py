"""A child-process job seen from the UI thread: a QTimer polls its queue and re-emits Qt signals.

The child (`cxrviewer.training.subprocess_run`) reports plain dicts; this object turns them into
`message` (progress and log records, as they come), then exactly one of `finished` (the job's final
dict) or `failed` (a message saying what went wrong: the child's error, a crash, or a forced stop).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from cxrviewer.training.subprocess_run import FINAL_KINDS, ChildJob, crash_message

log = logging.getLogger(__name__)

POLL_MS = 100


class ProcessJob(QObject):
    """Runs `target` in a child process; owned by the dialog, which calls `stop()` when it closes."""

    message = Signal(dict)  # {"kind": "progress" | "log", ...}
    finished = Signal(dict)  # the final {"kind": "result" | "exported" | "devices", ...}
    failed = Signal(str, str)  # message, detail (a traceback for bugs, else "")

    def __init__(self, target: Callable[..., None], *args: Any, name: str, parent: QObject | None = None):
        super().__init__(parent)
        self._child = ChildJob(target, *args, name=name)
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._poll)
        self._force_timer = QTimer(self)
        self._force_timer.setSingleShot(True)
        self._force_timer.timeout.connect(self._force_stop)
        self._done = False

    def start(self) -> None:
        self._child.start()
        self._timer.start()

    @property
    def running(self) -> bool:
        return not self._done

    @property
    def child_alive(self) -> bool:
        return self._child.alive

    def cancel(self, grace_s: float) -> None:
        """Ask the child to stop at its next step; terminate it if it has not ended after `grace_s`."""
        if self._done:
            return
        self._child.cancel()
        self._force_timer.start(int(grace_s * 1000))

    def stop(self) -> None:
        """End the job now, whatever it is doing (the dialog is closing). Emits nothing more."""
        if self._done:
            return
        self._done = True
        self._timer.stop()
        self._force_timer.stop()
        self._child.cancel()
        self._child.terminate()
        self._child.close()

    def _poll(self) -> None:
        exited = not self._child.alive  # read before draining, so nothing sent before exit is missed
        for item in self._child.messages():
            if self._done:
                return
            if item.get("kind") == "error":
                self._end()
                self.failed.emit(item["message"], item.get("detail", ""))
            elif item.get("kind") in FINAL_KINDS:
                self._end()
                self.finished.emit(item)
            else:
                self.message.emit(item)
        if exited and not self._done:
            self._end()
            self.failed.emit(crash_message(self._child.exitcode), "")

    def _force_stop(self) -> None:
        if self._done:
            return
        self._end(terminate=True)
        self.failed.emit("it did not stop within a few seconds of cancelling and was terminated; "
                         "the last finished epoch is kept", "")

    def _end(self, terminate: bool = False) -> None:
        self._done = True
        self._timer.stop()
        self._force_timer.stop()
        if terminate:
            self._child.terminate()
        self._child.close()
