"""The training loop shared by `cxrviewer train`, the training dialog's worker and DDP processes.

`train(config, progress=..., cancel=...)` is a plain function: it reports `Progress` values through
the callback (plain data, picklable, safe to send from a worker process) and stops at the next step
when `cancel.is_set()` (a threading.Event or multiprocessing.Event). After every finished epoch the
resumable state (`checkpoints/last.*`) and, when validation loss improved, the best model
(`checkpoints/best.*`, the format `cxrviewer export` takes) are written atomically, so a cancelled
or crashed run keeps its last good epoch and `train(config, resume=True)` carries on from it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch.utils.data import DataLoader, WeightedRandomSampler
from torch.utils.data.distributed import DistributedSampler

from cxrviewer.core.atomic import write_text_atomically
from cxrviewer.core.cards import input_to_dict
from cxrviewer.core.errors import ConfigError
from cxrviewer.nets import build
from cxrviewer.training import distributed as ddp
from cxrviewer.training.card_facts import describe
from cxrviewer.training.config import TrainConfig
from cxrviewer.training.data import PreparedDataset, class_counts
from cxrviewer.training.evaluation import headline, predict, score_by_source, score_split
from cxrviewer.training.losses import build_loss
from cxrviewer.training.metrics import choose_threshold
from cxrviewer.training.report import write_report
from cxrviewer.training.sources import Catalog, load_catalog, source_of, subsample
from cxrviewer.training.splits import Split, holdout_split, kfold_splits, part_split, source_role_split
from cxrviewer.training.state import load_state, save_state

log = logging.getLogger(__name__)


class CancelToken(Protocol):
    def is_set(self) -> bool: ...


@dataclass(frozen=True)
class Progress:
    """One progress report. phase: "train" (per step), "epoch" (after validation), "evaluate",
    "export", "done" or "cancelled". losses/metrics hold the latest values (e.g. {"train": 0.41,
    "val": 0.44}, {"val_auc": 0.93}); eta_s is None until one step has been timed."""

    phase: str
    epoch: int
    epochs: int
    step: int
    steps: int
    losses: dict[str, float] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    elapsed_s: float = 0.0
    eta_s: float | None = None
    message: str = ""


@dataclass(frozen=True)
class RunResult:
    run_dir: Path
    best_checkpoint: Path | None  # checkpoints/best.safetensors (+ .json), the input of export
    metrics: dict[str, Any]  # {"val": {...}, "test": {...}} as written to metrics.json
    history: list[dict[str, Any]]
    epochs_done: int
    cancelled: bool
    wall_time_s: float
    exported: Path | None = None  # the installed card, when config.export_to was set


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def _device(config: TrainConfig) -> torch.device:
    if config.device == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"{config.source_file}: setting 'device' is cuda but no usable GPU was found")
    use_cuda = config.device == "cuda" or (config.device == "auto" and torch.cuda.is_available())
    return torch.device("cuda" if use_cuda else "cpu")


def make_split(config: TrainConfig, catalog: Catalog) -> Split:
    """The split by patient; a combined catalog is split source by source with the same settings,
    so every source has its own held-out images in the configured proportions."""
    labels = catalog.label_matrix() if config.task in ("classification", "multilabel") else [() for _ in catalog.samples]
    patients = [s.patient for s in catalog.samples]
    if config.split.parts:
        s = config.split
        return part_split(labels, patients, sample_parts(s.parts, catalog), val_parts=s.val_parts, external=s.external,
                          test_fraction=s.test_fraction, seed=_split_seed(config), rule=s.parts)
    if config.split.val_sources or config.split.test_sources:
        s = config.split
        return source_role_split(labels, patients, [source_of(sample) for sample in catalog.samples],
                                 val_sources=s.val_sources, test_sources=s.test_sources,
                                 val_fraction=s.val_fraction, test_fraction=s.test_fraction, seed=_split_seed(config))
    if not config.data.sources:
        return _split_one(config, labels, patients)
    origins = [source_of(sample) for sample in catalog.samples]
    parts = {"train": [], "val": [], "test": []}
    for origin in dict.fromkeys(origins):
        members = [i for i, o in enumerate(origins) if o == origin]
        part = _split_one(config, [labels[i] for i in members], [patients[i] for i in members])
        for name, chosen in parts.items():
            chosen += [members[i] for i in getattr(part, name)]
    split = Split(*(tuple(sorted(parts[name])) for name in ("train", "val", "test")),
                  method=f"each source on its own ({', '.join(dict.fromkeys(origins))}): {part.method}")
    split.check_disjoint(patients)
    return split


def sample_parts(rule: str, catalog: Catalog) -> list[str]:
    """Each sample's named part under `rule` (config.PART_RULES)."""
    if rule == "source":
        return [source_of(sample) for sample in catalog.samples]
    if rule == "kermany_period":
        from cxrviewer.training.kermany import period_parts

        try:
            return period_parts(catalog.samples)
        except ValueError as exc:
            raise ConfigError(f"split.parts kermany_period: {exc}") from None
    raise ConfigError(f"split.parts: unknown rule {rule!r}")


def _split_seed(config: TrainConfig) -> int:
    return config.split.seed if config.split.seed >= 0 else config.seed


def _split_one(config: TrainConfig, labels: list[tuple[int, ...]], patients: list[str]) -> Split:
    s = config.split
    if s.folds:
        return kfold_splits(labels, patients, folds=s.folds, val_fraction=s.val_fraction, seed=_split_seed(config))[s.fold]
    return holdout_split(labels, patients, val_fraction=s.val_fraction, test_fraction=s.test_fraction, seed=_split_seed(config))


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                             text=True, timeout=5)
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _optimizer(config: TrainConfig, model: torch.nn.Module):
    o = config.optim
    if o.optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=o.lr, weight_decay=o.weight_decay)
    if o.scheduler == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=config.epochs)
    elif o.scheduler == "plateau":
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=o.plateau_patience, factor=o.plateau_factor)
    else:
        sched = None
    return opt, sched


def _train_loader(config: TrainConfig, dataset: PreparedDataset, ctx: ddp.DistContext, num_classes: int):
    generator = torch.Generator().manual_seed(config.seed)
    if ctx.active:
        sampler = DistributedSampler(dataset, num_replicas=ctx.world_size, rank=ctx.rank, seed=config.seed)
        return DataLoader(dataset, batch_size=config.batch_size, sampler=sampler), sampler, generator
    if config.balance == "sampler" and config.task == "classification":
        counts = class_counts(dataset.labels(), num_classes)
        weights = [1.0 / counts[lab[0]] for lab in dataset.labels()]
        sampler = WeightedRandomSampler(weights, len(weights), replacement=True, generator=generator)
        return DataLoader(dataset, batch_size=config.batch_size, sampler=sampler), None, generator
    return DataLoader(dataset, batch_size=config.batch_size, shuffle=True, generator=generator), None, generator


def _class_weights(config: TrainConfig, dataset: PreparedDataset, num_classes: int) -> torch.Tensor | None:
    """CE weights n / (k * count_c) (Group-Q), or BCE pos_weight negatives / positives per class."""
    if config.balance != "weights" or config.task not in ("classification", "multilabel"):
        return None
    counts = class_counts(dataset.labels(), num_classes).astype(np.float64)
    if np.any(counts == 0):
        raise ConfigError(f"{config.source_file}: a class has no training images: counts {counts.tolist()}")
    if config.task == "multilabel":
        return torch.tensor((len(dataset) - counts) / counts, dtype=torch.float32)
    return torch.tensor(len(dataset) / (num_classes * counts), dtype=torch.float32)


def _batch_loss(task: str, model, loss_fn, batch, device) -> torch.Tensor:
    x = batch[0].to(device)
    if task in ("classification", "multilabel"):
        return loss_fn(model(x), batch[1].to(device))
    if task == "bone_suppression":  # the rib-aware weighting needs the film itself
        return loss_fn(model(x), batch[1].to(device), batch[2].to(device), x)
    return loss_fn(model(x), batch[1].to(device), batch[2].to(device))


def _net_kwargs(config: TrainConfig, num_classes: int) -> dict[str, Any]:
    """The `nets.build` arguments of this run; also written into the checkpoint as `arch_params`."""
    kwargs: dict[str, Any] = {"in_channels": config.input.channels,
                              "input_size": [config.input.height, config.input.width]}
    if config.task != "bone_suppression":
        kwargs["num_classes"] = num_classes
    return kwargs


def _checkpoint_meta(config: TrainConfig, catalog: Catalog, split: Split, num_classes: int) -> dict[str, Any]:
    contract = config.input
    return {
        "arch": config.arch,
        "arch_params": _net_kwargs(config, num_classes),
        "task": config.task,
        "labels": list(catalog.classes),
        "version": "1",
        # The card input fields the run decides; export adds the size (the net's) and the resize policy (the task's).
        "input": {key: value for key, value in input_to_dict(contract).items()
                  if key in ("value_range", "scaling", "preprocessing")},
        "provenance": {
            "data": [catalog.description],
            "split": split.method,
            # As a reader would type it: `python -m cxrviewer` and the script both show as `cxrviewer`.
            "command": " ".join(["cxrviewer", *sys.argv[1:]]),
            "commit": _git_commit(),
            "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "config": config.to_dict(),
        },
    }


def initialise_from(model: torch.nn.Module, weights: Path) -> int:
    """Copy into `model` every tensor of the safetensors file `weights` whose name and shape match;
    returns how many. Refuses a file that shares no feature tensor with the model, or for a net
    without a features/head split, not every tensor (another architecture), so a wrong path cannot
    silently train from scratch."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        source = load_file(str(weights))
    except (OSError, SafetensorError) as exc:
        raise ConfigError(f"{weights}: cannot read the weights to initialise from: {exc}") from None
    own = model.state_dict()
    matching = {k: v for k, v in source.items() if k in own and own[k].shape == v.shape}
    # A classifier shares its "features." with a model of another head; an image-to-image net has no
    # such split, so it must match whole (continuing a run of the same architecture).
    if not (any(k.startswith("features.") for k in matching) or (own and len(matching) == len(own))):
        raise ConfigError(f"{weights}: no feature tensor matches this architecture; initialise from a model "
                          "of the same architecture")
    model.load_state_dict(matching, strict=False)
    return len(matching)


def _save_model(folder: Path, stem: str, model: torch.nn.Module, meta: dict[str, Any]) -> Path:
    """Export-format checkpoint (`training.checkpoint`), written to temporary names then moved."""
    from cxrviewer.training.checkpoint import save_checkpoint

    tmp = folder / f".{stem}.tmp.safetensors"
    save_checkpoint(model, tmp, meta)
    final = folder / f"{stem}.safetensors"
    os.replace(tmp, final)
    os.replace(tmp.with_suffix(".json"), final.with_suffix(".json"))
    return final


def train(
    config: TrainConfig,
    *,
    progress: Callable[[Progress], None] | None = None,
    cancel: CancelToken | None = None,
    resume: bool = False,
) -> RunResult:
    """Train `config`, evaluate the best epoch on validation and test, write metrics and plots, and
    export into `config.export_to` when set. Raises CxrError subclasses for bad data or settings."""
    started = time.perf_counter()
    card_task = config.task
    if config.task == "gate":  # trained as a two-class classifier; only its card says what it is for
        config = dataclasses.replace(config, task="classification")
    report = progress or (lambda p: None)
    is_cancelled = (lambda: cancel.is_set()) if cancel is not None else (lambda: False)
    device = _device(config)
    ctx = ddp.init_from_env(device.type)
    torch.set_num_threads(config.threads or max(1, available_cores() // ctx.world_size))
    seed_everything(config.seed)
    run_dir = config.run_dir
    ckpt_dir = run_dir / "checkpoints"
    catalog = subsample(load_catalog(config.data), config.data, seed=config.seed)
    split_file = run_dir / "split.json"
    split = make_split(config, catalog)
    if resume and split_file.exists() and Split.load(split_file) != split:
        raise ConfigError(f"{split_file}: the saved split differs from this config's; resume needs the same data and seed")
    if ctx.is_main:
        ckpt_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomically(run_dir / "config.json", json.dumps(config.to_dict(), indent=1))
        split.save(split_file, [str(s.path) for s in catalog.samples], [s.patient for s in catalog.samples])
    num_classes = len(catalog.classes) if config.task in ("classification", "multilabel") else 1
    train_set = PreparedDataset(catalog, split.train, config.input, config.task, augment_cfg=config.augment,
                                seed=config.seed)
    val_set = PreparedDataset(catalog, split.val, config.input, config.task)
    loader, dist_sampler, loader_generator = _train_loader(config, train_set, ctx, num_classes)
    val_loader = DataLoader(val_set, batch_size=config.batch_size)
    net_kwargs = _net_kwargs(config, num_classes)
    model = build(config.arch, **net_kwargs).to(device)
    if config.init_from and not resume:
        copied = initialise_from(model, Path(config.init_from))
        log.info("run %s: %d tensors initialised from %s", config.name, copied, config.init_from)
    optimizer, scheduler = _optimizer(config, model)
    weights = _class_weights(config, train_set, num_classes)
    loss_fn = build_loss(config.task, None if weights is None else weights.to(device), bone_weight=config.bone_weight)
    info: dict[str, Any] = {"epoch": 0, "best_val": math.inf, "best_epoch": 0, "bad_epochs": 0, "history": []}
    if resume and (ckpt_dir / "last.json").exists():
        info = load_state(ckpt_dir, model, optimizer, scheduler)
        log.info("run %s: resumed after epoch %d", config.name, info["epoch"])
    train_model = torch.nn.parallel.DistributedDataParallel(model) if ctx.active else model
    meta = {**_checkpoint_meta(config, catalog, split, num_classes), "task": card_task}
    steps = len(loader)
    step_times: list[float] = []
    cancelled = False
    epoch = info["epoch"]
    while epoch < config.epochs and not cancelled:
        epoch_started = time.perf_counter()
        if config.early_stopping and info["bad_epochs"] >= config.early_stopping:
            log.info("run %s: early stop, no better validation loss for %d epochs", config.name, info["bad_epochs"])
            break
        train_set.set_epoch(epoch)
        loader_generator.manual_seed(config.seed * 1000 + epoch)  # the epoch's order survives a resume
        if dist_sampler is not None:
            dist_sampler.set_epoch(epoch)
        train_model.train()
        total, count = 0.0, 0
        for step, batch in enumerate(loader, start=1):
            if is_cancelled():
                cancelled = True
                break
            t0 = time.perf_counter()
            optimizer.zero_grad(set_to_none=True)
            loss = _batch_loss(config.task, train_model, loss_fn, batch, device)
            loss.backward()
            optimizer.step()
            step_times.append(time.perf_counter() - t0)
            total += float(loss.detach()) * len(batch[0])
            count += len(batch[0])
            remaining = (config.epochs - epoch) * steps - step
            eta = float(np.median(step_times[-50:])) * remaining * 1.15  # +15 % for validation
            if ctx.is_main:
                report(Progress("train", epoch + 1, config.epochs, step, steps, {"train": total / count},
                                elapsed_s=time.perf_counter() - started, eta_s=eta))
        if cancelled:
            break
        train_loss = ddp.mean_across(total / max(count, 1), ctx)
        model.eval()
        with torch.no_grad():
            val_total = sum(float(_batch_loss(config.task, model, loss_fn, b, device)) * len(b[0]) for b in val_loader)
        val_loss = val_total / max(len(val_set), 1)
        val_scores = headline(config.task, score_split(config.task, predict(model, val_loader, config.task, device=device),
                                                       catalog.classes, n_boot=0, seed=config.seed))
        if scheduler is not None:
            scheduler.step(val_loss) if config.optim.scheduler == "plateau" else scheduler.step()
        epoch += 1
        improved = val_loss < info["best_val"]
        info["train_seconds"] = info.get("train_seconds", 0.0) + time.perf_counter() - epoch_started
        info.update(epoch=epoch, best_val=min(val_loss, info["best_val"]),
                    best_epoch=epoch if improved else info["best_epoch"],
                    bad_epochs=0 if improved else info["bad_epochs"] + 1)
        info["history"].append({"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss,
                                "lr": optimizer.param_groups[0]["lr"], **{f"val_{k}": v for k, v in val_scores.items()}})
        if ctx.is_main:
            if improved:
                _save_model(ckpt_dir, "best", model, meta)
            save_state(ckpt_dir, model, optimizer, scheduler, info)
            report(Progress("epoch", epoch, config.epochs, steps, steps, {"train": train_loss, "val": val_loss},
                            {f"val_{k}": v for k, v in val_scores.items()}, time.perf_counter() - started,
                            float(np.median(step_times[-50:])) * (config.epochs - epoch) * steps * 1.15 if step_times else None))
        ddp.barrier(ctx)
    result = _finish(config, catalog, split, model, device, info, cancelled, started, report, ctx)
    ddp.shutdown(ctx)
    return result


def _finish(config, catalog, split, model, device, info, cancelled, started, report, ctx) -> RunResult:
    run_dir = config.run_dir
    best = run_dir / "checkpoints" / "best.safetensors"
    history = info["history"]
    if cancelled or not ctx.is_main or not best.exists():
        if ctx.is_main:
            report(Progress("cancelled" if cancelled else "done", info["epoch"], config.epochs, 0, 0,
                            elapsed_s=time.perf_counter() - started, message="stopped; the last finished epoch is kept"))
        return RunResult(run_dir, best if best.exists() else None, {}, history, info["epoch"], cancelled,
                         time.perf_counter() - started)
    eval_started = time.perf_counter()
    report(Progress("evaluate", info["epoch"], config.epochs, 0, 0, elapsed_s=time.perf_counter() - started,
                    message="evaluating the best epoch on validation and test data"))
    from safetensors.torch import load_file

    model.load_state_dict(load_file(str(best)), strict=True)
    results: dict[str, Any] = {"split": split.method, "best_epoch": info["best_epoch"]}
    threshold = None
    preds = {}
    for name, indices in (("val", split.val), ("test", split.test), ("external", split.external)):
        if not indices:
            continue
        loader = DataLoader(PreparedDataset(catalog, indices, config.input, config.task), batch_size=config.batch_size)
        preds[name] = predict(model, loader, config.task, device=device, keep_features=True)
        if name == "val" and config.task == "classification" and len(catalog.classes) == 2:
            threshold = choose_threshold(preds[name].truth, preds[name].scores[:, 1], config.threshold,
                                         config.target_sensitivity)
        results[name] = score_split(config.task, preds[name], catalog.classes, threshold=threshold, seed=config.seed)
        if config.data.sources or config.split.val_sources or config.split.test_sources:
            results[name]["by_source"] = score_by_source(config.task, preds[name], [
                source_of(catalog.samples[i]) for i in indices], catalog.classes, threshold=threshold, seed=config.seed)
    results["threshold"] = threshold
    wall = time.perf_counter() - started
    results["wall_time_s"] = wall
    wall_eval = time.perf_counter() - eval_started
    write_report(run_dir, config.task, catalog.classes, results, history, preds)
    held_out = "test" if "test" in results else "val"
    from cxrviewer.training.checkpoint import read_checkpoint

    meta = dict(read_checkpoint(best).meta)
    meta.pop("format", None)
    if threshold is not None:
        meta["thresholds"] = [1.0 - threshold, threshold]
    if config.task == "classification":
        meta.update(describe(results, catalog.classes, split.method, config.threshold, catalog.description))
    else:
        meta["metrics"] = [{"name": k, "value": v, "split": f"{held_out}: {split.method}"}
                           for k, v in headline(config.task, results[held_out]).items()]
        meta["metrics"] += [{"name": k, "value": v, "split": f"{held_out}, {origin} only: {split.method}"}
                            for origin, scores in results[held_out].get("by_source", {}).items()
                            for k, v in headline(config.task, scores).items()]
        meta["limits"] = [f"trained on {catalog.description} only; not validated on other sources"]
    if config.notes:
        meta["notes"] = list(config.notes)
    # Training time summed over every session of a resumed run, plus this evaluation.
    meta["provenance"] = {**meta["provenance"], "wall_time_s": info.get("train_seconds", 0.0) + wall_eval,
                          "epochs": info["epoch"], "best_epoch": info["best_epoch"]}
    _save_model(best.parent, "best", model, meta)
    exported = None
    if config.export_to:
        from cxrviewer.training.export import export_model

        report(Progress("export", info["epoch"], config.epochs, 0, 0, elapsed_s=time.perf_counter() - started,
                        message=f"exporting {config.name} to {config.export_to}"))
        export_model(best, Path(config.export_to) / config.name)
        exported = Path(config.export_to) / f"{config.name}.card.json"
    report(Progress("done", info["epoch"], config.epochs, 0, 0, metrics=headline(config.task, results[held_out]),
                    elapsed_s=time.perf_counter() - started))
    return RunResult(run_dir, best, results, history, info["epoch"], False, time.perf_counter() - started, exported)

