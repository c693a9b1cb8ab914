"""Kermany acquisition-period figures for docs/kermany-shift.md (issue 17).

    python scripts/kermany_shift.py parts                       # the period rule's counts
    python scripts/kermany_shift.py ablation RUN_DIR [RUN_DIR ...]   # shifted-validation table of runs
    python scripts/kermany_shift.py installed MODEL [--models DIR]  # an installed model on each period
    python scripts/kermany_shift.py common MODEL:DIR:CONFIG MODEL:DIR:CONFIG  # both on films neither chose on

`ablation` re-scores each run's best checkpoint on its shifted validation part (the `middle` period)
only: AUC, sensitivity/specificity at 0.5 and at a Youden threshold cross-fitted on the validation
part (chosen on one half of its patients, measured on the other, both ways), so the threshold's
effect is not measured on the films that chose it. The external part is not read here: nothing is
chosen on it. `installed` runs an installed model through the runtime (`analysis.model_input`, as
the viewer does, lung crop included) on each period part of Kermany's training split, at the card's
threshold; the shipped models before issue 17 trained on a random 70 % of all periods, so their
`early` figures are mostly on films they trained on: `--unseen-by configs/OLD.yaml` leaves out the
films that config's split trained on (its split is reproducible: holdout by patient, seed 0).
`common` scores two models (each an installed name, its models folder and the config that trained
it) on the films that neither trained on nor was selected on (each split's test and external
parts), so a random-split model and a period-split one are compared on the same untouched films,
with a paired bootstrap of the differences.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
KERMANY = ROOT.parent / "shared" / "data" / "kermany_pneumonia" / "train"


def _catalog(label_column: str = "label3"):
    from cxrviewer.training.config import DataConfig
    from cxrviewer.training.sources import load_catalog

    classes = ("normal", "bacteria", "virus") if label_column == "label3" else ("normal", "pneumonia")
    return load_catalog(DataConfig(source="kermany", root=str(KERMANY), label_columns=(label_column,), classes=classes))


def parts() -> None:
    from cxrviewer.training.kermany import period_parts, series_and_number

    catalog = _catalog()
    labels = [catalog.classes[s.labels[0]] for s in catalog.samples]
    period = period_parts(catalog.samples)
    print("| part | series | patients | numbers | films | normal | bacteria | virus |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name in ("early", "middle", "late"):
        for series in ("normal", "normal2", "pneumonia"):
            rows = [i for i, s in enumerate(catalog.samples)
                    if period[i] == name and series_and_number(s.path.name)[0] == series]
            numbers = [series_and_number(catalog.samples[i].path.name)[1] for i in rows]
            count = Counter(labels[i] for i in rows)
            print(f"| {name} | {series} | {len({catalog.samples[i].patient for i in rows})} | {min(numbers)}–{max(numbers)} "
                  f"| {len(rows)} | {count['normal']} | {count['bacteria']} | {count['virus']} |")


def _cross_fit(truth, score, patients, seed: int = 0) -> tuple[float, float]:
    """Sensitivity, specificity of a Youden threshold chosen on one half of the patients and applied to
    the other half, both ways (counts pooled)."""
    from cxrviewer.training.metrics import choose_threshold

    unique = np.array(sorted(set(patients)))
    rng = np.random.default_rng(seed)
    half = set(rng.permutation(unique)[: len(unique) // 2])
    a = np.array([p in half for p in patients])
    tp = fn = tn = fp = 0
    for choose, apply in ((a, ~a), (~a, a)):
        t = choose_threshold(truth[choose], score[choose], "youden")
        called = score[apply] >= t
        pos = truth[apply] == 1
        tp += int((called & pos).sum())
        fn += int((~called & pos).sum())
        tn += int((~called & ~pos).sum())
        fp += int((called & ~pos).sum())
    return tp / (tp + fn), tn / (tn + fp)


def ablation(run_dirs: list[Path]) -> None:
    import torch
    from sklearn.metrics import roc_auc_score
    from torch.utils.data import DataLoader

    from cxrviewer.training.checkpoint import build_from_checkpoint, read_checkpoint
    from cxrviewer.training.data import PreparedDataset
    from cxrviewer.training.evaluation import predict
    from cxrviewer.training.run_split import load_run

    torch.set_num_threads(1)
    print("| variant | input | val AUC | sens / spec at 0.5 | sens / spec, Youden cross-fitted on val | best epoch | wall |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for run_dir in run_dirs:
        config, catalog, split = load_run(run_dir)
        model = build_from_checkpoint(read_checkpoint(run_dir / "checkpoints" / "best.safetensors"))
        loader = DataLoader(PreparedDataset(catalog, split.val, config.input, config.task), batch_size=64)
        pred = predict(model, loader, config.task, device=torch.device("cpu"))
        metrics = json.loads((run_dir / "metrics.json").read_text())
        truth = pred.truth
        steps = "+".join(s.name for s in config.input.steps) or "none"
        geometry = f"{config.input.height}², {steps}, {config.input.scaling}"
        if len(catalog.classes) == 2:
            score = pred.scores[:, 1]
            called = score >= 0.5
            sens, spec = called[truth == 1].mean(), (~called[truth == 0]).mean()
            xs, xp = _cross_fit(truth, score, [catalog.samples[i].patient for i in split.val])
            auc = roc_auc_score(truth, score)
            print(f"| {config.name} | {geometry} | {auc:.3f} | {sens:.3f} / {spec:.3f} | {xs:.3f} / {xp:.3f} "
                  f"| {metrics['best_epoch']} | {metrics['wall_time_s'] / 60:.0f} min |")
        else:
            from sklearn.metrics import f1_score

            f1 = f1_score(truth, pred.scores.argmax(1), average="macro")
            print(f"| {config.name} | {geometry} | macro F1 {f1:.3f} | | | {metrics['best_epoch']} "
                  f"| {metrics['wall_time_s'] / 60:.0f} min |")


def _split_paths(config_path: Path, parts: tuple[str, ...]) -> set[str]:
    """The films in `parts` of a config's split, rebuilt as its run built it (same catalog and seed)."""
    from cxrviewer.training.config import load_config
    from cxrviewer.training.run import make_split
    from cxrviewer.training.sources import load_catalog

    config = load_config(config_path)
    own = load_catalog(config.data)
    split = make_split(config, own)
    return {str(own.samples[i].path) for part in parts for i in getattr(split, part)}


def _held_out_paths(config_path: Path) -> set[str]:
    """The films a config's split keeps out of training and selection: its test and external parts."""
    return _split_paths(config_path, ("test", "external"))


def _probabilities(loaded, paths: list[Path]) -> np.ndarray:
    from cxrviewer.analysis.model_input import model_input
    from cxrviewer.training.data import read_pixels

    probs = []
    for start in range(0, len(paths), 32):
        x = np.stack([model_input(loaded, read_pixels(p))[0] for p in paths[start:start + 32]])
        logits = loaded.backend.classify(x)[0].astype(np.float64)
        e = np.exp(logits - logits.max(1, keepdims=True))
        probs.append(e / e.sum(1, keepdims=True))
    return np.concatenate(probs)


def _figures(card, truth: np.ndarray, prob: np.ndarray) -> dict:
    from sklearn.metrics import f1_score, roc_auc_score

    if len(card.labels) == 2:
        called = prob[:, 1] >= card.thresholds[1]
        return {"accuracy": float((called == truth).mean()), "sensitivity": float(called[truth == 1].mean()),
                "specificity": float((~called[truth == 0]).mean()), "auc": float(roc_auc_score(truth, prob[:, 1]))}
    pred = prob.argmax(1)
    return {"accuracy": float((pred == truth).mean()), "macro_f1": float(f1_score(truth, pred, average="macro"))}


def common(specs: list[str], resamples: int = 2000) -> dict:
    """specs: MODEL:MODELS_DIR:CONFIG, two of them. Figures of each on the films both held out, and
    the second minus the first with a paired percentile bootstrap over films (seed 0)."""
    from cxrviewer.runtime.registry import load_model

    models, held = [], None
    for spec in specs:
        name, folder, config = spec.split(":")
        models.append(load_model(name, Path(folder), intra_op_threads=1))
        kept = _held_out_paths(Path(config))
        held = kept if held is None else held & kept
    catalog = _catalog("label" if len(models[0].card.labels) == 2 else "label3")
    rows = [i for i, s in enumerate(catalog.samples) if str(s.path) in held]
    truth = np.array([catalog.samples[i].labels[0] for i in rows])
    paths = [catalog.samples[i].path for i in rows]
    probs = [_probabilities(m, paths) for m in models]
    counts = Counter(catalog.classes[t] for t in truth)
    out = {"films": len(rows), "classes": dict(counts),
           "models": [{"model": spec, **_figures(m.card, truth, p)} for spec, m, p in zip(specs, models, probs, strict=True)]}
    rng = np.random.default_rng(0)
    diffs: dict[str, list[float]] = {}
    for _ in range(resamples):
        pick = rng.integers(0, len(rows), len(rows))
        if len(set(truth[pick])) < len(catalog.classes):
            continue
        a, b = (_figures(m.card, truth[pick], p[pick]) for m, p in zip(models, probs, strict=True))
        for key in a:
            diffs.setdefault(key, []).append(b[key] - a[key])
    out["second_minus_first"] = {key: [float(np.mean(v)), *map(float, np.percentile(v, [2.5, 97.5]))]
                                 for key, v in diffs.items()}
    print(json.dumps(out, indent=1))
    return out


def installed(model: str, models_dir: Path | None, unseen_by: Path | None = None) -> dict:
    from cxrviewer.runtime.registry import load_model
    from cxrviewer.training.kermany import period_parts

    loaded = load_model(model, models_dir, intra_op_threads=1)
    card = loaded.card
    catalog = _catalog("label" if len(card.labels) == 2 else "label3")
    assert tuple(card.labels) == catalog.classes, (card.labels, catalog.classes)
    period = period_parts(catalog.samples)
    trained: set[str] = set()
    if unseen_by is not None:  # the films the model's own run trained on, by its config's split
        trained = _split_paths(unseen_by, ("train",))
        print(f"leaving out the {len(trained)} films {unseen_by} trained on")
    out = {}
    for name in ("early", "middle", "late"):
        rows = [i for i, p in enumerate(period) if p == name and str(catalog.samples[i].path) not in trained]
        prob = _probabilities(loaded, [catalog.samples[i].path for i in rows])
        truth = np.array([catalog.samples[i].labels[0] for i in rows])
        out[name] = {"n": len(rows), **_figures(card, truth, prob)}
        if len(card.labels) > 2:
            from sklearn.metrics import f1_score

            out[name]["f1"] = dict(zip(card.labels, map(float, f1_score(truth, prob.argmax(1), average=None)), strict=True))
        print(name, json.dumps(out[name]))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("parts")
    abl = sub.add_parser("ablation")
    abl.add_argument("runs", nargs="+", type=Path)
    inst = sub.add_parser("installed")
    inst.add_argument("model")
    inst.add_argument("--models", type=Path, default=None)
    inst.add_argument("--unseen-by", type=Path, default=None,
                      help="a config whose split's training films are left out (the model's own recipe)")
    both = sub.add_parser("common")
    both.add_argument("specs", nargs=2, metavar="MODEL:DIR:CONFIG")
    args = parser.parse_args()
    if args.command == "parts":
        parts()
    elif args.command == "common":
        common(args.specs)
    elif args.command == "ablation":
        ablation(args.runs)
    else:
        installed(args.model, args.models, args.unseen_by)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
