"""What the storage service received, grouped by study: a study sent over several associations (or
by several senders) is one study. A study is reported once nothing more arrived for it during a
quiet period, and again, whole, if more of it arrives later.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

log = logging.getLogger(__name__)

QUIET_SECONDS = 2.0


@dataclass(frozen=True)
class ReceivedInstance:
    """One stored instance. problem: "" when the viewer can show it, else why not (its transfer
    syntax has no decoder here); the file is kept either way."""

    path: Path
    study_uid: str
    series_uid: str
    sop_instance_uid: str
    sop_class_uid: str
    transfer_syntax: str
    sender: str
    patient_id: str = ""
    patient_name: str = ""
    accession: str = ""
    modality: str = ""
    problem: str = ""


@dataclass(frozen=True)
class ReceivedStudy:
    """A study as received so far; `report` counts how often it was reported (1 the first time)."""

    study_uid: str
    instances: tuple[ReceivedInstance, ...]
    report: int = 1

    @property
    def patient_id(self) -> str:
        return self.instances[0].patient_id

    @property
    def senders(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(i.sender for i in self.instances))

    @property
    def problems(self) -> tuple[str, ...]:
        return tuple(f"{i.path.name}: {i.problem}" for i in self.instances if i.problem)

    @property
    def series_count(self) -> int:
        return len({i.series_uid for i in self.instances})

    def describe(self) -> str:
        first = self.instances[0]
        text = (f"study {self.study_uid}: {len(self.instances)} instance(s) in {self.series_count} series, "
                f"patient {first.patient_id or '?'}, {first.modality or '?'}, from {', '.join(self.senders)}")
        return text + "".join(f"; cannot be shown: {p}" for p in self.problems)


class StudyGrouper:
    """Collects instances by study UID and calls `on_study(ReceivedStudy)` from its own thread once
    a study has been quiet for `quiet_seconds`. Owned by its creator: `close()` stops the thread
    (reporting what is pending first)."""

    def __init__(self, on_study: Callable[[ReceivedStudy], None], quiet_seconds: float = QUIET_SECONDS):
        self._on_study = on_study
        self._quiet = quiet_seconds
        self._studies: dict[str, ReceivedStudy] = {}
        self._last: dict[str, float] = {}
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cxrviewer-study-grouper", daemon=True)
        self._thread.start()

    def add(self, instance: ReceivedInstance) -> None:
        with self._lock:
            study = self._studies.get(instance.study_uid)
            if study is None:
                study = ReceivedStudy(instance.study_uid, (), 0)
            kept = tuple(i for i in study.instances if i.sop_instance_uid != instance.sop_instance_uid)
            self._studies[instance.study_uid] = replace(study, instances=(*kept, instance))
            self._last[instance.study_uid] = time.monotonic()
            self._pending.add(instance.study_uid)

    def studies(self) -> list[ReceivedStudy]:
        with self._lock:
            return list(self._studies.values())

    def _due(self, everything: bool) -> list[ReceivedStudy]:
        now, due = time.monotonic(), []
        with self._lock:
            for uid in sorted(self._pending):
                if everything or now - self._last[uid] >= self._quiet:
                    study = replace(self._studies[uid], report=self._studies[uid].report + 1)
                    self._studies[uid] = study
                    self._pending.discard(uid)
                    due.append(study)
        return due

    def _report(self, everything: bool = False) -> None:
        for study in self._due(everything):
            try:
                self._on_study(study)
            except Exception:  # one study's failure must not stop the reception of the next
                log.exception("handling received %s failed", study.describe())

    def _run(self) -> None:
        while not self._stop.wait(min(0.2, self._quiet / 4)):
            self._report()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._report(everything=True)
