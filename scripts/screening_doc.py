"""The TB screening classifier's section of docs/models.md, written from its card alone.

    python scripts/screening_doc.py [NAME]      # default: every shipped classifier with a "tb" label

scripts/models_doc.py writes the whole page from the cards and the training runs; the screening
classifier's runs live outside the project (docs/tb-classifier.md says where), so its section is
written from its card and replaced in place: between its `## \\`NAME\\`` heading and the next heading
of that level (inserted before the image models when absent), with its row in the summary table.
Every figure is the card's: per source with 95 % intervals, and what the model saw of each source.
"""

from __future__ import annotations

import re
import sys

from models_doc import DOC, summary_table

from cxrviewer import paths
from cxrviewer.core.cards import ModelCard, card_path, load_card
from cxrviewer.runtime.registry import installed_models

SCREENING_LABEL = "tb"
IMAGE_MODELS_HEADING = "# The image models"
# Published figures the issue names (ANCHORS.md): Pasa et al. 2019 tb-net on Montgomery; the 2024
# independent multi-country comparison of commercial CAD products.
ANCHORS = ("Anchors: Pasa et al. 2019 tb-net, Montgomery AUC 0.838; the independent multi-country comparison of "
           "commercial CAD (2024), AUC 0.77–0.82 and at best specificity 0.738 at 90 % sensitivity. Neither was "
           "measured on these films: the comparison is of kind, not of data.")


def _ci(metric) -> str:
    return f"{metric.value:.3f} ({metric.ci95[0]:.3f}–{metric.ci95[1]:.3f})" if metric.ci95 else f"{metric.value:.3f}"


def pair_table(card: ModelCard) -> list[str]:
    """AUC, specificity at 90 % sensitivity, sensitivity at 70 % specificity per pair of sources."""
    pairs: dict[str, dict[str, object]] = {}
    for metric in card.metrics:
        if metric.name in ("auc", "spec_at_90_sens", "sens_at_70_spec") and " vs " in metric.split:
            pairs.setdefault(re.match(r"^(.*?\))", metric.split).group(1), {})[metric.name] = metric
    lines = ["| TB films vs normal films | AUC (95 % CI) | specificity at 90 % sensitivity | sensitivity at 70 % specificity |",
             "| --- | ---: | ---: | ---: |"]
    for pair, figures in pairs.items():
        mixed = " †" if pair.split(" ")[0] != pair.split(" vs ")[1].split(" ")[0] else ""
        lines.append(f"| {pair}{mixed} | " + " | ".join(_ci(figures[k]) if k in figures else "–"
                                                     for k in ("auc", "spec_at_90_sens", "sens_at_70_spec")) + " |")
    return lines + ["", "† TB and normal films from different sources: the figure mixes disease and source differences.", ""]


def rate_table(card: ModelCard) -> list[str]:
    rows = [m for m in card.metrics if re.fullmatch(r"(sensitivity|specificity)\[\w+\]", m.name)]
    lines = [f"At the operating threshold P({card.labels[1]}) ≥ {card.thresholds[1]:.4f}:", "",
             "| figure | source, split, what the model saw of it | value (Wilson 95 % CI) |", "| --- | --- | ---: |"]
    lines += [f"| {m.name.split('[')[0]} | {_balanced(m.split.split('; Wilson')[0])} | {_ci(m)} |" for m in rows]
    return lines + [""]


def _balanced(text: str) -> str:
    return text + ")" * (text.count("(") - text.count(")"))


def screening_section(card: ModelCard) -> list[str]:
    p = card.provenance
    return [f"## `{card.name}`", "",
            f"- **Task**: TB screening, labels {', '.join(card.labels)}; {card.arch} at {card.input.height}×{card.input.width}, "
            f"preprocessing {', '.join(s.name for s in card.input.steps) or 'none'} ({card.input.scaling}/{card.input.resize}).",
            f"- **Data**: {'; '.join(p.data)}. **Split**: {p.split}.",
            f"- **Trained by**: `{p.command}` at commit `{p.commit[:10]}`, {p.date}, {p.wall_time_s / 60:.0f} min on the 2-core CPU.",
            f"- **Cost**: {card.complexity.parameters:,} parameters, {card.complexity.macs / 1e6:.0f} M multiply-adds, "
            f"{card.complexity.cpu_ms:.1f} ms per image ({card.complexity.cpu_note}).",
            f"- **What the displayed probability means**: {card.probability_meaning}",
            "- **How it was chosen, what else was tried, the two papers' claims measured here** (Pasa: saliency "
            "against Grad-CAM by the pointing game on TBX11K boxes; Rajaraman 2021: bone-suppressed input against "
            "the original): [docs/tb-classifier.md](tb-classifier.md).", "",
            *pair_table(card), *rate_table(card), ANCHORS, "",
            "Its maps on held-out TB films (TBX11K boxes drawn):", "",
            "![tb-net maps on TB films](tb-classifier-maps.png)", "",
            "**Not validated for**: " + " ".join(card.limits), "",
            *(["**Notes**:", "", *(f"- {note}" for note in card.notes), ""] if card.notes else [])]


def replace_section(text: str, card: ModelCard) -> str:
    section = "\n".join(screening_section(card))
    heading = f"## `{card.name}`"
    if heading in text:
        start = text.index(heading)
        following = [i for i in (text.find("\n## ", start + 1), text.find("\n# ", start + 1)) if i >= 0]
        end = min(following) + 1 if following else len(text)
        text = text[:start] + section + "\n" + text[end:]
    else:
        at = text.index(IMAGE_MODELS_HEADING)
        text = text[:at] + section + "\n" + text[at:]
    row = summary_table([card])[-1]
    lines = text.split("\n")
    existing = [i for i, line in enumerate(lines) if line.startswith(f"| `{card.name}` |")]
    if existing:
        lines[existing[0]] = row
    else:  # the summary table: the first table whose header starts "| model | labels |"
        at = next(i for i, line in enumerate(lines) if line.startswith("| model | labels |")) + 2
        while lines[at].startswith("| `"):
            at += 1
        lines.insert(at, row)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    names = list(argv if argv is not None else sys.argv[1:])
    folder = paths.models_dir()
    if not names:
        names = [n for n in installed_models(folder) if SCREENING_LABEL in load_card(card_path(folder, n), verify_files=False).labels]
    text = DOC.read_text(encoding="utf-8")
    for name in names:
        text = replace_section(text, load_card(card_path(folder, name)))
    DOC.write_text(text, encoding="utf-8")
    print(f"wrote the sections of {', '.join(names)} in {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
