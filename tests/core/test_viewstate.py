"""The view state model: validation, window drag, zoom/pan, orientation maths and the ruler."""

from __future__ import annotations

import math

import pytest

from cxrviewer.core.image import WindowPreset
from cxrviewer.core.viewstate import (
    DRAG_PIXELS_PER_RANGE,
    MAX_ZOOM,
    Ruler,
    ViewState,
    drag_window,
    ruler_label,
    validated_window,
)


def make_state(width=40, height=30) -> ViewState:
    return ViewState(width, height, WindowPreset(100.0, 50.0))


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(center=0, width=0, function="SIGMOID"),
        dict(center=0, width=-3),
        dict(center=0, width=0.5),  # LINEAR divides by width - 1
        dict(center=math.nan, width=5),
        dict(center=0, width=5, function="CUBIC"),
    ],
)
def test_window_validation_rejects_invalid_values(kwargs):
    with pytest.raises(ValueError):
        validated_window(WindowPreset(**kwargs))
    with pytest.raises(ValueError):
        ViewState(10, 10, WindowPreset(**kwargs))


def test_window_validation_accepts_narrow_exact_windows():
    narrow = WindowPreset(0, 0.5, function="LINEAR_EXACT")
    assert validated_window(narrow) is narrow


def test_setters_validate():
    state = make_state()
    for bad_zoom in (0, -1, math.inf, math.nan):
        with pytest.raises(ValueError):
            state.zoom = bad_zoom
    with pytest.raises(ValueError):
        state.rotation = 45
    with pytest.raises(ValueError):
        state.use_voi_lut(2, count=2)
    with pytest.raises(TypeError):
        state.window = (1, 2)
    with pytest.raises(ValueError):
        ViewState(0, 10, WindowPreset(1, 1))
    with pytest.raises(ValueError):
        state.window = WindowPreset(1, 0)
    state.zoom = 1e6
    assert state.zoom == MAX_ZOOM


def test_listeners_hear_each_change_and_can_unsubscribe():
    state = make_state()
    heard = []
    unsubscribe = state.subscribe(heard.append)
    state.window = WindowPreset(10, 20)
    state.invert = True
    state.zoom = 2
    state.ruler = Ruler(0, 0, 1, 1)
    unsubscribe()
    state.zoom = 3
    assert heard == ["window", "window", "geometry", "ruler"]


def test_drag_window_right_widens_and_down_raises_centre():
    start = WindowPreset(100.0, 50.0)
    value_range = 1200.0
    step = value_range / DRAG_PIXELS_PER_RANGE
    after = drag_window(start, dx=30, dy=-10, value_range=value_range)
    assert after.width == pytest.approx(50 + 30 * step)
    assert after.center == pytest.approx(100 - 10 * step)
    assert drag_window(start, dx=-10_000, dy=0, value_range=value_range).width == 1.0


def test_reset_window_restores_first_voi_and_polarity():
    state = ViewState(10, 10, WindowPreset(5, 5), voi_lut_index=0)
    state.window = WindowPreset(1, 2)
    state.invert = True
    assert state.voi_lut_index is None
    state.reset_window()
    assert (state.window, state.voi_lut_index, state.invert) == (WindowPreset(5, 5), 0, False)


def test_fit_then_zoom_about_anchor_keeps_anchor_fixed():
    state = make_state(400, 200)
    assert state.fitted  # a new view waits for its viewport to fit
    state.zoom = 5.0
    assert not state.fitted
    state.fit(800, 800)
    assert (state.zoom, state.center, state.fitted) == (2.0, (200.0, 100.0), True)
    anchor = (300.0, 50.0)
    screen_before = ((anchor[0] - state.center[0]) * state.zoom, (anchor[1] - state.center[1]) * state.zoom)
    state.zoom_about(1.5, anchor)
    screen_after = ((anchor[0] - state.center[0]) * state.zoom, (anchor[1] - state.center[1]) * state.zoom)
    assert state.zoom == 3.0
    assert screen_after == pytest.approx(screen_before)
    assert not state.fitted


def test_pan_moves_image_with_the_mouse():
    state = make_state()
    state.zoom = 2.0
    state.center = (20.0, 15.0)
    state.pan_by(10, -4)
    assert state.center == (15.0, 17.0)


def test_rotation_and_flip_map_corners():
    state = make_state(40, 30)  # W=40, H=30
    state.rotation = 90
    assert state.oriented_size() == (30, 40)
    assert state.image_to_view(0, 0) == (30, 0)  # top-left goes to top-right
    assert state.image_to_view(40, 30) == (0, 40)
    state.rotation = 270
    assert state.image_to_view(0, 0) == (0, 40)
    state.rotation = 0
    state.flip_h = True
    assert state.image_to_view(0, 0) == (40, 0)
    state.flip_h, state.flip_v = False, True
    assert state.image_to_view(0, 0) == (0, 30)


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
@pytest.mark.parametrize("flips", [(False, False), (True, False), (False, True), (True, True)])
def test_view_to_image_inverts_image_to_view(rotation, flips):
    state = make_state(40, 30)
    state.rotation = rotation
    state.flip_h, state.flip_v = flips
    for point in [(0, 0), (40, 30), (3.5, 7.25), (39, 1)]:
        assert state.view_to_image(*state.image_to_view(*point)) == pytest.approx(point)
    width, height = state.oriented_size()
    corners = {state.image_to_view(x, y) for x in (0, 40) for y in (0, 30)}
    assert corners == {(0, 0), (width, 0), (0, height), (width, height)}


def test_screen_flip_after_rotation_mirrors_the_screen_not_the_image():
    state = make_state(40, 30)
    state.rotation = 90
    before = state.image_to_view(5, 7)
    state.flip_screen_horizontal()
    width, _ = state.oriented_size()
    after = state.image_to_view(5, 7)
    assert after == pytest.approx((width - before[0], before[1]))
    state.flip_screen_vertical()
    _, height = state.oriented_size()
    assert state.image_to_view(5, 7) == pytest.approx((width - before[0], height - before[1]))


def test_rotation_keeps_fit_and_refits_to_the_new_aspect():
    state = make_state(400, 200)
    state.fit(400, 400)
    assert state.zoom == 1.0
    state.rotate_clockwise()
    assert (state.zoom, state.center, state.fitted) == (1.0, (100.0, 200.0), True)
    state.fit(200, 800)
    state.rotate_clockwise()
    assert state.zoom == 0.5


def test_pixel_at_follows_orientation():
    state = make_state(40, 30)
    assert state.pixel_at(2.5, 3.5) == (3, 2)
    assert state.pixel_at(-0.1, 3) is None
    state.rotation = 180
    assert state.pixel_at(0.5, 0.5) == (29, 39)


def test_ruler_length_and_labels():
    ruler = Ruler(10, 20, 110, 20)  # 100 px along a row
    assert ruler.length_px() == 100.0
    assert ruler_label(ruler, (0.2, 0.2), at_detector=False) == "20.0 mm"
    assert ruler_label(ruler, (0.5, 0.2), at_detector=True) == "20.0 mm at detector"
    assert ruler_label(Ruler(0, 0, 0, 100), (0.5, 0.2), at_detector=False) == "50.0 mm"
    assert ruler_label(Ruler(0, 0, 30, 40), None, at_detector=False) == "50.0 px (no pixel spacing)"
