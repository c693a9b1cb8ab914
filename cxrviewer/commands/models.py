"""`cxrviewer models`: the installed models with their cards' key facts and whether they check out.

"Check out" is the whole check the viewer makes before a model answers: the signature (or the
"unsigned" label of a reader's own model), every file's checksum, the graph's shapes against the
card, and the known answer (`analysis.installed.installed_model`). Exits 1 when any model is refused,
so a site's installation check can rely on it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from cxrviewer.commands.common import add_models_dir


def register(sub: argparse._SubParsersAction) -> None:
    models = sub.add_parser("models", help="list installed models, their cards, and whether each checks out")
    add_models_dir(models)
    models.set_defaults(handler=run)


def checked_status(name: str, models_dir: Path | None = None):
    """`registry.model_status`, then the viewer's own load (graph shapes, known answer) for a model
    that passed the cheap checks; a refusal at either step becomes the status."""
    import dataclasses

    from cxrviewer.analysis.installed import installed_model
    from cxrviewer.core.errors import ModelError
    from cxrviewer.runtime.registry import model_status

    status = model_status(name, models_dir)
    if status.refused:
        return status
    try:
        installed_model(name, models_dir)
    except ModelError as error:
        return dataclasses.replace(status, status=error.problem, provider="-", trust=None)
    return status


def table(models_dir: Path | None = None) -> tuple[list[list[str]], int]:
    """(header + one row per installed model: name, task, labels, input, provider, origin, status, metric;
    how many models were refused)."""
    from cxrviewer.runtime.registry import installed_models

    rows = [["name", "task", "labels", "input", "provider", "origin", "status", "internal", "external"]]
    refused = 0
    for name in installed_models(models_dir):
        status = checked_status(name, models_dir)
        refused += status.refused
        origin = "-" if status.trust is None else ("signed" if status.trust.signed else "unsigned")
        card = status.card
        if card is None:
            rows.append([name, "?", "?", "?", status.provider, origin, status.status, "", ""])
            continue
        contract = card.input
        internal = next((m for m in card.metrics if m.scope == "internal"), None)
        # The external figure of the same kind as the internal one shown, so the two compare.
        externals = [m for m in card.metrics if m.scope == "external"]
        external = next((m for m in externals if internal and m.name == internal.name), next(iter(externals), None))
        rows.append([
            name,
            card.task,
            ",".join(card.labels),
            f"{contract.channels}x{contract.height}x{contract.width}",
            status.provider,
            origin,
            status.status,
            f"{internal.name} {internal.value:.3f} ({internal.split})" if internal else "-",
            f"{external.name} {external.value:.3f} ({external.split})" if external else "none measured",
        ])
    return rows, refused


def print_table(rows: list[list[str]], stream: TextIO) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        stream.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() + "\n")


def run(args: argparse.Namespace) -> int:
    from cxrviewer import paths
    from cxrviewer.core.signing import UNSIGNED_TEXT

    rows, refused = table(args.models_dir)
    if len(rows) == 1:
        sys.stdout.write(f"no models installed in {args.models_dir or paths.models_dir()}\n")
        return 0
    print_table(rows, sys.stdout)
    if any(row[5] == "unsigned" for row in rows):
        sys.stdout.write(f"{UNSIGNED_TEXT} (not a release model)\n")
    if refused:
        sys.stderr.write(f"cxrviewer models: {refused} of {len(rows) - 1} models refused (see their status)\n")
        return 1
    return 0
