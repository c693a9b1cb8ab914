"""The reader's reading state in the GUI: the folders' reading stores and the reviewed + flag + note box.

Each study belongs to the folder it was opened from (a file opened on its own: its folder); each
folder has its reading store (`core.reading_store`, opened on first use). Flags, "viewed" and
"reviewed" (the Reviewed box, or Ctrl+Enter: the reader finished reading the study) are committed at
once; a note is committed when typing pauses, when another study is shown, and when the window closes. A store that cannot be opened or written is named in the box and in the status bar;
the note stays in the box, so nothing typed is lost while the reader deals with it.

Where the notes go: the note box's tooltip names the store file. When the store beside the studies is
read-only and the notes continue in the user data folder (`ReadingStore.notice`), the status bar says
so once and the line above the note says so whenever a study of that folder is shown ("Saved in …"
after each save). A note with characters the store cannot encode (a lone surrogate half) is saved with
U+FFFD in their place; the box shows the note as saved and the line says how many were replaced.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from cxrviewer import paths
from cxrviewer.core.reading_store import ReadingState, ReadingStore, ReadingStoreError, StudyKey, study_key

log = logging.getLogger(__name__)

REVIEWED_KEY = "Ctrl+Enter"  # marks the shown study reviewed (gui.worklist.worklist_actions)
NOTE_SAVE_DELAY_MS = 600  # typing pauses this long before the note is committed
ERROR_STYLE = "color: rgb(230, 80, 80);"
NOTICE_STYLE = "color: rgb(230, 170, 60);"


class ReadingStates:
    """The reading stores of the folders opened, each opened on first use; errors kept per folder."""

    def __init__(self, user_data: Path | None = None):
        self.user_data = user_data
        self.roots: list[Path] = []
        self.stores: dict[Path, ReadingStore] = {}
        self.errors: dict[Path, str] = {}

    def add_roots(self, paths: list[Path]) -> None:
        """Folders (and files, standing for their folder) the reader opened."""
        for path in paths:
            root = (path if path.is_dir() else path.parent).resolve()
            if root not in self.roots:
                self.roots.append(root)

    def root_of(self, path: Path) -> Path:
        """The deepest opened folder holding `path` (its own folder when none does)."""
        path = path.resolve()
        inside = [root for root in self.roots if path.is_relative_to(root)]
        return max(inside, key=lambda root: len(root.parts)) if inside else path.parent

    def store_for(self, path: Path) -> tuple[ReadingStore | None, Path, str]:
        """(store or None, its folder, the error that keeps it closed or "")."""
        root = self.root_of(path)
        if root not in self.stores and root not in self.errors:
            # The program's own folders (the demo study) are not the reader's to write in.
            beside = not root.is_relative_to(paths.resources_dir().resolve())
            try:
                self.stores[root] = ReadingStore.for_folder(root, self.user_data, beside=beside)
            except ReadingStoreError as error:
                log.error("%s", error)
                self.errors[root] = str(error)
        return self.stores.get(root), root, self.errors.get(root, "")

    def close(self) -> None:
        for store in self.stores.values():
            store.close()
        self.stores.clear()


class ReadingPanel(QWidget):
    """A reviewed box, a flag box and a note box for the study shown, and the reading state of every study read."""

    state_changed = Signal(int, object)  # study, ReadingState now stored
    message = Signal(str)  # an error for the status bar, naming the store

    def __init__(self, parent=None, *, user_data: Path | None = None):
        super().__init__(parent)
        self.readings = ReadingStates(user_data)
        self.keys: dict[int, tuple[ReadingStore | None, StudyKey, str]] = {}
        self.states: dict[int, ReadingState] = {}
        self._announced: set[str] = set()
        self.reviewed_box = QCheckBox("Reviewed", self)
        self.reviewed_box.toggled.connect(self._on_reviewed_box)
        self.flag_box = QCheckBox("Flagged", self)
        self.flag_box.toggled.connect(self._on_flag_box)
        self.note_edit = QPlainTextEdit(self, placeholderText="Note on this study (saved as you type)")
        self.note_edit.setMaximumHeight(72)
        self.note_edit.textChanged.connect(self._on_note_typed)
        self.state_label = QLabel("", self, wordWrap=True)
        row = QHBoxLayout()
        row.addWidget(self.reviewed_box)
        row.addWidget(self.flag_box)
        row.addWidget(self.state_label, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.note_edit)
        self._timer = QTimer(self, singleShot=True, interval=NOTE_SAVE_DELAY_MS, timeout=self.save_note)
        self._study: int | None = None  # the study whose note the box holds, when it can be saved
        self.show_study(None)

    def register(self, study: int, path: Path, sop_uid: str) -> ReadingState | None:
        """A study was read: find its store and its stored state (None when there is no usable store)."""
        store, root, error = self.readings.store_for(path)
        key = study_key(root, path, sop_uid)
        self.keys[study] = (store, key, error)
        if error:
            self._announce(error)
            return None
        self._announce(store.notice)
        try:
            state = store.get(key)
        except ReadingStoreError as failure:
            self.keys[study] = (store, key, str(failure))
            self.message.emit(str(failure))
            return None
        self.states[study] = state
        return state

    # -- changes ---------------------------------------------------------------------------------
    def mark_viewed(self, study: int) -> None:
        if study in self.states:
            self._write(study, lambda store, key: store.mark_viewed(key))

    def set_flag(self, study: int, flagged: bool) -> None:
        if self._write(study, lambda store, key: store.set_flagged(key, flagged)) and study == self._study:
            self.flag_box.blockSignals(True)
            self.flag_box.setChecked(flagged)
            self.flag_box.blockSignals(False)

    def toggle_flag(self) -> None:
        if self._study is not None:
            self.flag_box.toggle()

    def set_reviewed(self, study: int, reviewed: bool) -> None:
        """Mark the study read (reviewed now) or not (the mark cleared); the box shows what is stored
        (a write that failed leaves it as it was, the error said above the note)."""
        self._write(study, lambda store, key: store.set_reviewed(key, reviewed))
        if study == self._study and study in self.states:
            self.reviewed_box.blockSignals(True)
            self.reviewed_box.setChecked(bool(self.states[study].reviewed))
            self.reviewed_box.blockSignals(False)
            self._show_reviewed(self.states[study])

    def toggle_reviewed(self) -> None:
        if self._study is not None:
            self.reviewed_box.toggle()

    def _show_reviewed(self, state: ReadingState | None) -> None:
        when = state.reviewed if state is not None else ""
        self.reviewed_box.setStatusTip(f"reviewed {when}" if when else "")
        self.reviewed_box.setToolTip((f"Reviewed {when}. " if when else "") +
                                     f"Tick when you have finished reading the study ({REVIEWED_KEY}); "
                                     "File → Send all reviewed to PACS sends the studies ticked")

    def save_note(self) -> None:
        """Commit the note box now (a pause in typing does it by itself)."""
        self._timer.stop()
        study = self._study
        if study is None or self.states[study].note == (text := self.note_edit.toPlainText()):
            return
        if not self._write(study, lambda store, key: store.set_note(key, text)):
            return
        stored = self.states[study].note
        if stored != text:  # characters the store cannot encode were replaced by U+FFFD
            replaced = stored.count("\ufffd") - text.count("\ufffd")
            self._show_saved_note(stored)
            warning = (f"Note saved, but {replaced} character(s) that cannot be stored (a broken character "
                       "pair) were replaced by \ufffd; the rest of the note is kept")
            self._say(warning, failed=True)
            self.message.emit(warning)
            return
        store = self.keys[study][0]
        if store.moved_from is not None:
            self._say(f"Saved in {store.path}", notice=store.notice)
        else:
            self._say("Saved")

    def _show_saved_note(self, note: str) -> None:
        """Put `note` (the box's text as stored) in the box without saving again, the cursor kept."""
        cursor = self.note_edit.textCursor()
        position = cursor.position()
        self.note_edit.blockSignals(True)
        self.note_edit.setPlainText(note)
        self.note_edit.blockSignals(False)
        cursor = self.note_edit.textCursor()
        cursor.setPosition(min(position, len(self.note_edit.toPlainText())))
        self.note_edit.setTextCursor(cursor)

    def _write(self, study: int, change: Callable[[ReadingStore, StudyKey], ReadingState]) -> bool:
        store, key, error = self.keys[study]
        if store is None or study not in self.states:
            self._say(error or "no reading store for this study", failed=True)
            return False
        moved = store.moved_from
        try:
            state = change(store, key)
        except ReadingStoreError as failure:
            self._say(f"Not saved: {failure}", failed=True)
            self.message.emit(str(failure))
            return False
        if store.moved_from != moved:  # the store stopped accepting writes and moved while open
            self._announce(store.notice)
            if study == self._study:
                self._say(store.notice, notice=store.notice)
                self.note_edit.setToolTip(f"Notes are saved in {store.path}")
        self.states[study] = state
        self.state_changed.emit(study, state)
        return True

    # -- the box ---------------------------------------------------------------------------------
    def show_study(self, study: int | None) -> None:
        """Fill the boxes for `study` (None: nothing shown), committing the previous study's note first."""
        if self._timer.isActive():
            self.save_note()
        self._study = None  # nothing is saved while the boxes are refilled
        state = self.states.get(study) if study is not None else None
        self.note_edit.setPlainText(state.note if state else "")
        self.flag_box.setChecked(bool(state and state.flagged))
        self.reviewed_box.setChecked(bool(state and state.reviewed))
        self._show_reviewed(state)
        self.note_edit.setEnabled(state is not None)
        self.flag_box.setEnabled(state is not None)
        self.reviewed_box.setEnabled(state is not None)
        store = self.keys[study][0] if study in self.keys else None
        self.note_edit.setToolTip(f"Notes are saved in {store.path}" if store is not None and state else "")
        if study is None:
            self._say("")
        elif study in self.keys and self.keys[study][2]:
            self._say(self.keys[study][2], failed=True)
        elif state and store is not None and store.notice:
            self._say(store.notice, notice=store.notice)
        else:
            self._say("" if state else "waiting for the study to be read")
        self._study = study if state is not None else None

    def _on_note_typed(self) -> None:
        if self._study is not None:
            self._say("…")
            self._timer.start()

    def _on_flag_box(self, checked: bool) -> None:
        if self._study is not None:
            self.set_flag(self._study, checked)

    def _on_reviewed_box(self, checked: bool) -> None:
        if self._study is not None:
            self.set_reviewed(self._study, checked)

    def _say(self, text: str, *, failed: bool = False, notice: str = "") -> None:
        """The line above the note: `text`, in red when `failed`, in amber with `notice` as its
        tooltip when there is one (where the notes go)."""
        self.state_label.setText(text)
        self.state_label.setToolTip(notice or text)
        self.state_label.setStyleSheet(ERROR_STYLE if failed else NOTICE_STYLE if notice else "")

    def _announce(self, text: str) -> None:
        """`text` to the status bar, once per store (not once per study in it)."""
        if text and text not in self._announced:
            self._announced.add(text)
            self.message.emit(text)

    # -- export and shutdown ---------------------------------------------------------------------
    def export_csv(self, out: Path, extra: Mapping[int, Mapping[str, object]]) -> int:
        """Every stored state plus `extra` columns per study ({study: {column: value}}) as CSV; the
        number of rows. One folder: `out`; several: one file each, `out` with the folder's name
        inserted before the suffix."""
        self.save_note()
        stores = self.readings.stores
        if not stores:
            raise ReadingStoreError(out, "nothing to export: no reading store is open")
        per_store: dict[Path, dict[StudyKey, Mapping[str, object]]] = {}
        for study, values in extra.items():
            store, key, _error = self.keys.get(study, (None, None, ""))
            if store is not None:
                per_store.setdefault(store.path, {})[key] = values
        total = 0
        for root, store in stores.items():
            target = out if len(stores) == 1 else out.with_name(f"{out.stem}-{root.name}{out.suffix}")
            total += store.export_csv(target, per_store.get(store.path, {}))
        return total

    def shutdown(self) -> None:
        self.save_note()
        self.readings.close()
