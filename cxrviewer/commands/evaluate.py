"""`cxrviewer evaluate --model NAME DATA...`: metrics.json and plots of an installed model on data.

With `--maps`, DATA are data sets with boxes (`rsna_pneumonia`, `tbx11k_tb` under the shared data
folder, or folders of either layout) and the output is the localisation table of each explanation
method (pointing game, mass in boxes, IoU, against a uniform-map baseline) as localisation.md/json.

DATA is one folder (or more) in a layout `cxrviewer.training.sources` reads; `--source` names the
layout (default: a folder per class). The model runs through the runtime (ONNX when installed), on
inputs prepared with the contract recorded in its card, exactly as the viewer prepares them.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from cxrviewer.commands.common import add_models_dir
from cxrviewer.core.errors import CxrError

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="measure an installed model on labelled data: metrics.json + plots")
    p.add_argument("data", nargs="+", type=Path, metavar="DATA", help="data folder(s)")
    p.add_argument("--model", required=True, help="installed model name (see `cxrviewer models`)")
    p.add_argument("--source", default="folders", help="data layout: folders, csv, kermany, shenzhen, rsna, ...")
    p.add_argument("--label-column", default="label", help="label column for csv/kermany layouts")
    p.add_argument("--out", type=Path, default=Path("evaluation"), help="folder for metrics.json and plots")
    add_models_dir(p)
    p.add_argument("--limit-per-class", type=int, default=0, help="seeded subsample per class (0: all)")
    p.add_argument("--maps", nargs="?", const="saliency,gradcam,cam,crm", default=None, metavar="METHODS",
                   help="measure how the maps localise on boxed data instead (default: all four methods)")
    p.add_argument("--limit", type=int, default=None, help="with --maps: at most this many boxed images")
    p.add_argument("--held-out", type=Path, default=None, metavar="SPLIT_JSON",
                   help="with --maps: only the test images of this run's split.json (for a model trained on DATA)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.maps is not None:
        return _run_maps(args)
    from cxrviewer.training.evaluate import evaluate_installed

    try:
        results = evaluate_installed(
            args.model, args.data, source=args.source, label_column=args.label_column, out=args.out,
            models_dir=args.models_dir, limit_per_class=args.limit_per_class,
        )
    except CxrError as error:
        log.error("%s", error)
        return 1
    numbers = " ".join(f"{k}={v:.4g}" for k, v in results["headline"].items())
    log.info("%s on %d images: %s; written to %s", args.model, results["data"]["n"], numbers, args.out)
    return 0


def _run_maps(args: argparse.Namespace) -> int:
    import dataclasses
    import json

    from cxrviewer.analysis.localisation import evaluate_maps

    methods = [m.strip() for m in args.maps.split(",") if m.strip()]
    held_out = None
    if args.held_out is not None:
        try:
            held_out = {Path(p).resolve() for p in json.loads(args.held_out.read_text(encoding="utf-8"))["test"]["paths"]}
        except (OSError, ValueError, KeyError) as error:
            log.error("%s: cannot read the test images of a split: %s", args.held_out, error)
            return 1
    args.out.mkdir(parents=True, exist_ok=True)
    tables = []
    try:
        for dataset in args.data:
            table = evaluate_maps(args.model, str(dataset), methods=methods, limit=args.limit,
                                  models_dir=args.models_dir, only=held_out)
            tables.append(table)
            log.info("%s on %s:\n%s", args.model, dataset, table.to_markdown())
    except CxrError as error:
        log.error("%s", error)
        return 1
    (args.out / "localisation.md").write_text("\n\n".join(t.to_markdown() for t in tables) + "\n", encoding="utf-8")
    (args.out / "localisation.json").write_text(json.dumps([dataclasses.asdict(t) for t in tables], indent=1), encoding="utf-8")
    return 0
