"""Tools → Calibrate for this site…: a model's ROC and thresholds on the site's own films with outcomes.

The same core as `cxrviewer calibrate` (`analysis.calibration_films`, `analysis.calibration`): the
films are scored in a worker (the window stays responsive; Cancel stops between films), then the ROC
with the chosen point, the AUC with its interval, a table over thresholds at the programme's
prevalence, and the subgroups are shown. The site picks its threshold by target sensitivity or types
one; "Save as site threshold" writes it as a dated site setting (never a card edit), "Remove site
threshold" returns the model to its card.
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from cxrviewer import paths
from cxrviewer.analysis.calibration import DEFAULT_TARGET_SENSITIVITY
from cxrviewer.analysis.calibration_films import SiteCalibration, calibratable_models, calibrate_films
from cxrviewer.analysis.calibration_text import (
    SUBGROUP_HEADER,
    TABLE_HEADER,
    rates,
    saved_note,
    subgroup_rows,
    table_rows,
)
from cxrviewer.core.errors import CxrError
from cxrviewer.gui.workers import JobRunner

log = logging.getLogger(__name__)

SCORING_JOB = 1


def _row(*widgets: QWidget) -> QWidget:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        layout.addWidget(widget)
    return row


class CalibrationDialog(QDialog):
    """Non-modal. The owner calls `shutdown()` when it quits."""

    calibrated = Signal()  # a calibration is shown
    scoring_failed = Signal(str)
    site_threshold_changed = Signal(str)  # the model whose site threshold was saved or removed
    _film_scored = Signal(int, int, str)  # done, total, path: from the worker thread

    def __init__(self, parent: QWidget | None = None, *, models_dir: Path | None = None):
        super().__init__(parent)
        self.setWindowTitle("Calibrate for this site")
        self.models_dir = Path(models_dir) if models_dir is not None else paths.models_dir()
        self.result: SiteCalibration | None = None
        self.card = None
        self.runner = JobRunner(max_threads=1, parent=self)
        self.runner.succeeded.connect(self._on_scored)
        self.runner.failed.connect(self._on_failed)
        self._film_scored.connect(self._on_film_scored)

        self.model = QComboBox()
        self.model.addItems(calibratable_models(self.models_dir))
        self.model.currentTextChanged.connect(lambda _name: self._show_site_setting())
        self.films = QLineEdit()
        self.films.setPlaceholderText("folder of the site's films")
        self.outcomes = QLineEdit()
        self.outcomes.setPlaceholderText("CSV: file,outcome[,age,sex]")
        browse_films, browse_outcomes = QPushButton("Browse…"), QPushButton("Browse…")
        browse_films.clicked.connect(self._browse_films)
        browse_outcomes.clicked.connect(self._browse_outcomes)
        self.prevalence = QDoubleSpinBox()
        self.prevalence.setRange(0.0, 99.0)
        self.prevalence.setDecimals(2)
        self.prevalence.setSingleStep(0.5)
        self.prevalence.setSuffix(" %")
        self.prevalence.setSpecialValueText("the sample's own")
        self.by_target, self.by_threshold = QRadioButton("Target sensitivity"), QRadioButton("Threshold")
        self.by_target.setChecked(True)
        self._choice = QButtonGroup(self)
        self._choice.addButton(self.by_target)
        self._choice.addButton(self.by_threshold)
        self.target = QDoubleSpinBox()
        self.target.setRange(0.01, 1.0)
        self.target.setDecimals(2)
        self.target.setSingleStep(0.01)
        self.target.setValue(DEFAULT_TARGET_SENSITIVITY)
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(0.0, 1.0)
        self.threshold.setDecimals(4)
        self.threshold.setSingleStep(0.01)
        self.prevalence.valueChanged.connect(self._refresh)
        self.by_target.toggled.connect(self._refresh)
        # Editing either value chooses its way of choosing.
        self.target.valueChanged.connect(lambda _v: self._choose_by(self.by_target))
        self.threshold.valueChanged.connect(lambda _v: self._choose_by(self.by_threshold))

        form = QFormLayout()
        form.addRow("Model", self.model)
        form.addRow("Films", _row(self.films, browse_films))
        form.addRow("Outcomes", _row(self.outcomes, browse_outcomes))
        form.addRow("Prevalence", self.prevalence)
        form.addRow(_row(self.by_target, self.target, self.by_threshold, self.threshold))

        self.score_button, self.cancel_button = QPushButton("Score films"), QPushButton("Cancel")
        self.score_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        self.status = QLabel("Choose the films and their outcomes CSV.")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.site_label = QLabel()
        self.site_label.setWordWrap(True)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.plot = pg.PlotWidget(title="ROC on the site's films")
        self.plot.setLabel("bottom", "1 - specificity")
        self.plot.setLabel("left", "sensitivity")
        self.plot.setXRange(0, 1)
        self.plot.setYRange(0, 1)
        self.plot.setAspectLocked(True)
        self.plot.addLegend(offset=(-10, -10))
        self.plot.plot([0, 1], [0, 1], pen=pg.mkPen((150, 150, 150), style=Qt.PenStyle.DashLine))
        self.roc_curve = self.plot.plot([], [], pen=pg.mkPen((30, 110, 200), width=2), name="ROC")
        self.card_point = self.plot.plot([], [], pen=None, symbol="s", symbolBrush=(120, 120, 120), name="card")
        self.chosen_point = self.plot.plot([], [], pen=None, symbol="o", symbolSize=11, symbolBrush=(220, 60, 40),
                                           name="chosen")
        self.table = QTableWidget(0, len(TABLE_HEADER))
        self.table.setHorizontalHeaderLabels([h or "row" for h in TABLE_HEADER])
        self.subgroups = QTableWidget(0, len(SUBGROUP_HEADER))
        self.subgroups.setHorizontalHeaderLabels(list(SUBGROUP_HEADER))
        for table in (self.table, self.subgroups):
            table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
            table.verticalHeader().setVisible(False)
            table.verticalHeader().setDefaultSectionSize(22)
            table.horizontalHeader().setStretchLastSection(True)
        tables = QSplitter(Qt.Orientation.Vertical)
        tables.addWidget(self.table)
        tables.addWidget(self.subgroups)
        results = QSplitter(Qt.Orientation.Horizontal)
        results.addWidget(self.plot)
        results.addWidget(tables)
        results.setSizes([380, 720])

        self.save_button = QPushButton("Save as site threshold")
        self.remove_button = QPushButton("Remove site threshold")
        self.save_button.clicked.connect(self.save)
        self.remove_button.clicked.connect(self.remove)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(_row(self.score_button, self.cancel_button, self.progress))
        layout.addWidget(self.status)
        layout.addWidget(self.site_label)
        layout.addWidget(self.summary)
        layout.addWidget(results, stretch=1)
        layout.addWidget(_row(self.save_button, self.remove_button))
        self.resize(1150, 760)
        self._set_running(False)
        self._show_site_setting()

    # -- inputs ----------------------------------------------------------------------------------
    def _browse_films(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "The site's films", self.films.text())
        if folder:
            self.films.setText(folder)

    def _browse_outcomes(self) -> None:
        file, _ = QFileDialog.getOpenFileName(self, "Outcomes CSV", self.outcomes.text() or self.films.text(),
                                              "CSV (*.csv);;All files (*)")
        if file:
            self.outcomes.setText(file)

    def _choose_by(self, button: QRadioButton) -> None:
        if button.isChecked():
            self._refresh()
        else:
            button.setChecked(True)  # toggled: refreshes

    def _prevalence(self) -> float | None:
        value = self.prevalence.value()
        return None if value == self.prevalence.minimum() else value / 100

    # -- scoring ---------------------------------------------------------------------------------
    def start(self) -> bool:
        """Score the films in the worker; False (with the reason shown) when the inputs are missing."""
        name, films, outcomes = self.model.currentText(), self.films.text().strip(), self.outcomes.text().strip()
        problems = [text for text, missing in (("choose a model", not name), ("choose the films' folder", not films),
                                                ("choose the outcomes CSV", not outcomes)) if missing]
        if problems:
            self.status.setText("To calibrate: " + "; ".join(problems) + ".")
            return False
        models_dir = self.models_dir

        def work(token):
            from cxrviewer.analysis.installed import installed_model

            loaded = installed_model(name, models_dir)
            result = calibrate_films(loaded, [Path(films)], Path(outcomes), cancelled=lambda: token.cancelled,
                                     progress=lambda done, total, path: self._film_scored.emit(done, total, str(path)))
            return loaded.card, result

        self.result = None
        self.progress.setRange(0, 0)
        self.status.setText(f"Loading {name} and reading the outcomes…")
        self._set_running(True)
        self.runner.submit(SCORING_JOB, work)
        return True

    def cancel(self) -> None:
        if self.runner.pending(SCORING_JOB):
            self.runner.cancel(SCORING_JOB)
            self._set_running(False)
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
            self.status.setText("Cancelled; nothing was changed.")

    def _on_film_scored(self, done: int, total: int, path: str) -> None:
        if self.runner.pending(SCORING_JOB):
            self.progress.setRange(0, total)
            self.progress.setValue(done)
            self.status.setText(f"Scored {done} of {total} films ({Path(path).name})")

    def _on_scored(self, job_id: int, payload) -> None:
        self.card, self.result = payload
        self._set_running(False)
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        skipped = self.result.skipped
        self.status.setText(f"Scored {self.result.calibration.films} films" + (
            f"; skipped {len(skipped)}: " + "; ".join(f"{Path(p).name}: {r}" for p, r in skipped[:5])
            + ("…" if len(skipped) > 5 else "") if skipped else "."))
        cal = self.result.calibration
        self.roc_curve.setData(cal.roc.fpr, cal.roc.tpr)
        self._refresh()
        self.calibrated.emit()

    def _on_failed(self, job_id: int, message: str) -> None:
        self._set_running(False)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.status.setText(f"Could not calibrate: {message}")
        self.scoring_failed.emit(message)

    def _set_running(self, running: bool) -> None:
        self.score_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.save_button.setEnabled(not running and self.result is not None)

    # -- results ---------------------------------------------------------------------------------
    def chosen_threshold(self) -> float | None:
        """The threshold the site would save: by target sensitivity or as typed; None before scoring."""
        if self.result is None:
            return None
        if self.by_target.isChecked():
            return self.result.calibration.for_sensitivity(self.target.value())
        return self.threshold.value()

    def _labels(self) -> tuple[str, float]:
        from cxrviewer.analysis.findings import positive_label

        return positive_label(self.card)

    def _refresh(self, *_args) -> None:
        threshold = self.chosen_threshold()
        if threshold is None:
            return
        cal, prevalence = self.result.calibration, self._prevalence()
        label, card_threshold = self._labels()
        if self.by_target.isChecked():
            with QSignalBlocker(self.threshold):  # typing a threshold chooses that mode; showing one does not
                self.threshold.setValue(threshold)
        chosen, card = cal.at(threshold, prevalence), cal.at(card_threshold)
        self.chosen_point.setData([1 - chosen.specificity], [chosen.sensitivity])
        self.card_point.setData([1 - card.specificity], [card.sensitivity])
        shown_prevalence = prevalence if prevalence is not None else cal.sample_prevalence
        how = (f"the highest with sensitivity >= {self.target.value():.2f}" if self.by_target.isChecked() else "typed")
        self.summary.setText(
            f"<b>{self.card.name}</b> version {self.card.version} ({label}) on {cal.films} films, {cal.positives} "
            f"positive: AUC {cal.auc:.3f} (95 % CI {cal.auc_ci[0]:.3f}-{cal.auc_ci[1]:.3f}, {cal.n_boot} bootstrap "
            f"resamples)<br>Card threshold {card_threshold:.4f}: {rates(card)}<br><b>Chosen threshold "
            f"{threshold:.4f}</b> ({how}): {rates(chosen)}<br>PPV {chosen.ppv:.3f}, NPV {chosen.npv:.4f} at "
            f"{100 * shown_prevalence:.2f} % prevalence; per 1,000 screened: {chosen.tests_per_1000:.1f} confirmatory "
            f"tests, {chosen.found_per_1000:.1f} cases found, {chosen.missed_per_1000:.1f} missed")
        marked = {"card": card_threshold, "chosen": threshold}
        site = self._site_setting()
        if site is not None:
            marked["site now"] = site.threshold
        self._fill(self.table, table_rows(cal.short_table(marked, prevalence)))
        self._fill(self.subgroups, subgroup_rows(cal.subgroups(threshold)))
        self._set_running(self.runner.pending(SCORING_JOB))

    @staticmethod
    def _fill(table: QTableWidget, rows: list[tuple[str, ...]]) -> None:
        table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                item = QTableWidgetItem(text)
                if text[:1].isdigit():
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if row[-1].startswith("chosen"):
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                table.setItem(r, c, item)
        table.resizeColumnsToContents()

    # -- the site setting ------------------------------------------------------------------------
    def _site_setting(self):
        from cxrviewer.core.site_settings import load_site_thresholds

        try:
            return load_site_thresholds().get(self.model.currentText())
        except CxrError as error:
            self.site_label.setText(f"Site settings: {error}")
            return None

    def _show_site_setting(self) -> None:
        from cxrviewer.core.site_settings import load_site_thresholds

        name = self.model.currentText()
        try:
            site = load_site_thresholds().get(name)
        except CxrError as error:
            self.site_label.setText(f"Site settings: {error}")
            self.remove_button.setEnabled(False)
            return
        self.site_label.setText(f"Now: {name} calls at the {site.describe()}" if site is not None
                                else f"Now: {name or 'no model'} calls at its card threshold (no site threshold).")
        self.remove_button.setEnabled(site is not None)

    def save(self) -> bool:
        """Save the chosen threshold as the site's dated setting; False (with the reason) if it cannot."""
        from cxrviewer.core.site_settings import SiteThreshold, save_site_threshold

        threshold = self.chosen_threshold()
        if threshold is None or self.card is None:
            return False
        cal = self.result.calibration
        label, card_threshold = self._labels()
        how = f"the highest with sensitivity >= {self.target.value():.2f}" if self.by_target.isChecked() else "typed"
        setting = SiteThreshold(self.card.name, label, float(threshold), card_threshold, self.card.version, cal.films,
                                date.today().isoformat(), saved_note(cal, cal.at(threshold), how))
        try:
            where = save_site_threshold(setting)
        except CxrError as error:
            self.status.setText(f"Not saved: {error}")
            return False
        self.model.setCurrentText(self.card.name)
        self._show_site_setting()
        self._refresh()
        self.status.setText(f"Saved in {where}: {self.card.name} now calls at the {setting.describe()}.")
        self.site_threshold_changed.emit(self.card.name)
        return True

    def remove(self) -> bool:
        from cxrviewer.core.site_settings import remove_site_threshold

        name = self.model.currentText()
        try:
            removed = remove_site_threshold(name)
        except CxrError as error:
            self.status.setText(f"Not removed: {error}")
            return False
        self._show_site_setting()
        self._refresh()
        if removed:
            self.status.setText(f"{name} calls at its card threshold again.")
            self.site_threshold_changed.emit(name)
        return removed

    def shutdown(self) -> None:
        self.runner.cancel_all()
        self.runner.wait(5000)
