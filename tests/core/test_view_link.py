"""Two films' views linked both ways (the prior comparison): window changes in proportion to each
film's value range, zoom relative to each film's fit, pan as a fraction of each turned film; flips
and turns stay each film's own."""

from __future__ import annotations

import pytest

from cxrviewer.core.image import WindowPreset
from cxrviewer.core.view_link import ViewLink, fit_zoom, follow_window
from cxrviewer.core.viewstate import ViewState, drag_window

VIEWPORT = (400.0, 500.0)


def pair(a_size=(200, 100), b_size=(1000, 800)):
    a = ViewState(*a_size, WindowPreset(2000, 4000))
    b = ViewState(*b_size, WindowPreset(100, 200))
    for state in (a, b):
        state.fit(*VIEWPORT)
    link = ViewLink(a, 4000.0, lambda: VIEWPORT, b, 255.0, lambda: VIEWPORT)
    return a, b, link


def test_a_drag_on_either_film_is_made_on_the_other_as_the_same_drag_would():
    a, b, _link = pair()
    a.window = drag_window(a.window, 60, -30, 4000.0)
    assert b.window == drag_window(WindowPreset(100, 200), 60, -30, 255.0)
    assert a.window == drag_window(WindowPreset(2000, 4000), 60, -30, 4000.0)
    before = a.window
    b.window = drag_window(b.window, -120, 90, 255.0)  # and back the other way
    assert a.window.center == pytest.approx(before.center + 90 * 4000 / 600)
    assert a.window.width == pytest.approx(before.width - 120 * 4000 / 600)


def test_follow_window_keeps_the_width_at_least_one():
    narrowed = follow_window(WindowPreset(0, 500), WindowPreset(0, 10), 100.0, WindowPreset(50, 100), 100.0)
    assert narrowed.width == 1.0 and narrowed.center == 50


def test_invert_follows_but_a_voi_lut_stays_the_films_own():
    a, b, _link = pair()
    a.invert = True
    assert b.invert
    window = b.window
    a.use_voi_lut(0, 1)
    assert b.window == window and b.voi_lut_index is None


def test_zoom_and_pan_follow_relative_to_each_films_fit_both_ways():
    a, b, _link = pair()
    assert a.fitted and b.fitted
    a.zoom_about(2.0, (150.0, 30.0))
    assert not b.fitted
    assert b.zoom / fit_zoom(b, VIEWPORT) == pytest.approx(a.zoom / fit_zoom(a, VIEWPORT)) == pytest.approx(2.0)
    assert b.center[0] / 1000 == pytest.approx(a.center[0] / 200)
    assert b.center[1] / 800 == pytest.approx(a.center[1] / 100)
    b.pan_by(40, -20)
    assert a.center[0] / 200 == pytest.approx(b.center[0] / 1000)
    assert a.center[1] / 100 == pytest.approx(b.center[1] / 800)
    b.fit(*VIEWPORT)
    assert a.fitted and a.zoom == pytest.approx(fit_zoom(a, VIEWPORT))


def test_flips_and_turns_are_not_copied():
    a, b, _link = pair()
    b.flip_h = True
    b.rotate_clockwise(1)
    assert (a.flip_h, a.rotation) == (False, 0) and (b.flip_h, b.rotation) == (True, 90)
    # The turned film's frame is what follows: its fit and fractions are of the turned size (800 x 1000).
    a.zoom_about(1.5, a.center)
    assert b.zoom / fit_zoom(b, VIEWPORT) == pytest.approx(1.5)
    assert b.oriented_size() == (800, 1000)


def test_the_second_film_takes_the_firsts_zoom_and_pan_at_the_start_and_close_unlinks():
    a = ViewState(200, 100, WindowPreset(2000, 4000))
    b = ViewState(1000, 800, WindowPreset(100, 200))
    a.fit(*VIEWPORT)
    a.zoom_about(3.0, (50.0, 50.0))
    b.fit(*VIEWPORT)
    link = ViewLink(a, 4000.0, lambda: VIEWPORT, b, 255.0, lambda: VIEWPORT)
    assert b.zoom / fit_zoom(b, VIEWPORT) == pytest.approx(3.0)
    assert b.window == WindowPreset(100, 200)  # each keeps its own window
    link.close()
    a.zoom_about(2.0, a.center)
    assert b.zoom / fit_zoom(b, VIEWPORT) == pytest.approx(3.0)


def test_a_view_is_not_linked_to_itself():
    a = ViewState(200, 100, WindowPreset(2000, 4000))
    with pytest.raises(ValueError, match="itself"):
        ViewLink(a, 1.0, lambda: VIEWPORT, a, 1.0, lambda: VIEWPORT)
