"""The training configuration: one frozen value read from yaml, toml or json and checked up front.

Every problem is a ConfigError that names the setting (`optim.lr`, `data.source`, ...) and the
file, so a run never starts on a typo and fails an hour later. The same value drives the command
line, the training dialog's worker and each DDP process.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cxrviewer.core.errors import ConfigError
from cxrviewer.core.preprocess import InputContract, Step
from cxrviewer.training.architectures import ARCHITECTURES

TASKS = ("classification", "multilabel", "bone_suppression", "segmentation", "gate")
SOURCES = (
    "folders", "csv", "pairs", "kermany", "shenzhen", "montgomery", "rsna", "tbx11k", "jsrt_bse",
    "jsrt_lungs", "openist_lungs", "tb_lesions", "kermany_normals", "opacity_lesions",
    "rsna_opacity", "cxr_gate", "tb_screen", "combined",
)
OPTIMIZERS = ("adam", "sgd")
SCHEDULERS = ("none", "cosine", "plateau")
BALANCING = ("none", "weights", "sampler")
THRESHOLDS = ("youden", "sensitivity")
PART_RULES = ("source", "kermany_period")


@dataclass(frozen=True)
class DataConfig:
    """Where the images are and how their labels are read (see `sources.load_catalog`)."""

    source: str
    root: str
    csv: str = ""  # for "csv" (and optional for known layouts): the label file, relative to root
    image_column: str = "image"
    label_columns: tuple[str, ...] = ("label",)
    patient_column: str = ""  # empty: each image is its own patient
    classes: tuple[str, ...] = ()  # label names in logit order; empty: sorted names found
    limit_per_class: int = 0  # 0: all; otherwise a seeded subsample per class (examples, smoke runs)
    limit: int = 0  # 0: all; otherwise a seeded subsample of this many items (image-to-image tasks)
    # Source "combined": several sources trained as one set (`sources.combined`), each split on its own.
    sources: tuple[DataConfig, ...] = ()


@dataclass(frozen=True)
class SplitConfig:
    """Patient-grouped hold-out split (`folds` == 0) or k-fold by patient (`fold` of `folds`)."""

    val_fraction: float = 0.15
    test_fraction: float = 0.15
    folds: int = 0
    fold: int = 0
    # Whole sources kept out of training (a sample's source is its patient id's prefix, `sources.source_of`).
    # With val_sources, validation (model selection and the threshold) is those sources only, and the
    # other sources are split into train and test only; a source in both lists is halved by patient.
    val_sources: tuple[str, ...] = ()
    test_sources: tuple[str, ...] = ()
    # Named parts (issue 17): `parts` names the rule that gives each sample a part (PART_RULES: "source",
    # a combined catalog's sources; "kermany_period", Kermany's acquisition periods). `external` parts
    # play no part in training or selection: the run evaluates its chosen checkpoint on them after
    # training and the card reports those figures with scope "external". `val_parts` are the
    # validation (best epoch, threshold), a shifted one; every other part is trained on, with
    # `test_fraction` of its patients held out as the internal test.
    parts: str = ""
    val_parts: tuple[str, ...] = ()
    external: tuple[str, ...] = ()
    seed: int = -1  # the split's own seed; -1: the run's seed (set it to train other seeds on the same split)


@dataclass(frozen=True)
class AugmentConfig:
    """Random transforms applied to training items only; pairs get identical geometry."""

    rotation_deg: float = 0.0
    shift: float = 0.0  # fraction of the size
    zoom: float = 0.0  # scale drawn from [1 - zoom, 1 + zoom]
    hflip: float = 0.0  # probability
    sharpness: float = 0.0  # probability of a random sharpness change (factor 0..2)
    autocontrast: float = 0.0  # probability
    elastic: float = 0.0  # probability of an elastic deformation (Pasa 2019)
    elastic_alpha: float = 8.0  # displacement scale in pixels
    elastic_sigma: float = 6.0  # smoothness of the displacement field in pixels
    # Acquisition differences between hospitals (issue 16), each a probability: exposure (gamma in
    # [0.6, 1.6] and a +-10 % window change), Gaussian blur (sigma 0.3-1.5 px), Gaussian noise (sd up
    # to 0.04), resolution (down to 35-90 % of the size and back up).
    exposure: float = 0.0
    blur: float = 0.0
    noise: float = 0.0
    resolution: float = 0.0
    # Side of a random square training crop (0: whole images), as EDSR trains on patches: full-size
    # validation and inference are unchanged for fully convolutional image-to-image nets.
    crop: int = 0


@dataclass(frozen=True)
class OptimConfig:
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9  # sgd only
    weight_decay: float = 0.0  # L2
    scheduler: str = "cosine"
    plateau_patience: int = 3
    plateau_factor: float = 0.1


@dataclass(frozen=True)
class TrainConfig:
    """A whole run. `input` is the model's input contract, written into the card unchanged."""

    name: str
    task: str
    arch: str
    data: DataConfig
    input: InputContract
    split: SplitConfig = field(default_factory=SplitConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    epochs: int = 10
    batch_size: int = 16
    early_stopping: int = 0  # epochs without a better validation loss before stopping; 0: never
    balance: str = "weights"
    threshold: str = "youden"  # how the operating threshold is chosen on validation data
    target_sensitivity: float = 0.9  # for threshold == "sensitivity"
    # bone_suppression only: the rib-aware MAE weighting (losses.BoneSuppressionLoss); 0: the paper's loss
    bone_weight: float = 0.0
    seed: int = 0
    device: str = "auto"  # "auto", "cpu" or "cuda"
    threads: int = 0  # torch intra-op threads; 0: the cores this process may use
    out_dir: str = "runs"
    export_to: str = ""  # models folder to export into after training; empty: do not export
    # Transfer learning: a model's safetensors weights (a card's "weights" file or a run's best
    # checkpoint) of the same architecture; every tensor whose name and shape match is copied in
    # before training (the features; a head with another class count is left at its init).
    init_from: str = ""
    notes: tuple[str, ...] = ()  # copied into the model card's notes (small data, known caveats, ...)
    source_file: str = field(default="", compare=False)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["input"] = self.input.to_dict()
        d.pop("source_file")
        return d

    @property
    def run_dir(self) -> Path:
        return Path(self.out_dir) / self.name


def _build(cls: type, values: Any, where: str, origin: str) -> Any:
    """A dataclass from a mapping, rejecting unknown keys and wrong types with the setting's name."""
    if not isinstance(values, Mapping):
        raise ConfigError(f"{origin}: setting '{where}' must be a table/mapping, got {type(values).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name != "source_file"}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        prefix = f"{where}." if where else ""
        raise ConfigError(
            f"{origin}: unknown setting(s) {', '.join(prefix + k for k in unknown)}; "
            f"known: {', '.join(sorted(fields))}"
        )
    kwargs = {}
    for name, value in values.items():
        key = f"{where}.{name}" if where else name
        default = fields[name].default
        if isinstance(default, tuple):
            if isinstance(value, str):
                value = (value,)
            if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{origin}: setting '{key}' must be a list of strings, got {value!r}")
            value = tuple(value)
        elif isinstance(default, bool | int | float | str) and not isinstance(default, bool):
            expected = type(default)
            if expected is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not isinstance(value, expected) or isinstance(value, bool):
                raise ConfigError(
                    f"{origin}: setting '{key}' must be {expected.__name__}, got {value!r}"
                )
        kwargs[name] = value
    return kwargs


def _data_config(values: Any, origin: str) -> DataConfig:
    """`data`, where `data.sources` (a list of data tables) makes the source "combined"."""
    if not isinstance(values, Mapping) or not values.get("sources"):  # to_dict() writes sources: ()
        return DataConfig(**_build(DataConfig, values, "data", origin))
    values = dict(values)
    subs = values.pop("sources")
    _check(isinstance(subs, list | tuple) and len(subs) >= 2, origin, "data.sources",
           "must list at least two data tables")
    parts = tuple(DataConfig(**_build(DataConfig, sub, f"data.sources[{i}]", origin)) for i, sub in enumerate(subs))
    values.setdefault("source", "combined")
    values.setdefault("root", parts[0].root)
    _check(values["source"] == "combined", origin, "data.source", "must be 'combined' (or left out) with data.sources")
    return DataConfig(**_build(DataConfig, values, "data", origin), sources=parts)


def _check(condition: bool, origin: str, key: str, problem: str) -> None:
    if not condition:
        raise ConfigError(f"{origin}: setting '{key}' {problem}")


def config_from_dict(d: Mapping[str, Any], *, origin: str = "config") -> TrainConfig:
    """A validated TrainConfig from a plain mapping; `origin` (the file) starts every message."""
    for required in ("name", "task", "arch", "data", "input"):
        _check(required in d, origin, required, "is missing")
    top = dict(d)
    data = _data_config(top.pop("data"), origin)
    try:
        contract_dict = dict(top.pop("input"))
        contract_dict["steps"] = [
            {"name": s} if isinstance(s, str) else s for s in contract_dict.get("steps", [])
        ]
        contract = InputContract.from_dict(contract_dict)
    except ConfigError as exc:
        raise ConfigError(f"{origin}: setting 'input': {exc}") from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{origin}: setting 'input' must be a mapping: {exc}") from None
    nested = {}
    for key, cls in (("split", SplitConfig), ("augment", AugmentConfig), ("optim", OptimConfig)):
        nested[key] = cls(**_build(cls, top.pop(key, {}), key, origin))
    config = TrainConfig(
        data=data, input=contract, **nested, **_build(TrainConfig, top, "", origin), source_file=origin
    )
    _validate(config, origin)
    return config


def _validate(c: TrainConfig, origin: str) -> None:
    _check(bool(c.name) and "/" not in c.name and c.name not in (".", ".."), origin, "name",
           f"must be a plain file name, got {c.name!r}")
    _check(c.task in TASKS, origin, "task", f"must be one of {', '.join(TASKS)}, got {c.task!r}")
    spec = ARCHITECTURES.get(c.arch)
    _check(spec is not None, origin, "arch",
           f"names an unknown architecture {c.arch!r}; known: {', '.join(sorted(ARCHITECTURES))}")
    arch_task = "classification" if c.task in ("multilabel", "gate") else c.task
    _check(spec.task == arch_task, origin, "arch", f"{c.arch!r} is a {spec.task} net, not for task {c.task!r}")
    _check(c.data.source in SOURCES, origin, "data.source",
           f"must be one of {', '.join(SOURCES)}, got {c.data.source!r}")
    _check(Path(c.data.root).expanduser().exists(), origin, "data.root", f"{c.data.root!r} does not exist")
    _check((c.data.source == "combined") == bool(c.data.sources), origin, "data.source",
           "'combined' needs data.sources, and data.sources needs source 'combined'")
    names = [sub.source for sub in c.data.sources]
    _check(len(set(names)) == len(names), origin, "data.sources", f"must name each source once, got {names}")
    for i, sub in enumerate(c.data.sources):
        _check(sub.source in SOURCES and sub.source != "combined" and not sub.sources, origin,
               f"data.sources[{i}].source", f"must be one of {', '.join(SOURCES[:-1])}, got {sub.source!r}")
        _check(Path(sub.root).expanduser().exists(), origin, f"data.sources[{i}].root", f"{sub.root!r} does not exist")
    _check(c.data.limit_per_class >= 0 and c.data.limit >= 0, origin, "data.limit", "must be >= 0")
    s = c.split
    _check(0 < s.val_fraction < 0.5, origin, "split.val_fraction", f"must be in (0, 0.5), got {s.val_fraction}")
    _check(0 <= s.test_fraction < 0.5, origin, "split.test_fraction",
           f"must be in [0, 0.5), got {s.test_fraction}")
    _check(s.folds == 0 or s.folds >= 2, origin, "split.folds", f"must be 0 or >= 2, got {s.folds}")
    _check(s.folds == 0 or 0 <= s.fold < s.folds, origin, "split.fold", f"must be in [0, {s.folds}), got {s.fold}")
    _check(not s.parts or s.parts in PART_RULES, origin, "split.parts",
           f"must be one of {', '.join(PART_RULES)} (or empty), got {s.parts!r}")
    _check(bool(s.parts) == bool(s.val_parts) and (not s.external or s.parts), origin, "split.parts",
           "needs split.val_parts (selection on a shifted part, never only a random split), and "
           "split.val_parts/split.external need split.parts")
    _check(not set(s.val_parts) & set(s.external), origin, "split.external",
           f"shares parts with split.val_parts: {sorted(set(s.val_parts) & set(s.external))}")
    _check(not s.parts or not (s.folds or s.val_sources or s.test_sources), origin, "split.parts",
           "cannot be combined with split.folds or split.val_sources/test_sources")
    a = c.augment
    for key in ("hflip", "sharpness", "autocontrast", "elastic", "exposure", "blur", "noise", "resolution"):
        value = getattr(a, key)
        _check(0 <= value <= 1, origin, f"augment.{key}", f"is a probability in [0, 1], got {value}")
    _check(a.crop == 0 or (c.task in ("bone_suppression", "segmentation") and 32 <= a.crop <= min(c.input.height, c.input.width)),
           origin, "augment.crop", "is for image-to-image tasks and must be 0 or between 32 and the input size")
    _check(c.bone_weight == 0 or (c.task == "bone_suppression" and 0 < c.bone_weight <= 100), origin, "bone_weight",
           f"is for bone_suppression only and must be in (0, 100], got {c.bone_weight}")
    _check(0 <= a.zoom < 1 and 0 <= a.shift < 0.5 and 0 <= a.rotation_deg <= 180, origin, "augment",
           "needs zoom in [0, 1), shift in [0, 0.5), rotation_deg in [0, 180]")
    o = c.optim
    _check(o.optimizer in OPTIMIZERS, origin, "optim.optimizer", f"must be one of {OPTIMIZERS}, got {o.optimizer!r}")
    _check(o.scheduler in SCHEDULERS, origin, "optim.scheduler", f"must be one of {SCHEDULERS}, got {o.scheduler!r}")
    _check(0 < o.lr < 10, origin, "optim.lr", f"must be in (0, 10), got {o.lr}")
    _check(o.weight_decay >= 0, origin, "optim.weight_decay", f"must be >= 0, got {o.weight_decay}")
    _check(0 <= o.momentum < 1, origin, "optim.momentum", f"must be in [0, 1), got {o.momentum}")
    _check(c.epochs >= 1, origin, "epochs", f"must be >= 1, got {c.epochs}")
    _check(c.batch_size >= 1, origin, "batch_size", f"must be >= 1, got {c.batch_size}")
    _check(c.early_stopping >= 0, origin, "early_stopping", f"must be >= 0, got {c.early_stopping}")
    _check(c.balance in BALANCING, origin, "balance", f"must be one of {BALANCING}, got {c.balance!r}")
    _check(c.threshold in THRESHOLDS, origin, "threshold", f"must be one of {THRESHOLDS}, got {c.threshold!r}")
    _check(0 < c.target_sensitivity < 1, origin, "target_sensitivity", "must be in (0, 1)")
    _check(c.device in ("auto", "cpu", "cuda"), origin, "device", f"must be auto, cpu or cuda, got {c.device!r}")
    _check(c.threads >= 0, origin, "threads", f"must be >= 0, got {c.threads}")
    _check(not c.init_from or Path(c.init_from).is_file(), origin, "init_from", f"{c.init_from!r} is not a file")
    _check(c.input.channels == 1 or c.task in ("classification", "multilabel", "gate"), origin, "input.channels",
           "must be 1 for image-to-image tasks")


def load_config(path: str | Path, **overrides: Any) -> TrainConfig:
    """Read a .yaml/.yml/.toml/.json config; `overrides` replace top-level settings (e.g. epochs=1).
    A relative data.root, out_dir and export_to are taken relative to the config file's folder."""
    path = Path(path)
    origin = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{origin}: cannot read the configuration: {exc.strerror}") from None
    suffix = path.suffix.lower()
    try:
        if suffix in (".yaml", ".yml"):
            import yaml

            raw = yaml.safe_load(text)
        elif suffix == ".toml":
            import tomllib  # Python >= 3.11; on 3.10 use .yaml or .json

            raw = tomllib.loads(text)
        elif suffix == ".json":
            raw = json.loads(text)
        else:
            raise ConfigError(f"{origin}: unknown configuration format {suffix!r}; use .yaml, .toml or .json")
    except ConfigError:
        raise
    except Exception as exc:  # each parser has its own error type; all mean "not valid syntax"
        raise ConfigError(f"{origin}: not valid {suffix[1:]}: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{origin}: the configuration must be a mapping of settings")
    raw.update(overrides)
    base = path.resolve().parent
    data = dict(raw.get("data") or {})
    if isinstance(data.get("sources"), list):
        data["sources"] = [dict(sub) if isinstance(sub, Mapping) else sub for sub in data["sources"]]
    for holder in (data, *(sub for sub in data.get("sources", ()) if isinstance(sub, dict))):
        if isinstance(holder.get("root"), str):
            holder["root"] = str(_resolve(holder["root"], base))
    raw["data"] = data
    for key in ("out_dir", "export_to", "init_from"):
        if isinstance(raw.get(key), str) and raw[key]:
            raw[key] = str(_resolve(raw[key], base))
    return config_from_dict(raw, origin=origin)


def _resolve(value: str, base: Path) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else (base / p).resolve()


def replace(config: TrainConfig, **changes: Any) -> TrainConfig:
    """A copy with top-level settings changed and validated again."""
    d = config.to_dict()
    d.update(changes)
    return config_from_dict(d, origin=config.source_file or "config")


__all__ = [
    "AugmentConfig", "DataConfig", "OptimConfig", "SplitConfig", "Step", "TrainConfig", "config_from_dict",
    "load_config", "replace",
]
