"""Model input contracts: crop, resize/letterbox, the papers' intensity steps, and the exact way back.

`prepare` turns display pixels into a model tensor and returns the `Geometry` that maps every model
pixel (or any coarser map that tiles the model input) back onto the image grid, so maps are drawn
where the model looked.

Order of operations, and why: crop (a lung box, or the centre for "center_crop") -> resize to the
model's size -> intensity steps on the resized content -> pad (letterbox) -> value scaling. The
intensity steps run at model resolution so that a 5x5 blur or an 8x8 CLAHE grid means the same thing
for a 4000-pixel CR and a 224-pixel JPEG, and before padding so that the pad never enters a histogram.

Coordinates: the centre of pixel (row r, column c) is the point (x=c, y=r). The 2x3 matrix uses the
half-pixel convention of cv2.resize: model x = (image x - x0 + 0.5) * sx - 0.5 + pad_x.
Maps coarser than the model input (a 7x7 feature grid) are first upsampled to the model size with
`imageops.resample.resize` (same half-pixel convention: each cell's value sits at its block's centre), then mapped
through the inverse affine; image pixels outside the crop box, and model pad, become 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from cxrviewer.core.errors import ConfigError
from cxrviewer.core.imageops.contrast import BLUR_KERNELS, clahe, equalize_hist, gaussian_blur_u8
from cxrviewer.core.imageops.resample import resample_affine, resize

RESIZE_MODES = ("stretch", "letterbox", "center_crop")
SCALINGS = ("unit", "imagenet", "zscore")
# Value ranges a tensor of each scaling lies in, so the runtime can refuse doubled or skipped scaling.
SCALING_RANGES = {"unit": (0.0, 1.0), "imagenet": (-2.2, 2.7), "zscore": (-50.0, 50.0)}
# How the runtime fits an image of any size to an image-to-image model (`runtime.tiling`).
RESIZE_POLICIES = ("none", "tile", "resize", "rescale_residual")
# name -> default parameters; a Step may only set these keys.
STEP_DEFAULTS: dict[str, dict[str, float | int | str]] = {
    "clahe": {"clip_limit": 2.0, "tile": 8},  # Rajaraman 2018
    "saturate": {"low_pct": 1.0, "high_pct": 99.0},  # Rajaraman 2021
    "histeq_blur": {"kernel": 5},  # Group-Q: histogram equalisation then 5x5 Gaussian blur
    "lung_crop": {"margin": 0.05},  # geometric: needs a crop box from a lung mask (see lung_box)
}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# CLAHE runs on 16-bit integers so that [0, 1] float pixels are not coarsened to 256 levels.
_U16 = 65535.0


@dataclass(frozen=True)
class Step:
    """One named preprocessing step with its parameters (unset parameters take STEP_DEFAULTS)."""

    name: str
    params: Mapping[str, float | int | str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.name not in STEP_DEFAULTS:
            raise ConfigError(f"preprocessing step {self.name!r} is unknown; known: {', '.join(STEP_DEFAULTS)}")
        unknown = set(self.params) - set(STEP_DEFAULTS[self.name])
        if unknown:
            raise ConfigError(
                f"preprocessing step {self.name!r}: unknown parameter(s) {sorted(unknown)}; "
                f"known: {sorted(STEP_DEFAULTS[self.name])}"
            )
        merged = {**STEP_DEFAULTS[self.name], **self.params}
        object.__setattr__(self, "params", merged)
        if self.name == "saturate" and not 0 <= float(merged["low_pct"]) < float(merged["high_pct"]) <= 100:
            raise ConfigError(f"preprocessing step 'saturate': need 0 <= low_pct < high_pct <= 100, got {merged}")
        if self.name == "clahe" and (float(merged["clip_limit"]) <= 0 or int(merged["tile"]) < 1):
            raise ConfigError(f"preprocessing step 'clahe': clip_limit must be > 0 and tile >= 1, got {merged}")
        if self.name == "histeq_blur" and int(merged["kernel"]) not in BLUR_KERNELS:
            raise ConfigError(f"preprocessing step 'histeq_blur': kernel must be one of {BLUR_KERNELS}, got {merged}")
        if self.name == "lung_crop" and not 0 <= float(merged["margin"]) < 0.5:
            raise ConfigError(f"preprocessing step 'lung_crop': margin must be in [0, 0.5), got {merged}")

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "params": dict(self.params)}


@dataclass(frozen=True)
class InputContract:
    """What a model takes: (N, channels, height, width) float32 made from display pixels by this recipe.

    It is the model card's `input` (`core.cards`), so `prepare(pixels, card.input)` makes the tensor the
    model was trained on; the training configuration's `input:` block is the same object.

    resize: how the film (or its crop) is fitted to height x width (RESIZE_MODES).
    scaling: the values the model takes (SCALINGS); `value_range` is where they lie, what the runtime
        holds every tensor to (default: the scaling's SCALING_RANGES).
    steps: the intensity steps, and lung_crop, in order.
    resize_policy: for image-to-image models, how the runtime fits other sizes to the working size
        (RESIZE_POLICIES: "tile" keeps full resolution, "resize" scales the whole image,
        "rescale_residual" runs at the working scale and applies the removed part at full resolution;
        see `runtime.tiling`); "none" for a classifier.
    """

    height: int
    width: int
    channels: int = 1
    resize: str = "stretch"
    scaling: str = "unit"
    steps: tuple[Step, ...] = ()
    resize_policy: str = "none"
    value_range: tuple[float, float] | None = None  # None: SCALING_RANGES[scaling]

    def __post_init__(self) -> None:
        if self.height < 8 or self.width < 8:
            raise ConfigError(f"input size {self.height}x{self.width} is too small (at least 8x8)")
        if self.channels not in (1, 3):
            raise ConfigError(f"input channels must be 1 or 3, got {self.channels}")
        if self.resize not in RESIZE_MODES:
            raise ConfigError(f"input resize {self.resize!r} is unknown; known: {', '.join(RESIZE_MODES)}")
        if self.scaling not in SCALINGS:
            raise ConfigError(f"input scaling {self.scaling!r} is unknown; known: {', '.join(SCALINGS)}")
        if self.resize_policy not in RESIZE_POLICIES:
            raise ConfigError(f"input resize_policy {self.resize_policy!r} is unknown; "
                              f"known: {', '.join(RESIZE_POLICIES)}")
        low, high = SCALING_RANGES[self.scaling] if self.value_range is None else self.value_range
        if not float(low) < float(high):
            raise ConfigError(f"input value_range must be [low, high] with low < high, got {[low, high]}")
        object.__setattr__(self, "value_range", (float(low), float(high)))
        object.__setattr__(self, "steps", tuple(self.steps))

    @property
    def needs_lung_box(self) -> bool:
        return any(step.name == "lung_crop" for step in self.steps)

    @property
    def lung_margin(self) -> float:
        """The lung_crop step's margin (its default when the step does not set one)."""
        step = next(step for step in self.steps if step.name == "lung_crop")
        return float({**STEP_DEFAULTS["lung_crop"], **step.params}["margin"])

    def to_dict(self) -> dict[str, Any]:
        """The training configuration's `input:` block (the card's form is `core.cards.input_to_dict`);
        resize_policy and value_range only when they are not the defaults."""
        out: dict[str, Any] = {
            "height": self.height,
            "width": self.width,
            "channels": self.channels,
            "resize": self.resize,
            "scaling": self.scaling,
            "steps": [step.to_dict() for step in self.steps],
        }
        if self.resize_policy != "none":
            out["resize_policy"] = self.resize_policy
        if self.value_range != SCALING_RANGES[self.scaling]:
            out["value_range"] = list(self.value_range)
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> InputContract:
        try:
            steps = tuple(Step(s["name"], dict(s.get("params", {}))) for s in d.get("steps", ()))
            value_range = d.get("value_range")
            return cls(
                height=int(d["height"]),
                width=int(d["width"]),
                channels=int(d.get("channels", 1)),
                resize=str(d.get("resize", "stretch")),
                scaling=str(d.get("scaling", "unit")),
                steps=steps,
                resize_policy=str(d.get("resize_policy", "none")),
                value_range=None if value_range is None else (float(value_range[0]), float(value_range[1])),
            )
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise ConfigError(f"input contract {dict(d)!r} is malformed: {exc!r}") from exc


@dataclass(frozen=True)
class Geometry:
    """How image pixels map to model pixels, exactly invertible (see the module docstring)."""

    image_shape: tuple[int, int]
    crop_box: tuple[int, int, int, int]  # (y0, x0, y1, x1) in image pixels, end exclusive
    model_shape: tuple[int, int]
    matrix: npt.NDArray[np.float64]  # 2x3 affine: image (x, y) -> model (x, y)
    content_box: tuple[int, int, int, int]  # (y0, x0, y1, x1) of the non-pad area in model pixels

    def to_model_points(self, xy: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """xy: (N, 2) image points (x, y), pixel-centre convention -> (N, 2) model points."""
        pts = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        return pts @ self.matrix[:, :2].T + self.matrix[:, 2]

    def to_image_points(self, xy: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """xy: (N, 2) model points (x, y) -> (N, 2) image points; exact inverse of to_model_points."""
        pts = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        inverse = _invert_affine(self.matrix)
        return pts @ inverse[:, :2].T + inverse[:, 2]

    def to_image(self, model_map: npt.NDArray[np.float32], *, order: str = "linear") -> npt.NDArray[np.float32]:
        """model_map: (h', w') float32 in model space, any range; (h', w') the model input size or a
        grid that tiles it (e.g. 7x7 for 224x224). Returns (H, W) float32 on the image grid, the same
        values resampled, 0 outside the crop box and where the model saw only pad.
        order: "linear" or "nearest"."""
        if order not in ("linear", "nearest"):
            raise ValueError(f"order must be 'linear' or 'nearest', got {order!r}")
        grid = np.asarray(model_map, dtype=np.float32)
        if grid.ndim != 2:
            raise ValueError(f"model map must be 2-D, got shape {grid.shape}")
        h, w = self.model_shape
        if grid.shape != (h, w):
            if h % grid.shape[0] or w % grid.shape[1]:
                raise ValueError(f"map {grid.shape} does not tile the model input {self.model_shape}")
            grid = resize(grid, (h, w), order)
        cy0, cx0, cy1, cx1 = self.content_box
        # The pad is replaced by the nearest content value, and the border replicated, so the crop
        # box's rim is not blended with pad or a fictitious 0 ring; outside the crop box is then 0.
        content = np.pad(grid[cy0:cy1, cx0:cx1], ((cy0, h - cy1), (cx0, w - cx1)), mode="edge")
        # self.matrix maps image → model, i.e. each output (image) pixel to the model point it samples.
        out = resample_affine(content, self.matrix, self.image_shape, order)
        height, width = self.image_shape
        y0, x0, y1, x1 = self.crop_box
        result = np.zeros((height, width), dtype=np.float32)
        result[y0:y1, x0:x1] = out[y0:y1, x0:x1]
        return result


def _invert_affine(matrix: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """2x3 affine [A | t] → its inverse [A⁻¹ | −A⁻¹t] (float64)."""
    linear = np.linalg.inv(matrix[:, :2])
    return np.hstack([linear, -linear @ matrix[:, 2:]])


def lung_box(mask: npt.NDArray[Any], margin: float = 0.05) -> tuple[int, int, int, int]:
    """mask: (H, W) any dtype, lungs > 0 (or > 0.5 for float). Returns the (y0, x0, y1, x1) box around
    the lungs grown by `margin` of its size on each side, clipped to the image."""
    binary = mask > (0.5 if np.issubdtype(np.asarray(mask).dtype, np.floating) else 0)
    rows = np.flatnonzero(binary.any(axis=1))
    cols = np.flatnonzero(binary.any(axis=0))
    if rows.size == 0:
        raise ValueError("lung mask is empty; cannot crop to the lungs")
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    my, mx = round((y1 - y0) * margin), round((x1 - x0) * margin)
    height, width = binary.shape
    return (max(0, y0 - my), max(0, x0 - mx), min(height, y1 + my), min(width, x1 + mx))


def apply_steps(pixels: npt.NDArray[np.float32], steps: Sequence[Step]) -> npt.NDArray[np.float32]:
    """pixels: (H, W) float32 in [0, 1] -> (H, W) float32 in [0, 1] after each intensity step in order
    (geometric steps such as lung_crop are handled by `prepare` and skipped here)."""
    out = np.clip(np.asarray(pixels, dtype=np.float32), 0.0, 1.0)
    for step in steps:
        p = step.params
        if step.name == "clahe":
            stored = np.round(out * _U16).astype(np.uint16)
            out = clahe(stored, float(p["clip_limit"]), int(p["tile"])).astype(np.float32) / _U16
        elif step.name == "saturate":
            low, high = np.percentile(out, [float(p["low_pct"]), float(p["high_pct"])])
            if high > low:
                out = (np.clip(out, low, high) - low) / (high - low)
        elif step.name == "histeq_blur":
            kernel = int(p["kernel"])
            equalised = equalize_hist(np.round(out * 255.0).astype(np.uint8))
            out = gaussian_blur_u8(equalised, kernel).astype(np.float32) / 255.0
    return out.astype(np.float32)


def _fitted_box(
    box: tuple[int, int, int, int], contract: InputContract
) -> tuple[int, int, int, int]:
    """For center_crop, the largest centred sub-box of `box` with the model's aspect ratio."""
    y0, x0, y1, x1 = box
    if contract.resize != "center_crop":
        return box
    ch, cw = y1 - y0, x1 - x0
    aspect = contract.width / contract.height
    if cw / ch > aspect:
        new_w = max(1, round(ch * aspect))
        x0 += (cw - new_w) // 2
        return (y0, x0, y1, x0 + new_w)
    new_h = max(1, round(cw / aspect))
    y0 += (ch - new_h) // 2
    return (y0, x0, y0 + new_h, x1)


def prepare(
    pixels: npt.NDArray[np.float32],
    contract: InputContract,
    *,
    crop_box: tuple[int, int, int, int] | None = None,
) -> tuple[npt.NDArray[np.float32], Geometry]:
    """pixels: (H, W) float32 in [0, 1], display polarity. crop_box: (y0, x0, y1, x1) image pixels,
    required when the contract has a lung_crop step (use `lung_box`). Returns the model input
    (channels, height, width) float32 (range set by contract.scaling) and its Geometry."""
    image = np.asarray(pixels, dtype=np.float32)
    if image.ndim != 2:
        raise ValueError(f"prepare needs (H, W) grey pixels, got shape {image.shape}")
    height, width = image.shape
    if crop_box is None:
        if contract.needs_lung_box:
            raise ConfigError("preprocessing step 'lung_crop' needs a lung box (from a lung mask) for each image")
        crop_box = (0, 0, height, width)
    y0, x0, y1, x1 = (int(v) for v in crop_box)
    y0, x0, y1, x1 = max(0, y0), max(0, x0), min(height, y1), min(width, x1)
    if y1 <= y0 or x1 <= x0:
        raise ValueError(f"crop box {crop_box} is empty on an image of {height}x{width}")
    y0, x0, y1, x1 = _fitted_box((y0, x0, y1, x1), contract)
    ch, cw = y1 - y0, x1 - x0
    mh, mw = contract.height, contract.width
    if contract.resize == "letterbox":
        scale = min(mw / cw, mh / ch)
        nh, nw = max(1, round(ch * scale)), max(1, round(cw * scale))
    else:
        nh, nw = mh, mw
    pad_y, pad_x = (mh - nh) // 2, (mw - nw) // 2
    sx, sy = nw / cw, nh / ch
    matrix = np.array(
        [[sx, 0.0, (0.5 - x0) * sx - 0.5 + pad_x], [0.0, sy, (0.5 - y0) * sy - 0.5 + pad_y]], dtype=np.float64
    )
    region = image[y0:y1, x0:x1]
    # Area averaging when shrinking (no aliasing of fine ribs); linear when enlarging.
    interp = "area" if nw < cw and nh < ch else "linear"
    resized = resize(region, (nh, nw), interp)
    content = apply_steps(resized, contract.steps)
    canvas = np.zeros((mh, mw), dtype=np.float32)
    canvas[pad_y : pad_y + nh, pad_x : pad_x + nw] = content
    tensor = np.repeat(canvas[None], contract.channels, axis=0)
    tensor = scale_values(tensor, contract, (pad_y, pad_x, pad_y + nh, pad_x + nw))
    geometry = Geometry(
        image_shape=(height, width),
        crop_box=(y0, x0, y1, x1),
        model_shape=(mh, mw),
        matrix=matrix,
        content_box=(pad_y, pad_x, pad_y + nh, pad_x + nw),
    )
    return tensor.astype(np.float32), geometry


def scale_values(
    tensor: npt.NDArray[np.float32], contract: InputContract, content_box: tuple[int, int, int, int]
) -> npt.NDArray[np.float32]:
    """tensor: (C, h, w) float32 in [0, 1] -> the contract's value scaling; zscore statistics are
    taken inside content_box (y0, x0, y1, x1) so letterbox pad does not count. Training calls this
    after augmenting unit-range arrays."""
    if contract.scaling == "unit":
        return tensor
    if contract.scaling == "imagenet":
        if contract.channels == 3:
            mean = np.array(IMAGENET_MEAN, dtype=np.float32)[:, None, None]
            std = np.array(IMAGENET_STD, dtype=np.float32)[:, None, None]
        else:  # one grey channel: the channel-averaged statistics
            mean = np.float32(np.mean(IMAGENET_MEAN))
            std = np.float32(np.mean(IMAGENET_STD))
        return (tensor - mean) / std
    y0, x0, y1, x1 = content_box
    content = tensor[0, y0:y1, x0:x1]
    return (tensor - content.mean()) / max(float(content.std()), 1e-6)
