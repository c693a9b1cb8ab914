"""Measure shipped models on a source they never saw, through the viewer's own path, and put the
figures into their cards as external metrics (`core.cards.SCOPES`).

    python scripts/external_figures.py [--models-dir models] [--data ../shared/data] [--write]

Shenzhen (`shenzhen_tb_128`: TB and normal films from one hospital, 128² squashed PNG) reached the
shared data after the gate and the TB lesion model were trained: neither saw it in training or
selection, so it is an external test for both:
- cxr-gate: the share of the 409 Shenzhen chest films it accepts (every one is a frontal chest film);
- tb-lesions-tbx11k: its image-level call on Shenzhen TB films (sensitivity) and normal films (false
  positive rate), and the AUC of its image score, TB against normal from the same hospital (so the
  score cannot separate them by recognising the source).
It also re-labels figures already on the cards that were measured on data never used in training or
selection (`RESCOPED`) as external. Every film is read by the viewer's reader (`core.io.read_image`)
and scored by the viewer's loader and steps (`analysis.installed.installed_model`, `analysis.pipeline`).

Without --write it prints the figures; with --write it replaces them in the cards, after which the
models must be re-sealed (`python scripts/ship_model.py --seal-only NAME...`) to load again.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import sys
from pathlib import Path

import numpy as np

from cxrviewer import paths
from cxrviewer.analysis import pipeline
from cxrviewer.analysis.calibration import bootstrap_auc_interval, wilson_interval
from cxrviewer.analysis.installed import installed_model
from cxrviewer.core.cards import Metric, card_path, load_card, write_card
from cxrviewer.core.io import read_image

SHENZHEN = "shenzhen_tb_128"
SHENZHEN_NOTE = ("Shenzhen, one hospital, 128² squashed PNG; source never used in training or selection")
# Figures already on the cards whose split never took part in training or selection (their split
# text says so): (model, metric name, split prefix).
RESCOPED = (
    ("tb-lesions-tbx11k", "false_positive_rate_jsrt", "all 76 images; source never used"),
    ("tb-screen-shenzhen", "specificity[jsrt]", "test jsrt"),
    ("cxr-gate", "acceptance_rate", "shared chest DICOM"),
    ("cxr-gate", "rejection_rate", "pydicom "),
    ("cxr-gate", "rejection_rate", "photographs and graphics"),
    ("cxr-gate", "rejection_rate", "scikit-image samples"),
    ("cxr-gate", "rejection_rate", "patterns"),
)


def shenzhen_films(data: Path) -> list[tuple[Path, bool]]:
    """(file, is TB) for every Shenzhen film, in the CSV's order."""
    folder = data / SHENZHEN
    with (folder / "labels.csv").open(newline="", encoding="utf-8") as handle:
        return [(folder / row["image"], row["label"] == "tb") for row in csv.DictReader(handle)]


def _rate(name: str, hits: int, n: int, split: str) -> Metric:
    return Metric(name, hits / n, split, wilson_interval(hits, n), scope="external")


def gate_figures(models_dir: Path, films: list[tuple[Path, bool]]) -> list[Metric]:
    loaded = installed_model("cxr-gate", models_dir)
    accepted = sum(pipeline.gate(loaded, read_image(path).pixels).accepted for path, _ in films)
    return [_rate("acceptance_rate", accepted, len(films), f"shenzhen TB and normal (n={len(films)}; {SHENZHEN_NOTE})")]


def lesion_figures(models_dir: Path, films: list[tuple[Path, bool]]) -> list[Metric]:
    loaded = installed_model("tb-lesions-tbx11k", models_dir)
    findings = [(pipeline.lesion_finding(loaded, read_image(path).pixels), tb) for path, tb in films]
    tb = [f for f, is_tb in findings if is_tb]
    normal = [f for f, is_tb in findings if not is_tb]
    scores = np.array([f.score for f, _ in findings])
    outcomes = np.array([is_tb for _, is_tb in findings])
    from sklearn.metrics import roc_auc_score

    auc = float(roc_auc_score(outcomes, scores))
    split = f"shenzhen TB vs normal ({len(tb)} TB, {len(normal)} normal; {SHENZHEN_NOTE})"
    return [
        Metric("auc", auc, split, bootstrap_auc_interval(outcomes, scores), scope="external"),
        _rate("tb_images_above_threshold", sum(f.positive for f in tb), len(tb),
              f"shenzhen TB (n={len(tb)}; {SHENZHEN_NOTE})"),
        _rate("false_positive_rate_shenzhen", sum(f.positive for f in normal), len(normal),
              f"shenzhen normal (n={len(normal)}; {SHENZHEN_NOTE})"),
    ]


def rescoped(name: str, metrics: tuple[Metric, ...]) -> tuple[Metric, ...]:
    rules = [(metric, prefix) for model, metric, prefix in RESCOPED if model == name]
    return tuple(dataclasses.replace(m, scope="external")
                 if any(m.name == metric and m.split.startswith(prefix) for metric, prefix in rules) else m
                 for m in metrics)


def updated(models_dir: Path, name: str, new: list[Metric]) -> None:
    """Replace the card's figures on the same (name, split) by `new`, add the rest, re-scope, write."""
    path = card_path(models_dir, name)
    card = load_card(path)
    keys = {(m.name, m.split) for m in new}
    kept = tuple(m for m in card.metrics if (m.name, m.split) not in keys)
    write_card(dataclasses.replace(card, metrics=rescoped(name, kept + tuple(new))), path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models-dir", type=Path, default=paths.models_dir())
    parser.add_argument("--data", type=Path, default=paths.install_root().parent / "shared" / "data")
    parser.add_argument("--write", action="store_true", help="write the figures into the cards")
    args = parser.parse_args(argv)
    films = shenzhen_films(args.data)
    figures = {"cxr-gate": gate_figures(args.models_dir, films),
               "tb-lesions-tbx11k": lesion_figures(args.models_dir, films),
               "tb-screen-shenzhen": []}
    for name, metrics in figures.items():
        for m in metrics:
            low, high = m.ci95 or (float("nan"), float("nan"))
            print(f"{name:20s} {m.name:30s} {m.value:.3f} ({low:.3f}–{high:.3f})  {m.split}")
        if args.write:
            updated(args.models_dir, name, metrics)
    if args.write:
        print("written; re-seal: python scripts/ship_model.py --seal-only " + " ".join(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
