"""Re-estimate a trained classifier's batch-norm statistics, then score it on its validation and test splits.

    python scripts/precise_bn_eval.py --config configs/X.yaml [--batches 60]

A network trained only briefly can score near chance in eval mode although its weights have learnt:
the running means and variances of its batch-norm layers lag the weights (torchvision's
MobileNetV3 updates them with momentum 0.01). "Precise BN" (Wu & Johnson 2021) recomputes them as
a plain average over training batches with the weights frozen. This script does that for the best
checkpoint of a finished run and prints the same split scores the training core writes, so a
comparison between architectures is not decided by stale statistics. The scores are written to
the run folder as `precise_bn.json` (scripts/models_doc.py shows them); no model file is changed.
"""

from __future__ import annotations

import argparse
import json
import logging

import torch
from safetensors.torch import load_file
from torch.utils.data import DataLoader

from cxrviewer.nets import build
from cxrviewer.training.config import load_config
from cxrviewer.training.data import PreparedDataset
from cxrviewer.training.evaluation import predict, score_split
from cxrviewer.training.run import _net_kwargs
from cxrviewer.training.run_split import load_run_split
from cxrviewer.training.sources import load_catalog, subsample

log = logging.getLogger("precise_bn_eval")


def recompute_batch_norm(model: torch.nn.Module, loader: DataLoader, batches: int) -> None:
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # None: a cumulative average over every batch seen
    model.train()
    with torch.no_grad():
        for i, (x, _) in enumerate(loader):
            if i >= batches:
                break
            model.features(x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True)
    parser.add_argument("--batches", type=int, default=60)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    config = load_config(args.config)
    torch.set_num_threads(2)
    catalog = subsample(load_catalog(config.data), config.data, seed=config.seed)
    split = load_run_split(config.run_dir, catalog)  # the run's own split, refused if the data changed
    model = build(config.arch, **_net_kwargs(config, len(catalog.classes)))
    model.load_state_dict(load_file(str(config.run_dir / "checkpoints" / "best.safetensors")), strict=True)
    train_set = PreparedDataset(catalog, split.train, config.input, config.task)
    generator = torch.Generator().manual_seed(config.seed)
    recompute_batch_norm(model, DataLoader(train_set, batch_size=config.batch_size, shuffle=True, generator=generator),
                         args.batches)
    results = {}
    for name, indices in (("val", split.val), ("test", split.test)):
        loader = DataLoader(PreparedDataset(catalog, indices, config.input, config.task), batch_size=config.batch_size)
        scores = score_split(config.task, predict(model, loader, config.task, device=torch.device("cpu")),
                             catalog.classes, seed=config.seed)
        results[name] = {k: scores[k] for k in ("n", "accuracy", "auc", "auc_ci95", "f1", "f1_ci95", "f1_per_class",
                                                 "confusion") if k in scores}
    results["batches"] = args.batches
    (config.run_dir / "precise_bn.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    log.info("%s after precise BN over %d training batches:\n%s", config.name, args.batches,
             json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
