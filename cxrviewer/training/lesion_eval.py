"""Figures of a trained `tb_lesions` run: localisation on its held-out TB images and the image-level
false-positive rate on each normal source separately.

- Pixel threshold at a fixed false-positive area: the probability above which `fp_area` of the
  pixels outside the boxes of the held-out TB images lie (pooled over images). Box recall is the
  share of TB boxes holding at least one pixel above it; pixel recall the share of box pixels above it.
- Pointing game: the map's maximum falls inside a box (`analysis.localisation.pointing_game`).
- Image-level score: `core.lesion_score.lesion_score`; its threshold is Youden's on the validation
  images (TB vs the validation normals), never on test. Reported: the share of held-out TB images
  at or above it, and of each normal source's images (false positives): the test-split images of
  the normal sources that took part in training (OpenIST, RSNA and, in a run that adds them,
  Kermany's paediatric normals), and every JSRT non-nodule radiograph (never used).

`python -m cxrviewer.training.lesion_eval RUN_DIR [--card models/NAME.card.json]` prints the table,
writes RUN_DIR/lesions.json and, with --card, puts the figures into the exported card.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from PIL import Image as PilImage
from torch.utils.data import DataLoader

from cxrviewer.analysis.localisation import pointing_game
from cxrviewer.core.cards import Metric, load_card, write_card
from cxrviewer.core.lesion_score import TOP_FRACTION, lesion_score
from cxrviewer.training.checkpoint import build_from_checkpoint, read_checkpoint
from cxrviewer.training.data import PreparedDataset, boxes_mask
from cxrviewer.training.lesion_data import HELD_OUT_NORMALS, normal_samples, source_of
from cxrviewer.training.metrics import choose_threshold
from cxrviewer.training.run_split import load_run
from cxrviewer.training.sources import Catalog, Sample
from cxrviewer.training.splits import Split

log = logging.getLogger(__name__)

FP_AREAS = (0.01, 0.05)


@dataclass(frozen=True)
class SourceRate:
    source: str
    images: int
    above: int
    in_training: bool  # other images of this source were training images

    @property
    def rate(self) -> float:
        return self.above / self.images if self.images else float("nan")


@dataclass(frozen=True)
class LesionFigures:
    tb_images: int
    boxes: int
    pointing_game: float
    box_recall: dict[str, float]  # fp area (as text, e.g. "0.05") → share of boxes hit
    pixel_recall: dict[str, float]
    pixel_threshold: dict[str, float]
    image_threshold: float  # on lesion_score, chosen on validation
    tb_sensitivity: float  # held-out TB images at or above image_threshold
    normals: tuple[SourceRate, ...]
    top_fraction: float = TOP_FRACTION

    def to_markdown(self) -> str:
        lines = [f"Held-out TB images: {self.tb_images} ({self.boxes} boxes); pointing game "
                 f"{self.pointing_game:.3f}", "", "| FP area outside boxes | pixel threshold | box recall | "
                 "pixel recall |", "| --- | --- | --- | --- |"]
        lines += [f"| {a} | {self.pixel_threshold[a]:.3f} | {self.box_recall[a]:.3f} | {self.pixel_recall[a]:.3f} |"
                  for a in self.box_recall]
        lines += ["", f"Image-level score (mean of the top {self.top_fraction:.1%} of the map), threshold "
                  f"{self.image_threshold:.4f} (Youden on validation): held-out TB images at or above it "
                  f"{self.tb_sensitivity:.3f}", "", "| normal source | images | false positives | rate | "
                  "source in training |", "| --- | --- | --- | --- | --- |"]
        lines += [f"| {r.source} | {r.images} | {r.above} | {r.rate:.3f} | {'yes' if r.in_training else 'never'} |"
                  for r in self.normals]
        return "\n".join(lines)


@torch.no_grad()
def probability_maps(model: torch.nn.Module, dataset: PreparedDataset, batch_size: int = 8) -> npt.NDArray[np.float32]:
    """(N, h, w) float32 [0, 1]: the model's lesion probability at working size for every item."""
    model.eval()
    maps = [torch.sigmoid(model(batch[0]))[:, 0].numpy() for batch in DataLoader(dataset, batch_size=batch_size)]
    return np.concatenate(maps) if maps else np.zeros((0, 1, 1), np.float32)


def _scaled_boxes(sample: Sample, shape: tuple[int, int]) -> list[npt.NDArray[np.bool_]]:
    """One (h, w) mask per box of `sample`, from stored-image pixels to the stretched working size."""
    with PilImage.open(sample.path) as stored:
        width, height = stored.size
    sx, sy = shape[1] / width, shape[0] / height
    return [boxes_mask(shape, ((x0 * sx, y0 * sy, x1 * sx, y1 * sy),)) for x0, y0, x1, y1 in sample.boxes]


def localisation(maps: npt.NDArray[np.float32], box_masks: list[list[npt.NDArray[np.bool_]]],
                 fp_areas: tuple[float, ...] = FP_AREAS) -> dict[str, Any]:
    """maps (N, h, w) float32 [0, 1] of TB images; box_masks: per image, one (h, w) bool per box.
    Pointing game, and per fp area the pixel threshold, box recall and pixel recall (module doc)."""
    unions = [np.any(masks, axis=0) if masks else np.zeros(maps.shape[1:], bool) for masks in box_masks]
    outside = np.concatenate([m[~u] for m, u in zip(maps, unions, strict=True)])
    inside = np.concatenate([m[u] for m, u in zip(maps, unions, strict=True)])
    result: dict[str, Any] = {
        "pointing_game": float(np.mean([pointing_game(m, u) for m, u in zip(maps, unions, strict=True) if u.any()])),
        "box_recall": {}, "pixel_recall": {}, "pixel_threshold": {},
    }
    for area in fp_areas:
        threshold = float(np.quantile(outside, 1 - area))
        hits = [bool((m[b] > threshold).any()) for m, masks in zip(maps, box_masks, strict=True) for b in masks]
        key = f"{area:g}"
        result["pixel_threshold"][key] = threshold
        result["box_recall"][key] = float(np.mean(hits))
        result["pixel_recall"][key] = float(np.mean(inside > threshold))
    return result


def evaluate_run(run_dir: Path, *, fp_areas: tuple[float, ...] = FP_AREAS) -> LesionFigures:
    """The figures of the best checkpoint of a `tb_lesions` run folder (config.json, split.json,
    checkpoints/best.safetensors)."""
    config, catalog, split = load_run(run_dir)
    torch.set_num_threads(config.threads or torch.get_num_threads())
    model = build_from_checkpoint(read_checkpoint(run_dir / "checkpoints" / "best.safetensors"))

    def maps_of(samples: list[Sample]) -> npt.NDArray[np.float32]:
        part = Catalog(tuple(samples), catalog.classes, catalog.description)
        return probability_maps(model, PreparedDataset(part, range(len(samples)), config.input, "segmentation"))

    def scores(maps: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        return np.array([lesion_score(m) for m in maps], dtype=np.float64)

    val = [catalog.samples[i] for i in split.val]
    val_scores = scores(maps_of(val))
    truth = np.array([source_of(s) == "tbx11k" for s in val], dtype=np.int64)
    image_threshold = choose_threshold(truth, val_scores, "youden")
    test = [catalog.samples[i] for i in split.test]
    tb = [s for s in test if source_of(s) == "tbx11k"]
    tb_maps = maps_of(tb)
    figures = localisation(tb_maps, [_scaled_boxes(s, tb_maps.shape[1:]) for s in tb], fp_areas)
    normals = []
    training_sources = sorted({source_of(s) for s in catalog.samples} - {"tbx11k"})
    for source in training_sources:
        held = [s for s in test if source_of(s) == source]
        normals.append(SourceRate(source, len(held), int((scores(maps_of(held)) >= image_threshold).sum()), True))
    for source in HELD_OUT_NORMALS:
        held = normal_samples(config.data, source)
        normals.append(SourceRate(source, len(held), int((scores(maps_of(held)) >= image_threshold).sum()), False))
    return LesionFigures(
        tb_images=len(tb), boxes=sum(len(s.boxes) for s in tb), image_threshold=image_threshold,
        tb_sensitivity=float(np.mean(scores(tb_maps) >= image_threshold)), normals=tuple(normals), **figures,
    )


def apply_to_card(card_file: Path, figures: LesionFigures, split: str) -> None:
    """Write the figures into an exported card: its metrics, the image-level threshold as the label's
    operating threshold, what the score means, and what it was and was not validated on."""
    card = load_card(card_file, verify_files=False)
    test = f"test: {split}"
    metrics = [Metric("pointing_game", figures.pointing_game, test)]
    metrics += [Metric(f"box_recall_at_fp_area_{a}", v, test) for a, v in figures.box_recall.items()]
    metrics += [Metric("tb_images_above_threshold", figures.tb_sensitivity, test)]
    metrics += [Metric(f"false_positive_rate_{r.source}", r.rate,
                       test if r.in_training else f"all {r.images} images; source never used in training")
                for r in figures.normals]
    held_out = ", ".join(r.source for r in figures.normals if not r.in_training)
    sources = [r.source for r in figures.normals]
    with_children = "kermany" in sources
    named = ", ".join(f"{s} (children aged 1-5)" if s == "kermany" else s for s in sources)
    limits = (f"image-level false positives measured on normal {'' if with_children else 'adult '}radiographs of "
              f"{named} only ({held_out}: never in training); not on TB-negative images of TBX11K's own "
              f"source, other lung disease{'' if with_children else ', children'} or lateral views",)
    meaning = (f"per pixel, the probability of a TB-consistent area; per image, the mean of the top "
               f"{figures.top_fraction:.1%} of the map, called at {figures.image_threshold:.4f} "
               "(Youden's J on validation TB images against validation normals)")
    write_card(dataclasses.replace(card, metrics=tuple(metrics), thresholds=(figures.image_threshold,),
                                   probability_meaning=meaning, limits=limits), card_file)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="localisation and per-source false positives of a tb_lesions run")
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--card", type=Path, default=None, help="an exported card to write the figures into")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    figures = evaluate_run(args.run_dir)
    (args.run_dir / "lesions.json").write_text(json.dumps(dataclasses.asdict(figures), indent=1), encoding="utf-8")
    if args.card is not None:
        apply_to_card(args.card, figures, Split.load(args.run_dir / "split.json").method)
    log.info("%s\n%s", args.run_dir, figures.to_markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
