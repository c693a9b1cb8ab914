"""Guards against a Qt binding that corrupts reference counts the viewer relies on.

PySide6 6.12.0 returns a borrowed `True` from `SignalInstance.emit()`: every emit drops one
reference to True, and after a few thousand signals (pyqtgraph emits several per mouse move) the
interpreter aborts with "bool_dealloc". pyproject.toml excludes that release; this test fails if an
environment still has it (or a later release brings the bug back).
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    fired = Signal(int)


def test_emitting_signals_keeps_the_reference_count_of_true():
    emitter = _Emitter()
    heard = []
    emitter.fired.connect(heard.append)
    before = sys.getrefcount(True)
    for n in range(200):
        emitter.fired.emit(n)
    assert heard == list(range(200))
    assert abs(sys.getrefcount(True) - before) < 20
