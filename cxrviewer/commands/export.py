"""`cxrviewer export CHECKPOINT --out models/NAME`: a training checkpoint → an installed, checked model."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from cxrviewer.core.errors import CxrError

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    export = sub.add_parser(
        "export",
        help="export a checkpoint to ONNX (+ saliency graph), check parity, install it with its card",
        description="CHECKPOINT is NAME.safetensors with NAME.json (arch, labels, ...) beside it; "
        "see cxrviewer.training.checkpoint for the format.",
    )
    export.add_argument("checkpoint", type=Path, help="the checkpoint's .safetensors file")
    export.add_argument("--out", type=Path, required=True, metavar="models/NAME", help="folder and model name")
    export.add_argument(
        "--tolerance", type=float, default=None, help="largest max relative ONNX-vs-PyTorch difference (1e-4)"
    )
    export.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from cxrviewer.training.export import TOLERANCE, export_model

    try:
        card = export_model(args.checkpoint, args.out, tolerance=args.tolerance or TOLERANCE)
    except CxrError as error:
        log.error("%s", error)
        return 1
    worst = max(card.parity, key=lambda figure: figure.max_rel_diff)
    log.info(
        "installed %s (%s, %s) in %s; worst parity %s on %s: %.2g",
        card.name, card.task, card.arch, args.out.parent, worst.output, worst.inputs, worst.max_rel_diff,
    )
    return 0
