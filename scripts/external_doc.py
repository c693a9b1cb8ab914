"""The "internal and external" section of docs/models.md, written from the shipped cards alone.

    python scripts/external_doc.py

For every shipped model, each headline figure twice: on a held-out part of the sources it trained on
(internal: the figure a random split gives, which flatters) and on every source or named part that
played no part in training or selection (external: `Metric.scope == "external"`), with the data each
was measured on. A model without an external figure is listed with "none measured". The section
sits between two HTML comments near the top of the page and is replaced in place; the rest of the
page (scripts/models_doc.py, scripts/screening_doc.py) is left as it is.
"""

from __future__ import annotations

import re
import sys

from cxrviewer import paths
from cxrviewer.core.cards import Metric, ModelCard, card_path, load_card
from cxrviewer.runtime.registry import installed_models

DOC = paths.install_root() / "docs" / "models.md"
START, END = "<!-- external-figures:start -->", "<!-- external-figures:end -->"
# The figures a reader compares first, per task, in this order (others stay in each model's section).
HEADLINE = {
    "classification": ("accuracy", "auc", "sensitivity", "specificity", "f1"),
    "gate": ("acceptance_rate", "rejection_rate"),
    "segmentation": ("dice", "pointing_game", "auc", "tb_images_above_threshold", "false_positive_rate"),
    "bone_suppression": ("psnr_gain_db", "psnr", "identity_psnr"),
}


def _value(metric: Metric) -> str:
    text = f"{metric.value:.3f}"
    return text + (f" [{metric.ci95[0]:.3f}–{metric.ci95[1]:.3f}]" if metric.ci95 else "")


def _internal(card: ModelCard, name: str) -> Metric | None:
    """The internal figure of that name on the test split (else the first internal one)."""
    found = [m for m in card.metrics if m.scope == "internal" and _base(m.name) == name]
    return next((m for m in found if m.split.lower().startswith("test")), next(iter(found), None))


def _base(name: str) -> str:
    # "false_positive_rate_jsrt" and "specificity[jsrt]" compare with their unsuffixed kind.
    name = name.split("[", 1)[0]
    return "false_positive_rate" if name.startswith("false_positive_rate") else name


def model_rows(card: ModelCard) -> list[str]:
    external = [m for m in card.metrics if m.scope == "external"]
    rows = []
    for name in HEADLINE.get(card.task, ()):
        outside = [m for m in external if _base(m.name) == name]
        inside = _internal(card, name)
        if inside is None and not outside:
            continue
        inside_text = f"{_value(inside)} <small>({inside.split})</small>" if inside else "–"
        outside_text = "<br>".join(f"{_value(m)} <small>({m.split})</small>" for m in outside) or "none measured"
        rows.append(f"| `{card.name}` | {name.replace('_', ' ')} | {inside_text} | {outside_text} |")
    if not external:
        # The card says why (a note starting "No external figure"), so the page does too.
        why = next((note for note in card.notes if note.startswith("No external figure")), "see its section")
        rows.append(f"| `{card.name}` | – | | **no external figure**: {why} |")
    return rows


def section(cards: list[ModelCard]) -> list[str]:
    lines = [START, "## Internal and external figures", "",
             "A random split of the sources a model trained on (internal) flatters it: films from another "
             "hospital or another acquisition period differ in exposure, resolution and processing. The "
             "external column is measured on a source, or a named part of one, that played no part in "
             "training or model selection; read that one. Written by `scripts/external_doc.py` from the "
             "cards (each figure's `scope`).", "",
             "| model | figure | internal (held-out part of its own sources) | external (never in training or selection) |",
             "| --- | --- | --- | --- |"]
    for card in cards:
        lines += model_rows(card)
    return [*lines, "", END]


def main() -> int:
    cards = [load_card(card_path(paths.models_dir(), name)) for name in installed_models(paths.models_dir())]
    text = DOC.read_text(encoding="utf-8")
    block = "\n".join(section(cards))
    if START in text:
        text = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    else:  # first time: before the first model's section
        at = text.index("\n## `")
        text = text[:at] + "\n" + block + "\n" + text[at:]
    DOC.write_text(text, encoding="utf-8")
    print(f"wrote {DOC} ({len(cards)} models)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
