"""How the reader has turned the film: mirror flips in image space, then a clockwise rotation.

One definition serves the screen and the exports: the canvas sets its image group's transform from
`Orientation.affine`, and `Orientation.apply` lays an array out as that transform shows it, so a
PNG, PDF or DICOM Secondary Capture of the view faces the way the screen did.

Coordinates are those of core.viewstate: image (x, y) with x along columns and y down the rows,
pixel (r, c) covering [c, c + 1] x [r, r + 1]; view coordinates are the turned image in
[0, W'] x [0, H'], y down. Pixel (r, c) of the image becomes the view pixel whose square holds the
image of its centre (c + 0.5, r + 0.5).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

ROTATIONS = (0, 90, 180, 270)
# DICOM PS3.3 C.7.6.1.1.1: anterior/posterior, left/right, head/foot; a direction may combine them.
_TURN_WORDS = {90: "rotated 90 degrees clockwise", 180: "rotated 180 degrees",
               270: "rotated 90 degrees anticlockwise"}
_OPPOSITE = {"A": "P", "P": "A", "L": "R", "R": "L", "H": "F", "F": "H"}


def opposite_side(direction: str) -> str:
    """The patient direction opposite a DICOM direction code, letter by letter ("LF" → "RH")."""
    return "".join(_OPPOSITE[letter] for letter in direction)


@dataclass(frozen=True)
class Orientation:
    """flip_h / flip_v mirror the image left-right / top-bottom first; then `rotation` degrees
    clockwise on screen (one of ROTATIONS)."""

    rotation: int = 0
    flip_h: bool = False
    flip_v: bool = False

    def __post_init__(self) -> None:
        if self.rotation not in ROTATIONS:
            raise ValueError(f"rotation must be one of {ROTATIONS}, got {self.rotation}")

    @property
    def is_identity(self) -> bool:
        return self.canonical() == Orientation()

    def canonical(self) -> Orientation:
        """The same turn written with no top-bottom flip: a top-bottom mirror is a left-right one
        followed by a half turn, so two mirrors are a half turn."""
        if not self.flip_v:
            return self
        return Orientation((self.rotation + 180) % 360, not self.flip_h, False)

    def affine(self, width: int, height: int) -> tuple[float, float, float, float, float, float]:
        """(a, b, c, d, tx, ty) with view x = a*x + b*y + tx, view y = c*x + d*y + ty, for an image
        of `width` columns and `height` rows."""
        w, h = float(width), float(height)
        a, tx = (-1.0, w) if self.flip_h else (1.0, 0.0)
        d, ty = (-1.0, h) if self.flip_v else (1.0, 0.0)
        # Clockwise on screen with y down: (x, y) -> (h - y, x) for 90, (w - x, h - y) for 180,
        # (y, w - x) for 270; composed with the flips above.
        if self.rotation == 0:
            return a, 0.0, 0.0, d, tx, ty
        if self.rotation == 90:
            return 0.0, -d, a, 0.0, h - ty, tx
        if self.rotation == 180:
            return -a, 0.0, 0.0, -d, w - tx, h - ty
        return 0.0, d, -a, 0.0, ty, w - tx

    def apply(self, pixels: npt.NDArray) -> npt.NDArray:
        """`pixels` (H, W) or (H, W, C), any dtype, laid out as the screen shows it: (H', W'[, C]),
        (H', W') = (W, H) for 90 and 270 degrees; a new C-contiguous array, values untouched."""
        if pixels.ndim not in (2, 3):
            raise ValueError(f"pixels must be (H, W) or (H, W, C), got shape {pixels.shape}")
        out = pixels
        if self.flip_h:
            out = out[:, ::-1]
        if self.flip_v:
            out = out[::-1]
        # np.rot90 turns from the first axis towards the second, which with rows drawn downwards is
        # anticlockwise on screen; a negative count turns clockwise.
        return np.ascontiguousarray(np.rot90(out, k=-(self.rotation // 90), axes=(0, 1)))

    def describe(self) -> str:
        """The turn in a reader's words, e.g. "mirrored left-right, then rotated 90 degrees clockwise"."""
        turn = self.canonical()
        parts = (["mirrored left-right"] if turn.flip_h else []) + (
            [_TURN_WORDS[turn.rotation]] if turn.rotation else [])
        return ", then ".join(parts) or "as stored in the source file"

    def patient_orientation(self, source: Sequence[str]) -> list[str] | None:
        """DICOM Patient Orientation (row direction, column direction) of the turned image, from the
        source's two values (e.g. ["L", "F"] for a PA chest shown with the patient's left on the
        right); None when the source's values are not two valid direction codes."""
        values = [str(value).strip().upper() for value in source]
        if len(values) != 2 or not all(v and set(v) <= _OPPOSITE.keys() for v in values):
            return None
        a, b, c, d, _tx, _ty = self.affine(1, 1)

        def direction(along_x: float, along_y: float) -> str:
            # The view axis runs along image axis x (or y), forwards when the coefficient is +1.
            value, sign = (values[0], along_x) if along_x else (values[1], along_y)
            return value if sign > 0 else opposite_side(value)

        # view = M image with M orthogonal, so a view axis points along the row of M for it.
        return [direction(a, b), direction(c, d)]
