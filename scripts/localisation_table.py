"""Measure every map method of every shipped classifier on held-out boxes; write the verdicts.

    nice -n 10 python scripts/localisation_table.py [--models-dir models] [MODEL ...]

For each classifier card in models/ (not the gate, whose "frontal_cxr" class no box marks), each
class that names a finding, each map method (saliency, Grad-CAM, CAM, CRM) and each boxed data set
(RSNA opacity boxes, TBX11K TB boxes): pointing game, mass in boxes and IoU with bootstrap 95 % CIs,
against chance (the boxes' share of the image), on the films the model never trained or was
selected on (`training.localisation_heldout`: its own split rebuilt and checked against its card).
At most 300 films per data set (a seeded choice). One ONNX Runtime thread.

Each map is measured twice on the same films, as the viewer draws it: whole, and with "Inside the
lungs only" (times the installed lung model's P(lung), by the viewer's own lung step and rule:
`pipeline.lung_probability`, `core.lung_mask.keep_inside_lungs`), against the chance of a peak
anywhere in the lungs. Without a lung model only the whole maps are measured.

Writes resources/localisation.json (shipped in the bundle; the viewer's layer panel reads it through
`analysis.localisation_verdicts`, keyed by model name and the card's weights sha256, and the lung
model's name and weights sha256 for the maps inside the lungs) and the results section of
docs/localisation.md. With MODEL names, only those are measured again; the others' entries are kept
from the json as they are (if their weights are unchanged; their inside-the-lungs rows then name the
lung model they were measured with, so after a new lung model the viewer says "not measured for this
version of the lung model" until they are measured again).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from cxrviewer import paths  # noqa: E402
from cxrviewer.analysis import pipeline  # noqa: E402
from cxrviewer.analysis.localisation import METHODS, read_boxes  # noqa: E402
from cxrviewer.analysis.localisation_measure import (  # noqa: E402
    Measured,
    measure_model,
    paired_change,
    resamples,
    summarise,
)
from cxrviewer.analysis.localisation_verdicts import (  # noqa: E402
    DATASET_NAMES,
    FINDING_DATA,
    INSIDE_LUNGS,
    NEGATIVE_LABELS,
    VERDICTS_FILE,
)
from cxrviewer.core.cards import ModelCard, card_path, load_card  # noqa: E402
from cxrviewer.runtime.registry import installed_models, load_model  # noqa: E402
from cxrviewer.training.localisation_heldout import BOXED, held_out  # noqa: E402

log = logging.getLogger("localisation_table")
REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "localisation.md"
RESULTS_HEADING = "## Results on held-out boxes"
MAX_FILMS = 300
SEED = 0
TITLES = {"saliency": "saliency", "gradcam": "Grad-CAM", "cam": "CAM", "crm": "CRM"}


def weights_sha256(card: ModelCard) -> str:
    entry = card.file("weights") or card.file("onnx")
    return entry.sha256 if entry else ""


@dataclass(frozen=True)
class Lungs:
    """The lung model the viewer keeps the maps inside the lungs with, loaded: its name, weights
    sha256 and the study's P(lung) as the viewer's lung step computes it."""

    name: str
    weights_sha256: str
    loaded: object

    def of(self, pixels: np.ndarray) -> np.ndarray:
        return pipeline.lung_probability(self.loaded, pixels)


def installed_lungs(models_dir: Path) -> Lungs | None:
    """The installed lung model the viewer would use (its roles' lungs), or None when there is none."""
    name = pipeline.model_roles(models_dir).lungs
    if name is None:
        return None
    card = load_card(card_path(models_dir, name), verify_files=False)
    return Lungs(name, weights_sha256(card), load_model(name, models_dir, intra_op_threads=1))


def skip_reason(card: ModelCard) -> str:
    if card.task == "gate":
        return "the gate: its class frontal_cxr is the whole film, which no box marks"
    if card.task not in ("classification", "multilabel"):
        return f"not a classifier (task {card.task}): no saliency, Grad-CAM, CAM or CRM"
    return ""


def films(card: ModelCard, dataset: str) -> tuple[list[tuple[Path, list]], str, int]:
    """(the films to measure with their boxes, how they were chosen, boxed films in all)."""
    folder = paths.shared_data_dir() / dataset
    boxed = sorted(read_boxes(folder).items())
    held = held_out(card, dataset, REPO)
    if not held.ok:
        return [], f"not measured: {held.why}", len(boxed)
    kept = [(folder / rel, boxes) for rel, boxes in boxed if (folder / rel).resolve() not in held.excluded]
    left_out = len(boxed) - len(kept)
    if left_out:
        how = f"its test split ({card.provenance.split}): {len(kept)} of {len(boxed)} boxed films"
    elif held.role == "test":
        how = f"none of the {len(boxed)} boxed films was in its training or selection ({card.provenance.split})"
    else:
        how = f"never trained on this set: all {len(boxed)} boxed films"
    if len(kept) > MAX_FILMS:
        chosen = np.sort(np.random.default_rng(SEED).choice(len(kept), MAX_FILMS, replace=False))
        kept = [kept[i] for i in chosen]
        how += f", {MAX_FILMS} of them chosen at random (seed {SEED})"
    return kept, how, len(boxed)


def inside_lungs_rows(card: ModelCard, dataset: str, measured: Measured, draws: np.ndarray) -> list[dict]:
    """The rows of the maps kept inside the lungs: their figures against the chance of a peak anywhere
    in the lungs (`chance`; the film's is `chance_film`), and the pointing game's change from the whole
    map on the same films (`pointing_change`, paired bootstrap CI)."""
    rows = []
    film_chance = float(np.mean(measured.chance))
    for (class_index, method), scores in measured.inside_lungs.items():
        label = card.labels[class_index]
        change, low, high = paired_change(scores.pointing, measured.scores[(class_index, method)].pointing, draws)
        rows.append({"label": label, "class_index": class_index, "method": method, "dataset": dataset,
                     "primary": FINDING_DATA.get(label) == dataset,
                     **summarise(scores, measured.chance_inside_lungs, draws),
                     "chance_film": film_chance, "pointing_change": change, "pointing_change_ci": [low, high]})
    return rows


def measure(card: ModelCard, models_dir: Path, lungs: Lungs | None) -> dict:
    """The json entry of one model: its weights sha256, how its films were chosen, and its rows (and,
    with a lung model, the rows of its maps kept inside the lungs, under the lung model's sha256)."""
    classes = [i for i, label in enumerate(card.labels) if label not in NEGATIVE_LABELS]
    loaded = load_model(card.name, models_dir, intra_op_threads=1)
    entry = {"weights_sha256": weights_sha256(card), "labels": list(card.labels), "films": {}, "rows": []}
    if lungs is not None:
        entry[INSIDE_LUNGS] = {"lungs_model": lungs.name, "lungs_weights_sha256": lungs.weights_sha256, "rows": []}
    for dataset in BOXED:
        started = time.perf_counter()
        items, how, _ = films(card, dataset)
        entry["films"][dataset] = how
        if not items:
            continue
        measured = measure_model(loaded, items, classes, methods=METHODS, models_dir=models_dir,
                                 lungs_of=lungs.of if lungs is not None else None)
        draws = resamples(len(measured.chance), seed=SEED)
        for (class_index, method), scores in measured.scores.items():
            label = card.labels[class_index]
            row = {"label": label, "class_index": class_index, "method": method, "dataset": dataset,
                   "primary": FINDING_DATA.get(label) == dataset, **summarise(scores, measured.chance, draws)}
            entry["rows"].append(row)
        if lungs is not None:
            entry[INSIDE_LUNGS]["rows"] += inside_lungs_rows(card, dataset, measured, draws)
        log.info("%s on %s: %d films x %d classes in %.0f s", card.name, dataset, len(items), len(classes),
                 time.perf_counter() - started)
    return entry


# --- the doc ---------------------------------------------------------------------------------------


def _ci(value: float, ci: list[float]) -> str:
    return f"{value:.2f} ({ci[0]:.2f}–{ci[1]:.2f})"


def _signed_ci(value: float, ci: list[float]) -> str:
    return f"{value:+.2f} ({ci[0]:+.2f} to {ci[1]:+.2f})"


def _verdict_cell(row: dict | None) -> str:
    if row is None:
        return "n/a"
    figure = _ci(row["pointing"], row["pointing_ci"])
    return f"**{figure}** localises" if row["verdict"] == "localises" else f"{figure} does not"


def _primary_rows(rows: list[dict]) -> list[tuple[str, str, list[dict | None]]]:
    """(class label, its finding's data set, its rows there in METHODS order) per measured class."""
    by_key = {(r["label"], r["dataset"], r["method"]): r for r in rows}
    out = []
    for label in dict.fromkeys(r["label"] for r in rows):
        dataset = FINDING_DATA.get(label)
        found = [by_key.get((label, dataset, m)) for m in METHODS]
        if dataset is not None and found[0] is not None:
            out.append((label, dataset, found))
    return out


def _lungs_of(entry: dict) -> dict | None:
    return entry.get(INSIDE_LUNGS)


def verdict_table(data: dict, inside_lungs: bool) -> list[str]:
    chance = "chance in the lungs | chance (film)" if inside_lungs else "chance"
    lines = ["| model | class | data (boxes) | n | " + " | ".join(TITLES[m] for m in METHODS) + f" | {chance} |",
             "| --- | --- | --- | ---: | " + " | ".join("---" for _ in METHODS)
             + (" | ---: | ---: |" if inside_lungs else " | ---: |")]
    for name, entry in data["models"].items():
        table = _lungs_of(entry) if inside_lungs else entry
        if table is None:
            lines.append(f"| `{name}` | | | | " + " | ".join("not measured" for _ in METHODS)
                         + (" | | |" if inside_lungs else " | |"))
            continue
        for label, dataset, rows in _primary_rows(table["rows"]):
            chances = f"{rows[0]['chance']:.2f}" + (f" | {rows[0]['chance_film']:.2f}" if inside_lungs else "")
            lines.append(f"| `{name}` | {label} | {DATASET_NAMES[dataset]} | {rows[0]['n']} | "
                         + " | ".join(_verdict_cell(r) for r in rows) + f" | {chances} |")
    return lines


def change_table(data: dict) -> list[str]:
    """Whole → inside the lungs, per model, class and method, on the class's finding's boxes."""
    lines = ["| model | class | data (boxes) | " + " | ".join(TITLES[m] for m in METHODS) + " |",
             "| --- | --- | --- | " + " | ".join("---" for _ in METHODS) + " |"]
    for name, entry in data["models"].items():
        lungs = _lungs_of(entry)
        if lungs is None:
            continue
        whole = {(label, dataset): rows for label, dataset, rows in _primary_rows(entry["rows"])}
        for label, dataset, rows in _primary_rows(lungs["rows"]):
            cells = []
            for before, after in zip(whole.get((label, dataset), [None] * len(METHODS)), rows, strict=True):
                if before is None or after is None:
                    cells.append("n/a")
                    continue
                cells.append(f"{before['pointing']:.2f} → {after['pointing']:.2f}: "
                             f"{_signed_ci(after['pointing_change'], after['pointing_change_ci'])}")
            lines.append(f"| `{name}` | {label} | {DATASET_NAMES[dataset]} | " + " | ".join(cells) + " |")
    return lines


def detail_table(rows: list[dict], inside_lungs: bool) -> list[str]:
    extra_head, extra_rule = (" change from whole (95 % CI) |", " ---: |") if inside_lungs else ("", "")
    chance = "chance in the lungs" if inside_lungs else "chance"
    lines = [f"| class | data | method | n | pointing game (95 % CI) |{extra_head} first maximum | mass in boxes | "
             f"IoU | {chance} | verdict |",
             f"| --- | --- | --- | ---: | ---: |{extra_rule} ---: | ---: | ---: | ---: | --- |"]
    for r in rows:
        verdict = r["verdict"] if r["primary"] else f"({r['verdict']}: another finding)"
        change = f" {_signed_ci(r['pointing_change'], r['pointing_change_ci'])} |" if inside_lungs else ""
        lines.append(
            f"| {r['label']} | {DATASET_NAMES[r['dataset']]} | {TITLES[r['method']]} | {r['n']} | "
            f"{_ci(r['pointing'], r['pointing_ci'])} |{change} {r['pointing_first_max']:.2f} | "
            f"{_ci(r['mass_in_boxes'], r['mass_in_boxes_ci'])} | {_ci(r['iou'], r['iou_ci'])} | "
            f"{r['chance']:.2f} | {verdict} |")
    return lines


def _lungs_words(lungs: dict | None) -> str:
    if lungs is None:
        return "no lung model was installed"
    return f"`{lungs['lungs_model']}`, weights sha256 `{lungs['lungs_weights_sha256'][:16]}…`"


def results_markdown(data: dict) -> str:
    lungs = data.get("lungs")
    lines = [RESULTS_HEADING, "",
             f"Written by `python scripts/localisation_table.py` on {data['measured']} "
             f"({data['seconds']:.0f} s on one ONNX Runtime thread); the same figures are in "
             "`resources/localisation.json`, which the viewer's layer panel shows in each map layer's tooltip "
             "(the figures of the maps as drawn at that moment: whole, or inside the lungs only).",
             "", "Verdict per model, class and method, on the data set whose boxes mark that class's finding "
             "(**bold**: the pointing game's 95 % CI lies above chance).", "",
             "**Maps drawn on the whole film** (Inside the lungs only off):", ""]
    lines += verdict_table(data, inside_lungs=False)
    lines += ["", "**Maps drawn inside the lungs only** (each map times the study's lung probability, as the "
              "viewer draws them with the option on; lung model "
              + (_lungs_words({"lungs_model": lungs["model"], "lungs_weights_sha256": lungs["weights_sha256"]})
                 if lungs else "none installed: not measured")
              + "). Chance here is a peak anywhere in the lungs (the boxes' share of the lung probability); "
              "the film's chance is beside it:", ""]
    lines += verdict_table(data, inside_lungs=True)
    lines += ["", "**Whole film → inside the lungs**: the pointing game with each, and the change on the same "
              "films (paired bootstrap 95 % CI):", ""]
    lines += change_table(data)
    lines += ["", "Every measurement, both data sets (a class's finding and the other one):", ""]
    for name, entry in data["models"].items():
        lines += [f"### `{name}`", "", f"weights sha256 `{entry['weights_sha256'][:16]}…`; films:"]
        lines += [f"- {DATASET_NAMES[d]}: {how}" for d, how in entry["films"].items()]
        lines += ["", "Whole film:", ""] + detail_table(entry["rows"], inside_lungs=False)
        inside = _lungs_of(entry)
        lines += ["", f"Inside the lungs only ({_lungs_words(inside)}):", ""]
        lines += detail_table(inside["rows"], inside_lungs=True) if inside else ["Not measured."]
        lines.append("")
    if data["skipped"]:
        lines += ["Not measured:", ""] + [f"- `{n}`: {why}" for n, why in data["skipped"].items()] + [""]
    return "\n".join(lines)


def write_doc(data: dict) -> None:
    text = DOC.read_text(encoding="utf-8")
    head = text.split(RESULTS_HEADING)[0].rstrip() + "\n\n"
    DOC.write_text(head + results_markdown(data).rstrip() + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", help="measure only these again (default: every installed model)")
    parser.add_argument("--models-dir", type=Path, default=paths.models_dir())
    parser.add_argument("--out", type=Path, default=paths.resources_dir() / VERDICTS_FILE)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    started = time.perf_counter()
    old = json.loads(args.out.read_text(encoding="utf-8")) if args.out.is_file() else {"models": {}}
    lungs = installed_lungs(args.models_dir)
    data = {"about": "Held-out localisation of each map method (scripts/localisation_table.py, docs/localisation.md). "
                     "verdict 'localises': the pointing game's bootstrap 95 % CI lower bound is above chance "
                     "(the boxes' mean share of the image); a row applies only to the weights_sha256 it names. "
                     "A model's 'rows' are its maps drawn whole; its 'inside_lungs' rows are the same maps times "
                     "the lung probability of 'lungs_model' (as the viewer draws them with 'Inside the lungs only'), "
                     "valid only for that model's 'lungs_weights_sha256'; their 'chance' is the boxes' share of the "
                     "lung probability (a peak anywhere in the lungs), 'chance_film' the boxes' share of the image, "
                     "and 'pointing_change' the pointing game's change from the whole map on the same films.",
            "measured": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
            "seconds": 0.0, "max_films": MAX_FILMS, "resamples": 2000,
            "lungs": {"model": lungs.name, "weights_sha256": lungs.weights_sha256} if lungs else None,
            "models": {}, "skipped": {}}
    for name in installed_models(args.models_dir):
        card = load_card(card_path(args.models_dir, name), verify_files=False)
        reason = skip_reason(card)
        if reason:
            data["skipped"][name] = reason
            continue
        kept = old["models"].get(name)
        if args.models and name not in args.models and kept and kept["weights_sha256"] == weights_sha256(card):
            data["models"][name] = kept
            continue
        data["models"][name] = measure(card, args.models_dir, lungs)
    data["seconds"] = time.perf_counter() - started
    args.out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    write_doc(data)
    log.info("wrote %s and %s in %.0f s", args.out, DOC, data["seconds"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
