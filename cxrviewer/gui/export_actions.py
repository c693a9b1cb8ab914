"""File menu exports of the current view: PNG, a one-page PDF report, a DICOM Secondary Capture, and
an "Anonymise exports" option remembered in the window's settings.

`ExportActions(window)` makes the actions and reads what to export through the window's public
attributes (settings, canvas, findings panel, analysis service); the window places the actions in
its File menu and tells them when the shown study changes (`update_enabled`). The pixels are the window's
`composed_view()` (base + visible layers, through `core.display.compose.compose`, flipped and rotated
as on screen) when the window has it; a window without layers exports its displayed grey levels
through the same functions. Every file says how the reader had turned the study
(ExportContent.orientation). Files are encoded and written by `cxrviewer.core.export` (the PDF
report by `cxrviewer.printing`, in the fonts the program carries) in a background job (about a
second for a PNG at 2048²), atomically: a failure leaves nothing behind and is shown naming the file.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMessageBox

from cxrviewer.analysis.findings import Finding
from cxrviewer.analysis.gate import GateResult
from cxrviewer.analysis.pipeline import LesionFinding
from cxrviewer.analysis.report_readings import (
    finding_reading,
    gate_verdict,
    lesion_reading,
    pending_reading,
    withheld_reading,
)
from cxrviewer.core.cards import ModelCard, card_path, load_card
from cxrviewer.core.display.compose import compose
from cxrviewer.core.errors import ModelError
from cxrviewer.core.export import (
    ExportContent,
    Reading,
    write_png,
    write_secondary_capture,
)
from cxrviewer.core.export.content import BURNED_IN_CAUTION
from cxrviewer.core.orientation import Orientation
from cxrviewer.gui.workers import JobRunner
from cxrviewer.printing import write_report_pdf
from cxrviewer.printing.fonts import FontsMissing, register_fonts

log = logging.getLogger(__name__)

ANONYMISE_KEY = "export/anonymise"
FOLDER_KEY = "export/folder"
# name → (menu text, file filter, suffix, writer)
EXPORTS = {
    "export_png": ("Export view as &PNG…", "PNG images (*.png)", ".png", write_png),
    "export_pdf": ("Export &report as PDF…", "PDF documents (*.pdf)", ".pdf", write_report_pdf),
    "export_dicom": ("Export DICOM &Secondary Capture…", "DICOM files (*.dcm)", ".dcm", write_secondary_capture),
}


def gather_content(window, anonymise: bool) -> ExportContent | None:
    """What the window shows now as an ExportContent, or None when no study is shown."""
    image = window.canvas.image
    if image is None:
        return None
    state = window.canvas.state
    orientation = state.orientation if state is not None else Orientation()
    legends = ()
    if hasattr(window, "composed_view"):
        composed = window.composed_view()
        layers = tuple(window.visible_layer_summary()) if hasattr(window, "visible_layer_summary") else ()
        if getattr(window, "layers", None) is not None and hasattr(window.layers, "visible_layer_legends"):
            legends = tuple(window.layers.visible_layer_legends())
    else:
        composed, layers = orientation.apply(compose(window.canvas.displayed_image(), [])), ()
    if composed is None:
        return None
    readings, gate, cards = _readings(window)
    cards += _image_model_cards(window, {card.name for card in cards})
    return ExportContent(composed, layers, image.meta, tuple(readings), gate, tuple(cards), anonymise,
                         orientation=orientation, legends=legends)


WITHHELD_IN_REPORT = "; findings withheld, as on screen (the reader did not choose to see them)"


def _readings(window) -> tuple[list[Reading], str, list[ModelCard]]:
    """The findings panel's outcomes for the shown study: the gate's verdict, and, if the findings
    are on screen (`FindingsPanel.findings_shown`), each classifier's Finding and the TB lesion
    model's LesionFinding, with the cards of the models that spoke. A report never says more than
    the screen: withheld findings stay out of it (each model's summary line says "withheld" and why,
    without a figure or its card), and the gate line says so."""
    panel = window.findings_panel
    readings: list[Reading] = []
    gate, cards = "", []
    shown = panel.findings_shown()
    for entry in panel.entries:
        if entry.card is None:
            continue
        if entry.kind != "gate" and not shown:
            readings.append(withheld_reading(entry.name, entry.card))
            continue
        cards.append(entry.card)
        outcome = panel.outcome(entry.name)
        if entry.kind == "gate":
            gate = (gate_verdict(outcome) + ("" if shown else WITHHELD_IN_REPORT) if isinstance(outcome, GateResult)
                    else f"{entry.name}: {pending_reading(entry.name, outcome).result}")
        elif isinstance(outcome, Finding):
            readings.append(finding_reading(outcome, entry.card))
        elif isinstance(outcome, LesionFinding):
            readings.append(lesion_reading(outcome, entry.card))
        else:
            readings.append(pending_reading(entry.name, outcome))
    return readings, gate, cards


def _image_model_cards(window, known: set[str]) -> list[ModelCard]:
    """Cards of the image models whose output the analysis holds for the shown study (the lung mask,
    the soft-tissue view): the models behind those layers, whether or not a layer shows them now."""
    service = window.analysis
    roles = service.roles
    cards = []
    for kind, name in (("lungs", roles.lungs), ("soft_tissue", roles.bone_suppression)):
        if name is None or name in known or service.cached(service.study, kind, name) is None:
            continue
        try:
            cards.append(load_card(card_path(service.models_dir, name), verify_files=False))
        except (OSError, ModelError) as error:
            log.warning("model %s left out of the report: %s", name, error)
    return cards


class ExportActions(QObject):
    """The export actions of one window (parented to it, so they live as long as it does)."""

    finished = Signal(str, str)  # the file, and "" when written or the reason it was not

    def __init__(self, window):
        super().__init__(window)
        try:  # in the UI thread, before any report is drawn in the background
            register_fonts()
        except FontsMissing as error:  # the PDF export will say so, naming its file
            log.error("%s", error)
        self.window = window
        self.actions: dict[str, QAction] = {}
        self.runner = JobRunner(max_threads=1, parent=self)
        self.runner.succeeded.connect(self._on_written)
        self.runner.failed.connect(self._on_failed)
        self._jobs: dict[int, tuple[Path, ExportContent]] = {}
        self._next_job = 0
        for name, (text, _filter, _suffix, _writer) in EXPORTS.items():
            action = QAction(text, window)
            action.triggered.connect(lambda _checked=False, n=name: self.export(n))
            self.actions[name] = action
        anonymise = QAction("&Anonymise exports", window, checkable=True)
        anonymise.setChecked(window.settings.value(ANONYMISE_KEY, False, type=bool))
        anonymise.setToolTip("Leave patient names, IDs, dates, UIDs and the file name out of every export")
        anonymise.toggled.connect(lambda on: window.settings.setValue(ANONYMISE_KEY, on))
        self.actions["anonymise_exports"] = anonymise
        self.update_enabled()

    @property
    def anonymise(self) -> bool:
        return self.actions["anonymise_exports"].isChecked()

    def update_enabled(self, *_args) -> None:
        """The exports are offered while the canvas shows a study."""
        shown = self.window.canvas.image is not None
        for name in EXPORTS:
            self.actions[name].setEnabled(shown)

    def export(self, name: str, path: str | Path | None = None) -> Path | None:
        """Export the shown study as `name` ("export_png", "export_pdf", "export_dicom") to `path`
        (asked for when None). The view and findings are taken now; the file is encoded and written
        in the background, and `finished` tells how it went. Returns the target, or None when there
        is nothing to export or the reader cancelled."""
        text, file_filter, suffix, writer = EXPORTS[name]
        content = gather_content(self.window, self.anonymise)
        if content is None:
            self.window.statusBar().showMessage("Open a study to export it", 5000)
            return None
        if path is None:
            chosen, _ = QFileDialog.getSaveFileName(self.window, text.replace("&", "").rstrip("…"),
                                                    str(self._suggested(content, suffix)), file_filter)
            if not chosen:
                return None
            path = chosen
        path = Path(path)
        if path.suffix.lower() != suffix:
            path = path.with_name(path.name + suffix)
        self._next_job += 1
        self._jobs[self._next_job] = (path, content)
        self.window.statusBar().showMessage(f"Exporting {path}…")
        self.runner.submit(self._next_job, lambda _token: writer(path, content))
        return path

    def _on_written(self, job: int, _result: object) -> None:
        path, content = self._jobs.pop(job)
        self.window.settings.setValue(FOLDER_KEY, str(path.parent))
        note = " (anonymised)" if content.anonymise else ""
        if content.anonymise and content.burned_in:
            note += f"; caution: {BURNED_IN_CAUTION}"
        self.window.statusBar().showMessage(f"Exported {path}{note}", 10000)
        self.finished.emit(str(path), "")

    def _on_failed(self, job: int, message: str) -> None:
        path, _content = self._jobs.pop(job)
        log.error("export to %s failed: %s", path, message)
        self.window.statusBar().showMessage(f"Export to {path} failed", 10000)
        QMessageBox.critical(self.window, "Export failed", f"Could not write {path}:\n{_problem(path, message)}")
        self.finished.emit(str(path), message)

    def _suggested(self, content: ExportContent, suffix: str) -> Path:
        folder = Path(self.window.settings.value(FOLDER_KEY, "", type=str) or Path.home())
        stem = "anonymised" if content.anonymise or content.meta is None else content.meta.path.stem
        kind = {".png": "view", ".pdf": "report", ".dcm": "sc"}[suffix]
        return folder / f"{stem}_{kind}{suffix}"


def _problem(path: Path, message: str) -> str:
    """An ExportError's message without the path it starts with (the dialog names the file)."""
    prefix = f"{path}: "
    return message[len(prefix):] if message.startswith(prefix) else message

