"""Key bindings are unambiguous and documented; folders and real files open as the reader expects."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QKeySequence
from viewer_support import band_pixels, open_and_wait, write_dicom

from cxrviewer.core.io import read_image
from cxrviewer.gui.shortcuts import BINDINGS, PRESET_KEYS, help_html
from cxrviewer.paths import shared_data_dir


def test_every_key_does_one_thing_and_the_help_lists_it():
    keys = [QKeySequence(key).toString() for binding in BINDINGS for key in binding.keys]
    keys += [QKeySequence(key).toString() for key in PRESET_KEYS]
    assert len(keys) == len(set(keys)), sorted(k for k in keys if keys.count(k) > 1)
    text = help_html()
    for binding in BINDINGS:
        assert binding.text in text and " / ".join(binding.keys) in text


def test_the_help_lists_the_worklist_keys_and_they_are_the_windows_actions(viewer):
    """Issue 20: F1 omitted F, N and Enter."""
    from cxrviewer.gui.shortcuts import WORKLIST_KEYS

    text = help_html()
    assert all(keys in text and what in text for keys, what in WORKLIST_KEYS)
    assert {"F", "N", "Enter"} <= {key for keys, _ in WORKLIST_KEYS for key in keys.split(" / ")}
    window_keys = {s.toString() for action in viewer.actions() for s in action.shortcuts()}
    assert {"F", "N"} <= window_keys  # the worklist's flag and note actions carry the keys the help names
    assert not {"F", "N"} & {QKeySequence(k).toString() for b in BINDINGS for k in b.keys}  # and nothing else does


def test_each_action_carries_its_keys(viewer):
    for binding in BINDINGS:
        shortcuts = [s.toString() for s in viewer.actions_by_name[binding.name].shortcuts()]
        assert shortcuts == [QKeySequence(key).toString() for key in binding.keys]


def test_a_folder_opens_its_images_and_reports_the_rest(qtbot, viewer, tmp_path):
    folder = tmp_path / "study"
    (folder / "series").mkdir(parents=True)
    write_dicom(folder / "a.dcm", band_pixels())
    write_dicom(folder / "series" / "IMG0001", band_pixels())  # DICOM recognised without extension
    (folder / "notes.txt").write_text("reading notes\n")
    with qtbot.waitSignal(viewer.session.files_skipped) as skipped:
        open_and_wait(qtbot, viewer, folder)
    rows = viewer.worklist.model.rows
    assert sorted(row.path.name for row in rows) == ["IMG0001", "a.dcm"]
    assert [path.name for path, _reason in skipped.args[0]] == ["notes.txt"]
    assert all(row.loaded and not row.load_error for row in rows)


REAL_FILES = sorted((shared_data_dir() / "dicom").glob("*.dcm")) if (shared_data_dir() / "dicom").is_dir() else []


@pytest.mark.skipif(not REAL_FILES, reason=f"real DICOM files not found under {shared_data_dir() / 'dicom'}")
@pytest.mark.parametrize("path", REAL_FILES, ids=lambda p: p.name)
def test_real_radiographs_first_appear_as_the_reader_made_them(qtbot, viewer, path):
    open_and_wait(qtbot, viewer, path)
    expected = np.rint(read_image(path).pixels * 255).astype(np.int16)
    shown = viewer.canvas.displayed_image().astype(np.int16)
    assert np.abs(shown - expected).max() <= 1
    # Display polarity: the middle of the chest (mediastinum) is brighter than the lung fields.
    rows, columns = shown.shape
    middle = shown[rows // 3 : rows // 2, columns * 9 // 20 : columns * 11 // 20].mean()
    lungs = shown[rows // 3 : rows // 2, columns // 5 : columns // 3].mean()
    assert middle > lungs


def test_opening_a_folder_shows_its_first_study_even_while_another_is_read(qtbot, viewer, tmp_path):
    """Issue 20: with a study on screen, opening a folder left that study shown."""
    first = write_dicom(tmp_path / "one.dcm", band_pixels())
    open_and_wait(qtbot, viewer, first)
    assert viewer.canvas.image.meta.path.name == "one.dcm"
    folder = tmp_path / "folder"
    folder.mkdir()
    write_dicom(folder / "a.dcm", band_pixels())
    write_dicom(folder / "b.dcm", band_pixels())
    with qtbot.waitSignal(viewer.session.current_ready, timeout=15000):
        viewer.open_paths([folder])
    assert viewer.canvas.image.meta.path.name == "a.dcm"
