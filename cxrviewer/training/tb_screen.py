"""The `tb_screen` source (issue 16): TB-versus-normal films of several sources on one common footing.

Shenzhen (`shenzhen_tb_128`) is the only source with both classes from one hospital, and its films
are 128x128, squashed (aspect ratio not kept). Every other source joins on that footing so that
resolution and shape are no cue to the source:

- every film is read in display polarity (JSRT's inverted films flipped back) and squashed to 128x128
  with area averaging, then stored 8-bit, as the Shenzhen films are;
- the shipped lung model (`lungs-unet`, through the runtime) marks the lungs on that 128x128 film;
  the box around them (5 % margin) is kept for a `lung_crop` input contract;
- the shipped bone-suppression model (`bone-suppression-jsrt`) makes the soft-tissue view of the
  same film (suppressed inside the lung mask, the original outside), for Rajaraman 2021's comparison.

`prepare` writes that once (`python -m cxrviewer.training.tb_screen prepare --out DIR`); the
`tb_screen` reader then reads DIR/labels.csv. `data.image_column` chooses the original films
("image") or the bone-suppressed ones ("bone"). Patient ids are "<source>/<case>", so each sample's
source is `sources.source_of(sample)` and `split.val_sources` / `split.test_sources` can keep whole
sources out of training.

Sources: shenzhen (tb + normal), tbx11k (TB only, with TB area boxes, scaled to 128x128), and the
normal-only openist, jsrt (non-nodule) and rsna (Target 0: no lung opacity; mixes normal and
not-normal films).
"""

from __future__ import annotations

import argparse
import csv
import logging
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt

from cxrviewer.core.atomic import atomic_target
from cxrviewer.core.errors import ConfigError
from cxrviewer.training.config import DataConfig
from cxrviewer.training.sources import Catalog, Sample, _read_rows, tbx11k

log = logging.getLogger(__name__)

SIZE = 128
CLASSES = ("normal", "tb")
SOURCES = ("shenzhen", "tbx11k", "openist", "jsrt", "rsna")
LUNG_MARGIN = 0.05
COLUMNS = ("image", "bone", "source", "case", "label", "lung_y0", "lung_x0", "lung_y1", "lung_x1", "lung_fraction",
           "boxes", "original")


def originals(shared: Path) -> list[tuple[str, str, str, Path, bool, tuple]]:
    """(source, case, label, path, inverted, boxes at 128x128) for every film of the five sources."""
    from cxrviewer.training.lesion_data import normal_samples

    found = []
    for row in _read_rows(shared / "shenzhen_tb_128" / "labels.csv"):
        found.append(("shenzhen", row["case_id"], row["label"], shared / "shenzhen_tb_128" / row["image"], False, ()))
    tb_root = shared / "tbx11k_tb"
    tb_rows = {r["image"]: r for r in _read_rows(tb_root / "labels.csv")}
    for sample in tbx11k(DataConfig(source="tbx11k", root=str(tb_root))).samples:
        row = tb_rows[str(sample.path.relative_to(tb_root))]
        if row["label"] != "TB":  # one film is marked "TB?" (no boxes in its XML): uncertain, left out
            continue
        scale = SIZE / 512.0
        boxes = tuple(tuple(v * scale for v in box) for box in sample.boxes)
        found.append(("tbx11k", sample.path.stem, "tb", sample.path, False, boxes))
    for source in ("openist", "jsrt", "rsna"):
        for sample in normal_samples(DataConfig(source="tb_screen", root=str(shared)), source):
            found.append((source, sample.patient.split("/", 1)[1], "normal", sample.path, sample.inverted, ()))
    return found


def squash(pixels: npt.NDArray[np.float32], size: int = SIZE) -> npt.NDArray[np.uint8]:
    """(H, W) float32 [0, 1] -> (size, size) uint8: area-averaged, aspect ratio not kept (as Shenzhen)."""
    from cxrviewer.core.imageops.resample import resize

    if pixels.shape != (size, size):
        pixels = resize(pixels, (size, size), "area" if min(pixels.shape) >= size else "linear")
    return np.clip(np.round(pixels * 255.0), 0, 255).astype(np.uint8)


def film_lung_box(lung_probability: npt.NDArray[np.float32]) -> tuple[tuple[int, int, int, int], float]:
    """The lung box a `lung_crop` contract crops to, from the lung model's P(lung) on the film's own
    grid (`analysis.pipeline.lung_probability`): (y0, x0, y1, x1) around the pixels >= 0.5 grown by 5 %
    of its size on each side, and the lungs' share of the film. Under 2 % of the film marked as lung
    (the model found no lungs): the whole film. The viewer crops by the same rule
    (`core.lung_mask.lung_crop_box`, through `analysis.model_input`)."""
    from cxrviewer.core.lung_mask import LUNG_LEVEL, lung_crop_box

    fraction = float((np.asarray(lung_probability) >= LUNG_LEVEL).mean())
    return lung_crop_box(lung_probability, LUNG_MARGIN), fraction


def prepare(shared: Path, out: Path, *, models_dir: Path | None = None, threads: int = 1) -> int:
    """Write out/images, out/bone and out/labels.csv (see the module docstring). Films already
    written are kept (the run can be stopped and restarted). Returns the number of films."""
    from PIL import Image as PilImage

    from cxrviewer.analysis.pipeline import lung_probability, soft_tissue
    from cxrviewer.core.io import read_image
    from cxrviewer.runtime.registry import load_model

    lungs_model = load_model("lungs-unet", models_dir, intra_op_threads=threads)
    bone_model = load_model("bone-suppression-jsrt", models_dir, intra_op_threads=threads)
    rows = []
    items = originals(shared)
    started = time.perf_counter()
    for done, (source, case, label, path, inverted, boxes) in enumerate(items, start=1):
        image_rel, bone_rel = f"images/{source}/{case}.png", f"bone/{source}/{case}.png"
        for rel in (image_rel, bone_rel):
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
        pixels = read_image(path).pixels
        if inverted:
            pixels = 1.0 - pixels
        small = squash(pixels)
        grey = small.astype(np.float32) / 255.0
        probability = lung_probability(lungs_model, grey)
        box, fraction = film_lung_box(probability)
        if not (out / image_rel).exists():
            PilImage.fromarray(small).save(out / image_rel)
        if not (out / bone_rel).exists():
            soft = soft_tissue(bone_model, grey, probability)[0] if fraction > 0.02 else grey
            PilImage.fromarray(squash(soft)).save(out / bone_rel)
        rows.append({"image": image_rel, "bone": bone_rel, "source": source, "case": case, "label": label,
                     "lung_y0": box[0], "lung_x0": box[1], "lung_y1": box[2], "lung_x1": box[3],
                     "lung_fraction": f"{fraction:.4f}",
                     "boxes": ";".join(" ".join(f"{v:.2f}" for v in b) for b in boxes),
                     "original": str(path.relative_to(shared))})
        if done % 100 == 0:
            log.info("%d/%d films, %.0f s", done, len(items), time.perf_counter() - started)
    with atomic_target(out / "labels.csv") as tmp, tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def _boxes(text: str) -> tuple[tuple[float, float, float, float], ...]:
    return tuple(tuple(float(v) for v in part.split()) for part in text.split(";") if part.strip())


def tb_screen(cfg: DataConfig) -> Catalog:
    """The prepared films (`prepare`): cfg.root holds labels.csv; cfg.image_column is "image"
    (original) or "bone" (bone-suppressed). Classes normal, tb; patient "<source>/<case>";
    crop_box the lung box; boxes (TBX11K) in pixels of the 128x128 film."""
    root = Path(cfg.root)
    path = root / (cfg.csv or "labels.csv")
    if not path.is_file():
        raise ConfigError(f"{path}: not found; make it with `python -m cxrviewer.training.tb_screen prepare --out {root}`")
    column = cfg.image_column if cfg.image_column in ("image", "bone") else "image"
    if cfg.classes and tuple(cfg.classes) != CLASSES:
        raise ConfigError(f"{path}: the tb_screen source has classes {list(CLASSES)}, got data.classes {list(cfg.classes)}")
    samples = []
    for row in _read_rows(path):
        box = tuple(int(row[k]) for k in ("lung_y0", "lung_x0", "lung_y1", "lung_x1"))
        samples.append(Sample(root / row[column], patient=f"{row['source']}/{row['case']}",
                              labels=(CLASSES.index(row["label"]),), boxes=_boxes(row["boxes"]), crop_box=box))
    what = "bone-suppressed (bone-suppression-jsrt) " if column == "bone" else ""
    description = (f"{what}TB screening films squashed to 128x128 (prepared from ../shared/data): Shenzhen "
                   "shenzhen_tb_128 (TB and normal; research use), TBX11K train TB images (non-commercial research "
                   "use), normals of OpenIST, JSRT non-nodule and RSNA Target 0 (research use)")
    return Catalog(tuple(samples), CLASSES, description)


def main(argv: list[str] | None = None) -> int:
    from cxrviewer import paths

    parser = argparse.ArgumentParser(description="prepare the tb_screen films (128x128, lung boxes, bone-suppressed)")
    parser.add_argument("command", choices=["prepare"])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--shared", type=Path, default=None, help="the shared data folder (default ../shared/data)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    shared = args.shared or paths.shared_data_dir()
    count = prepare(Path(shared), args.out, threads=args.threads)
    log.info("%d films prepared in %s", count, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
