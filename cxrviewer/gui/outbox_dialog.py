"""File → Outbox…: the results waiting to be sent (`net.outbox`), each with its destination, when it
was queued, how often it was tried and the last error, and a Retry. Nothing is removed from here:
an entry leaves the outbox only when its PACS confirmed it."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from cxrviewer.net.outbox import OutboxEntry, pending

COLUMNS = ("Object", "To", "By", "Queued", "Attempts", "Last error")
WAYS = {"dimse": "C-STORE", "stow": "STOW-RS"}


def entry_cells(entry: OutboxEntry) -> tuple[str, ...]:
    return (entry.path.stem, entry.peer, WAYS.get(entry.way, entry.way), entry.queued, str(entry.attempts),
            entry.error or "not tried yet")


class OutboxDialog(QDialog):
    """Non-modal; `refresh()` reads the outbox again (the owner calls it when entries changed)."""

    retry_requested = Signal()

    def __init__(self, outbox: Path, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Outbox")
        self.outbox = outbox
        self.summary = QLabel(wordWrap=True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.outcome = QLabel(wordWrap=True)
        self.retry_button = QPushButton("Retry")
        self.retry_button.setToolTip("Send everything waiting now")
        self.retry_button.clicked.connect(self.retry_requested)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.retry_button)
        buttons.addWidget(self.outcome, stretch=1)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, stretch=1)
        layout.addLayout(buttons)
        self.resize(1000, 360)
        self.refresh()

    def entries(self) -> list[OutboxEntry]:
        return pending(self.outbox)

    def refresh(self) -> None:
        entries = self.entries()
        self.table.setRowCount(len(entries))
        for row, entry in enumerate(entries):
            for column, text in enumerate(entry_cells(entry)):
                item = QTableWidgetItem(text)
                item.setToolTip(str(entry.path) if column == 0 else text)
                self.table.setItem(row, column, item)
        self.table.resizeColumnsToContents()
        self.summary.setText(f"{len(entries)} object(s) waiting in {self.outbox}; each stays until its PACS "
                             "confirms it" if entries else f"Nothing waiting in {self.outbox}.")
        self.retry_button.setEnabled(bool(entries))

    def show_outcome(self, text: str, *, busy: bool = False) -> None:
        self.outcome.setText(text)
        if busy:
            self.retry_button.setEnabled(False)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self.refresh()
        super().showEvent(event)
