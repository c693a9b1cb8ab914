"""The window's analysis service: the study shown through `analysis.study.StudyAnalysis`, one step at
a time, in a worker.

For the study shown: gate → classifiers → TB lesions → lungs → soft tissue → maps (for the class the
reader selected; maps asked for with `request_maps` go right after the findings), each a job on one
worker thread, so loading and drawing keep the other core. Each study's StudyAnalysis lives as long
as its arrays are kept, so its maps reuse its classifier's forward pass and its lungs are computed
once for the lung layer, the soft-tissue blend and a lung-cropped classifier. Only
the shown study's steps run: showing another study drops the queued steps of the previous one, and
the outcome of a step still running for it is dropped when it arrives. Outcomes (results and error
messages) are cached per (study, step, model, card stamp, class): returning to a study emits them at
once and runs only what is missing; a reinstalled model (its card rewritten) runs again. The arrays
of studies not shown are dropped, oldest first, beyond `STUDIES_KEPT` studies or `CACHE_BYTES`.

Signals carry the study id the window gave (`analyse(study, ...)`; `progress` gives None, 0, 0 when no
study is shown); kinds and payloads:
"gate" (model, GateResult), "finding" (model, Finding), "lesions" (model, LesionFinding),
"lungs" (model, (H, W) float32 P(lung)), "soft_tissue" (bone model, (soft tissue, bones) (H, W)
float32 on the pixels' [0, 1] scale), "maps" ((model, class index), {method: (H, W) float32}).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal

from cxrviewer import paths
from cxrviewer.analysis import pipeline
from cxrviewer.analysis.study import STEP_KINDS, Classify, StudyAnalysis
from cxrviewer.core.image import ImageMeta
from cxrviewer.gui.workers import JobRunner
from cxrviewer.runtime.providers import choose_providers, provider_label
from cxrviewer.runtime.registry import installed_models

log = logging.getLogger(__name__)

Array = npt.NDArray[np.float32]

FINDING_KINDS = ("gate", "finding", "lesions")  # what the findings panel shows
SMALL_KINDS = ("gate", "finding")  # no arrays: kept for every study seen (up to SMALL_STUDIES_KEPT)
STUDIES_KEPT = 4  # the shown study and the last three: flicking back and forth costs nothing
CACHE_BYTES = 512 * 2**20  # about 4 studies of 2048² with every layer (16 MB per float32 map)
SMALL_STUDIES_KEPT = 1000
RESCAN_DELAY_MS = 500  # an export touches the folder several times (staging, files, card last)


@dataclass(frozen=True)
class Step:
    """One step of one study. key: the model name, or (model, class index) for maps. stamp: the
    card stamps of the models it uses (another stamp is another result)."""

    study: object
    kind: str
    key: object
    stamp: tuple


@dataclass(frozen=True)
class _Failure:
    message: str


def _nbytes(payload: object) -> int:
    if isinstance(payload, np.ndarray):
        return payload.nbytes
    if isinstance(payload, tuple | list):
        return sum(_nbytes(p) for p in payload)
    if isinstance(payload, dict):
        return sum(_nbytes(p) for p in payload.values())
    if isinstance(payload, pipeline.LesionFinding):
        return payload.probability.nbytes
    return 0


class AnalysisService(QObject):
    """One per window. Feed it the shown study with `analyse`; listen to its signals."""

    result_ready = Signal(object, str, object, object)  # study, kind, key, payload
    step_failed = Signal(object, str, object, str)  # study, kind, key, message naming the model
    progress = Signal(object, int, int)  # study, steps done, steps planned
    provider_changed = Signal(str)  # "CPU" or "CUDA": what the last model really ran on
    study_changed = Signal(object, object)  # study shown (None: none), its ImageMeta or None
    models_changed = Signal()  # the installed models were listed again

    def __init__(self, parent: QObject | None = None, *, models_dir: Path | None = None,
                 classify: Classify | None = None):
        super().__init__(parent)
        self._models_dir, self._classify = models_dir, classify
        self.runner = JobRunner(max_threads=1, parent=self)
        self.runner.succeeded.connect(self._on_succeeded)
        self.runner.failed.connect(lambda job, message: self._on_succeeded(job, _Failure(message)))
        self.roles = pipeline.ModelRoles()
        self._stamps: dict[str, tuple[int, int]] = {}
        self._listing: tuple | None = None  # (roles, stamps, installed model names) as last read
        self.study: object | None = None
        self.meta: ImageMeta | None = None
        self._pixels: Array | None = None
        self._cache: OrderedDict[object, dict[Step, object]] = OrderedDict()  # study → outcomes, oldest first
        self._analyses: dict[object, StudyAnalysis] = {}  # study → its steps' shared work, while its arrays are kept
        self._queue: list[Step] = []
        self._running: tuple[int, Step] | None = None
        self._next_job = 0
        self._planned: dict[object, set[Step]] = {}
        self._selected: tuple[str, int] | None = None  # the class the maps explain, for every study
        self.provider = provider_label(choose_providers())
        self._rescan = QTimer(self, singleShot=True, interval=RESCAN_DELAY_MS, timeout=self.refresh_models)
        self._watcher = QFileSystemWatcher(self)
        self._watcher.directoryChanged.connect(lambda _path: self._rescan.start())
        self._read_models()

    @property
    def models_dir(self) -> Path:
        return self._models_dir if self._models_dir is not None else paths.models_dir()

    @property
    def busy(self) -> bool:
        return self._running is not None or bool(self._queue)

    def stamp(self, name: str) -> tuple[int, int]:
        """The card stamp of model `name` as last listed ((0, 0) if it is not installed)."""
        return self._stamps.get(name, (0, 0))

    # -- the reader's side ---------------------------------------------------------------------------
    def analyse(self, study: object, pixels: Array, meta: ImageMeta | None = None) -> None:
        """Show `study` (pixels (H, W) float32 [0, 1], air dark): drop other studies' queued steps, emit
        its cached outcomes, and queue what it lacks. Calling it again for the shown study queues only
        what is missing (after a model was installed, say)."""
        if study != self.study:
            self._drop_other_studies(study)
        self.study, self._pixels, self.meta = study, pixels, meta
        self._cache.setdefault(study, {})
        self._cache.move_to_end(study)
        self._read_models()
        self.study_changed.emit(study, meta)
        self._plan()

    def clear(self) -> None:
        """No study is shown (it failed to load): drop every queued step."""
        self._drop_other_studies(None)
        self.study, self._pixels, self.meta = None, None, None
        self.study_changed.emit(None, None)
        self.progress.emit(None, 0, 0)

    def request_maps(self, study: object, model: str, class_index: int) -> None:
        """Compute the maps of classifier `model` for `class_index` on `study` (if shown), after its
        findings and before its image layers; the choice stays for the studies shown after it."""
        self._selected = (model, int(class_index))
        self._queue = [s for s in self._queue if s.kind != "maps"]  # another class was asked before
        if study == self.study and self._pixels is not None:
            cached = self.cached(study, "maps", self._selected)
            if cached is not None:
                self.result_ready.emit(study, "maps", self._selected, cached)
            self._plan(first=("maps",), emit_cached=False)

    def forget_maps_choice(self) -> None:
        """No class is chosen for the maps (a new study whose default is not decided yet): no maps
        step is planned until `request_maps` names one."""
        self._selected = None
        self._queue = [s for s in self._queue if s.kind != "maps"]

    def refresh_models(self) -> None:
        """List the installed models again (after an install) and queue what the shown study lacks."""
        self._read_models()
        if self.study is not None and self._pixels is not None:
            self._plan(emit_cached=False)

    def cached(self, study: object, kind: str, key: object) -> object | None:
        """The payload of a step already computed for `study` with the installed model, or None."""
        outcome = self._outcome(study, kind, key)
        return None if isinstance(outcome, _Failure) else outcome

    def failure(self, study: object, kind: str, key: object) -> str | None:
        """The error message of a step that failed for `study` with the installed model, or None."""
        outcome = self._outcome(study, kind, key)
        return outcome.message if isinstance(outcome, _Failure) else None

    def pending(self, study: object, kinds: Iterable[str] = STEP_KINDS) -> bool:
        """True while a step of one of `kinds` is queued or running for `study`."""
        kinds = set(kinds)
        steps = self._queue + ([self._running[1]] if self._running else [])
        return any(s.study == study and s.kind in kinds for s in steps)

    def shutdown(self) -> None:
        self._queue.clear()
        self._running = None
        self.runner.cancel_all()
        self.runner.wait()

    # -- planning ------------------------------------------------------------------------------------
    def _read_models(self) -> None:
        folder = self.models_dir
        if folder.is_dir() and str(folder) not in self._watcher.directories():
            self._watcher.addPath(str(folder))
        roles = pipeline.model_roles(folder)
        names = [roles.gate, *roles.classifiers, *roles.lesions, roles.lungs, roles.bone_suppression]
        stamps = {name: pipeline.card_stamp(folder, name) for name in names if name is not None}
        listing = (roles, stamps, installed_models(folder))
        if listing != self._listing:  # listeners re-read the cards only when something changed
            self.roles, self._stamps, self._listing = listing
            self.models_changed.emit()

    def _step(self, study: object, kind: str, key: object) -> Step:
        """The step of `kind` and `key` for `study` with the models installed now."""
        if kind == "maps":
            return Step(study, kind, key, (self.stamp(key[0]),))
        if kind == "soft_tissue":
            lungs = self.roles.lungs
            return Step(study, kind, key, (self.stamp(key), (lungs, self.stamp(lungs)) if lungs else None))
        return Step(study, kind, key, (self.stamp(key),))

    def _steps(self, study: object) -> list[Step]:
        """The steps the installed models make for `study`, in the order they run."""
        roles = self.roles
        keys = [("gate", roles.gate), *(("finding", name) for name in roles.classifiers),
                *(("lesions", name) for name in roles.lesions), ("lungs", roles.lungs), ("soft_tissue", roles.bone_suppression)]
        if self._selected is not None and self._selected[0] in roles.classifiers:
            keys.append(("maps", self._selected))
        return [self._step(study, kind, key) for kind, key in keys if key is not None]

    def _plan(self, first: tuple[str, ...] = (), emit_cached: bool = True) -> None:
        """Queue the shown study's missing steps (those of kinds `first` ahead of the queued image
        steps), after emitting its cached outcomes when `emit_cached`."""
        study = self.study
        steps = self._steps(study)
        self._planned[study] = set(steps)
        cache = self._cache[study]
        waiting = set(self._queue) | ({self._running[1]} if self._running else set())
        for step in steps:
            if emit_cached and step in cache:
                self._emit(step, cache[step])
        new = [s for s in steps if s not in cache and s not in waiting]
        # Asked-for steps go ahead of the image layers, but not of the findings (gate, classifiers,
        # lesions): those decide what the reader is shown at all.
        ahead = [s for s in self._queue if s.kind in FINDING_KINDS]
        self._queue = (ahead + [s for s in new if s.kind in first] + [s for s in self._queue if s not in ahead]
                       + [s for s in new if s.kind not in first])
        self._emit_progress(study)
        self._pump()

    def _drop_other_studies(self, study: object) -> None:
        self._queue = [s for s in self._queue if s.study == study]
        if self._running is not None and self._running[1].study != study:
            self.runner.cancel(self._running[0])  # it finishes in the worker; its outcome is dropped
            self._running = None

    # -- running -------------------------------------------------------------------------------------
    def _pump(self) -> None:
        if self._running is not None or not self._queue:
            return
        step = self._queue.pop(0)
        self._next_job += 1
        self._running = (self._next_job, step)
        self.runner.submit(self._next_job, self._work(step))

    def _work(self, step: Step) -> Callable:
        """The job of a step: a closure over the study's StudyAnalysis, so it touches no service state."""
        analysis = self._analyses.get(step.study)
        if (analysis is None or analysis.pixels is not self._pixels or analysis.models_dir != self.models_dir
                or analysis.roles != self.roles):
            analysis = StudyAnalysis(self._pixels, self.models_dir, roles=self.roles, classify=self._classify)
            self._analyses[step.study] = analysis
        kind, key = step.kind, step.key
        return lambda _token: analysis.run(kind, key)

    def _on_succeeded(self, job: int, outcome: object) -> None:
        if self._running is None or self._running[0] != job:
            return
        step = self._running[1]
        self._running = None
        if isinstance(outcome, _Failure):
            model = step.key[0] if step.kind == "maps" else step.key
            if not outcome.message.startswith(f"model {model}"):  # an unexpected error names no model
                outcome = _Failure(f"model {model}: {outcome.message}")
            log.warning("%s of study %s: %s", step.kind, step.study, outcome.message)
        self._cache.setdefault(step.study, {})[step] = outcome
        provider = getattr(outcome, "provider", "")
        if provider and provider != self.provider:
            self.provider = provider
            self.provider_changed.emit(provider)
        self._evict()
        self._emit(step, outcome)
        self._emit_progress(step.study)
        self._pump()

    def _emit(self, step: Step, outcome: object) -> None:
        if isinstance(outcome, _Failure):
            self.step_failed.emit(step.study, step.kind, step.key, outcome.message)
        else:
            self.result_ready.emit(step.study, step.kind, step.key, outcome)

    def _emit_progress(self, study: object) -> None:
        planned = self._planned.get(study, set())
        done = sum(1 for step in planned if step in self._cache.get(study, {}))
        self.progress.emit(study, done, len(planned))

    # -- the cache -----------------------------------------------------------------------------------
    def _outcome(self, study: object, kind: str, key: object) -> object | None:
        return self._cache.get(study, {}).get(self._step(study, kind, key))

    def _evict(self) -> None:
        """Drop the arrays of the oldest studies not shown while more than STUDIES_KEPT studies hold
        arrays or they take more than CACHE_BYTES; then whole studies beyond SMALL_STUDIES_KEPT."""
        sizes = {study: sum(_nbytes(o) for o in outcomes.values()) for study, outcomes in self._cache.items()}
        holding = [study for study, size in sizes.items() if size]  # oldest first
        total = sum(sizes.values())
        for study in [s for s in holding if s != self.study]:
            if len(holding) <= STUDIES_KEPT and total <= CACHE_BYTES:
                break
            self._cache[study] = {s: o for s, o in self._cache[study].items() if s.kind in SMALL_KINDS}
            self._analyses.pop(study, None)
            holding.remove(study)
            total -= sizes[study]
        while len(self._cache) > SMALL_STUDIES_KEPT:
            gone = next(s for s in self._cache if s != self.study)
            del self._cache[gone]
            self._planned.pop(gone, None)
            self._analyses.pop(gone, None)
