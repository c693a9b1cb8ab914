"""Background jobs: plain functions run on a thread pool, their results delivered as Qt signals.

A job is a function of a `CancelToken` that returns plain data; it never touches a widget. Its
result or its error message reaches the UI thread through `JobRunner.succeeded` / `failed`, keyed by
the job id the caller chose. A cancelled job that has not started is skipped; one already running
finishes but its result is dropped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from cxrviewer.core.errors import CxrError

log = logging.getLogger(__name__)


class CancelToken:
    """Set by the UI thread, read by the job between steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


class _JobSignals(QObject):
    # Emitted from the pool thread; Qt queues them to the runner, which lives in the UI thread.
    done = Signal(int, int, object, str)  # job id, ticket, result (None on failure), error ("" if none)


class _Job(QRunnable):
    def __init__(self, job_id: int, ticket: int, work: Callable[[CancelToken], Any], token: CancelToken,
                 signals: _JobSignals):
        super().__init__()
        self.setAutoDelete(True)
        self._job_id, self._ticket, self._work, self._token, self._signals = job_id, ticket, work, token, signals

    def run(self) -> None:
        if self._token.cancelled:
            self._signals.done.emit(self._job_id, self._ticket, None, "cancelled")
            return
        try:
            result = self._work(self._token)
        except CxrError as exc:
            self._signals.done.emit(self._job_id, self._ticket, None, str(exc))
        except Exception as exc:  # a bug, not the user's doing: keep the traceback in the log
            log.exception("job %d failed unexpectedly", self._job_id)
            message = f"unexpected error: {type(exc).__name__}: {exc}"
            self._signals.done.emit(self._job_id, self._ticket, None, message)
        else:
            self._signals.done.emit(self._job_id, self._ticket, result, "")


class JobRunner(QObject):
    """Runs jobs on its own thread pool and reports each outcome once, in the UI thread."""

    succeeded = Signal(int, object)  # job id, result
    failed = Signal(int, str)  # job id, message naming the file or model
    idle = Signal()  # nothing queued or running any more

    def __init__(self, max_threads: int = 2, parent: QObject | None = None):
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        self._signals = _JobSignals(self)
        self._signals.done.connect(self._on_done)
        # The newest submission per job id: (ticket, token). A job's outcome counts only while its
        # ticket is still the one recorded here.
        self._tokens: dict[int, tuple[int, CancelToken]] = {}
        self._next_ticket = 0

    def submit(self, job_id: int, work: Callable[[CancelToken], Any], *, priority: int = 0) -> CancelToken:
        """Queue `work(token)`; a higher `priority` starts sooner. Replaces any earlier job of that id."""
        if job_id in self._tokens:
            self._tokens[job_id][1].cancel()
        token = CancelToken()
        self._next_ticket += 1
        self._tokens[job_id] = (self._next_ticket, token)
        self._pool.start(_Job(job_id, self._next_ticket, work, token, self._signals), priority)
        return token

    def cancel(self, job_id: int) -> None:
        entry = self._tokens.pop(job_id, None)
        if entry is not None:
            entry[1].cancel()
            self._notify_if_idle()

    def cancel_all(self) -> None:
        entries = list(self._tokens.values())
        self._tokens.clear()
        for _, token in entries:
            token.cancel()
        if entries:
            self.idle.emit()

    def pending(self, job_id: int) -> bool:
        """True while a job of this id is queued or running and its outcome still wanted."""
        return job_id in self._tokens

    @property
    def busy(self) -> bool:
        return bool(self._tokens)

    def wait(self, msecs: int = -1) -> bool:
        """Block until running jobs end (at shutdown, after `cancel_all`)."""
        return self._pool.waitForDone(msecs)

    def _on_done(self, job_id: int, ticket: int, result: object, message: str) -> None:
        entry = self._tokens.get(job_id)
        if entry is None or entry[0] != ticket:
            return  # cancelled or replaced by a newer submission: its outcome is no longer wanted
        del self._tokens[job_id]
        if message:
            self.failed.emit(job_id, message)
        else:
            self.succeeded.emit(job_id, result)
        self._notify_if_idle()

    def _notify_if_idle(self) -> None:
        if not self._tokens:
            self.idle.emit()
