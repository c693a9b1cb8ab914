"""Data set sources: turn a folder or a label file into a `Catalog` of samples, nothing read yet.

Generic layouts (a folder per class; a CSV with path + label(s) (+ patient, + boxes); paired
folders input/target(/mask)) and the public layouts researchers bring (Kermany, Shenzhen and
Montgomery file-name labels, RSNA, TBX11K VOC XML, JSRT/BSE-JSRT pairs, OpenIST lungs). Every
sample carries a patient id so splits can keep a patient on one side.
"""

from __future__ import annotations

import csv
import dataclasses
import importlib
import logging
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from cxrviewer import paths
from cxrviewer.core.errors import ConfigError, StudyError
from cxrviewer.training.config import DataConfig

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".dcm", ".gif"}
Box = tuple[float, float, float, float]  # (x0, y0, x1, y1) in pixels of the image as stored


@dataclass(frozen=True)
class Sample:
    """One training item. `labels` are class indices (one for classification, any number for
    multilabel, none for image-to-image). `mask_kind` says how to read `mask`: "grey" (> 127 is
    inside), "seg_rgb_lungs" (JSRT SCR colour masks: green or blue channel = left/right lung) or
    "boxes" (no file: the mask is the union of `boxes`, empty for an all-negative image).
    `derive` names a synthetic image made from this one (`training.gate_data.derive_pixels`)."""

    path: Path
    patient: str
    labels: tuple[int, ...] = ()
    target: Path | None = None
    mask: Path | None = None
    mask_kind: str = "grey"
    inverted: bool = False  # stored with lungs bright (BSE-JSRT): invert to display polarity
    boxes: tuple[Box, ...] = ()
    derive: str = ""
    # (y0, x0, y1, x1) in pixels of the stored image: the lung box a `lung_crop` input contract crops to.
    crop_box: tuple[int, int, int, int] | None = None


@dataclass(frozen=True)
class Catalog:
    """What a source found: samples, the class names in logit order, and where it came from."""

    samples: tuple[Sample, ...]
    classes: tuple[str, ...]
    description: str

    def label_matrix(self) -> list[tuple[int, ...]]:
        return [s.labels for s in self.samples]


def _images_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _read_rows(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            return list(csv.DictReader(handle))
    except OSError as exc:
        raise StudyError(path, f"cannot read the label file: {exc.strerror}") from None


def _column(rows: list[dict[str, str]], name: str, path: Path) -> None:
    if rows and name not in rows[0]:
        raise ConfigError(f"{path}: column {name!r} not found; columns: {', '.join(rows[0])}")


def _class_index(names: Iterable[str], wanted: tuple[str, ...], where: str) -> dict[str, int]:
    found = sorted(set(names))
    classes = wanted or tuple(found)
    missing = [n for n in found if n not in classes]
    if missing:
        raise ConfigError(f"{where}: labels {missing} are not in data.classes {list(classes)}")
    return {name: i for i, name in enumerate(classes)}


def from_folders(cfg: DataConfig) -> Catalog:
    """root/<class>/**/<image>: one folder per class; each image is its own patient."""
    root = Path(cfg.root)
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    index = _class_index((p.name for p in folders), cfg.classes, f"{root} (class folders)")
    samples = [
        Sample(path, patient=f"{folder.name}/{path.stem}", labels=(index[folder.name],))
        for folder in folders
        for path in _images_under(folder)
    ]
    return Catalog(tuple(samples), tuple(index), f"folder per class at {root}")


# Optional CSV columns: the lung box a `lung_crop` contract crops to (e.g. `training.kermany lung-boxes`).
LUNG_BOX_COLUMNS = ("lung_y0", "lung_x0", "lung_y1", "lung_x1")


def from_csv(cfg: DataConfig, *, default_csv: str = "labels.csv") -> Catalog:
    """A CSV (relative to root) with an image column, label column(s), optional patient column and
    optional box columns x, y, width, height (one row per box; rows without a box add none).
    One label column: classification by its values; several: multilabel, each column 0/1."""
    root = Path(cfg.root)
    path = root / (cfg.csv or default_csv)
    rows = _read_rows(path)
    if not rows:
        raise ConfigError(f"{path}: the label file has no rows")
    for name in (cfg.image_column, *cfg.label_columns, *([cfg.patient_column] if cfg.patient_column else [])):
        _column(rows, name, path)
    multilabel = len(cfg.label_columns) > 1
    if multilabel:
        classes = cfg.classes or cfg.label_columns
        index = None
    else:
        index = _class_index((r[cfg.label_columns[0]] for r in rows), cfg.classes, str(path))
        classes = tuple(index)
    has_boxes = {"x", "y", "width", "height"} <= set(rows[0])
    has_lung_box = set(LUNG_BOX_COLUMNS) <= set(rows[0])
    grouped: dict[str, Sample] = {}
    boxes: dict[str, list[Box]] = defaultdict(list)
    for row in rows:
        key = row[cfg.image_column]
        if multilabel:
            labels = tuple(i for i, col in enumerate(cfg.label_columns) if row[col].strip() in ("1", "1.0", "true"))
        else:
            labels = (index[row[cfg.label_columns[0]]],)
        patient = row[cfg.patient_column] if cfg.patient_column else key
        crop_box = tuple(int(row[k]) for k in LUNG_BOX_COLUMNS) if has_lung_box else None
        grouped.setdefault(key, Sample(root / key, patient=patient, labels=labels, crop_box=crop_box))
        if has_boxes and row["x"].strip():
            x, y, w, h = (float(row[k]) for k in ("x", "y", "width", "height"))
            boxes[key].append((x, y, x + w, y + h))
    samples = [
        dataclasses.replace(s, boxes=tuple(boxes.get(k, ()))) for k, s in grouped.items()
    ]
    return Catalog(tuple(samples), tuple(classes), f"label file {path}")


def kermany(cfg: DataConfig) -> Catalog:
    """Kermany et al. 2018 (paediatric pneumonia): labels.csv with image, label or label3, patient."""
    fixed = DataConfig(**{**cfg.__dict__, "image_column": "image",
                          "patient_column": "patient", "csv": cfg.csv or "labels.csv"})
    catalog = from_csv(fixed)
    return Catalog(catalog.samples, catalog.classes, f"Kermany 2018 pneumonia ({cfg.root}); research use")


def file_name_labels(cfg: DataConfig, *, name: str) -> Catalog:
    """Shenzhen / Montgomery: CHNCXR_0001_0.png, MCUCXR_0001_1.png: `_1` TB, `_0` normal."""
    root = Path(cfg.root)
    classes = cfg.classes or ("normal", "tb")
    samples = []
    for path in _images_under(root):
        stem, _, flag = path.stem.rpartition("_")
        if flag not in ("0", "1") or not stem:
            log.info("%s: skipped, the file name does not end in _0 or _1", path)
            continue
        samples.append(Sample(path, patient=stem, labels=(int(flag),)))
    if not samples:
        raise ConfigError(f"{root}: no images named *_0 / *_1 (the {name} layout) were found")
    return Catalog(tuple(samples), tuple(classes), f"{name} TB set ({root}); research use")


def rsna(cfg: DataConfig) -> Catalog:
    """RSNA pneumonia: labels.csv patientId, file, Target, x, y, width, height (one row per box)."""
    fixed = DataConfig(**{**cfg.__dict__, "image_column": "file", "label_columns": ("Target",),
                          "patient_column": "patientId", "csv": cfg.csv or "labels.csv"})
    catalog = from_csv(fixed)
    names = {"0": "no_opacity", "1": "opacity"}
    classes = tuple(names.get(c, c) for c in catalog.classes)
    return Catalog(catalog.samples, classes, f"RSNA pneumonia subset ({cfg.root}); research use")


def _voc_boxes(xml_path: Path, scale_x: float, scale_y: float) -> tuple[Box, ...]:
    try:
        tree = ET.parse(xml_path)
    except (OSError, ET.ParseError) as exc:
        raise StudyError(xml_path, f"not a readable Pascal VOC file: {exc}") from None
    boxes = []
    for box in tree.getroot().iter("bndbox"):
        x0, y0, x1, y1 = (float(box.findtext(k, "nan")) for k in ("xmin", "ymin", "xmax", "ymax"))
        boxes.append((x0 * scale_x, y0 * scale_y, x1 * scale_x, y1 * scale_y))
    return tuple(boxes)


def tbx11k(cfg: DataConfig) -> Catalog:
    """TBX11K: labels.csv (image, label, orig_width, orig_height) + annotations/<stem>.xml, boxes in
    original pixels scaled to the stored image (stored / orig). All images here are TB-positive."""
    from PIL import Image as PilImage  # reads the header only, for the stored size

    root = Path(cfg.root)
    path = root / (cfg.csv or "labels.csv")
    rows = _read_rows(path)
    for name in ("image", "label", "orig_width", "orig_height"):
        _column(rows, name, path)
    index = _class_index((r["label"] for r in rows), cfg.classes, str(path))
    samples = []
    for row in rows:
        image = root / row["image"]
        xml_path = root / "annotations" / f"{image.stem}.xml"
        boxes: tuple[Box, ...] = ()
        if xml_path.exists():
            with PilImage.open(image) as stored:
                width, height = stored.size
            boxes = _voc_boxes(xml_path, width / float(row["orig_width"]), height / float(row["orig_height"]))
        samples.append(Sample(image, patient=image.stem, labels=(index[row["label"]],), boxes=boxes))
    return Catalog(tuple(samples), tuple(index), f"TBX11K train TB images ({root}); non-commercial research use")


def jsrt_bse(cfg: DataConfig) -> Catalog:
    """BSE-JSRT pairs.csv: input_inverted -> target_bse_lungmasked_inverted, lung mask from seg_rgb.
    Both images are stored inverted (lungs bright); the target is 0 outside the lungs."""
    root = Path(cfg.root)
    path = root / (cfg.csv or "pairs.csv")
    rows = _read_rows(path)
    for name in ("id", "input_inverted", "target_bse_lungmasked_inverted", "seg_rgb"):
        _column(rows, name, path)
    samples = tuple(
        Sample(root / r["input_inverted"], patient=r["id"], target=root / r["target_bse_lungmasked_inverted"],
               mask=root / r["seg_rgb"], mask_kind="seg_rgb_lungs", inverted=True)
        for r in rows
    )
    return Catalog(samples, ("bone_suppressed",), f"JSRT + BSE-JSRT ({root}); research use")


def jsrt_lungs(cfg: DataConfig) -> Catalog:
    """JSRT lung segmentation: the (inverted) radiograph and its SCR lung mask (seg_rgb G|B)."""
    bse = jsrt_bse(cfg)
    samples = tuple(Sample(s.path, s.patient, mask=s.mask, mask_kind=s.mask_kind, inverted=True) for s in bse.samples)
    return Catalog(samples, ("lungs",), f"JSRT with SCR lung masks ({cfg.root}); research use")


def openist_lungs(cfg: DataConfig) -> Catalog:
    """OpenIST: labels.csv with image and mask (anti-aliased PNG, > 127 is lung)."""
    root = Path(cfg.root)
    path = root / (cfg.csv or "labels.csv")
    rows = _read_rows(path)
    for name in ("image", "mask"):
        _column(rows, name, path)
    samples = tuple(Sample(root / r["image"], patient=Path(r["image"]).stem, mask=root / r["mask"]) for r in rows)
    return Catalog(samples, ("lungs",), f"OpenIST lungs ({root}); teaching collection")


def from_pairs(cfg: DataConfig) -> Catalog:
    """root/input/<stem>.*, root/target/<stem>.*, optional root/mask/<stem>.*, matched by stem."""
    root = Path(cfg.root)
    inputs = {p.stem: p for p in _images_under(root / "input")}
    targets = {p.stem: p for p in _images_under(root / "target")}
    masks = {p.stem: p for p in _images_under(root / "mask")} if (root / "mask").is_dir() else {}
    if not inputs:
        raise ConfigError(f"{root}: no images in input/ (paired layout: input/, target/, optional mask/)")
    unmatched = sorted(set(inputs) ^ set(targets))
    if unmatched:
        raise ConfigError(f"{root}: input/ and target/ differ in {len(unmatched)} file(s), e.g. {unmatched[:3]}")
    samples = tuple(
        Sample(inputs[k], patient=k, target=targets[k], mask=masks.get(k)) for k in sorted(inputs)
    )
    return Catalog(samples, ("output",), f"paired folders at {root}")


def combined(cfg: DataConfig) -> Catalog:
    """The sources of `cfg.sources` as one catalog: each sample's patient id becomes
    "<source>/<id>" (e.g. "jsrt_lungs/JPCLN001"), which is how the split keeps each source's own
    split and the metrics report each source (`source_of`). A source's own `limit` subsamples it
    with seed 0 before the sources are joined. All sources must name the same classes."""
    samples: list[Sample] = []
    descriptions = []
    classes = None
    for sub in cfg.sources:
        part = subsample(load_catalog(sub), sub, seed=0)
        if classes is not None and part.classes != classes:
            raise ConfigError(f"data.sources: {sub.source} has classes {list(part.classes)}, the first source "
                              f"{list(classes)}; combined sources must share them")
        classes = part.classes
        samples += [dataclasses.replace(s, patient=f"{sub.source}/{s.patient}") for s in part.samples]
        descriptions.append(part.description)
    return Catalog(tuple(samples), classes or (), " + ".join(descriptions))


def source_of(sample: Sample) -> str:
    """The source a sample of a `combined` catalog came from (the patient id's prefix)."""
    return sample.patient.split("/", 1)[0]


def _imported_when_used(module: str, function: str) -> Callable[[DataConfig], Catalog]:
    """A reader from a module that itself imports this one (no import cycle at load time)."""

    def read(cfg: DataConfig) -> Catalog:
        return getattr(importlib.import_module(module), function)(cfg)

    return read


READERS: dict[str, Callable[[DataConfig], Catalog]] = {
    "folders": from_folders,
    "csv": from_csv,
    "pairs": from_pairs,
    "kermany": kermany,
    "shenzhen": lambda cfg: file_name_labels(cfg, name="Shenzhen"),
    "montgomery": lambda cfg: file_name_labels(cfg, name="Montgomery"),
    "rsna": rsna,
    "tbx11k": tbx11k,
    "jsrt_bse": jsrt_bse,
    "jsrt_lungs": jsrt_lungs,
    "openist_lungs": openist_lungs,
    # Multi-source sets, defined beside the tasks they serve (they build on the readers above).
    "tb_lesions": _imported_when_used("cxrviewer.training.lesion_data", "tb_lesions"),
    "kermany_normals": _imported_when_used("cxrviewer.training.lesion_data", "kermany_normals"),
    "opacity_lesions": _imported_when_used("cxrviewer.training.lesion_data", "opacity_lesions"),
    "rsna_opacity": _imported_when_used("cxrviewer.training.lesion_data", "rsna_opacity"),
    "cxr_gate": _imported_when_used("cxrviewer.training.gate_data", "cxr_gate"),
    "tb_screen": _imported_when_used("cxrviewer.training.tb_screen", "tb_screen"),
    "combined": combined,
}


def load_catalog(cfg: DataConfig) -> Catalog:
    """The catalog for `cfg.source`; checks that the files it names exist."""
    catalog = READERS[cfg.source](cfg)
    missing = [s.path for s in catalog.samples if not s.path.exists()]
    if missing:
        raise StudyError(missing[0], f"listed by the {cfg.source} source but missing ({len(missing)} missing in all)")
    if not catalog.samples:
        raise ConfigError(f"{cfg.root}: the {cfg.source} source found no images")
    # Cards travel to other machines: name the shared data by its place beside the checkout, not this disk's path.
    shared = str(paths.shared_data_dir().resolve())
    return dataclasses.replace(catalog, description=catalog.description.replace(shared, "../shared/data"))


def subsample(catalog: Catalog, cfg: DataConfig, *, seed: int) -> Catalog:
    """A seeded subsample: at most `limit_per_class` images per (first) label, then at most `limit`
    images in all. Whole catalogs pass through unchanged when both are 0."""
    import numpy as np

    rng = np.random.default_rng(seed)
    chosen = list(range(len(catalog.samples)))
    if cfg.limit_per_class:
        by_class: dict[int, list[int]] = defaultdict(list)
        for i in chosen:
            by_class[catalog.samples[i].labels[0] if catalog.samples[i].labels else -1].append(i)
        chosen = sorted(
            j for members in by_class.values()
            for j in rng.permutation(members)[: cfg.limit_per_class].tolist()
        )
    if cfg.limit and len(chosen) > cfg.limit:
        chosen = sorted(rng.permutation(chosen)[: cfg.limit].tolist())
    if len(chosen) == len(catalog.samples):
        return catalog
    return Catalog(tuple(catalog.samples[i] for i in chosen), catalog.classes,
                   f"{catalog.description}; seeded subsample of {len(chosen)}")
