"""Training and export in a separate process, reporting plain dicts through a queue.

The training dialog runs the core here instead of in a thread of the viewer: a run that exhausts
memory, crashes inside a native library or hangs cannot take the viewer down, and the viewer never
imports torch. This module imports no torch at top level, so the viewer can import it to start a
child; the entry points (`train_entry`, `export_entry`, `probe_entry`) import torch inside the child.

Every message is a plain dict with a "kind":
    {"kind": "progress", <the fields of training.run.Progress>}
    {"kind": "log", "level": "WARNING", "message": "..."}        the child's cxrviewer log records
    {"kind": "result", "run_dir", "best_checkpoint", "cancelled", "epochs_done", "wall_time_s",
     "history": [...], "metrics": {"val": {...}, "test": {...}}, "counts": {"val": n, "test": n}, "threshold", "plots": [...],
     "exportable", "export_problem"}                               a run ended (finished or cancelled)
    {"kind": "exported", "name", "card"}                          a model was installed
    {"kind": "devices", "cuda": ["GPU name", ...]}               what the child's torch can use
    {"kind": "error", "message", "detail"}                        a CxrError, or a bug with its traceback
One of the last four ends every job; a child that exits without one has crashed.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import multiprocessing
import queue as queue_module
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cxrviewer.core.errors import CxrError
from cxrviewer.training.architectures import ARCHITECTURES

log = logging.getLogger(__name__)

FINAL_KINDS = ("result", "exported", "devices", "error")


class ChildJob:
    """One job in a `spawn`-started child process; the parent polls `messages()` and may cancel.

    `target(*args, queue, cancel)` runs in the child. The process is a daemon, so it ends with the
    viewer. Cancelling sets an Event the training loop checks between steps; `terminate()` is for a
    child that does not stop (its queue is then abandoned, since a killed writer may corrupt it).
    """

    def __init__(self, target: Callable[..., None], *args: Any, name: str = "cxrviewer-job"):
        context = multiprocessing.get_context("spawn")
        self._queue = context.Queue()
        self._cancel = context.Event()
        self._process = context.Process(target=target, args=(*args, self._queue, self._cancel), name=name,
                                        daemon=True)

    def start(self) -> None:
        self._process.start()
        log.info("started %s (pid %s)", self._process.name, self._process.pid)

    def messages(self) -> list[dict[str, Any]]:
        """Every message that has arrived, without blocking."""
        found = []
        while True:
            try:
                found.append(self._queue.get_nowait())
            except queue_module.Empty:
                return found
            except (EOFError, OSError, ValueError):  # queue closed or its pipe broken by a killed child
                return found

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def alive(self) -> bool:
        return self._process.is_alive()

    @property
    def exitcode(self) -> int | None:
        return self._process.exitcode

    def terminate(self, wait_s: float = 2.0) -> None:
        if self._process.is_alive():
            log.warning("terminating %s (pid %s)", self._process.name, self._process.pid)
            self._process.terminate()
            self._process.join(wait_s)
            if self._process.is_alive():
                self._process.kill()
                self._process.join(wait_s)

    def close(self, wait_s: float = 0.0) -> None:
        """Release the queue; wait up to `wait_s` for the child to exit (an exiting child that is not
        waited for is reaped by multiprocessing later, so the UI thread need not block)."""
        self._process.join(wait_s)
        self._queue.close()
        self._queue.cancel_join_thread()


def crash_message(exitcode: int | None) -> str:
    """Words for a child that exited without reporting: negative codes are signals on POSIX."""
    if exitcode is not None and exitcode < 0:
        import signal

        try:
            how = f"killed by signal {signal.Signals(-exitcode).name}"
        except ValueError:
            how = f"killed by signal {-exitcode}"
    else:
        how = f"exit code {exitcode}"
    return f"the training process ended unexpectedly ({how}); the viewer is unaffected"


class _QueueLogHandler(logging.Handler):
    def __init__(self, queue: Any):
        super().__init__(logging.INFO)
        self._queue = queue

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._queue.put({"kind": "log", "level": record.levelname, "message": record.getMessage()})
        except Exception:  # logging must never raise into the job; the record is lost, the job goes on
            self.handleError(record)


@contextmanager
def _reporting(queue: Any) -> Iterator[None]:
    """Forward the child's log records, and turn any exception into an "error" message."""
    package_log = logging.getLogger("cxrviewer")
    package_log.setLevel(logging.INFO)
    package_log.addHandler(_QueueLogHandler(queue))
    try:
        yield
    except CxrError as error:
        queue.put({"kind": "error", "message": str(error), "detail": ""})
    except Exception as error:  # a bug or a resource failure: the dialog shows it with its traceback
        queue.put({"kind": "error", "message": f"unexpected error: {type(error).__name__}: {error}",
                   "detail": traceback.format_exc()})


def export_problem(config_dict: dict[str, Any]) -> str:
    """Why a run of this config cannot be installed in the viewer, or "" when it can.

    Export writes the architecture's own input size into the card; a net trained at another size
    would be fed the wrong scale by the viewer (the training core refuses it for the same reason).
    """
    spec = ARCHITECTURES.get(config_dict.get("arch", ""))
    size = config_dict.get("input", {})
    if spec is None:
        return ""
    if (size.get("height"), size.get("width")) != spec.input_size:
        return (f"{spec.name} is installed at {spec.input_size[0]}x{spec.input_size[1]}; this run trains at "
                f"{size.get('height')}x{size.get('width')}, so its model can be evaluated but not installed")
    return ""


def train_entry(config_dict: dict[str, Any], queue: Any, cancel: Any) -> None:
    """Child: validate the config, train, and report a "result" (or an "error")."""
    with _reporting(queue):
        from cxrviewer.training.config import config_from_dict
        from cxrviewer.training.evaluation import headline
        from cxrviewer.training.run import train

        config = config_from_dict(config_dict, origin="training dialog")

        def report(progress: Any) -> None:
            queue.put({"kind": "progress", **dataclasses.asdict(progress)})

        result = train(config, progress=report, cancel=cancel)
        metrics_file = result.run_dir / "metrics.json"
        scores = json.loads(metrics_file.read_text(encoding="utf-8")) if result.metrics and metrics_file.exists() else {}
        plots = sorted(str(p) for p in (result.run_dir / "plots").glob("*.png")) if scores else []
        problem = export_problem(config_dict)
        queue.put({
            "kind": "result",
            "run_dir": str(result.run_dir),
            "best_checkpoint": str(result.best_checkpoint) if result.best_checkpoint else "",
            "cancelled": result.cancelled,
            "epochs_done": result.epochs_done,
            "wall_time_s": result.wall_time_s,
            "history": result.history,
            "metrics": {split: headline(config.task, scores[split]) for split in ("val", "test") if split in scores},
            "counts": {split: scores[split].get("n") for split in ("val", "test") if split in scores},
            "threshold": scores.get("threshold"),
            "plots": plots,
            "exportable": bool(result.best_checkpoint) and not result.cancelled and not problem,
            "export_problem": problem,
        })


def export_entry(checkpoint: str, models_dir: str, name: str, queue: Any, cancel: Any) -> None:
    """Child: export the checkpoint as model `name` into `models_dir` (atomic; parity-checked)."""
    with _reporting(queue):
        from cxrviewer.core.cards import card_path
        from cxrviewer.training.export import export_model

        card = export_model(Path(checkpoint), Path(models_dir) / name)
        queue.put({"kind": "exported", "name": card.name, "card": str(card_path(Path(models_dir), card.name))})


def probe_entry(queue: Any, cancel: Any) -> None:
    """Child: which CUDA devices torch can use here (none on a CPU-only machine)."""
    with _reporting(queue):
        import torch

        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        queue.put({"kind": "devices", "cuda": [torch.cuda.get_device_name(i) for i in range(count)]})
