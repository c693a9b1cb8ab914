"""Orientation: the numpy layout of a turned image agrees with the view state's own coordinate map,
in every one of the 16 (rotation, flip) settings; its words and its DICOM Patient Orientation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cxrviewer.core.image import WindowPreset
from cxrviewer.core.orientation import Orientation
from cxrviewer.core.viewstate import ViewState

ROWS, COLUMNS = 5, 7  # not square, so a quarter turn must swap the shape
SETTINGS = [(rotation, flip_h, flip_v) for rotation in (0, 90, 180, 270) for flip_h in (False, True)
            for flip_v in (False, True)]


def numbered() -> np.ndarray:
    """(ROWS, COLUMNS, 2) int: each pixel holds its own (row, column)."""
    return np.stack(np.mgrid[:ROWS, :COLUMNS], axis=-1)


@pytest.mark.parametrize(("rotation", "flip_h", "flip_v"), SETTINGS)
def test_each_pixel_lands_where_the_view_state_maps_its_centre(rotation, flip_h, flip_v):
    state = ViewState(COLUMNS, ROWS, WindowPreset(0, 10))
    state.rotation, state.flip_h, state.flip_v = rotation, flip_h, flip_v
    turned = state.orientation.apply(numbered())
    width, height = state.oriented_size()
    assert turned.shape == (height, width, 2) and turned.flags.c_contiguous
    for row in range(ROWS):
        for column in range(COLUMNS):
            view_x, view_y = state.image_to_view(column + 0.5, row + 0.5)
            assert tuple(turned[math.floor(view_y), math.floor(view_x)]) == (row, column)
            assert state.pixel_at(view_x, view_y) == (row, column)


def test_the_view_state_transform_is_the_documented_clockwise_one():
    """Independent of the code under test: a 2 x 3 image turned by hand."""
    image = np.array([[1, 2, 3], [4, 5, 6]])
    assert Orientation(90).apply(image).tolist() == [[4, 1], [5, 2], [6, 3]]  # top row becomes the right column
    assert Orientation(270).apply(image).tolist() == [[3, 6], [2, 5], [1, 4]]
    assert Orientation(180).apply(image).tolist() == [[6, 5, 4], [3, 2, 1]]
    assert Orientation(0, flip_h=True).apply(image).tolist() == [[3, 2, 1], [6, 5, 4]]
    assert Orientation(0, flip_v=True).apply(image).tolist() == [[4, 5, 6], [1, 2, 3]]
    # Flips first, then the turn: mirrored left-right, then a quarter turn clockwise.
    assert Orientation(90, flip_h=True).apply(image).tolist() == [[6, 3], [5, 2], [4, 1]]


@pytest.mark.parametrize(("rotation", "flip_h", "flip_v"), SETTINGS)
def test_canonical_form_turns_the_same_way_and_has_no_top_bottom_flip(rotation, flip_h, flip_v):
    orientation = Orientation(rotation, flip_h, flip_v)
    canonical = orientation.canonical()
    assert not canonical.flip_v
    np.testing.assert_array_equal(canonical.apply(numbered()), orientation.apply(numbered()))
    assert canonical.affine(COLUMNS, ROWS) == orientation.affine(COLUMNS, ROWS)


def test_descriptions_name_the_turn_a_reader_would():
    assert Orientation().describe() == "as stored in the source file"
    assert Orientation().is_identity and Orientation(180, True, True).is_identity
    assert Orientation(90).describe() == "rotated 90 degrees clockwise"
    assert Orientation(0, flip_h=True).describe() == "mirrored left-right"
    assert Orientation(0, flip_v=True).describe() == "mirrored left-right, then rotated 180 degrees"
    assert Orientation(270, True, False).describe() == "mirrored left-right, then rotated 90 degrees anticlockwise"
    assert Orientation(90, False, True).describe() == "mirrored left-right, then rotated 90 degrees anticlockwise"


def test_rotation_outside_quarter_turns_is_refused():
    with pytest.raises(ValueError, match="rotation must be one of"):
        Orientation(45)
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        Orientation(90).apply(np.zeros(4))


@pytest.mark.parametrize(("orientation", "expected"), [
    (Orientation(), ["L", "F"]),
    (Orientation(0, flip_h=True), ["R", "F"]),  # mirrored: the patient's left is now on the screen's left
    (Orientation(0, flip_v=True), ["L", "H"]),
    (Orientation(90), ["H", "L"]),  # the head, at the top, now at the right of a row
    (Orientation(180), ["R", "H"]),
    (Orientation(270), ["F", "R"]),
    (Orientation(90, flip_h=True), ["H", "R"]),
])
def test_patient_orientation_follows_the_turn(orientation, expected):
    assert orientation.patient_orientation(["L", "F"]) == expected


def test_patient_orientation_by_marked_pixels():
    """A PA chest labelled L\\F: the patient's left is the last column, the feet the last row. After
    any turn the exported row direction must point at wherever that column went on screen."""
    image = np.zeros((ROWS, COLUMNS), np.int64)
    image[:, -1] += 1  # the patient's left edge
    image[-1, :] += 2  # the feet
    for rotation, flip_h, flip_v in SETTINGS:
        orientation = Orientation(rotation, flip_h, flip_v)
        turned = orientation.apply(image)
        row_direction, column_direction = orientation.patient_orientation(["L", "F"])
        # The row direction points to the right edge, the column direction to the bottom edge.
        right = {"L": (turned[:, -1] & 1).all(), "R": (turned[:, 0] & 1).all(),
                 "F": (turned[:, -1] & 2).all(), "H": (turned[:, 0] & 2).all()}
        bottom = {"L": (turned[-1] & 1).all(), "R": (turned[0] & 1).all(),
                  "F": (turned[-1] & 2).all(), "H": (turned[0] & 2).all()}
        assert right[row_direction] and bottom[column_direction], (orientation, row_direction, column_direction)


def test_compound_and_unknown_patient_orientations():
    assert Orientation(180).patient_orientation(["LP", "FA"]) == ["RA", "HP"]
    assert Orientation(90).patient_orientation(["L"]) is None
    assert Orientation(90).patient_orientation(["L", "X"]) is None
    assert Orientation(90).patient_orientation(["", "F"]) is None
