"""Figures of the opacity lesion model (issue 17) and of the opacity-rsna classifier, internal and
external, through the viewer's own path (the exported ONNX model, `analysis.pipeline`).

RSNA is one source (NIH ChestX-ray14 films), so the external figures are proxies, each named as such:

- Internal (RSNA, the opacity-rsna classifier's own test split, 68 films, 21 with opacity boxes; no
  model trained on them): pointing game of the map on the films with boxes (Wilson 95 % interval),
  image AUC of the map's image score (bootstrap 95 % interval), sensitivity/specificity at the image
  threshold (Youden's J on the validation split, never on test).
- External, pointing game on TBX11K's TB area boxes (another hospital; TB lesions are mostly
  opacities - consolidation, nodules, cavities with surrounding infiltrate - but not all of a box is
  opacity and not every opacity is boxed): the map's maximum inside a box, against chance (the
  boxes' share of the image).
- External, image AUC on Shenzhen TB vs normal (one hospital, so the source cannot separate the
  classes; 128x128 squashed films, so small opacities are lost): TB as the positive class, which is
  a proxy, not opacity itself.
- External, false-positive rate at the image threshold on normals of sources never used in training
  or selection: JSRT non-nodule radiographs (all of them) and Shenzhen's normals.

The pointing game is `analysis.localisation.pointing_game` on the study grid, boxes in stored-image
pixels, exactly as `cxrviewer evaluate --maps` scores a classifier's explanation maps.

With --inside-lungs every figure is taken on the lung-masked map instead: the map times the study's
P(lung) from the installed lung model (`analysis.pipeline.lung_probability`, `core.lung_mask.keep_inside_lungs`,
the viewer's one rule for "Inside the lungs only") before its maximum and its image score are taken, so a
peak below the diaphragm or outside the chest cannot win. The threshold is chosen again (Youden on
validation) on the masked scores, and the pointing game is also set against a random point in the lungs
("chance_in_lungs": the boxes' share of the lung probability, as the localisation table's chance for
maps kept inside the lungs). It is a variant under study: the viewer scores a lesion model's
unmasked map, so these figures are not written into a card.

    python -m cxrviewer.training.opacity_eval RUN_DIR --models-dir EXPORTED [--card EXPORTED/NAME.card.json]
        [--inside-lungs [--lungs-dir models]]
        [--classifier opacity-rsna --classifier-dir models --classifier-card models/opacity-rsna.card.json]

writes RUN_DIR/opacity.json (RUN_DIR/opacity-inside-lungs.json with --inside-lungs) and, with --card /
--classifier-card, puts the figures into those cards.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from cxrviewer import paths
from cxrviewer.analysis.localisation import mass_share, pointing_game
from cxrviewer.core.cards import Metric, load_card, write_card
from cxrviewer.core.lesion_score import TOP_FRACTION, lesion_score
from cxrviewer.core.lung_mask import keep_inside_lungs
from cxrviewer.training.config import DataConfig
from cxrviewer.training.data import boxes_mask, read_pixels
from cxrviewer.training.lesion_data import normal_samples, source_of, tbx11k_lesions
from cxrviewer.training.metrics import bootstrap_auc, choose_threshold, wilson_interval
from cxrviewer.training.run_split import load_run
from cxrviewer.training.sources import Sample

log = logging.getLogger(__name__)

INTERNAL_SPLIT = "test: RSNA, the opacity-rsna classifier's test split (by patient, seed 0)"
TBX11K_SPLIT = ("external proxy: TBX11K TB area boxes ({n} films; another hospital, never used; TB lesions are "
                "mostly opacities)")
SHENZHEN_SPLIT = ("external proxy: Shenzhen TB ({pos}) vs normal ({neg}), one hospital, never used; 128x128 "
                  "squashed films; TB as the positive class")
JSRT_SPLIT = "external: JSRT non-nodule radiographs, all {n}; never used in training or selection"
SHENZHEN_NORMAL_SPLIT = "external: Shenzhen normals, all {n}; never used in training or selection"


def shenzhen_samples(root: Path) -> list[tuple[Path, int]]:
    """(image, 1 for TB / 0 for normal) of shenzhen_tb_128/labels.csv."""
    with (root / "shenzhen_tb_128" / "labels.csv").open(newline="", encoding="utf-8") as handle:
        return [(root / "shenzhen_tb_128" / r["image"], int(r["label"] == "tb")) for r in csv.DictReader(handle)]


def _pixels(path: Path, inverted: bool = False) -> npt.NDArray[np.float32]:
    return read_pixels(path, inverted=inverted)


LesionOutput = tuple[float, npt.NDArray[np.float32], npt.NDArray[np.float32] | None]


def lesion_scorer(model: str, models_dir: Path, lungs_dir: Path | None = None,
                  ) -> Callable[[npt.NDArray[np.float32]], LesionOutput]:
    """pixels -> (image score, (H, W) probability map on the study grid, (H, W) P(lung) or None) of an
    exported lesion model, as the viewer computes them (`pipeline.segmentation_channel`,
    `core.lesion_score`). With `lungs_dir` the map is first kept inside the lungs of the lung model
    installed there (module doc), and those lungs come back too (for the chance in the lungs)."""
    from cxrviewer.analysis import pipeline
    from cxrviewer.analysis.installed import installed_model

    loaded = installed_model(model, models_dir)
    label = loaded.card.labels[0]
    lungs = None
    if lungs_dir is not None:
        lungs_model = pipeline.model_roles(lungs_dir).lungs
        if lungs_model is None:
            raise ValueError(f"no lung segmentation model is installed in {lungs_dir}")
        lungs = installed_model(lungs_model, lungs_dir)
        log.info("maps kept inside the lungs of %s (version %s)", lungs_model, lungs.card.version)

    def score(pixels: npt.NDArray[np.float32]) -> LesionOutput:
        probability = pipeline.segmentation_channel(loaded, pixels, label)
        lung = None
        if lungs is not None:
            lung = pipeline.lung_probability(lungs, pixels)
            probability = keep_inside_lungs(probability, lung)
        return lesion_score(probability), probability, lung

    return score


def classifier_scorer(model: str, models_dir: Path) -> Callable[[npt.NDArray[np.float32]], tuple[float, bool]]:
    """pixels -> (P(last label), called positive at the card's operating threshold) of a classifier."""
    from cxrviewer.analysis.findings import classify_pixels
    from cxrviewer.analysis.installed import installed_model

    loaded = installed_model(model, models_dir)
    last = len(loaded.card.labels) - 1

    def score(pixels: npt.NDArray[np.float32]) -> tuple[float, bool]:
        finding = classify_pixels(loaded, pixels)
        return float(finding.probabilities[last]), last in finding.positive

    return score


def _auc(truth: Iterable[int], scores: Iterable[float]) -> dict[str, Any]:
    y, s = np.asarray(list(truth), np.int64), np.asarray(list(scores), np.float64)
    value, low, high = bootstrap_auc(y, s, n_boot=2000, seed=0)
    return {"value": value, "ci95": [low, high], "n": int(len(y)), "positives": int(y.sum())}


def _rate(hits: Iterable[bool]) -> dict[str, Any]:
    hits = [bool(h) for h in hits]
    low, high = wilson_interval(sum(hits), len(hits))
    return {"value": sum(hits) / len(hits) if hits else float("nan"), "ci95": [low, high], "n": len(hits),
            "count": sum(hits)}


def _pointing(maps_and_boxes: Iterable[tuple]) -> dict[str, Any]:
    """Items (map, boxes) or (map, boxes, P(lung) or None). With lungs, also the chance of a random
    point in the lungs (the boxes' share of the lung probability, `localisation.mass_share`)."""
    hits, chance, in_lungs = [], [], []
    for probability, boxes, *lungs in maps_and_boxes:
        mask = boxes_mask(probability.shape, boxes)
        hits.append(pointing_game(probability, mask))
        chance.append(float(mask.mean()))
        if lungs and lungs[0] is not None:
            in_lungs.append(mass_share(lungs[0], mask))
    figure = {**_rate(hits), "chance": float(np.mean(chance))}
    if in_lungs:
        figure["chance_in_lungs"] = float(np.mean(in_lungs))
    return figure


def evaluate_lesion_model(run_dir: Path, model: str, models_dir: Path, data_root: Path | None = None,
                          lungs_dir: Path | None = None) -> dict[str, Any]:
    """The lesion model's internal and external figures (module doc); with `lungs_dir`, of its map kept
    inside the lungs of the lung model installed there."""
    config, catalog, split = load_run(run_dir)
    root = Path(data_root) if data_root is not None else paths.shared_data_dir()
    cfg = DataConfig(source="opacity_lesions", root=str(root))
    scorer = lesion_scorer(model, models_dir, lungs_dir)

    def run(samples: list[Sample]) -> list[LesionOutput]:
        return [scorer(_pixels(s.path, s.inverted)) for s in samples]

    val = [catalog.samples[i] for i in split.val]
    test = [catalog.samples[i] for i in split.test if source_of(catalog.samples[i]) == "rsna_test"]
    val_out = run(val)
    val_truth = [int(bool(s.boxes)) for s in val]
    threshold = choose_threshold(np.asarray(val_truth), np.asarray([o[0] for o in val_out]), "youden")
    log.info("image threshold %.4f (Youden on %d validation films)", threshold, len(val))
    test_out = run(test)
    test_truth = [int(bool(s.boxes)) for s in test]
    figures: dict[str, Any] = {"model": model, "image_threshold": threshold, "top_fraction": TOP_FRACTION,
                               "inside_lungs": lungs_dir is not None}
    figures["validation"] = {"auc": _auc(val_truth, [o[0] for o in val_out]),
                             "pointing_game": _pointing((o[1], s.boxes, o[2]) for o, s in zip(val_out, val, strict=True) if s.boxes)}
    figures["internal"] = {
        "auc": _auc(test_truth, [o[0] for o in test_out]),
        "pointing_game": _pointing((o[1], s.boxes, o[2]) for o, s in zip(test_out, test, strict=True) if s.boxes),
        "sensitivity": _rate(o[0] >= threshold for o, t in zip(test_out, test_truth, strict=True) if t),
        "specificity": _rate(o[0] < threshold for o, t in zip(test_out, test_truth, strict=True) if not t),
        "scores": {"opacity": [o[0] for o, t in zip(test_out, test_truth, strict=True) if t],
                   "no_opacity": [o[0] for o, t in zip(test_out, test_truth, strict=True) if not t]},
    }
    log.info("internal: %s", {k: v for k, v in figures["internal"].items() if k != "scores"})
    tbx = tbx11k_lesions(cfg)
    tbx_out = run(tbx)
    figures["tbx11k"] = {"pointing_game": _pointing((o[1], s.boxes, o[2]) for o, s in zip(tbx_out, tbx, strict=True)),
                         "above_threshold": _rate(o[0] >= threshold for o in tbx_out)}
    log.info("tbx11k: %s", figures["tbx11k"])
    figures.update(_external_images(lambda pixels: scorer(pixels)[0], threshold, root, cfg))
    return figures


def _external_images(score: Callable[[npt.NDArray[np.float32]], float], threshold: float, root: Path,
                     cfg: DataConfig, called: Callable[[float], bool] | None = None) -> dict[str, Any]:
    """Shenzhen TB vs normal AUC, and false positives on Shenzhen normals and JSRT non-nodule."""
    called = called or (lambda s: s >= threshold)
    shenzhen = shenzhen_samples(root)
    scores = [score(_pixels(path)) for path, _ in shenzhen]
    truth = [t for _, t in shenzhen]
    jsrt = normal_samples(cfg, "jsrt")
    jsrt_scores = [score(_pixels(s.path, s.inverted)) for s in jsrt]
    result = {
        "shenzhen": {"auc": _auc(truth, scores),
                     "tb_above_threshold": _rate(called(s) for s, t in zip(scores, truth, strict=True) if t),
                     "false_positive_rate": _rate(called(s) for s, t in zip(scores, truth, strict=True) if not t),
                     "scores": {"tb": [s for s, t in zip(scores, truth, strict=True) if t],
                                "normal": [s for s, t in zip(scores, truth, strict=True) if not t]}},
        "jsrt": {"false_positive_rate": _rate(called(s) for s in jsrt_scores), "scores": jsrt_scores},
    }
    log.info("shenzhen auc %s fp %s; jsrt fp %s", result["shenzhen"]["auc"], result["shenzhen"]["false_positive_rate"],
             result["jsrt"]["false_positive_rate"])
    return result


def evaluate_classifier(model: str, models_dir: Path, data_root: Path | None = None) -> dict[str, Any]:
    """A classifier's external figures: Shenzhen TB vs normal AUC of P(last label), and false positives
    at its card's operating threshold on Shenzhen normals and JSRT non-nodule radiographs."""
    root = Path(data_root) if data_root is not None else paths.shared_data_dir()
    cfg = DataConfig(source="opacity_lesions", root=str(root))
    scorer = classifier_scorer(model, models_dir)
    calls: dict[float, bool] = {}

    def score(pixels: npt.NDArray[np.float32]) -> float:
        value, positive = scorer(pixels)
        calls[value] = positive
        return value

    figures = {"model": model, **_external_images(score, float("nan"), root, cfg, called=lambda s: calls[s])}
    return figures


def _metric(name: str, figure: dict[str, Any], split: str, scope: str) -> Metric:
    low, high = figure["ci95"]
    return Metric(name, float(figure["value"]), split, (float(low), float(high)), scope)


def external_metrics(figures: dict[str, Any]) -> list[Metric]:
    """The external figures as card metrics (scope "external")."""
    sz, js = figures["shenzhen"], figures["jsrt"]
    split = SHENZHEN_SPLIT.format(pos=sz["auc"]["positives"], neg=sz["auc"]["n"] - sz["auc"]["positives"])
    metrics = [_metric("auc", sz["auc"], split, "external")]
    metrics.append(_metric("false_positive_rate_jsrt", js["false_positive_rate"],
                           JSRT_SPLIT.format(n=js["false_positive_rate"]["n"]), "external"))
    metrics.append(_metric("false_positive_rate_shenzhen_normal", sz["false_positive_rate"],
                           SHENZHEN_NORMAL_SPLIT.format(n=sz["false_positive_rate"]["n"]), "external"))
    return metrics


def apply_to_lesion_card(card_file: Path, figures: dict[str, Any]) -> None:
    """Internal and external figures, the image threshold, what the score means, and the limits."""
    card = load_card(card_file, verify_files=False)
    internal = figures["internal"]
    n, pos = internal["auc"]["n"], internal["auc"]["positives"]
    test = f"{INTERNAL_SPLIT} (n={n}, {pos} with opacity boxes)"
    metrics = [
        _metric("pointing_game", internal["pointing_game"], f"{test}; the {pos} films with boxes", "internal"),
        _metric("auc", internal["auc"], test, "internal"),
        _metric("sensitivity", internal["sensitivity"], test, "internal"),
        _metric("specificity", internal["specificity"], test, "internal"),
        _metric("opacity_images_above_threshold", internal["sensitivity"], test, "internal"),
    ]
    tbx = figures["tbx11k"]["pointing_game"]
    metrics.append(_metric("pointing_game", tbx, TBX11K_SPLIT.format(n=tbx["n"]) +
                           f"; chance {tbx['chance']:.3f}", "external"))
    metrics += external_metrics(figures)
    threshold = figures["image_threshold"]
    meaning = (f"per pixel, the probability of lung opacity (trained on RSNA radiologists' opacity boxes as weak masks); "
               f"per image, the mean of the top {figures['top_fraction']:.1%} of the map, called at {threshold:.4f} "
               "(Youden's J on the RSNA validation films)")
    write_card(dataclasses.replace(card, metrics=tuple(metrics), thresholds=(threshold,), probability_meaning=meaning),
               card_file)


def apply_to_classifier_card(card_file: Path, figures: dict[str, Any]) -> None:
    """Add the classifier's external figures to its card, replacing earlier external ones."""
    card = load_card(card_file, verify_files=False)
    kept = tuple(m for m in card.metrics if m.scope != "external")
    write_card(dataclasses.replace(card, metrics=kept + tuple(external_metrics(figures))), card_file)


def _drop_scores(figures: Any) -> Any:
    if isinstance(figures, dict):
        return {k: _drop_scores(v) for k, v in figures.items() if k != "scores"}
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="internal and external figures of the opacity lesion model")
    parser.add_argument("run_dir", type=Path, nargs="?")
    parser.add_argument("--model", default="opacity-lesions-rsna")
    parser.add_argument("--models-dir", type=Path, help="the folder of the exported lesion model")
    parser.add_argument("--card", type=Path, help="an exported lesion card to write the figures into")
    parser.add_argument("--inside-lungs", action="store_true",
                        help="measure the map kept inside the lungs (the installed lung model's P(lung) times the map)")
    parser.add_argument("--lungs-dir", type=Path, default=None,
                        help="the folder whose lung model masks the maps (default: the installed models)")
    parser.add_argument("--classifier", default="", help="also measure this classifier (e.g. opacity-rsna)")
    parser.add_argument("--classifier-dir", type=Path, default=None)
    parser.add_argument("--classifier-card", type=Path, help="the classifier's card to add its external figures to")
    parser.add_argument("--out", type=Path, help="the JSON file (default RUN_DIR/opacity.json)")
    args = parser.parse_args(argv)
    if args.inside_lungs and args.card is not None:
        parser.error("--inside-lungs figures are not the viewer's (it scores the whole map): not written into a card")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    results: dict[str, Any] = {}
    if args.run_dir is not None:
        lungs_dir = (args.lungs_dir or paths.models_dir()) if args.inside_lungs else None
        results["lesion_model"] = evaluate_lesion_model(args.run_dir, args.model, args.models_dir, lungs_dir=lungs_dir)
        if args.card is not None:
            apply_to_lesion_card(args.card, results["lesion_model"])
    if args.classifier:
        results["classifier"] = evaluate_classifier(args.classifier, args.classifier_dir or paths.models_dir())
        if args.classifier_card is not None:
            apply_to_classifier_card(args.classifier_card, results["classifier"])
    out = args.out or (args.run_dir / ("opacity-inside-lungs.json" if args.inside_lungs else "opacity.json"))
    out.write_text(json.dumps(results, indent=1), encoding="utf-8")
    log.info("%s", json.dumps(_drop_scores(results), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
