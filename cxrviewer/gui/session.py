"""The open studies: scanning and loading in the background, a small cache, and one view state each.

No widgets here. The main window asks for studies to be opened and selected, and listens:
`study_added` / `study_loaded` / `study_failed` fill the worklist, `current_ready` and
`current_failed` say what the canvas should show. Loads run on a `JobRunner`; the selected study is
loaded first, and a load that finishes after the reader moved on only updates the worklist.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from cxrviewer.core.display.indexed_image import IndexedImage, index_image
from cxrviewer.core.display.voi import full_range_window
from cxrviewer.core.image import Image, WindowPreset
from cxrviewer.core.io import read_image, scan_studies
from cxrviewer.core.viewstate import ViewState
from cxrviewer.gui.workers import CancelToken, JobRunner

log = logging.getLogger(__name__)

# Decoded studies kept in memory (pixels, modality values and indices: about 10 bytes a pixel, so
# four 3000 x 2500 studies hold ~300 MB); older ones are read again when the reader returns.
CACHE_SIZE = 4
SELECTED_PRIORITY = 10


@dataclass(frozen=True)
class LoadedStudy:
    image: Image
    indexed: IndexedImage


def load_study(path: Path, max_megapixels: float | None, token: CancelToken) -> LoadedStudy:
    """Read and index one study (runs in a pool thread)."""
    image = read_image(path) if max_megapixels is None else read_image(path, max_megapixels=max_megapixels)
    return LoadedStudy(image, index_image(image.modality_values))


def first_voi(loaded: LoadedStudy) -> tuple[WindowPreset, int | None]:
    """The VOI `read_image` applied to `pixels` (its first window, else its first VOI LUT), as the
    window a drag starts from and the VOI LUT index, if any."""
    meta = loaded.image.meta
    if meta.window_presets:
        return meta.window_presets[0], None
    levels = loaded.indexed.levels
    return full_range_window(float(levels[0]), float(levels[-1])), (0 if meta.voi_luts else None)


class StudySession(QObject):
    study_added = Signal(int, object)  # study id (row), Path
    study_loaded = Signal(int, object)  # study id, Image
    study_failed = Signal(int, str)  # study id, message naming the file and the problem
    files_skipped = Signal(object)  # [(Path, reason)] found inside folders and left out
    current_changed = Signal(int)  # the study now selected, before it is ready
    current_ready = Signal(int, object, object)  # study id, LoadedStudy, ViewState
    current_failed = Signal(int, str)
    fetched = Signal(int, object, object)  # study id, LoadedStudy, ViewState: read as `fetch` asked
    idle = Signal()  # every scan and load has finished

    def __init__(self, max_megapixels: float | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.max_megapixels = max_megapixels
        self.runner = JobRunner(parent=self)
        self.runner.succeeded.connect(self._on_job_succeeded)
        self.runner.failed.connect(self._on_job_failed)
        self.runner.idle.connect(self.idle)
        self.paths: list[Path] = []
        self.errors: dict[int, str] = {}
        self.states: dict[int, ViewState] = {}
        self._cache: OrderedDict[int, LoadedStudy] = OrderedDict()
        self._scans: dict[int, tuple[list[Path], bool]] = {}
        self._next_scan_id = -1
        self._priorities: dict[int, int] = {}
        self._fetching: set[int] = set()
        self.current: int | None = None

    def open_paths(self, paths: Iterable[str | Path], *, show: bool = True) -> None:
        """Scan files and folders (DICOMDIR included) in the background, then load what they hold.
        show: the first study found is shown; False (studies that arrived over the network) leaves
        the shown study on screen and shows the first only when none is."""
        requested = [Path(p) for p in paths]
        if not requested:
            return
        scan_id = self._next_scan_id
        self._next_scan_id -= 1
        self._scans[scan_id] = (requested, show)
        self.runner.submit(scan_id, lambda _token: scan_studies(requested), priority=SELECTED_PRIORITY + 1)

    def select(self, study: int) -> None:
        """Make `study` the one shown: at once when cached, otherwise as soon as it is read."""
        if study != self.current:
            self.current = study
            self.current_changed.emit(study)
        if study in self.errors:
            self.current_failed.emit(study, self.errors[study])
        elif study in self._cache:
            self._cache.move_to_end(study)
            self.current_ready.emit(study, self._cache[study], self.states[study])
        else:
            self._queue_load(study, SELECTED_PRIORITY)

    def fetch(self, study: int) -> None:
        """Read a study that is not the current one (the prior shown beside it): `fetched` is emitted
        when it is ready, at once when cached; a study that cannot be read is reported by
        `study_failed` (those already failed are in `errors`)."""
        if study in self._cache:
            self._cache.move_to_end(study)
            self.fetched.emit(study, self._cache[study], self.states[study])
        elif study not in self.errors:
            self._fetching.add(study)
            self._queue_load(study, SELECTED_PRIORITY)

    def shutdown(self) -> None:
        self.runner.cancel_all()
        self.runner.wait()

    def _queue_load(self, study: int, priority: int) -> None:
        if self.runner.pending(study) and self._priorities.get(study, -1) >= priority:
            return  # already on its way, no later than asked
        path, limit = self.paths[study], self.max_megapixels
        self._priorities[study] = priority
        self.runner.submit(study, lambda token: load_study(path, limit, token), priority=priority)

    def _add_study(self, path: Path) -> int:
        self.paths.append(path)
        study = len(self.paths) - 1
        self.study_added.emit(study, path)
        return study

    def _on_job_succeeded(self, job_id: int, result: object) -> None:
        if job_id < 0:
            requested, show = self._scans.pop(job_id)
            self._on_scanned(requested, result, show)
            return
        loaded: LoadedStudy = result
        self._cache[job_id] = loaded
        self._cache.move_to_end(job_id)
        while len(self._cache) > CACHE_SIZE:
            oldest = next(study for study in self._cache if study != self.current)
            del self._cache[oldest]
        if job_id not in self.states:
            rows, columns = loaded.image.shape
            window, lut_index = first_voi(loaded)
            self.states[job_id] = ViewState(columns, rows, window, lut_index)
        self.study_loaded.emit(job_id, loaded.image)
        if job_id == self.current:
            self.current_ready.emit(job_id, loaded, self.states[job_id])
        if job_id in self._fetching:
            self._fetching.discard(job_id)
            self.fetched.emit(job_id, loaded, self.states[job_id])

    def _on_job_failed(self, job_id: int, message: str) -> None:
        if job_id < 0:
            requested, _show = self._scans.pop(job_id)
            log.error("could not scan %s: %s", ", ".join(map(str, requested)), message)
            for path in requested:
                self._fail(self._add_study(path), message)
            return
        self._fail(job_id, message)

    def _fail(self, study: int, message: str) -> None:
        log.warning("%s", message)
        self._fetching.discard(study)
        self.errors[study] = message
        self.study_failed.emit(study, message)
        if study == self.current:
            self.current_failed.emit(study, message)

    def _on_scanned(self, requested: list[Path], scan, show: bool) -> None:
        named = {path.resolve() for path in requested}
        new = [self._add_study(path) for path in scan.studies]
        inside_folders = []
        for path, reason in scan.skipped:
            # A file the reader named is listed with its reason; strays found in folders are reported.
            if path.resolve() in named:
                self._fail(self._add_study(path), reason if str(path) in reason else f"{path}: {reason}")
            else:
                inside_folders.append((path, reason))
        if inside_folders:
            self.files_skipped.emit(inside_folders)
        # What the reader just opened is shown: its first study, even when another was being read
        # (issue 20: opening a folder left the previous study on screen).
        if new and (show or self.current is None):
            self.select(new[0])
        elif self.current is None and self.paths:
            self.select(len(self.paths) - 1)
        for study in new:
            self._queue_load(study, 0)
