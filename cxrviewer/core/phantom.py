"""A synthetic chest radiograph (a phantom), so the project can ship a demo study of its own.

The project may not redistribute third-party radiographs, so the demo study is drawn here: lungs,
mediastinum and heart, spine, ribs, clavicles, diaphragm, hilar vessels and quantum noise, in
attenuation units (bright = more attenuating, the display polarity of a radiograph). It is a picture
for trying the viewer, not anatomy to validate a model on: every model's findings on it are
meaningless, and the image carries a burned-in "SYNTHETIC PHANTOM" label to say so.

It is drawn with numpy alone, label included: OpenCV's drawing changed with its releases (5.x draws
another font), so the committed study stopped being what the generator wrote. Every step is
elementwise float arithmetic, square roots and clipping, with transcendental functions only in
float64 before smooth steps; none depends on the CPU's SIMD paths, so `make demo` (on the numpy of
lock/*.txt) writes the same pixels on every machine and tests/core/test_phantom.py holds them equal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class PhantomSpec:
    rows: int = 1408
    columns: int = 1152
    pixel_spacing_mm: float = 0.3
    bits_stored: int = 12
    seed: int = 20261122


def _ellipse_mask(shape, center, axes, angle=0.0) -> npt.NDArray[np.float32]:
    """A filled ellipse (angle in degrees, clockwise on screen), its edge anti-aliased over one pixel."""
    turn = math.radians(angle)
    cos, sin = math.cos(turn), math.sin(turn)
    xs = np.arange(shape[1], dtype=np.float64)[None, :] - center[0]
    ys = np.arange(shape[0], dtype=np.float64)[:, None] - center[1]
    u, v = (xs * cos + ys * sin) / axes[0], (ys * cos - xs * sin) / axes[1]
    # Signed distance to the edge, to first order: the level set's value over its gradient's length.
    level = u * u + v * v - 1.0
    slope = 2.0 * np.sqrt((u / axes[0]) ** 2 + (v / axes[1]) ** 2) + 1e-12
    return np.clip(0.5 - level / slope, 0.0, 1.0).astype(np.float32)


def _stroke(canvas: npt.NDArray[np.float32], points, thickness: float, value: float = 1.0) -> None:
    """Draw a polyline into canvas ((H, W) float32, in place, by maximum): value x its coverage of each
    pixel, a band `thickness` pixels wide whose edges are anti-aliased over one pixel.

    Only square roots and clipping: the same bits on every machine, whatever numpy's SIMD paths.
    """
    height, width = canvas.shape
    reach = thickness / 2 + 1
    pts = np.asarray(points, dtype=np.float64)
    for (x0, y0), (x1, y1) in zip(pts[:-1], pts[1:], strict=True):
        left, right = max(math.floor(min(x0, x1) - reach), 0), min(math.ceil(max(x0, x1) + reach) + 1, width)
        top, bottom = max(math.floor(min(y0, y1) - reach), 0), min(math.ceil(max(y0, y1) + reach) + 1, height)
        if left >= right or top >= bottom:
            continue
        xs = np.arange(left, right, dtype=np.float64)[None, :] - x0
        ys = np.arange(top, bottom, dtype=np.float64)[:, None] - y0
        dx, dy = x1 - x0, y1 - y0
        along = np.clip((xs * dx + ys * dy) / (dx * dx + dy * dy), 0.0, 1.0) if dx or dy else 0.0
        distance = np.sqrt((xs - along * dx) ** 2 + (ys - along * dy) ** 2)
        cover = (np.clip(thickness / 2 + 0.5 - distance, 0.0, 1.0) * value).astype(np.float32)
        region = canvas[top:bottom, left:right]
        np.maximum(region, cover, out=region)


def _box(points, reach: float, shape) -> tuple[slice, slice, npt.NDArray[np.float64]]:
    """The rows and columns within `reach` of the points (clipped to the image), and the points in it."""
    pts = np.asarray(points, dtype=np.float64)
    left, top = max(math.floor(pts[:, 0].min() - reach), 0), max(math.floor(pts[:, 1].min() - reach), 0)
    right = min(math.ceil(pts[:, 0].max() + reach) + 1, shape[1])
    bottom = min(math.ceil(pts[:, 1].max() + reach) + 1, shape[0])
    return slice(top, max(bottom, top)), slice(left, max(right, left)), pts - (left, top)


def _blur(image: npt.NDArray, sigma: float) -> npt.NDArray[np.float32]:
    """image: (H, W). A float32 Gaussian blur, kernel to 3 sigma, edges mirrored without repeating the
    edge pixel (as OpenCV's default), one shifted product at a time: no FFT or dot product, whose
    summation order would follow the CPU, so the demo study is the same file on every machine."""
    radius = max(1, math.ceil(3 * sigma))
    taps = [math.exp(-0.5 * (i / sigma) ** 2) for i in range(-radius, radius + 1)]
    kernel = [np.float32(t / math.fsum(taps)) for t in taps]
    padded = np.pad(np.asarray(image, dtype=np.float32), radius, mode="reflect")
    height, width = np.shape(image)
    rows = np.zeros((padded.shape[0], width), np.float32)
    for i, weight in enumerate(kernel):
        rows += weight * padded[:, i : i + width]
    out = np.zeros((height, width), np.float32)
    for i, weight in enumerate(kernel):
        out += weight * rows[i : i + height]
    return out


def _diaphragm(w: int, h: int) -> npt.NDArray[np.float64]:
    """The image row of the diaphragm's upper edge for each column: two domes, the left one lower."""
    x = np.arange(w, dtype=np.float64)
    side = np.where(x < w / 2, -1.0, 1.0)
    dome_center = w * (0.5 + side * 0.2)
    base = h * np.where(side < 0, 0.735, 0.755)
    return base - h * 0.085 * np.cos(np.clip((x - dome_center) / (w * 0.2), -1.5, 1.5))


def _below_diaphragm(w: int, h: int) -> npt.NDArray[np.float32]:
    """1 below the diaphragm's edge, 0 above, over one pixel between."""
    rows = np.arange(h, dtype=np.float64)[:, None]
    return np.clip(rows - _diaphragm(w, h)[None, :] + 0.5, 0.0, 1.0).astype(np.float32)


def _lung_field(shape, side: int, w: int, h: int) -> npt.NDArray[np.float32]:
    """One lung: a tall ellipse whose base is cut by the dome of the hemidiaphragm."""
    cx = w * (0.5 + side * 0.2)
    lung = _ellipse_mask(shape, (cx, h * 0.43), (w * 0.175, h * 0.32)) * (1 - _below_diaphragm(w, h))
    x = np.arange(w, dtype=np.float32)
    medial_edge = w * (0.5 + side * 0.055)
    lung *= np.clip((x - medial_edge) * side + 0.5, 0.0, 1.0)[None, :]
    return _blur(lung, w * 0.01)


def _ribs(shape, w: int, h: int) -> npt.NDArray[np.float32]:
    """Posterior ribs arcing laterally and downwards from the spine, ten a side, with denser cortex."""
    ribs = np.zeros(shape, np.float32)
    t = np.linspace(0.0, 1.0, 60)
    for side in (-1, 1):
        for k in range(10):
            y0 = h * (0.13 + 0.056 * k)
            span = w * (0.27 + 0.012 * min(k, 5))
            x = w / 2 + side * (w * 0.04 + span * t)
            y = y0 - h * 0.03 * np.sin(np.pi * t * 0.8) + h * (0.06 + 0.004 * k) * t**1.6
            thickness = max(3, int(h * (0.010 + 0.0010 * k)))
            rows, cols, pts = _box(np.stack([x, y], 1), thickness, shape)
            shaft = np.zeros(ribs[rows, cols].shape, np.float32)
            core = np.zeros_like(shaft)
            _stroke(shaft, pts, thickness)
            _stroke(core, pts, max(1, thickness - 5))
            ribs[rows, cols] = np.maximum(ribs[rows, cols], 0.6 * shaft + 0.4 * (shaft - core))
    return _blur(ribs, 1.5)


def _clavicles(shape, w: int, h: int) -> npt.NDArray[np.float32]:
    out = np.zeros(shape, np.float32)
    t = np.linspace(0.0, 1.0, 40)
    for side in (-1, 1):
        x = w / 2 + side * (w * 0.05 + w * 0.32 * t)
        y = h * 0.16 - h * 0.04 * t + h * 0.025 * np.sin(np.pi * t)
        band = np.zeros(shape, np.float32)
        _stroke(band, np.stack([x, y], 1), int(h * 0.018))
        out += band
    return _blur(out, 2.0)


def _vessels(shape, rng: np.random.Generator, w: int, h: int) -> npt.NDArray[np.float32]:
    """Hilar vessels: random walks fanning out from each hilum, thinning with distance."""
    out = np.zeros(shape, np.float32)
    for side in (-1, 1):
        hilum = np.array([w / 2 + side * w * 0.11, h * 0.42])
        for _ in range(16):
            angle = rng.uniform(-1.3, 1.3) + (0 if side > 0 else np.pi)
            start = hilum + rng.normal(0, w * 0.012, 2)
            point, points = start, [start]
            for _step in range(22):
                angle += rng.normal(0, 0.15)
                point = point + w * 0.009 * np.array([math.cos(angle), math.sin(angle) * 0.9])
                points.append(point)
            pts = np.array(points)
            for i in range(len(pts) - 1):
                width = max(1, int(w * 0.006 * (1 - i / len(pts))))
                _stroke(out, pts[i : i + 2], width, value=1 - i / len(pts))
    return _blur(out, 1.5)


# A stroke font for the burned-in label: each letter's polylines on a grid 4 wide and 6 tall (y up).
_GLYPHS = {
    "A": [[(0, 0), (2, 6), (4, 0)], [(0.67, 2), (3.33, 2)]],
    "C": [[(4, 5.2), (3.2, 6), (0.8, 6), (0, 5.2), (0, 0.8), (0.8, 0), (3.2, 0), (4, 0.8)]],
    "E": [[(4, 6), (0, 6), (0, 0), (4, 0)], [(0, 3), (3, 3)]],
    "H": [[(0, 0), (0, 6)], [(4, 0), (4, 6)], [(0, 3), (4, 3)]],
    "I": [[(2, 0), (2, 6)], [(1, 6), (3, 6)], [(1, 0), (3, 0)]],
    "M": [[(0, 0), (0, 6), (2, 2), (4, 6), (4, 0)]],
    "N": [[(0, 0), (0, 6), (4, 0), (4, 6)]],
    "O": [[(0.8, 0), (0, 0.8), (0, 5.2), (0.8, 6), (3.2, 6), (4, 5.2), (4, 0.8), (3.2, 0), (0.8, 0)]],
    "P": [[(0, 0), (0, 6), (3.2, 6), (4, 5.2), (4, 3.8), (3.2, 3), (0, 3)]],
    "S": [[(4, 5.2), (3.2, 6), (0.8, 6), (0, 5.2), (0, 4), (0.8, 3.2), (3.2, 2.8), (4, 2), (4, 0.8),
           (3.2, 0), (0.8, 0), (0, 0.8)]],
    "T": [[(0, 6), (4, 6)], [(2, 6), (2, 0)]],
    "Y": [[(0, 6), (2, 3), (4, 6)], [(2, 3), (2, 0)]],
    " ": [],
}


def _label(shape, text: str, left: float, baseline: float, cap_height: float, thickness: float) -> npt.NDArray[np.float32]:
    """text in capitals (the letters of _GLYPHS), its left end and baseline at image pixels, as coverage."""
    canvas = np.zeros(shape, np.float32)
    unit = cap_height / 6
    for i, letter in enumerate(text):
        for line in _GLYPHS[letter]:
            _stroke(canvas, [(left + (5.6 * i + x) * unit, baseline - y * unit) for x, y in line], thickness)
    return canvas


def attenuation_map(spec: PhantomSpec = PhantomSpec()) -> npt.NDArray[np.float32]:
    """The phantom as relative attenuation, (rows, columns) float32 in [0, 1], bright = dense."""
    h, w = spec.rows, spec.columns
    shape = (h, w)
    rng = np.random.default_rng(spec.seed)

    body = _ellipse_mask(shape, (w / 2, h * 0.55), (w * 0.46, h * 0.6))
    shoulders = _ellipse_mask(shape, (w / 2, h * 0.12), (w * 0.5, h * 0.1))
    body = _blur(np.maximum(body, shoulders), w * 0.02)
    # Thicker towards the midline, so soft tissue brightens from the flanks inwards.
    thickness = (0.75 + 0.25 * np.cos(np.linspace(-np.pi / 2, np.pi / 2, w))[None, :]).astype(np.float32)
    tissue = 0.42 * body * thickness

    heart = _ellipse_mask(shape, (w * 0.555, h * 0.58), (w * 0.17, h * 0.13), angle=-18)
    mediastinum = _ellipse_mask(shape, (w / 2, h * 0.38), (w * 0.06, h * 0.22))
    central = _blur(np.maximum(heart, mediastinum), w * 0.008)
    lungs = (_lung_field(shape, -1, w, h) + _lung_field(shape, 1, w, h)) * (1 - central)
    # Lung parenchyma is not empty: low-frequency texture from vessels too small to draw.
    texture = _blur(rng.normal(0, 1, shape).astype(np.float32), w * 0.006)
    tissue += 0.09 * central - 0.30 * lungs + 0.5 * texture * lungs

    # Below the domes of the diaphragm: the liver and stomach, as dense as soft tissue gets.
    abdomen = _blur(_below_diaphragm(w, h), w * 0.012) * body
    tissue += 0.18 * abdomen * (1 - lungs)

    spine = np.exp(-(((np.arange(w) - w / 2) / (w * 0.042)) ** 6))[None, :] * np.ones((h, 1))
    vertebrae = 0.75 + 0.25 * np.cos(np.arange(h) / (h * 0.034) * 2 * np.pi)[:, None]
    tissue += ((0.04 + 0.08 * abdomen) * (spine * vertebrae).astype(np.float32) * body).astype(np.float32)

    tissue += 0.11 * _ribs(shape, w, h) * body * (0.4 + 0.6 * lungs) + 0.16 * _clavicles(shape, w, h)
    tissue += 0.09 * _vessels(shape, rng, w, h) * lungs

    # Quantum noise grows where fewer photons reach the detector (denser regions).
    tissue = _blur(tissue, 1.0)
    noise = rng.normal(0.0, 1.0, shape).astype(np.float32)
    tissue += _blur(noise, 0.8) * (0.008 + 0.012 * tissue)
    label = _label(shape, "SYNTHETIC PHANTOM", w * 0.05, h * 0.97, h * 0.02, max(1.5, w / 300))
    tissue = np.maximum(tissue, label * 0.95)
    return np.clip(tissue, 0.0, 1.0).astype(np.float32)


def stored_values(spec: PhantomSpec = PhantomSpec()) -> npt.NDArray[np.uint16]:
    """The phantom as the detector would store it: (rows, columns) uint16, `bits_stored` deep."""
    top = (1 << spec.bits_stored) - 1
    return np.round(attenuation_map(spec) * top * 0.92 + top * 0.03).astype(np.uint16)


# Fixed identifiers, so that regenerating the demo study gives the same file byte for byte.
DEMO_PATIENT_ID = "CXRV-DEMO-0001"
_UID_SEED = "cxrviewer-demo-phantom-v1"


def write_demo_dicom(path, spec: PhantomSpec = PhantomSpec()) -> None:
    """Write the phantom as a DX "FOR PRESENTATION" DICOM file with window presets and spacing."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    def uid(part: str) -> str:
        return generate_uid(entropy_srcs=[_UID_SEED, part])

    sop_class = "1.2.840.10008.5.1.4.1.1.1.1"  # Digital X-Ray Image Storage - For Presentation
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = uid("sop")
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = uid("implementation")

    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = uid("study")
    ds.SeriesInstanceUID = uid("series")
    ds.PatientName = "DEMO^PHANTOM"
    ds.PatientID = DEMO_PATIENT_ID
    ds.PatientSex = "O"
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = "20261122"
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = "120000"
    ds.StudyDescription = "Synthetic chest phantom (cxrviewer demo, not a patient)"
    ds.SeriesDescription = "PA chest phantom"
    ds.Modality = "DX"
    ds.Manufacturer = "cxrviewer"
    ds.BodyPartExamined = "CHEST"
    ds.ViewPosition = "PA"
    ds.PatientOrientation = ["R", "F"]
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.BurnedInAnnotation = "YES"
    ds.StudyID = "1"
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.ImageType = ["DERIVED", "SECONDARY"]
    ds.Rows, ds.Columns = spec.rows, spec.columns
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = spec.bits_stored
    ds.HighBit = spec.bits_stored - 1
    ds.PixelRepresentation = 0
    ds.PixelSpacing = [spec.pixel_spacing_mm, spec.pixel_spacing_mm]
    ds.ImagerPixelSpacing = [spec.pixel_spacing_mm, spec.pixel_spacing_mm]
    ds.PixelSpacingCalibrationType = "GEOMETRY"
    ds.RescaleIntercept = 0
    ds.RescaleSlope = 1
    ds.RescaleType = "US"
    top = (1 << spec.bits_stored) - 1
    ds.WindowCenter = [round(top * 0.5), round(top * 0.3), round(top * 0.62)]
    ds.WindowWidth = [round(top * 0.95), round(top * 0.45), round(top * 0.5)]
    ds.WindowCenterWidthExplanation = ["DEFAULT", "LUNG", "MEDIASTINUM"]
    ds.PresentationLUTShape = "IDENTITY"
    ds.PixelData = stored_values(spec).tobytes()
    ds.save_as(path, enforce_file_format=True)
