"""A synthetic chest radiograph (a phantom), so the project can ship a demo study of its own.

The project may not redistribute third-party radiographs, so the demo study is drawn here: lungs,
mediastinum and heart, spine, ribs, clavicles, diaphragm, hilar vessels and quantum noise, in
attenuation units (bright = more attenuating, the display polarity of a radiograph). It is a picture
for trying the viewer, not anatomy to validate a model on: every model's findings on it are
meaningless, and the image carries a burned-in "SYNTHETIC PHANTOM" label to say so.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
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
    mask = np.zeros(shape, np.uint8)
    cv2.ellipse(mask, (int(center[0]), int(center[1])), (int(axes[0]), int(axes[1])), angle, 0, 360, 255, -1)
    return mask.astype(np.float32) / 255.0


def _polyline_band(shape, points, thickness) -> npt.NDArray[np.float32]:
    mask = np.zeros(shape, np.uint8)
    pts = np.round(points).astype(np.int32).reshape(-1, 1, 2)
    cv2.polylines(mask, [pts], False, 255, int(thickness), lineType=cv2.LINE_AA)
    return mask.astype(np.float32) / 255.0


def _diaphragm(w: int, h: int) -> npt.NDArray[np.float32]:
    """The image row of the diaphragm's upper edge for each column: two domes, the left one lower."""
    x = np.arange(w, dtype=np.float32)
    side = np.where(x < w / 2, -1.0, 1.0)
    dome_center = w * (0.5 + side * 0.2)
    base = h * np.where(side < 0, 0.735, 0.755)
    return base - h * 0.085 * np.cos(np.clip((x - dome_center) / (w * 0.2), -1.5, 1.5))


def _lung_field(shape, side: int, w: int, h: int) -> npt.NDArray[np.float32]:
    """One lung: a tall ellipse whose base is cut by the dome of the hemidiaphragm."""
    cx = w * (0.5 + side * 0.2)
    lung = _ellipse_mask(shape, (cx, h * 0.43), (w * 0.175, h * 0.32))
    x = np.arange(w, dtype=np.float32)
    below_dome = np.arange(h, dtype=np.float32)[:, None] > _diaphragm(w, h)[None, :]
    lung[below_dome] = 0.0
    medial_edge = w * (0.5 + side * 0.055)
    lung[:, (x - medial_edge) * side < 0] = 0.0
    return cv2.GaussianBlur(lung, (0, 0), w * 0.01)


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
            shaft = _polyline_band(shape, np.stack([x, y], 1), thickness)
            core = _polyline_band(shape, np.stack([x, y], 1), max(1, thickness - 5))
            ribs = np.maximum(ribs, 0.6 * shaft + 0.4 * (shaft - core))
    return cv2.GaussianBlur(ribs, (0, 0), 1.5)


def _clavicles(shape, w: int, h: int) -> npt.NDArray[np.float32]:
    out = np.zeros(shape, np.float32)
    t = np.linspace(0.0, 1.0, 40)
    for side in (-1, 1):
        x = w / 2 + side * (w * 0.05 + w * 0.32 * t)
        y = h * 0.16 - h * 0.04 * t + h * 0.025 * np.sin(np.pi * t)
        out += _polyline_band(shape, np.stack([x, y], 1), int(h * 0.018))
    return cv2.GaussianBlur(out, (0, 0), 2.0)


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
                point = point + w * 0.009 * np.array([np.cos(angle), np.sin(angle) * 0.9])
                points.append(point)
            pts = np.array(points)
            for i in range(len(pts) - 1):
                width = max(1, int(w * 0.006 * (1 - i / len(pts))))
                out = np.maximum(out, (1 - i / len(pts)) * _polyline_band(shape, pts[i : i + 2], width))
    return cv2.GaussianBlur(out, (0, 0), 1.5)


def attenuation_map(spec: PhantomSpec = PhantomSpec()) -> npt.NDArray[np.float32]:
    """The phantom as relative attenuation, (rows, columns) float32 in [0, 1], bright = dense."""
    h, w = spec.rows, spec.columns
    shape = (h, w)
    rng = np.random.default_rng(spec.seed)

    body = _ellipse_mask(shape, (w / 2, h * 0.55), (w * 0.46, h * 0.6))
    shoulders = _ellipse_mask(shape, (w / 2, h * 0.12), (w * 0.5, h * 0.1))
    body = cv2.GaussianBlur(np.maximum(body, shoulders), (0, 0), w * 0.02)
    # Thicker towards the midline, so soft tissue brightens from the flanks inwards.
    thickness = 0.75 + 0.25 * np.cos(np.linspace(-np.pi / 2, np.pi / 2, w, dtype=np.float32))[None, :]
    tissue = 0.42 * body * thickness

    heart = _ellipse_mask(shape, (w * 0.555, h * 0.58), (w * 0.17, h * 0.13), angle=-18)
    mediastinum = _ellipse_mask(shape, (w / 2, h * 0.38), (w * 0.06, h * 0.22))
    central = cv2.GaussianBlur(np.maximum(heart, mediastinum), (0, 0), w * 0.008)
    lungs = (_lung_field(shape, -1, w, h) + _lung_field(shape, 1, w, h)) * (1 - central)
    # Lung parenchyma is not empty: low-frequency texture from vessels too small to draw.
    texture = cv2.GaussianBlur(rng.normal(0, 1, shape).astype(np.float32), (0, 0), w * 0.006)
    tissue += 0.09 * central - 0.30 * lungs + 0.5 * texture * lungs

    # Below the domes of the diaphragm: the liver and stomach, as dense as soft tissue gets.
    below_diaphragm = np.arange(h, dtype=np.float32)[:, None] > _diaphragm(w, h)[None, :]
    abdomen = cv2.GaussianBlur(below_diaphragm.astype(np.float32),
                               (0, 0), w * 0.012) * body
    tissue += 0.18 * abdomen * (1 - lungs)

    spine = np.exp(-(((np.arange(w) - w / 2) / (w * 0.042)) ** 6))[None, :] * np.ones((h, 1))
    vertebrae = 0.75 + 0.25 * np.cos(np.arange(h) / (h * 0.034) * 2 * np.pi)[:, None]
    tissue += (0.04 + 0.08 * abdomen) * spine * vertebrae * body

    tissue += 0.11 * _ribs(shape, w, h) * body * (0.4 + 0.6 * lungs) + 0.16 * _clavicles(shape, w, h)
    tissue += 0.09 * _vessels(shape, rng, w, h) * lungs

    # Quantum noise grows where fewer photons reach the detector (denser regions).
    tissue = cv2.GaussianBlur(tissue.astype(np.float32), (0, 0), 1.0)
    noise = rng.normal(0.0, 1.0, shape).astype(np.float32)
    tissue += cv2.GaussianBlur(noise, (0, 0), 0.8) * (0.008 + 0.012 * tissue)
    label = np.zeros(shape, np.uint8)
    cv2.putText(label, "SYNTHETIC PHANTOM", (int(w * 0.05), int(h * 0.97)), cv2.FONT_HERSHEY_SIMPLEX,
                w / 900, 255, max(1, w // 400), cv2.LINE_AA)
    tissue = np.maximum(tissue, label.astype(np.float32) / 255.0 * 0.95)
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
