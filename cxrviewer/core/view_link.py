"""Two films' views linked both ways: window/level, polarity, zoom and pan (the prior comparison).

Pure Python on `ViewState`, tested without Qt. Two films of one patient differ in size and often in
their grey scale, so the link moves each in its own terms:
- window/level: each film keeps the window it had when the link began (its file's, or the one the
  reader chose); a change of either is made on the other as the same mouse drag would make it there,
  i.e. in proportion to each film's value range (`viewstate.drag_window`). A VOI LUT chosen on one
  film is that film's own and is not copied; inverting one inverts the other.
- zoom and pan: the same magnification relative to each film's fit in its pane, and the same point
  of each turned film (as a fraction of its width and height) at the middle of the pane; a film
  fitted to its pane fits the other.
- flips and rotation are each film's own (one film may need a flip the other does not), so they are
  not copied: a film turned by the reader is fitted or moved by its own rules, and the other follows
  its zoom and pan as above.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from cxrviewer.core.image import WindowPreset
from cxrviewer.core.viewstate import ViewState

Viewport = Callable[[], tuple[float, float]]


def follow_window(before: WindowPreset, after: WindowPreset, source_range: float, target: WindowPreset,
                  target_range: float) -> WindowPreset:
    """`target` changed as `before` → `after` changed the source, scaled from the source's value
    range to the target's (each at least 1 unit); the width stays at least 1 unit."""
    scale = max(target_range, 1.0) / max(source_range, 1.0)
    width = max(target.width + (after.width - before.width) * scale, 1.0)
    return replace(target, center=target.center + (after.center - before.center) * scale, width=width, name="")


def fit_zoom(state: ViewState, viewport: tuple[float, float]) -> float | None:
    """Screen pixels per image pixel when `state`'s turned film fits `viewport`; None for an empty one."""
    width, height = viewport
    if width <= 0 or height <= 0:
        return None
    film_width, film_height = state.oriented_size()
    return min(width / film_width, height / film_height)


@dataclass
class _Side:
    state: ViewState
    value_range: float
    viewport: Viewport
    window: tuple = ()  # (window, voi_lut_index, invert) as last seen

    def snapshot(self) -> None:
        self.window = (self.state.window, self.state.voi_lut_index, self.state.invert)


class ViewLink:
    """Keeps two view states linked until `close`. `a` leads at the start: `b` takes its zoom and
    pan (not its window). value_range: each film's modality value range (`IndexedImage.value_range`);
    viewport: each pane's size in screen pixels, asked for when needed."""

    def __init__(self, a: ViewState, a_range: float, a_viewport: Viewport,
                 b: ViewState, b_range: float, b_viewport: Viewport):
        if a is b:
            raise ValueError("a view cannot be linked to itself")
        self.sides = (_Side(a, a_range, a_viewport), _Side(b, b_range, b_viewport))
        for side in self.sides:
            side.snapshot()
        self._following = False
        self._unsubscribe = [side.state.subscribe(lambda what, s=side: self._changed(s, what)) for side in self.sides]
        self.follow_geometry(self.sides[0])

    def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []

    def sync(self) -> None:
        """Bring the second film's zoom and pan to the first's again (after the panes were resized)."""
        self.follow_geometry(self.sides[0])

    def _other(self, side: _Side) -> _Side:
        return self.sides[1] if side is self.sides[0] else self.sides[0]

    def _changed(self, side: _Side, what: str) -> None:
        if self._following:
            return
        if what == "window":
            self._follow_window(side)
        elif what == "geometry":
            self.follow_geometry(side)

    def _follow_window(self, source: _Side) -> None:
        target = self._other(source)
        before_window, _before_lut, before_invert = source.window
        source.snapshot()
        after_window, after_lut, after_invert = source.window
        self._following = True
        try:
            if after_invert != before_invert:
                target.state.invert = after_invert
            if after_lut is None and after_window != before_window:
                target.state.window = follow_window(before_window, after_window, source.value_range,
                                                    target.state.window, target.value_range)
        finally:
            self._following = False
            target.snapshot()

    def follow_geometry(self, source: _Side) -> None:
        target = self._other(source)
        self._following = True
        try:
            if source.state.fitted:
                target.state.fit(*target.viewport())
                return
            source_fit = fit_zoom(source.state, source.viewport())
            target_fit = fit_zoom(target.state, target.viewport())
            if source_fit is None or target_fit is None:
                return
            source_width, source_height = source.state.oriented_size()
            target_width, target_height = target.state.oriented_size()
            x, y = source.state.center
            target.state.zoom = source.state.zoom / source_fit * target_fit
            target.state.center = (x / source_width * target_width, y / source_height * target_height)
        finally:
            self._following = False
