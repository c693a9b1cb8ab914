"""How well an explanation map localises, on radiologists' boxes (and lung masks where there are any).

Measures, per map on the image grid (maps are clipped at 0: evidence, not counter-evidence, is
what a reader looks at):
- pointing game: is the map's maximum inside a box (Zhang et al. 2018)?
- share of map mass inside the boxes (1.0 = all evidence inside);
- IoU of the map thresholded at a fraction of its maximum (0.2, as CRM is shown) with the boxes;
- share of map mass inside a lung mask (data sets with lung masks and no boxes: JSRT's SCR masks,
  OpenIST), read against the uniform map's share, the lungs' share of the image.
Each is read against a uniform map, whose mass share and pointing chance both equal the boxes' share
of the image: that baseline row is reported beside the methods.
"""

from __future__ import annotations

import csv
import logging
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from cxrviewer.core.errors import ConfigError, StudyError
from cxrviewer.core.imageops.resample import resize

log = logging.getLogger(__name__)

METHODS = ("saliency", "gradcam", "cam", "crm")
DATASETS = ("rsna_pneumonia", "tbx11k_tb")
LUNG_DATASETS = ("jsrt_bse", "openist_lungs")  # radiographs with lung masks, no boxes


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in image pixels: x0 ≤ x < x1, y0 ≤ y < y1 (pixel centres (col, row))."""

    x0: float
    y0: float
    x1: float
    y1: float


def boxes_mask(shape: tuple[int, int], boxes: Iterable[Box]) -> npt.NDArray[np.bool_]:
    """(H, W) bool: pixels whose centre lies in any box."""
    mask = np.zeros(shape, dtype=bool)
    rows, cols = np.arange(shape[0]), np.arange(shape[1])
    for box in boxes:
        inside_rows = (rows >= box.y0) & (rows < box.y1)
        inside_cols = (cols >= box.x0) & (cols < box.x1)
        mask |= inside_rows[:, None] & inside_cols[None, :]
    return mask


def _evidence(values: npt.NDArray) -> npt.NDArray[np.float64]:
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"map must be (H, W), got shape {values.shape}")
    return np.maximum(values, 0.0)


def pointing_game(values: npt.NDArray, mask: npt.NDArray[np.bool_]) -> bool:
    """values (H, W) map, mask (H, W) bool → whether the (first) maximum lies inside the mask."""
    evidence = _evidence(values)
    return bool(mask.flat[int(np.argmax(evidence))])


def mass_share(values: npt.NDArray, mask: npt.NDArray[np.bool_]) -> float:
    """Share of the map's (non-negative) mass inside mask; 0 for an all-zero map."""
    evidence = _evidence(values)
    total = evidence.sum()
    return float(evidence[mask].sum() / total) if total > 0 else 0.0


def thresholded_iou(values: npt.NDArray, mask: npt.NDArray[np.bool_], fraction: float = 0.2) -> float:
    """IoU of {map ≥ fraction · max} with mask; 0 for an all-zero map."""
    evidence = _evidence(values)
    peak = evidence.max()
    if peak <= 0:
        return 0.0
    shown = evidence >= fraction * peak
    union = np.logical_or(shown, mask).sum()
    return float(np.logical_and(shown, mask).sum() / union) if union else 0.0


# --- box readers -------------------------------------------------------------------------------


def read_rsna_boxes(folder: Path) -> dict[str, list[Box]]:
    """RSNA subset: `labels.csv` rows (file, Target, x, y, width, height in 512² pixels) → boxes per
    image file (relative path) for the Target 1 images only."""
    path = Path(folder) / "labels.csv"
    boxes: dict[str, list[Box]] = {}
    try:
        with path.open(newline="") as handle:
            for row in csv.DictReader(handle):
                if row["Target"].strip() != "1":
                    continue
                x, y, w, h = (float(row[k]) for k in ("x", "y", "width", "height"))
                boxes.setdefault(row["file"], []).append(Box(x, y, x + w, y + h))
    except (OSError, KeyError, ValueError) as error:
        raise StudyError(path, f"cannot read RSNA boxes: {error}") from error
    return boxes


def read_voc_boxes(xml_path: Path, target_size: tuple[int, int] = (512, 512)) -> list[Box]:
    """Pascal VOC boxes in original pixels → boxes scaled to target_size (H, W) of the stored image."""
    try:
        root = ElementTree.parse(xml_path).getroot()
        width = float(root.findtext("size/width"))
        height = float(root.findtext("size/height"))
        sx, sy = target_size[1] / width, target_size[0] / height
        return [
            Box(
                float(box.findtext("xmin")) * sx, float(box.findtext("ymin")) * sy,
                float(box.findtext("xmax")) * sx, float(box.findtext("ymax")) * sy,
            )
            for box in root.iter("bndbox")
        ]
    except (OSError, ElementTree.ParseError, TypeError, ValueError) as error:
        raise StudyError(xml_path, f"cannot read VOC boxes: {error}") from error


def read_tbx11k_boxes(folder: Path, target_size: tuple[int, int] = (512, 512)) -> dict[str, list[Box]]:
    """TBX11K subset: `annotations/<stem>.xml` → boxes per `images/<stem>.jpg`, scaled to 512².
    Images whose XML has no box (a known TBX11K anomaly, tb1199) are left out, and logged."""
    boxes = {}
    for xml in sorted((Path(folder) / "annotations").glob("*.xml")):
        found = read_voc_boxes(xml, target_size)
        if found:
            boxes[f"images/{xml.stem}.jpg"] = found
        else:
            log.info("%s: no boxes, left out of localisation", xml)
    return boxes


def read_boxes(dataset_dir: Path) -> dict[str, list[Box]]:
    """Boxes of a known data set folder (by its name: rsna_pneumonia or tbx11k_tb)."""
    name = Path(dataset_dir).name
    if name == "rsna_pneumonia":
        return read_rsna_boxes(dataset_dir)
    if name == "tbx11k_tb":
        return read_tbx11k_boxes(dataset_dir)
    raise ConfigError(f"no box reader for data set {name!r}; known: {', '.join(DATASETS)}")


def _read_mask(path: Path, shape: tuple[int, int]) -> npt.NDArray[np.bool_]:
    """A mask file (GIF/PNG, anti-aliased) as a boolean (H, W) on the image grid `shape`."""
    from PIL import Image as PILImage

    try:
        with PILImage.open(path) as handle:
            values = np.asarray(handle.convert("L"), dtype=np.uint8)
    except OSError as error:
        raise StudyError(path, f"cannot read the lung mask: {error}") from error
    if values.shape != shape:
        values = resize(values, shape, "area")
    return values >= 128  # anti-aliased edges: half-covered pixels count as lung


def read_lung_mask_files(dataset_dir: Path) -> dict[str, list[Path]]:
    """Lung mask files per image (relative path) of a known lung data set: JSRT's SCR left and
    right lungs (1024², resized to the 512² image) or OpenIST's masks."""
    folder = Path(dataset_dir)
    name = folder.name
    path = folder / ("pairs.csv" if name == "jsrt_bse" else "labels.csv")
    try:
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        if name == "jsrt_bse":
            return {r["input_inverted"]: [folder / r["scr_left_lung"], folder / r["scr_right_lung"]] for r in rows}
        if name == "openist_lungs":
            return {r["image"]: [folder / r["mask"]] for r in rows}
    except (OSError, KeyError) as error:
        raise StudyError(path, f"cannot read the lung mask list: {error}") from error
    raise ConfigError(f"no lung mask reader for data set {name!r}; known: {', '.join(LUNG_DATASETS)}")


def lung_mask(files: Sequence[Path], shape: tuple[int, int]) -> npt.NDArray[np.bool_]:
    return np.logical_or.reduce([_read_mask(f, shape) for f in files])


# --- the table ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalisationRow:
    method: str
    images: int
    pointing: float | None  # share of images whose map maximum lies in a box; None without boxes
    mass_in_boxes: float | None  # mean share of map mass inside the boxes
    iou: float | None  # mean IoU of the map above `fraction` of its maximum with the boxes
    mass_in_lungs: float | None  # mean share inside the lung mask, None without masks


@dataclass(frozen=True)
class LocalisationTable:
    model: str
    dataset: str
    fraction: float
    rows: tuple[LocalisationRow, ...]

    def to_markdown(self) -> str:
        lines = [
            f"model `{self.model}` on `{self.dataset}` (IoU of the map above {self.fraction:g} of its maximum)",
            "",
            "| method | images | pointing game | mass in boxes | IoU | mass in lungs |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for row in self.rows:
            cells = ("n/a" if v is None else f"{v:.3f}" for v in (row.pointing, row.mass_in_boxes, row.iou, row.mass_in_lungs))
            lines.append(f"| {row.method} | {row.images} | {' | '.join(cells)} |")
        return "\n".join(lines)


def score_maps(
    studies: Iterable[tuple[dict[str, npt.NDArray], npt.NDArray[np.bool_] | None, npt.NDArray[np.bool_] | None]],
    *,
    model: str,
    dataset: str,
    fraction: float = 0.2,
) -> LocalisationTable:
    """Aggregate per-study ({method: map (H, W)}, boxes mask (H, W) or None, lung mask or None) into
    a table, with a "uniform (baseline)" row: a flat map, whose scores are the masks' share of the image."""
    boxes: dict[str, list[list[float]]] = {}
    lungs: dict[str, list[float]] = {}
    counts: dict[str, int] = {}
    for maps, mask, lung_mask in studies:
        shape = next(iter(maps.values())).shape
        for method, values in {**maps, "uniform (baseline)": np.ones(shape, np.float32)}.items():
            flat = method == "uniform (baseline)"
            counts[method] = counts.get(method, 0) + 1
            if mask is not None:
                area = float(mask.mean())
                boxes.setdefault(method, []).append([
                    area if flat else float(pointing_game(values, mask)), mass_share(values, mask),
                    area if flat else thresholded_iou(values, mask, fraction)])
            if lung_mask is not None:
                lungs.setdefault(method, []).append(mass_share(values, lung_mask))
    rows = []
    for method, images in counts.items():
        means = np.mean(np.asarray(boxes[method]), axis=0).tolist() if method in boxes else [None] * 3
        lung = float(np.mean(lungs[method])) if method in lungs else None
        rows.append(LocalisationRow(method, images, *means, lung))
    return LocalisationTable(model, dataset, fraction, tuple(rows))


def evaluate_maps(
    model_name: str,
    dataset: str | Path,
    *,
    methods: Sequence[str] = METHODS,
    class_index: int | None = None,
    limit: int | None = None,
    fraction: float = 0.2,
    models_dir: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    only: Collection[Path] | None = None,
) -> LocalisationTable:
    """Run installed model `model_name` through the runtime on a data set with boxes and score each
    map method against them. `dataset`: "rsna_pneumonia", "tbx11k_tb" (under the shared data
    folder) or a folder of either layout. class_index: the class explained (default: the card's last
    label, the finding in a binary model). Only images with at least one box are used; with `only`
    (resolved image paths, e.g. a run's test split), only those of them.
    """
    from cxrviewer import paths
    from cxrviewer.analysis.study_maps import compute_study_maps
    from cxrviewer.core.io import read_image
    from cxrviewer.runtime.registry import load_model

    folder = Path(dataset) if Path(dataset).is_dir() else paths.shared_data_dir() / str(dataset)
    if not folder.is_dir():
        raise ConfigError(f"data set {dataset!r}: folder {folder} does not exist")
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise ConfigError(f"unknown map method(s) {sorted(unknown)}; known: {', '.join(METHODS)}")
    loaded = load_model(model_name, models_dir)
    target = len(loaded.card.labels) - 1 if class_index is None else class_index
    with_lungs = folder.name in LUNG_DATASETS
    items = sorted((read_lung_mask_files(folder) if with_lungs else read_boxes(folder)).items())
    if only is not None:
        items = [item for item in items if (folder / item[0]).resolve() in only]
    items = items[:limit]

    def studies():
        for done, (relative, annotation) in enumerate(items):
            image = read_image(folder / relative)
            pixels = image.pixels
            if folder.name == "jsrt_bse":  # stored intensity-inverted (lungs bright): undo for the model
                pixels = pixels.max() + pixels.min() - pixels
            maps = compute_study_maps(loaded, pixels, methods, class_index=target)
            if with_lungs:
                yield maps, None, lung_mask(annotation, image.shape)
            else:
                yield maps, boxes_mask(image.shape, annotation), None
            if progress is not None:
                progress(done + 1, len(items))

    return score_maps(studies(), model=model_name, dataset=folder.name, fraction=fraction)
