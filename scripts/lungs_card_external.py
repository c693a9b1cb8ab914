"""Put a lung model's external figures into its exported card, before shipping (issue 17).

    python scripts/lungs_card_external.py CARD --loso-jsrt RUN --loso-openist RUN --consistency JSON

CARD is the exported card (e.g. /work/runs17/lungs/models/lungs-unet-acq.card.json), whose own
figures (a held-out part of JSRT and OpenIST) are internal. Added, as `scope="external"`:
- the leave-one-source-out figures of the same recipe: RUN (`--loso-jsrt`) trained on JSRT only and
  tested on every OpenIST film, RUN (`--loso-openist`) the reverse (their metrics.json, test part);
  these are figures of the recipe, measured on models that never saw the tested source, not of the
  shipped model itself (which trained on both);
- label-free checks of the shipped model itself on every Shenzhen film, a source with no drawn masks
  that played no part in training or selection (scripts/lungs_consistency.py's JSON): the share of
  films whose mask is two plausible lungs, and the Dice between its mask of a film and of the film
  mirrored, re-exposed, noised, or halved in resolution.
The card's generic "not validated on other sources" limit is replaced by what was measured.
Shipping (scripts/ship_model.py) then signs the card; this script only rewrites the JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from cxrviewer.core.cards import Metric, load_card, write_card

NAMES = {"jsrt_lungs": "JSRT", "openist_lungs": "OpenIST"}
CHECKS = {  # consistency JSON key -> card metric name
    "plausible": "two_plausible_lungs_share",
    "agreement flip": "flip_agreement_dice",
    "agreement gamma 0.7": "gamma_0.7_agreement_dice",
    "agreement gamma 1.5": "gamma_1.5_agreement_dice",
    "agreement noise 0.03": "noise_agreement_dice",
    "agreement down-up 50%": "downup_50_agreement_dice",
    "area fraction": "lung_area_fraction_mean",
}


RECIPE_KEYS = ("input", "augment", "optim", "epochs", "batch_size")  # what makes two runs the same recipe


def _run_config(run: Path) -> dict:
    return json.loads((run / "config.json").read_text(encoding="utf-8"))


def loso_metrics(run: Path, model_run: Path | None = None) -> list[Metric]:
    """`model_run`: the shipped model's own run; when its recipe is the LOSO run's, the text says so."""
    config = _run_config(run)
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    split = json.loads((run / "split.json").read_text(encoding="utf-8"))
    held = config["split"]["test_sources"][0]
    trained = next(n for s, n in NAMES.items() if s != held)
    scores = metrics["test"]["by_source"][held]
    n_train, n_val = len(split["train"]["index"]), len(split["val"]["index"])
    n_test = len(split["test"]["index"])
    size = f"{config['input']['height']}x{config['input']['width']}"
    model = _run_config(model_run) if model_run else {}
    same = bool(model) and all(config[key] == model[key] for key in RECIPE_KEYS)
    length = "the same input, augmentation and length as this model's run" if same else "a shorter run than this model's"
    text = (f"leave-one-source-out, this card's recipe trained on {trained} only ({n_train} films, best epoch "
            f"of {config['epochs']} chosen on {n_val} more {trained} films; {size} input, distances in its pixels, {length}), "
            f"tested on all {n_test} {NAMES[held]} films; a figure of the recipe, not of "
            "this model, which trained on both sources")
    return [Metric(name, float(scores[name]), text, scope="external")
            for name in ("dice", "iou", "hd95", "hausdorff") if name in scores]


def check_metrics(consistency: Path) -> list[Metric]:
    data = json.loads(consistency.read_text(encoding="utf-8"))
    shenzhen = data["sources"]["shenzhen"]
    lo, hi = data["ranges"]["one_lung"]
    blo, bhi = data["ranges"]["both_lungs"]
    stride = data.get("stride", 1)
    which = f"all {shenzhen['films']}" if stride == 1 else f"{shenzhen['films']} (every {stride}th of 409)"
    base = (f"{which} Shenzhen films (shenzhen_tb_128, 128x128 squashed; no drawn masks, "
            "never in training or selection), this model through the viewer's path")
    what = {
        "plausible": f"share whose mask is two plausible lungs (two largest regions each {lo:.3f}-{hi:.3f} of "
                     f"the film, together {blo:.3f}-{bhi:.3f}, the ranges of the {data['ranges']['drawn_films']} "
                     "drawn JSRT and OpenIST masks; one each side of the midline)",
        "agreement flip": "mean Dice between the mask of each film and of the film mirrored left-right (mirrored back)",
        "agreement gamma 0.7": "mean Dice between the mask of each film and of the film at gamma 0.7",
        "agreement gamma 1.5": "mean Dice between the mask of each film and of the film at gamma 1.5",
        "agreement noise 0.03": "mean Dice between the mask of each film and of the film with Gaussian noise sd 0.03",
        "agreement down-up 50%": "mean Dice between the mask of each film and of the film halved in size and back",
        "area fraction": "mean share of the film marked as lung",
    }
    return [Metric(f"shenzhen_{name}", float(shenzhen[key]["mean"]), f"{base}: {what[key]}", scope="external")
            for key, name in CHECKS.items()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("card", type=Path)
    parser.add_argument("--loso-jsrt", type=Path, required=True, help="run trained on JSRT only, tested on OpenIST")
    parser.add_argument("--loso-openist", type=Path, required=True, help="run trained on OpenIST only, tested on JSRT")
    parser.add_argument("--consistency", type=Path, required=True)
    parser.add_argument("--model-run", type=Path, help="the model's own run folder (to say whether the LOSO runs share its recipe)")
    parser.add_argument("--limit", action="append", default=[], help="a limit replacing the generic one (repeatable)")
    args = parser.parse_args(argv)
    card = load_card(args.card)
    internal = [m for m in card.metrics if m.scope == "internal"]
    added = (loso_metrics(args.loso_jsrt, args.model_run) + loso_metrics(args.loso_openist, args.model_run)
             + check_metrics(args.consistency))
    limits = tuple(lim for lim in card.limits if not lim.endswith("not validated on other sources")) + tuple(args.limit)
    write_card(dataclasses.replace(card, metrics=tuple(internal + added), limits=limits), args.card)
    for m in added:
        print(f"{m.name:32s} {m.value:.4f}  {m.split[:90]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
