"""The job runner: results arrive in the UI thread, errors become messages, replaced jobs are dropped."""

from __future__ import annotations

import threading

from PySide6.QtCore import QCoreApplication, QThread

from cxrviewer.core.errors import NotAnImageError
from cxrviewer.gui.workers import JobRunner


def test_result_and_error_reach_the_ui_thread(qtbot):
    runner = JobRunner()
    threads = []
    outcomes = {}
    runner.succeeded.connect(lambda job, result: outcomes.setdefault(job, result))
    runner.failed.connect(lambda job, message: outcomes.setdefault(job, message))
    runner.succeeded.connect(lambda *_: threads.append(QThread.currentThread()))

    def bad(_token):
        raise NotAnImageError("x.dcm", "not an image")

    def buggy(_token):
        raise ZeroDivisionError("oops")

    with qtbot.waitSignal(runner.idle, timeout=5000):
        runner.submit(1, lambda _token: QThread.currentThread())
        runner.submit(2, bad)
        runner.submit(3, buggy)
    # The job ran on a pool thread; its result was delivered in the runner's (UI) thread.
    assert outcomes[1] != threads[0] and threads[0] == runner.thread()
    assert outcomes[2] == "x.dcm: not an image"
    assert outcomes[3] == "unexpected error: ZeroDivisionError: oops"
    assert not runner.busy


def test_a_replaced_job_that_was_already_running_is_dropped(qtbot):
    # One thread: the old job is running when it is replaced, and finishes before the new one starts.
    runner = JobRunner(max_threads=1)
    release = threading.Event()
    results = []
    runner.succeeded.connect(lambda job, result: results.append((job, result)))

    def slow(_token):
        release.wait(5)
        return "old"

    runner.submit(7, slow)
    with qtbot.waitSignal(runner.succeeded, timeout=5000):
        runner.submit(7, lambda _token: "new")
        release.set()
    runner.wait(5000)
    QCoreApplication.processEvents()  # deliver the old job's queued signal, so its dropping is seen
    assert results == [(7, "new")]


def test_cancelled_jobs_report_nothing_and_the_runner_goes_idle(qtbot):
    runner = JobRunner(max_threads=1)
    gate = threading.Event()
    ran = []
    runner.submit(1, lambda _token: gate.wait(5))
    runner.submit(2, lambda token: ran.append(token.cancelled))
    heard = []
    runner.succeeded.connect(lambda job, _result: heard.append(job))
    with qtbot.waitSignal(runner.idle, timeout=2000):
        runner.cancel_all()
    gate.set()
    runner.wait(5000)
    QCoreApplication.processEvents()
    assert heard == [] and ran == [] and not runner.busy
