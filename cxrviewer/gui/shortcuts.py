"""Every key and mouse binding of the viewer, in one table that both the actions and the help use."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget


@dataclass(frozen=True)
class Binding:
    name: str  # the main window's handler for it
    text: str  # menu and help text
    keys: tuple[str, ...]  # QKeySequence strings, the first one shown in menus


PRESET_KEYS = tuple(str(n) for n in range(1, 10))

BINDINGS: tuple[Binding, ...] = (
    Binding("open_file", "Open file…", ("Ctrl+O",)),
    Binding("open_folder", "Open folder…", ("Ctrl+Shift+O",)),
    Binding("quit", "Quit", ("Ctrl+Q",)),
    Binding("next_study", "Next study", ("Right", "PgDown")),
    Binding("previous_study", "Previous study", ("Left", "PgUp")),
    Binding("reset_window", "Reset window to the file's first VOI", ("0", "R")),
    Binding("invert", "Invert grey scale", ("I",)),
    Binding("zoom_in", "Zoom in", ("+", "Ctrl+=")),
    Binding("zoom_out", "Zoom out", ("-",)),
    Binding("fit", "Fit to window", ("=",)),
    Binding("actual_size", "Actual size (1 image pixel = 1 screen pixel)", ("Z",)),
    Binding("rotate_left", "Rotate 90° anticlockwise", ("[",)),
    Binding("rotate_right", "Rotate 90° clockwise", ("]",)),
    Binding("flip_horizontal", "Flip left–right", ("H",)),
    Binding("flip_vertical", "Flip top–bottom", ("V",)),
    Binding("ruler_tool", "Ruler tool (drag to measure)", ("M",)),
    Binding("toggle_soft_tissue", "Bone-suppressed (soft-tissue) base image on/off", ("B",)),
    Binding("toggle_layers", "All overlay layers on/off (each keeps its own settings)", ("O",)),
    Binding("clear_ruler", "Remove the ruler", ("Delete", "Backspace")),
    Binding("reading_mode", "Reading mode: full screen, the film alone (F11 again or Esc to leave)", ("F11",)),
    Binding("toggle_panels", "All panels hidden / shown again", ("P",)),
    Binding("toggle_film_text", "Corner text, orientation letters and badges on/off", ("A",)),
    Binding("compare_prior", "Compare with prior: the patient's previous study beside this one, window, zoom "
            "and pan linked (C again: one view)", ("C",)),
    Binding("help", "Keyboard and mouse help", ("F1", "?")),
)

# The worklist's own keys (gui/worklist.py), listed in the help beside the window's.
WORKLIST_KEYS: tuple[tuple[str, str], ...] = (
    ("Up / Down", "Move the worklist's highlight"),
    ("Enter", "Open the highlighted study (as a click does)"),
    ("F", "Flag or unflag the study"),
    ("N", "Edit the study's note"),
    ("Ctrl+Enter", "Mark the study reviewed (read), or not: File → Send all reviewed to PACS sends those marked"),
    ("Click a column's header", "Sort by it: the triage column (first) most urgent first ▼, again the other way ▲"),
    ("Right-click a column's header", "Show or hide columns (each model's own answers are hidden until shown)"),
)

MOUSE: tuple[tuple[str, str], ...] = (
    ("Left-drag", "window/level: right widens the window, down raises the centre"),
    ("Left-drag with the ruler tool (M)", "measure; the label reads mm from PixelSpacing, "
     "“mm at detector” from ImagerPixelSpacing, px without spacing"),
    ("Middle- or right-drag, or Space + left-drag", "pan"),
    ("Wheel", "zoom about the cursor"),
    ("Click a film of the prior comparison (C)", "the view keys (flips, turns, zoom, window reset) act on that film"),
    ("Drop files or folders on the window", "open them"),
)


def help_html() -> str:
    rows = [f"<tr><td><b>{' / '.join(b.keys)}</b></td><td>{b.text}</td></tr>" for b in BINDINGS]
    rows.insert(6, "<tr><td><b>1 … 9</b></td><td>Window presets and VOI LUTs of the file, in order, then the named lung, mediastinum and bone windows of a radiograph</td></tr>")
    worklist = [f"<tr><td><b>{keys}</b></td><td>{what}</td></tr>" for keys, what in WORKLIST_KEYS]
    mouse = [f"<tr><td><b>{gesture}</b></td><td>{what}</td></tr>" for gesture, what in MOUSE]
    return (
        "<h3>Keys</h3><table cellspacing=4>" + "".join(rows) + "</table>"
        "<h3>Worklist</h3><table cellspacing=4>" + "".join(worklist) + "</table>"
        "<h3>Mouse</h3><table cellspacing=4>" + "".join(mouse) + "</table>"
    )


class HelpDialog(QDialog):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("cxrviewer: keys and mouse")
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(help_html()))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
