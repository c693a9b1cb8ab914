"""How the reader is looking at one study: window, polarity, zoom, pan, orientation and the ruler.

Pure Python, so every rule here is tested without Qt. The canvas draws what this model says and
turns mouse and keys into calls on it; it never keeps display state of its own.

Coordinates:
- image coordinates (x, y): x along columns, y along rows, pixel (row r, column c) covers
  [c, c + 1] x [r, r + 1]; the ruler lives here, so it stays on the anatomy when the view turns.
- view coordinates: the image after flips and rotation, occupying [0, W'] x [0, H'] with y down,
  where (W', H') is (W, H) swapped for 90 and 270 degrees. Zoom and pan live here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

from cxrviewer.core.display.voi import VOI_FUNCTIONS
from cxrviewer.core.image import WindowPreset
from cxrviewer.core.orientation import ROTATIONS, Orientation

MIN_ZOOM = 1 / 64
MAX_ZOOM = 64.0
# A drag across this many screen pixels changes the window by the image's whole value range: a full
# sweep from a narrow to a wide window fits comfortably across a screen.
DRAG_PIXELS_PER_RANGE = 600.0


def validated_window(window: WindowPreset) -> WindowPreset:
    """`window` itself, after checking it is a window the display pipeline can apply."""
    if not isinstance(window, WindowPreset):
        raise TypeError(f"window must be a WindowPreset, got {type(window).__name__}")
    center, width = window.center, window.width
    if not (math.isfinite(center) and math.isfinite(width)):
        raise ValueError(f"window centre and width must be finite, got {center}, {width}")
    # The standard's LINEAR formula divides by (width - 1), so it needs width >= 1.
    minimum = 1.0 if window.function == "LINEAR" else 0.0
    if width <= 0 or width < minimum:
        raise ValueError(f"window width must be > 0 (>= 1 for LINEAR), got {width}")
    if window.function not in VOI_FUNCTIONS:
        raise ValueError(f"window function must be one of {VOI_FUNCTIONS}, got {window.function!r}")
    return window


@dataclass(frozen=True)
class Ruler:
    """A straight measurement from (x0, y0) to (x1, y1) in image coordinates."""

    x0: float
    y0: float
    x1: float
    y1: float

    def length_px(self, spacing_mm: tuple[float, float] | None = None) -> float:
        """Length in pixels, or in mm when `spacing_mm` = (row spacing, column spacing) is given."""
        row_mm, col_mm = spacing_mm if spacing_mm is not None else (1.0, 1.0)
        return math.hypot((self.x1 - self.x0) * col_mm, (self.y1 - self.y0) * row_mm)


def ruler_label(ruler: Ruler, spacing_mm: tuple[float, float] | None, at_detector: bool, doubt: str = "") -> str:
    """What the reader sees beside a ruler.

    ImagerPixelSpacing measures at the detector, where the projection magnifies the patient, so the
    label says so; without any spacing only pixels can be given; `doubt` (core.spacing_check) says
    when the spacing itself is not believable for the film.
    """
    if spacing_mm is None:
        return f"{ruler.length_px():.1f} px (no pixel spacing)"
    suffix = " at detector" if at_detector else ""
    return f"{ruler.length_px(spacing_mm):.1f} mm{suffix}" + (f" ({doubt})" if doubt else "")


def drag_window(start: WindowPreset, dx: float, dy: float, value_range: float) -> WindowPreset:
    """The window after a left-drag of (dx, dy) screen pixels from `start`.

    Right widens the window (less contrast), down raises the centre (darker image), each by the
    image's value range per DRAG_PIXELS_PER_RANGE pixels; the width never drops below 1 unit.
    """
    step = max(value_range, 1.0) / DRAG_PIXELS_PER_RANGE
    width = max(start.width + dx * step, 1.0)
    return replace(start, center=start.center + dy * step, width=width, name="")


Listener = Callable[[str], None]


class ViewState:
    """Mutable display state of one study with validated setters.

    After each change every listener is called with the name of what changed: "window" (window,
    VOI LUT or invert), "geometry" (zoom, centre, rotation, flips) or "ruler".
    """

    def __init__(
        self, image_width: int, image_height: int, window: WindowPreset, voi_lut_index: int | None = None
    ):
        """`window` and `voi_lut_index` are the file's first VOI, where `reset_window` returns."""
        validated_window(window)
        if image_width <= 0 or image_height <= 0:
            raise ValueError(f"image size must be positive, got {image_width} x {image_height}")
        self.image_width = image_width
        self.image_height = image_height
        self._initial = (window, voi_lut_index)
        self._window = window
        self._voi_lut_index = voi_lut_index
        self._invert = False
        self._zoom = 1.0
        self._center = (image_width / 2, image_height / 2)
        self._rotation = 0
        self._flip_h = False
        self._flip_v = False
        # A new view fits the image as soon as the canvas tells it the viewport size.
        self._fitted = True
        self._viewport = (0.0, 0.0)
        self._ruler: Ruler | None = None
        self._listeners: list[Listener] = []

    # -- observers -------------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(what)` after each change; returns the function that unsubscribes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _changed(self, what: str) -> None:
        for listener in list(self._listeners):
            listener(what)

    # -- window ----------------------------------------------------------------------------------
    @property
    def window(self) -> WindowPreset:
        """The current window; while a VOI LUT is in use, the window a drag starts from."""
        return self._window

    @window.setter
    def window(self, value: WindowPreset) -> None:
        """A window replaces any VOI LUT in use."""
        self._window, self._voi_lut_index = validated_window(value), None
        self._changed("window")

    @property
    def voi_lut_index(self) -> int | None:
        """Index into the study's VOI LUTs when one is in use instead of the window."""
        return self._voi_lut_index

    def use_voi_lut(self, index: int, count: int) -> None:
        if not 0 <= index < count:
            raise ValueError(f"VOI LUT index {index} out of range for {count} LUT(s)")
        self._voi_lut_index = index
        self._changed("window")

    @property
    def invert(self) -> bool:
        """True when the reader has flipped the polarity the file asks for."""
        return self._invert

    @invert.setter
    def invert(self, value: bool) -> None:
        self._invert = bool(value)
        self._changed("window")

    def reset_window(self) -> None:
        """Back to the file's first VOI and its own polarity."""
        self._window, self._voi_lut_index = self._initial
        self._invert = False
        self._changed("window")

    # -- geometry --------------------------------------------------------------------------------
    @property
    def zoom(self) -> float:
        """Screen pixels per image pixel."""
        return self._zoom

    @zoom.setter
    def zoom(self, value: float) -> None:
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"zoom must be a finite number > 0, got {value}")
        self._zoom = min(max(value, MIN_ZOOM), MAX_ZOOM)
        self._fitted = False
        self._changed("geometry")

    @property
    def center(self) -> tuple[float, float]:
        """The view coordinates shown at the middle of the canvas."""
        return self._center

    @center.setter
    def center(self, value: tuple[float, float]) -> None:
        x, y = (float(v) for v in value)
        if not (math.isfinite(x) and math.isfinite(y)):
            raise ValueError(f"view centre must be finite, got {value}")
        self._center = (x, y)
        self._fitted = False
        self._changed("geometry")

    @property
    def fitted(self) -> bool:
        """True while the view is the fit chosen by `fit`, so a resized canvas fits again."""
        return self._fitted

    def zoom_about(self, factor: float, anchor: tuple[float, float]) -> None:
        """Zoom by `factor` keeping the view point `anchor` where it is on screen."""
        if not (math.isfinite(factor) and factor > 0):
            raise ValueError(f"zoom factor must be a finite number > 0, got {factor}")
        old = self._zoom
        new = min(max(old * factor, MIN_ZOOM), MAX_ZOOM)
        cx, cy = self._center
        ax, ay = anchor
        self._zoom = new
        self._center = (ax + (cx - ax) * old / new, ay + (cy - ay) * old / new)
        self._fitted = False
        self._changed("geometry")

    def pan_by(self, dx: float, dy: float) -> None:
        """Move the image by (dx, dy) screen pixels."""
        cx, cy = self._center
        self.center = (cx - dx / self._zoom, cy - dy / self._zoom)

    def fit(self, viewport_width: float, viewport_height: float) -> None:
        """Show the whole image as large as the viewport allows, centred."""
        if viewport_width <= 0 or viewport_height <= 0:
            return
        self._viewport = (float(viewport_width), float(viewport_height))
        self._fitted = True
        self._fit_to_viewport()
        self._changed("geometry")

    def _fit_to_viewport(self) -> None:
        viewport_width, viewport_height = self._viewport
        width, height = self.oriented_size()
        self._center = (width / 2, height / 2)
        if viewport_width <= 0 or viewport_height <= 0:
            return
        self._zoom = min(max(min(viewport_width / width, viewport_height / height), MIN_ZOOM), MAX_ZOOM)

    def actual_size(self) -> None:
        """One image pixel per screen pixel, keeping the centre."""
        self.zoom = 1.0

    @property
    def rotation(self) -> int:
        """Clockwise degrees on screen, applied after the flips."""
        return self._rotation

    @rotation.setter
    def rotation(self, value: int) -> None:
        if value not in ROTATIONS:
            raise ValueError(f"rotation must be one of {ROTATIONS}, got {value}")
        self._set_orientation(value, self._flip_h, self._flip_v)

    @property
    def flip_h(self) -> bool:
        """Mirror left-right in image space, before the rotation."""
        return self._flip_h

    @flip_h.setter
    def flip_h(self, value: bool) -> None:
        self._set_orientation(self._rotation, bool(value), self._flip_v)

    @property
    def flip_v(self) -> bool:
        """Mirror top-bottom in image space, before the rotation."""
        return self._flip_v

    @flip_v.setter
    def flip_v(self, value: bool) -> None:
        self._set_orientation(self._rotation, self._flip_h, bool(value))

    def rotate_clockwise(self, quarter_turns: int = 1) -> None:
        self.rotation = (self._rotation + 90 * quarter_turns) % 360

    def flip_screen_horizontal(self) -> None:
        """Mirror what is on screen left-right, whatever the rotation.

        A mirror reverses a rotation it is moved past (F R = R^-1 F), so a screen flip after rotation
        R equals rotation -R after an image-space flip.
        """
        self._set_orientation((-self._rotation) % 360, not self._flip_h, self._flip_v)

    def flip_screen_vertical(self) -> None:
        """Mirror what is on screen top-bottom, whatever the rotation."""
        self._set_orientation((-self._rotation) % 360, self._flip_h, not self._flip_v)

    def _set_orientation(self, rotation: int, flip_h: bool, flip_v: bool) -> None:
        # Keep the same anatomy at the middle of the screen when the image turns.
        middle = self.view_to_image(*self._center)
        self._rotation, self._flip_h, self._flip_v = rotation, flip_h, flip_v
        self._center = self.image_to_view(*middle)
        if self._fitted:
            self._fit_to_viewport()
        self._changed("geometry")

    def oriented_size(self) -> tuple[int, int]:
        """(width, height) of the image in view coordinates."""
        if self._rotation in (90, 270):
            return self.image_height, self.image_width
        return self.image_width, self.image_height

    @property
    def orientation(self) -> Orientation:
        """The flips and rotation as one value: what the screen applies and exports reproduce."""
        return Orientation(self._rotation, self._flip_h, self._flip_v)

    def image_to_view_affine(self) -> tuple[float, float, float, float, float, float]:
        """(a, b, c, d, tx, ty) with view x = a*x + b*y + tx and view y = c*x + d*y + ty."""
        return self.orientation.affine(self.image_width, self.image_height)

    def image_to_view(self, x: float, y: float) -> tuple[float, float]:
        a, b, c, d, tx, ty = self.image_to_view_affine()
        return a * x + b * y + tx, c * x + d * y + ty

    def view_to_image(self, x: float, y: float) -> tuple[float, float]:
        a, b, c, d, tx, ty = self.image_to_view_affine()
        # The matrix is a signed permutation, so its inverse is its transpose.
        x, y = x - tx, y - ty
        return a * x + c * y, b * x + d * y

    def pixel_at(self, view_x: float, view_y: float) -> tuple[int, int] | None:
        """(row, column) of the image pixel under a view point, or None outside the image."""
        x, y = self.view_to_image(view_x, view_y)
        row, col = math.floor(y), math.floor(x)
        if 0 <= row < self.image_height and 0 <= col < self.image_width:
            return row, col
        return None

    # -- ruler -----------------------------------------------------------------------------------
    @property
    def ruler(self) -> Ruler | None:
        return self._ruler

    @ruler.setter
    def ruler(self, value: Ruler | None) -> None:
        self._ruler = value
        self._changed("ruler")
