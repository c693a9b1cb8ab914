"""The view keys: window reset and presets, invert, zoom, fit, rotate, flip, clear the ruler, each
acting on the film the reader works on (the one clicked last while comparing with a prior).

Separate from the main window, which binds these handlers to their keys and menu entries (from
`gui.shortcuts.BINDINGS`): what a key does to a view state is here, in one place, and the window
only wires it.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QStatusBar

from cxrviewer.core.named_presets import named_presets
from cxrviewer.core.viewstate import ViewState
from cxrviewer.gui.canvas import Canvas
from cxrviewer.gui.prior_compare import PriorComparison

KEY_ZOOM_STEP = 1.25


class ViewKeys:
    def __init__(self, canvas: Canvas, prior_compare: PriorComparison, status: QStatusBar):
        self.canvas, self.prior_compare, self.status = canvas, prior_compare, status

    def handlers(self) -> dict[str, Callable[[], None]]:
        """The view bindings' handlers, by binding name."""
        on_state = self.on_state
        return {
            "reset_window": lambda: on_state(ViewState.reset_window),
            "invert": lambda: on_state(lambda s: setattr(s, "invert", not s.invert)),
            "zoom_in": lambda: self.zoom_by(KEY_ZOOM_STEP),
            "zoom_out": lambda: self.zoom_by(1 / KEY_ZOOM_STEP),
            "fit": lambda: on_state(lambda s: s.fit(*self.canvas.viewport_size())),
            "actual_size": lambda: on_state(ViewState.actual_size),
            "rotate_left": lambda: on_state(lambda s: s.rotate_clockwise(-1)),
            "rotate_right": lambda: on_state(lambda s: s.rotate_clockwise(1)),
            "flip_horizontal": lambda: on_state(ViewState.flip_screen_horizontal),
            "flip_vertical": lambda: on_state(ViewState.flip_screen_vertical),
            "clear_ruler": lambda: on_state(lambda s: setattr(s, "ruler", None)),
        }

    def on_state(self, change: Callable[[ViewState], object]) -> None:
        state = self.prior_compare.active_state()  # the film clicked last while comparing, else the shown one
        if state is not None:
            change(state)

    def zoom_by(self, factor: float) -> None:
        self.on_state(lambda s: s.zoom_about(factor, s.center))

    def apply_preset(self, number: int) -> None:
        """The file's window presets, then its VOI LUTs, then the named lung, mediastinum and bone
        windows of a radiograph (`core.named_presets`), numbered from 0 (key 1)."""
        state, image = self.canvas.state, self.canvas.image
        if state is None or image is None:
            return
        presets, luts = image.meta.window_presets, image.meta.voi_luts
        named = named_presets(image.modality_values, image.meta.inverted_for_display, image.meta.modality)
        if number < len(presets):
            state.window = presets[number]
        elif number < len(presets) + len(luts):
            state.use_voi_lut(number - len(presets), len(luts))
        elif number < len(presets) + len(luts) + len(named):
            state.window = named[number - len(presets) - len(luts)]
        else:
            self.status.showMessage(f"this study has {len(presets) + len(luts) + len(named)} window preset(s)", 5000)
