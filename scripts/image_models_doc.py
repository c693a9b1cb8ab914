"""The image models' part of docs/models.md (called by scripts/models_doc.py).

Every figure is read from a shipped card, a run's metrics.json / gate.json / lesions.json /
fullres.json, or the bench output saved beside the runs; nothing is typed by hand but the anchors.
"""

from __future__ import annotations

import json
from pathlib import Path

from cxrviewer.core.cards import ModelCard

# The bone-suppression candidates the issue asks to compare, run folder → what it is.
BONE_CANDIDATES = {
    "bone-suppression-jsrt-dwres_bs": "dwres_bs (ours: pixel-unshuffle ×4, 12 depthwise-separable residual blocks) at 512²",
    "bone-suppression-jsrt-dwres_bs-continued": "dwres_bs continued from the run above at 512²",
    "bone-suppression-jsrt-resnet_bs": "ResNet-BS (Rajaraman 2021: 64 filters × 16 residual blocks) at 256²",
}
BONE_ANCHOR = ("Rajaraman ResNet-BS (earlier preprint, test set NIH-CC-DES, their normalisation): PSNR 34.07 dB, "
               "SSIM 0.949, MS-SSIM 0.983. Not comparable with the in-lung figures here: on this data the untouched "
               "input already scores about 35 dB once matched to the target, so the gain over identity is the figure "
               "that matters.")


def _json(path: Path) -> dict | None:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def header(card: ModelCard) -> list[str]:
    p, cost = card.provenance, card.complexity
    lines = [f"## `{card.name}`", "",
             f"- **Task**: {card.task}, labels {', '.join(card.labels)}; {card.arch} at {card.input.height}×"
             f"{card.input.width}, fitted to any image by `{card.input.resize_policy}` (runtime/tiling.py), "
             f"preprocessing {', '.join(s.name for s in card.input.steps) or 'none'}.",
             f"- **Data**: {'; '.join(p.data)}. **Split**: {p.split}.",
             f"- **Trained by**: `{p.command}` at commit `{p.commit[:10]}`, {p.date}, "
             f"{(p.wall_time_s or 0) / 60:.0f} min on the 2-core CPU."]
    if cost is not None:
        lines.append(f"- **Cost**: {cost.parameters:,} parameters, {(cost.macs or 0) / 1e6:.0f} M multiply-adds, "
                     f"{cost.cpu_ms:.1f} ms per working-size input ({cost.cpu_note}).")
    if card.probability_meaning:
        lines.append(f"- **What the output means**: {card.probability_meaning}")
    return [*lines, ""]


def footer(card: ModelCard) -> list[str]:
    limits = " ".join(text if text.endswith(".") else f"{text}." for text in card.limits)
    lines = ["**Not validated for**: " + limits, ""]
    if card.notes:
        lines += ["**Notes**:", "", *(f"- {note}" for note in card.notes), ""]
    return lines


def lungs_body(card: ModelCard, run: Path) -> list[str]:
    size = f"{card.input.height}²"
    lines = [f"Held-out test images of each source, at the {size} working size (the card's figures):", "",
             f"| test images of | Dice | IoU | HD95 (px at {size}) | Hausdorff (px at {size}) |", "| --- | ---: | ---: | ---: | ---: |"]
    splits = sorted({m.split for m in card.metrics if m.split.startswith("test")}, key=len)
    for split in splits:
        values = {m.name: m.value for m in card.metrics if m.split == split}
        who = split.split(":", 1)[0].replace("test, ", "").replace(" only", "") if "only" in split else "both sources"
        lines.append(f"| {who} | {values.get('dice', float('nan')):.4f} | {values.get('iou', float('nan')):.4f} | "
                     f"{values.get('hd95', float('nan')):.1f} | {values.get('hausdorff', float('nan')):.1f} |")
    fullres = _json(run / "fullres.json")
    if fullres:
        from lung_fullres_eval import to_markdown

        lines += ["", "The same test images at their full stored resolution, through the viewer's path, without and with "
                  "the viewer's cleaning (the two largest regions kept, `core/lung_mask.py`; "
                  "`scripts/lung_fullres_eval.py`):", "", to_markdown(fullres)]
    return [*lines, ""]


def gate_body(card: ModelCard) -> list[str]:
    rows = [m for m in card.metrics if m.name in ("acceptance_rate", "rejection_rate")]
    lines = [f"Operating threshold {card.thresholds[1]:.4f} on P(frontal chest radiograph) (Youden on validation). "
             "Each row is a group never used in training (the test split's radiographs and the synthetic negatives "
             "made from them; pydicom's, matplotlib's and generated images were never seen at all):", "",
             "| images | should be | n | rate |", "| --- | --- | ---: | ---: |"]
    for m in rows:
        group, n = m.split.rsplit(" (n=", 1)
        lines.append(f"| {group} | {'accepted' if m.name == 'acceptance_rate' else 'rejected'} | {n.rstrip(')')} | "
                     f"{m.value:.3f} |")
    return [*lines, ""]


def bone_body(card: ModelCard, runs: Path) -> list[str]:
    lines = ["Candidates on the held-out JSRT ids (the same split for all, by JSRT id), inside the SCR lung mask at "
             "each candidate's working size, next to the identity baseline (the input against the same harmonised "
             "target):", "",
             "| candidate | PSNR dB (identity) | gain dB | SSIM (identity) | MS-SSIM (identity) | MAE (identity) | "
             "best epoch | training min |", "| --- | --- | ---: | --- | --- | --- | ---: | ---: |"]
    for run, what in BONE_CANDIDATES.items():
        metrics = _json(runs / run / "metrics.json")
        if not metrics:
            continue
        model, identity = metrics["test"]["model"], metrics["test"]["identity"]
        lines.append(f"| {what} | {model['psnr']:.2f} ({identity['psnr']:.2f}) | {model['psnr'] - identity['psnr']:+.2f} | "
                     f"{model['ssim']:.4f} ({identity['ssim']:.4f}) | {model['ms_ssim']:.4f} ({identity['ms_ssim']:.4f}) | "
                     f"{model['mae']:.4f} ({identity['mae']:.4f}) | {metrics['best_epoch']} | "
                     f"{metrics['wall_time_s'] / 60:.0f} |")
    at_512 = _json(runs / "bone_suppression_512.json")
    if at_512:
        from bone_suppression_eval import to_markdown

        lines += ["", "The same candidates at one size, 512², through the viewer's path "
                  "(`scripts/bone_suppression_eval.py`; the run figures above are at each working size):", "",
                  to_markdown(at_512["results"], at_512["images"])]
    bench = runs / "bone_suppression_bench.md"
    if bench.exists():
        lines += ["", "What each costs a reader (`bench/bone_suppression.py`, the viewer's own path, one run):", "",
                  bench.read_text(encoding="utf-8").strip()]
    lines += ["", f"Anchor: {BONE_ANCHOR}", ""]
    if at_512 and len(at_512["results"]) > 1:
        lines += [choice_text(card, at_512["results"]), ""]
    return lines


def choice_text(card: ModelCard, results: dict[str, dict[str, dict[str, float]]]) -> str:
    """Why the shipped candidate: its gain at 512² against the others', in the same words each time."""
    gain = {name: r["model"]["psnr"] - r["identity"]["psnr"] for name, r in results.items()}
    shipped = max(gain, key=gain.get)
    others = ", ".join(f"{name} {value:+.2f} dB" for name, value in gain.items() if name != shipped)
    return (f"**Shipped as `{card.name}`: {shipped}**, the largest gain over identity at 512² ({gain[shipped]:+.2f} dB; "
            f"{others}), at a fraction of ResNet-BS's parameters and time per image (table above). The candidates had "
            "similar CPU budgets rather than equal epochs, so this compares what each reaches on this machine, not "
            f"converged models. No candidate reaches the +3 dB aimed for (half the bone-shadow energy removed): "
            f"{shipped} removes {1 - 10 ** (-gain[shipped] / 10):.0%} of the in-lung difference between the input "
            "and the bone-free target.")


def lesions_body(card: ModelCard, runs: Path) -> list[str]:
    figures = _json(runs / card.name / "lesions.json")
    if not figures:
        return []
    from cxrviewer.training.lesion_eval import LesionFigures, SourceRate

    figures["normals"] = tuple(SourceRate(**r) for r in figures["normals"])
    return ["`python -m cxrviewer.training.lesion_eval runs/tb-lesions-tbx11k` (held-out TB images of TBX11K's "
            "test split; normal radiographs of other sources):", "", LesionFigures(**figures).to_markdown(), ""]


def image_model_section(card: ModelCard, runs: Path, run_dir: Path | None = None) -> list[str]:
    """run_dir: the model's run folder when it is not RUNS/NAME (a re-ship trained under another name)."""
    if card.task == "gate":
        body = gate_body(card)
    elif card.task == "bone_suppression":
        body = bone_body(card, runs)
    elif "lungs" in card.labels:
        body = lungs_body(card, run_dir or runs / card.name)
    else:
        body = lesions_body(card, runs)
    return [*header(card), *body, *footer(card)]


FIGURE_TEXT = ["## What the image models do, on held-out radiographs of every source", "",
               "Original, the bone-suppressed soft-tissue view (suppressed lungs set into the original), the bones "
               "layer (original minus soft tissue, shown at ±3 standard deviations), the lung mask, and the TB lesion "
               "map with its image-level score (TBX11K's TB boxes in white). JSRT rows are test ids of the "
               "bone-suppression split; TBX11K, OpenIST and RSNA rows are the lesion model's test images; the "
               "Kermany child was seen by no image model. Made by `scripts/image_models_figure.py` through the "
               "viewer's pipeline.", "", "![image models](models/image_models.png)", "",
               "What it shows: the bones layer follows the ribs and clavicles on every adult source, not only JSRT, "
               "though the soft-tissue view keeps faint rib shadows (the gain over identity below is under 2 dB, not "
               "the 3 dB aimed for). The lesion map finds TBX11K's boxed areas and stays quiet on the adult normals "
               "shown, but on the Kermany child it lights up both lungs (score 0.99): children are outside every "
               "image model's population, which their cards say and the viewer's cautions repeat.", ""]
