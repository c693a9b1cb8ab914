"""`cxrviewer models`: the installed models with their cards' key facts and whether they check out."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO


def register(sub: argparse._SubParsersAction) -> None:
    models = sub.add_parser("models", help="list installed models, their cards and checksum status")
    models.add_argument("--dir", type=Path, default=None, help="model folder (default: the installed models)")
    models.set_defaults(handler=run)


def table(models_dir: Path | None = None) -> list[list[str]]:
    """Header + one row per installed model: name, task, labels, input, provider, status, metric."""
    from cxrviewer.runtime.registry import installed_models, model_status

    rows = [["name", "task", "labels", "input", "provider", "status", "metric"]]
    for name in installed_models(models_dir):
        status = model_status(name, models_dir)
        card = status.card
        if card is None:
            rows.append([name, "?", "?", "?", status.provider, status.status, ""])
            continue
        contract = card.input
        metric = next(iter(card.metrics), None)
        rows.append([
            name,
            card.task,
            ",".join(card.labels),
            f"{contract.channels}x{contract.height}x{contract.width}",
            status.provider,
            status.status,
            f"{metric.name} {metric.value:.3f} ({metric.split})" if metric else "-",
        ])
    return rows


def print_table(rows: list[list[str]], stream: TextIO) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        stream.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() + "\n")


def run(args: argparse.Namespace) -> int:
    from cxrviewer import paths

    rows = table(args.dir)
    if len(rows) == 1:
        sys.stdout.write(f"no models installed in {args.dir or paths.models_dir()}\n")
        return 0
    print_table(rows, sys.stdout)
    return 0
