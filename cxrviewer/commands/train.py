"""`cxrviewer train --config FILE [--resume]`: train, evaluate on held-out data, export the model."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from cxrviewer.core.errors import CxrError

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a model from a config file (yaml, toml or json), evaluate it and export it",
        description="The same core the training dialog uses. Examples are in examples/.",
    )
    p.add_argument("--config", type=Path, required=True, help="the run's configuration file")
    p.add_argument("--resume", action="store_true", help="carry on from the run's last finished epoch")
    p.add_argument("--out", type=Path, default=None, metavar="MODELS_DIR",
                   help="export the model into this folder (default: the config's export_to, if any)")
    p.add_argument("--epochs", type=int, default=None, help="override the config's epochs")
    p.add_argument("--nprocs", type=int, default=1, help="local DDP processes (gloo on CPU); torchrun works too")
    p.set_defaults(handler=run)


def _log_progress(p) -> None:
    if p.phase == "epoch":
        numbers = " ".join(f"{k}={v:.4g}" for k, v in {**p.losses, **p.metrics}.items())
        eta = f" eta {p.eta_s:.0f}s" if p.eta_s is not None else ""
        log.info("epoch %d/%d %s (%.0fs%s)", p.epoch, p.epochs, numbers, p.elapsed_s, eta)
    elif p.phase != "train":
        log.info("%s %s", p.phase, p.message or " ".join(f"{k}={v:.4g}" for k, v in p.metrics.items()))


def run(args: argparse.Namespace) -> int:
    from cxrviewer.training.config import load_config

    overrides = {}
    if args.out is not None:
        overrides["export_to"] = str(args.out.resolve())
    if args.epochs is not None:
        overrides["epochs"] = args.epochs
    try:
        config = load_config(args.config, **overrides)
        if args.nprocs > 1:
            from cxrviewer.training.launch import launch

            launch(config, args.nprocs, resume=args.resume)
            log.info("distributed run finished; results in %s", config.run_dir)
            return 0
        from cxrviewer.training.run import train

        result = train(config, progress=_log_progress, resume=args.resume)
    except CxrError as error:
        log.error("%s", error)
        return 1
    log.info("run folder %s; %d epochs in %.0f s", result.run_dir, result.epochs_done, result.wall_time_s)
    if result.exported:
        log.info("exported %s", result.exported)
    return 0
