"""Tools → Calibrate for this site… driven offscreen with the shipped TB lesion model on generated films:
scoring in the worker, the ROC and table equal to the core's, prevalence and a typed threshold,
saving and removing the site threshold, cancel, and the menu entry beside "Train a model…"."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PilImage

from cxrviewer import paths
from cxrviewer.analysis.calibration_films import calibrate_films
from cxrviewer.analysis.calibration_text import table_rows
from cxrviewer.analysis.installed import installed_model
from cxrviewer.core.site_settings import load_site_thresholds
from cxrviewer.gui.calibration_dialog import CalibrationDialog

LESIONS = "tb-lesions-tbx11k"
FILMS = 8


@pytest.fixture
def site(tmp_path, monkeypatch) -> tuple[Path, Path]:
    """(films folder, outcomes CSV): 8 generated grey films, alternately 'tb' and 'normal'."""
    monkeypatch.setenv("CXRVIEWER_SITE_SETTINGS", str(tmp_path / "site-settings.json"))
    rng = np.random.default_rng(0)
    root = tmp_path / "films"
    root.mkdir()
    rows = ["file,outcome,sex"]
    yy, xx = np.mgrid[:120, :100]
    for i in range(FILMS):
        image = 80 + 90 * np.exp(-((xx - 50) ** 2) / (200 + 60 * i)) + rng.normal(0, 15, (120, 100))
        PilImage.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(root / f"f{i}.png")
        rows.append(f"f{i}.png,{'tb' if i % 2 else 'normal'},{'FM'[i % 3 == 0]}")
    outcomes = tmp_path / "outcomes.csv"
    outcomes.write_text("\n".join(rows) + "\n")
    return root, outcomes


@pytest.fixture
def dialog(qtbot) -> CalibrationDialog:
    window = CalibrationDialog(models_dir=paths.models_dir())
    qtbot.addWidget(window)
    window.show()
    yield window
    window.shutdown()


def cells(table, row: int) -> list[str]:
    return [table.item(row, c).text() for c in range(table.columnCount())]


def score(qtbot, dialog: CalibrationDialog, films: Path, outcomes: Path) -> None:
    dialog.model.setCurrentText(LESIONS)
    dialog.films.setText(str(films))
    dialog.outcomes.setText(str(outcomes))
    with qtbot.waitSignal(dialog.calibrated, timeout=60000):
        assert dialog.start()
        assert not dialog.score_button.isEnabled() and dialog.cancel_button.isEnabled()


def test_scores_shows_the_roc_and_table_saves_and_removes(qtbot, dialog, site):
    films, outcomes = site
    assert "calls at its card threshold (no site threshold)" in dialog.site_label.text()
    assert not dialog.remove_button.isEnabled() and not dialog.save_button.isEnabled()
    score(qtbot, dialog, films, outcomes)
    expected = calibrate_films(installed_model(LESIONS), [films], outcomes).calibration
    x, y = dialog.roc_curve.getData()
    np.testing.assert_array_equal(x, expected.roc.fpr)
    np.testing.assert_array_equal(y, expected.roc.tpr)
    chosen = expected.for_sensitivity(0.90)
    assert dialog.chosen_threshold() == chosen
    assert f"AUC {expected.auc:.3f} (95 % CI {expected.auc_ci[0]:.3f}-{expected.auc_ci[1]:.3f}" in dialog.summary.text()
    rows = [cells(dialog.table, r) for r in range(dialog.table.rowCount())]
    chosen_rows = [r for r in rows if r[-1].startswith("chosen")]
    assert len(chosen_rows) == 1 and chosen_rows[0][0] == f"{chosen:.4f}"
    assert any(r[-1] == "card" or r[-1].startswith("card") for r in rows)
    subgroups = {cells(dialog.subgroups, r)[0] for r in range(dialog.subgroups.rowCount())}
    assert subgroups == {"female", "male"}

    dialog.prevalence.setValue(2.0)  # a screening programme's prevalence: PPV and the per-1,000 figures follow
    at_two = table_rows([("chosen", expected.at(chosen, 0.02))])[0]
    chosen_row = next(cells(dialog.table, r) for r in range(dialog.table.rowCount())
                      if cells(dialog.table, r)[-1].startswith("chosen"))
    assert chosen_row[:8] == list(at_two[:8])

    with qtbot.waitSignal(dialog.site_threshold_changed) as changed:
        assert dialog.save()
    assert changed.args == [LESIONS]
    saved = load_site_thresholds()[LESIONS]
    assert (saved.threshold, saved.films, saved.label, saved.card_version) == (chosen, FILMS, "tb_lesions", "1")
    assert saved.note.startswith("threshold the highest with sensitivity >= 0.90: sensitivity")
    assert f"calls at the site threshold {chosen:.2f}, calibrated on {FILMS} local films" in dialog.site_label.text()
    assert dialog.remove_button.isEnabled()
    assert any(cells(dialog.table, r)[-1].startswith("chosen, site now") or "site now" in cells(dialog.table, r)[-1]
               for r in range(dialog.table.rowCount()))

    dialog.threshold.setValue(0.5)  # typing a threshold chooses it
    assert dialog.by_threshold.isChecked() and dialog.chosen_threshold() == 0.5
    assert "Chosen threshold 0.5000</b> (typed)" in dialog.summary.text()

    with qtbot.waitSignal(dialog.site_threshold_changed):
        assert dialog.remove()
    assert LESIONS not in load_site_thresholds()
    assert "calls at its card threshold (no site threshold)" in dialog.site_label.text()
    assert not dialog.remove_button.isEnabled()


def test_bad_outcomes_are_shown_not_raised(qtbot, dialog, site):
    films, outcomes = site
    outcomes.write_text(outcomes.read_text().replace("f3.png,tb", "f3.png,unsure"))
    dialog.model.setCurrentText(LESIONS)
    dialog.films.setText(str(films))
    dialog.outcomes.setText(str(outcomes))
    with qtbot.waitSignal(dialog.scoring_failed, timeout=60000) as failed:
        dialog.start()
    assert f"{outcomes} line 5: outcome 'unsure'" in failed.args[0]
    assert "Could not calibrate" in dialog.status.text() and dialog.score_button.isEnabled()
    assert dialog.result is None and not dialog.save_button.isEnabled()


def test_cancel_leaves_nothing_and_scoring_can_start_again(qtbot, dialog, site):
    films, outcomes = site
    dialog.model.setCurrentText(LESIONS)
    dialog.films.setText(str(films))
    dialog.outcomes.setText(str(outcomes))
    assert dialog.start()
    dialog.cancel()
    assert dialog.status.text() == "Cancelled; nothing was changed." and dialog.score_button.isEnabled()
    dialog.runner.wait(60000)
    qtbot.wait(50)  # any late outcome of the cancelled job is delivered, and dropped
    assert dialog.result is None and dialog.table.rowCount() == 0
    score(qtbot, dialog, films, outcomes)
    assert dialog.result is not None and dialog.table.rowCount() > 0


def test_the_tools_menu_opens_it_beside_training(qtbot, viewer, no_models):
    tools = next(a.menu() for a in viewer.menuBar().actions() if a.text() == "&Tools")
    assert [a.text() for a in tools.actions()] == ["&Train a model…", "&Calibrate for this site…"]
    viewer.actions_by_name["calibrate"].trigger()
    assert viewer.tools.calibration_dialog is not None and viewer.tools.calibration_dialog.isVisible()
    assert viewer.tools.calibration_dialog.windowTitle() == "Calibrate for this site"
