"""Write docs/models.md from the shipped cards, their run folders and the comparison runs.

    python scripts/models_doc.py [--runs runs]
    python scripts/models_doc.py --section NAME --run RUN_DIR   # one re-shipped model's section, in place

Every figure in the page is read from a card (models/*.card.json), a run's metrics.json, or a
localisation table written by `cxrviewer evaluate --maps`; nothing is typed by hand except the
published anchors, which are quoted from docs/ANCHORS.md with their source. Plots are copied from
the run folders into docs/models/<name>/.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
from pathlib import Path

from image_models_doc import FIGURE_TEXT, image_model_section

from cxrviewer import paths
from cxrviewer.core.cards import ModelCard, card_path, load_card
from cxrviewer.runtime.registry import installed_models

ROOT = paths.install_root()
DOC = ROOT / "docs" / "models.md"
ORDER = ("pneumonia-kermany", "pneumonia3-kermany", "opacity-rsna")  # the order
IMAGE_ORDER = ("gate", "segmentation", "bone_suppression")
PLOTS = ("roc_test.png", "confusion_test.png", "curves.png")
# Published figures we measure ourselves against (shared/docs/ANCHORS.md).
ANCHORS = {
    "pneumonia-kermany": ("Kermany et al. 2018, transfer-learned Inception, their official test split",
                          {"accuracy": 0.928, "sensitivity": 0.932, "specificity": 0.901, "auc": 0.968}),
    "pneumonia3-kermany": ("Group-Q report: ResNet-34 / MobileNetV3-L / EfficientNet-B1, macro F1",
                           {"f1": (0.768, 0.804)}),
    "opacity-rsna": ("Hurt et al. 2020, U-Net probability maps trained on ~18,000 RSNA radiographs",
                     {"auc": 0.854, "sensitivity": 0.828, "specificity": 0.726}),
}
# What keeps each comparison with its anchor from being like for like (shared/docs/ANCHORS.md).
ANCHOR_CAVEATS = {
    "pneumonia-kermany": "Kermany's figures are on their official test split, which is not in the shared data and is "
                         "known to differ from the training split (a model near 0.99 on a patient-level split of the "
                         "training data can lose ten points of accuracy there, mostly specificity). Ours are on the "
                         "earliest acquisition period of the training split (docs/kermany-shift.md), never trained or "
                         "selected on: a real but weaker shift than the official test's, so still an easier test.",
    "pneumonia3-kermany": "Group-Q's figures are on Kermany's official test split; ours on the earliest acquisition "
                          "period of the training split (see above), a weaker shift: read the comparison with that in mind.",
    "opacity-rsna": "Hurt et al. trained on ~18,000 radiographs; this model saw 203 (60 % of 339). The gap in data "
                    "is about two orders of magnitude.",
}
# What a reader needs to read a comparison table right (measured facts, written when the runs were made).
COMPARISON_NOTES = {
    "pneumonia3-kermany": [
        "The claim under test (Pasa et al.): a tb-net-class network matches bigger ones on radiographs. The budget "
        "was wall-clock on this 2-core CPU: a MobileNetV3-Large step costs ~8x a tb-net step here, so it got 6 "
        "epochs against tb-net's 24 (the times differ because tb-net trained while the machine was shared with "
        "much other work). In eval mode MobileNetV3 still called almost every image one class after 6 epochs "
        "(its batch-norm statistics, updated with torchvision's momentum 0.01, lag the weights); the last column "
        "re-estimates them (scripts/precise_bn_eval.py) to show what its weights had learnt. Training times were "
        "measured on a machine shared with other work.", ""],
    "opacity-rsna": [
        "On 68 validation images the AUC interval is about ±0.13, so no candidate is measurably better than another; "
        "the 512² candidates were not run (CPU time). Test figures are shown for honesty, not for choosing.", ""],
}
# Runs compared to choose or to test a claim, beside the shipped model they belong to.
COMPARISONS = {
    "pneumonia3-kermany": ("pneumonia3-kermany", "pneumonia3-kermany-mobilenetv3"),
    "opacity-rsna": ("opacity-rsna-scratch224", "opacity-rsna-init224", "opacity-rsna-scratch512",
                     "opacity-rsna-init512"),
}


def _fmt(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _test(card: ModelCard, name: str):
    return next((m for m in card.metrics if m.name == name and m.split.startswith("test")), None)


def _external(card: ModelCard, name: str):
    """The card's first external figure of that name (a source or part never in training or selection)."""
    return next((m for m in card.metrics if m.name == name and m.scope == "external"), None)


def _figure(card: ModelCard, name: str, external: bool = False) -> str:
    metric = _external(card, name) if external else _test(card, name)
    if metric is None:
        return "–"
    ci = f" [{metric.ci95[0]:.3f}–{metric.ci95[1]:.3f}]" if metric.ci95 else ""
    return f"{metric.value:.3f}{ci}"


def summary_table(cards: list[ModelCard]) -> list[str]:
    lines = ["| model | labels | architecture | input | parameters | MACs | CPU ms | training | test accuracy | test AUC [95 % CI] | test macro F1 |",
             "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for c in cards:
        cost = c.complexity
        lines.append(
            f"| `{c.name}` | {', '.join(c.labels)} | {c.arch} | {c.input.channels}×{c.input.height}×{c.input.width} "
            f"| {cost.parameters:,} | {cost.macs / 1e6:.0f} M | {cost.cpu_ms:.1f} | {c.provenance.wall_time_s / 60:.0f} min "
            f"| {_figure(c, 'accuracy')} | {_figure(c, 'auc')} | {_figure(c, 'f1')} |"
        )
    return lines


def anchor_table(card: ModelCard) -> list[str]:
    if card.name not in ANCHORS:
        return []
    source, figures = ANCHORS[card.name]
    # The anchors are on data their models did not train on: ours external where the card has it.
    external = any(_external(card, name) is not None for name in figures)
    column = "ours (external)" if external else "ours (test, internal)"
    lines = [f"Against the anchor ({source}):", "", f"| figure | {column} | anchor |", "| --- | ---: | ---: |"]
    for name, anchor in figures.items():
        shown = f"{anchor[0]:.3f}–{anchor[1]:.3f}" if isinstance(anchor, tuple) else f"{anchor:.3f}"
        lines.append(f"| {name} | {_figure(card, name, external)} | {shown} |")
    caveat = ANCHOR_CAVEATS.get(card.name)
    return lines + ([""] + [f"*Caveat*: {caveat}"] if caveat else []) + [""]


def per_class_f1(card: ModelCard) -> list[str]:
    rows = [m for m in card.metrics if m.name.startswith("f1[") and m.split.startswith("test")]
    if not rows:
        return []
    return ["| class | test F1 |", "| --- | ---: |"] + [f"| {m.name[3:-1]} | {m.value:.3f} |" for m in rows] + [""]


def confusion(card: ModelCard) -> list[str]:
    test = next((c for c in card.confusion if c.split.startswith("test")), None)
    if test is None:
        return []
    lines = ["Test confusion matrix (rows: truth, columns: prediction at the operating point):", "",
             "| | " + " | ".join(card.labels) + " |", "| --- |" + " ---: |" * len(card.labels)]
    lines += [f"| **{label}** | " + " | ".join(str(v) for v in row) + " |" for label, row in zip(card.labels, test.matrix, strict=True)]
    return lines + [""]


def _candidate_card(run: str, runs: Path) -> ModelCard | None:
    """The exported card of a comparison run: shipped under its own name, or among the candidates."""
    for folder in (paths.models_dir(), runs / "models-candidates", runs / "models"):
        if card_path(folder, run).exists():
            return load_card(card_path(folder, run), verify_files=False)
    return None


def comparison(name: str, runs: Path) -> list[str]:
    """Candidates side by side: cost, validation figures (how the choice was made) and test figures,
    and, where scripts/precise_bn_eval.py was run, the test macro F1 with re-estimated batch-norm statistics."""
    names = COMPARISONS.get(name)
    if not names:
        return []
    lines = ["| run | architecture | input | init | parameters | MACs | CPU ms | epochs (best) | training "
             "| val AUC | val macro F1 | test AUC | test macro F1 | test macro F1, precise BN |",
             "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for run in names:
        metrics_file, config_file = runs / run / "metrics.json", runs / run / "config.json"
        if not metrics_file.exists():
            continue
        m, cfg = json.loads(metrics_file.read_text()), json.loads(config_file.read_text())
        init = "pneumonia-kermany" if cfg.get("init_from") else "random"
        card = _candidate_card(run, runs)
        if card is None:  # not exported: same architecture and size as the shipped model, same cost
            shipped = load_card(card_path(paths.models_dir(), name), verify_files=False)
            same = shipped.arch == cfg["arch"] and shipped.input.height == cfg["input"]["height"]
            card = shipped if same else None
        cost = card.complexity if card is not None else None
        # The card sums every session of a resumed run; metrics.json has only the last session's time.
        seconds = card.provenance.wall_time_s if card is not None and card.name == run else None
        minutes = (seconds or m["wall_time_s"]) / 60
        precise_file = runs / run / "precise_bn.json"
        precise = _fmt(json.loads(precise_file.read_text())["test"]["f1"]) if precise_file.exists() else "–"
        lines.append(
            f"| `{run}` | {cfg['arch']} | {cfg['input']['height']}² | {init} "
            f"| {f'{cost.parameters:,}' if cost else '–'} | {f'{cost.macs / 1e6:.0f} M' if cost else '–'} "
            f"| {f'{cost.cpu_ms:.1f}' if cost else '–'} | {cfg['epochs']} ({m['best_epoch']}) "
            f"| {minutes:.0f} min | {_fmt(m['val'].get('auc'))} | {_fmt(m['val'].get('f1'))} "
            f"| {_fmt(m['test'].get('auc'))} | {_fmt(m['test'].get('f1'))} | {precise} |"
        )
    return ["Candidates (same data, split and seed; chosen on validation figures only):", "", *lines, "",
            *COMPARISON_NOTES.get(name, [])]


def model_section(card: ModelCard, runs: Path, run_dir: Path | None = None) -> list[str]:
    """run_dir: the model's run folder when it is not RUNS/NAME (a re-ship trained under another name)."""
    p = card.provenance
    out = [f"## `{card.name}`", "",
           f"- **Task**: {card.task}, labels {', '.join(card.labels)}; {card.arch} at {card.input.height}×{card.input.width}, "
           f"preprocessing {', '.join(s.name for s in card.input.steps) or 'none'}.",
           f"- **Data**: {'; '.join(p.data)}. **Split**: {p.split}.",
           f"- **Trained by**: `{p.command}` at commit `{p.commit[:10]}`, {p.date}, {p.wall_time_s / 60:.0f} min on the 2-core CPU.",
           f"- **Cost**: {card.complexity.parameters:,} parameters, {card.complexity.macs / 1e6:.0f} M multiply-adds, "
           f"{card.complexity.cpu_ms:.1f} ms per image ({card.complexity.cpu_note}).",
           f"- **What the displayed probability means**: {card.probability_meaning}", ""]
    external = any(m.scope == "external" and m.split.startswith("external test") for m in card.metrics)
    if external:  # a named part of its own sources kept out of training and selection (training/splits.part_split)
        out += ["| figure | external test | test (internal) | validation |", "| --- | ---: | ---: | ---: |"]
    else:
        out += ["| figure | test | validation |", "| --- | ---: | ---: |"]
    for name in ("accuracy", "auc", "f1", "sensitivity", "specificity", "mcc", "ece", "brier"):
        val = next((m for m in card.metrics if m.name == name and m.split.startswith("validation")), None)
        if _test(card, name) is not None:
            ci = f" [{val.ci95[0]:.3f}–{val.ci95[1]:.3f}]" if val is not None and val.ci95 else ""
            first = f"{_figure(card, name, True)} | " if external else ""
            out.append(f"| {name} | {first}{_figure(card, name)} | {_fmt(val.value if val else None)}{ci} |")
    out += ["", *anchor_table(card), *per_class_f1(card), *confusion(card), *comparison(card.name, runs)]
    loc = runs / f"loc-{card.name}" / "localisation.md"
    if loc.exists():
        out += ["How its explanation maps localise (`cxrviewer evaluate --maps`, see docs/localisation.md):", "",
                loc.read_text(encoding="utf-8").strip(), ""]
    run = run_dir or runs / card.name
    plots = [name for name in PLOTS if (run / "plots" / name).exists()]
    if plots:
        folder = DOC.parent / "models" / card.name
        folder.mkdir(parents=True, exist_ok=True)
        for name in plots:
            shutil.copy2(run / "plots" / name, folder / name)
        out += [" ".join(f"![{name[:-4]}](models/{card.name}/{name})" for name in plots), ""]
    out += ["**Not validated for**: " + " ".join(card.limits), ""]
    if card.notes:
        out += ["**Notes**:", "", *(f"- {note}" for note in card.notes), ""]
    return out


def replace_section(name: str, run_dir: Path, runs: Path) -> None:
    """Rewrite one model's section (and a classifier's summary row) in docs/models.md in place, leaving the rest
    of the page (other models' sections, whose run folders may be gone; the screening and external
    sections written by their own scripts) as it is."""
    card = load_card(card_path(paths.models_dir(), name))
    text = DOC.read_text(encoding="utf-8")
    start = text.index(f"## `{name}`\n")
    following = [i for i in (text.find("\n## ", start + 1), text.find("\n# ", start + 1)) if i >= 0]
    end = min(following) + 1 if following else len(text)
    classifier = card.is_classifier and card.task != "gate"
    body = model_section(card, runs, run_dir) if classifier else image_model_section(card, runs, run_dir)
    text = text[:start] + "\n".join(body) + "\n" + text[end:]
    if classifier:
        row = next(line for line in summary_table([card]) if line.startswith(f"| `{name}` "))
        text = "\n".join(row if line.startswith(f"| `{name}` ") else line for line in text.split("\n"))
    DOC.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=Path, default=ROOT / "runs")
    parser.add_argument("--section", help="rewrite only this model's section and summary row")
    parser.add_argument("--run", type=Path, help="with --section: the model's run folder (plots)")
    args = parser.parse_args(argv)
    if args.section:
        replace_section(args.section, args.run, args.runs)
        return 0
    order = {name: i for i, name in enumerate(ORDER)}
    names = sorted(installed_models(), key=lambda n: (order.get(n, len(order)), n))
    every = [load_card(card_path(paths.models_dir(), n)) for n in names]
    cards = [c for c in every if c.is_classifier and c.task != "gate"]
    image_cards = [c for c in every if c not in cards]
    lines = ["# The shipped models", "",
             "Generated by `scripts/models_doc.py` from the cards in `models/`, the training runs and the comparison",
             "runs; every figure below was measured on data the model never saw in training or selection (the test",
             "split), except where a column says validation. Each card carries the same facts for the viewer, whose",
             "findings panel shows them beside each model's answer (below: the demo phantom, which every model",
             "is cautioned against; `cxrviewer analyze` gives the same answers as CSV).", "",
             "![The findings panel on the demo study](findings_demo.png)", "",
             *summary_table(cards), ""]
    for card in cards:
        lines += model_section(card, args.runs)
    if image_cards:
        lines += ["# The image models: gate, lungs, bone suppression, TB lesions", "", *FIGURE_TEXT]
    for card in sorted(image_cards, key=lambda c: IMAGE_ORDER.index(c.task) if c.task in IMAGE_ORDER else 9):
        lines += image_model_section(card, args.runs)
    DOC.write_text("\n".join(lines) + "\n", encoding="utf-8")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("models_doc").info("wrote %s", DOC)
    return 0


if __name__ == "__main__":
    sys.exit(main())
