"""Measure every map method of every shipped classifier on held-out boxes; write the verdicts.

    nice -n 10 python scripts/localisation_table.py [--models-dir models] [MODEL ...]

For each classifier card in models/ (not the gate, whose "frontal_cxr" class no box marks), each
class that names a finding, each map method (saliency, Grad-CAM, CAM, CRM) and each boxed data set
(RSNA opacity boxes, TBX11K TB boxes): pointing game, mass in boxes and IoU with bootstrap 95 % CIs,
against chance (the boxes' share of the image), on the films the model never trained or was
selected on (`training.localisation_heldout`: its own split rebuilt and checked against its card).
At most 300 films per data set (a seeded choice). One ONNX Runtime thread.

Writes resources/localisation.json (shipped in the bundle; the viewer's layer panel reads it through
`analysis.localisation_verdicts`, keyed by model name and the card's weights sha256) and the results
section of docs/localisation.md. With MODEL names, only those are measured again; the others' entries
are kept from the json as they are (if their weights are unchanged).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from cxrviewer import paths  # noqa: E402
from cxrviewer.analysis.localisation import METHODS, read_boxes  # noqa: E402
from cxrviewer.analysis.localisation_measure import measure_model, resamples, summarise  # noqa: E402
from cxrviewer.analysis.localisation_verdicts import (  # noqa: E402
    DATASET_NAMES,
    FINDING_DATA,
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


def measure(card: ModelCard, models_dir: Path) -> dict:
    """The json entry of one model: its weights sha256, how its films were chosen, and its rows."""
    classes = [i for i, label in enumerate(card.labels) if label not in NEGATIVE_LABELS]
    loaded = load_model(card.name, models_dir, intra_op_threads=1)
    entry = {"weights_sha256": weights_sha256(card), "labels": list(card.labels), "films": {}, "rows": []}
    for dataset in BOXED:
        started = time.perf_counter()
        items, how, _ = films(card, dataset)
        entry["films"][dataset] = how
        if not items:
            continue
        measured = measure_model(loaded, items, classes, methods=METHODS, models_dir=models_dir)
        draws = resamples(len(measured.chance), seed=SEED)
        for (class_index, method), scores in measured.scores.items():
            label = card.labels[class_index]
            row = {"label": label, "class_index": class_index, "method": method, "dataset": dataset,
                   "primary": FINDING_DATA.get(label) == dataset, **summarise(scores, measured.chance, draws)}
            entry["rows"].append(row)
        log.info("%s on %s: %d films x %d classes in %.0f s", card.name, dataset, len(items), len(classes),
                 time.perf_counter() - started)
    return entry


# --- the doc ---------------------------------------------------------------------------------------


def _ci(value: float, ci: list[float]) -> str:
    return f"{value:.2f} ({ci[0]:.2f}–{ci[1]:.2f})"


def results_markdown(data: dict) -> str:
    lines = [RESULTS_HEADING, "",
             f"Written by `python scripts/localisation_table.py` on {data['measured']} "
             f"({data['seconds']:.0f} s on one ONNX Runtime thread); the same figures are in "
             "`resources/localisation.json`, which the viewer's layer panel shows in each map layer's tooltip.",
             "", "Verdict per model, class and method, on the data set whose boxes mark that class's finding "
             "(**bold**: the pointing game's 95 % CI lies above chance):", "",
             "| model | class | data (boxes) | n | " + " | ".join(TITLES[m] for m in METHODS) + " | chance |",
             "| --- | --- | --- | ---: | " + " | ".join("---" for _ in METHODS) + " | ---: |"]
    for name, entry in data["models"].items():
        by_key = {(r["label"], r["dataset"], r["method"]): r for r in entry["rows"]}
        for label in dict.fromkeys(r["label"] for r in entry["rows"]):
            dataset = FINDING_DATA.get(label)
            rows = [by_key.get((label, dataset, m)) for m in METHODS]
            if dataset is None or rows[0] is None:
                continue
            cells = [("**" + _ci(r["pointing"], r["pointing_ci"]) + "** localises" if r["verdict"] == "localises"
                      else _ci(r["pointing"], r["pointing_ci"]) + " does not") if r else "n/a" for r in rows]
            lines.append(f"| `{name}` | {label} | {DATASET_NAMES[dataset]} | {rows[0]['n']} | "
                         + " | ".join(cells) + f" | {rows[0]['chance']:.2f} |")
    lines += ["", "Every measurement, both data sets (a class's finding and the other one):", ""]
    for name, entry in data["models"].items():
        lines += [f"### `{name}`", "", f"weights sha256 `{entry['weights_sha256'][:16]}…`; films:"]
        lines += [f"- {DATASET_NAMES[d]}: {how}" for d, how in entry["films"].items()]
        lines += ["", "| class | data | method | n | pointing game (95 % CI) | first maximum | mass in boxes | IoU | "
                  "chance | verdict |", "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
        for r in entry["rows"]:
            verdict = r["verdict"] if r["primary"] else f"({r['verdict']}: another finding)"
            lines.append(
                f"| {r['label']} | {DATASET_NAMES[r['dataset']]} | {TITLES[r['method']]} | {r['n']} | "
                f"{_ci(r['pointing'], r['pointing_ci'])} | {r['pointing_first_max']:.2f} | "
                f"{_ci(r['mass_in_boxes'], r['mass_in_boxes_ci'])} | {_ci(r['iou'], r['iou_ci'])} | "
                f"{r['chance']:.2f} | {verdict} |")
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
    data = {"about": "Held-out localisation of each map method (scripts/localisation_table.py, docs/localisation.md). "
                     "verdict 'localises': the pointing game's bootstrap 95 % CI lower bound is above chance "
                     "(the boxes' mean share of the image); a row applies only to the weights_sha256 it names.",
            "measured": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
            "seconds": 0.0, "max_films": MAX_FILMS, "resamples": 2000, "models": {}, "skipped": {}}
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
        data["models"][name] = measure(card, args.models_dir)
    data["seconds"] = time.perf_counter() - started
    args.out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    write_doc(data)
    log.info("wrote %s and %s in %.0f s", args.out, DOC, data["seconds"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
