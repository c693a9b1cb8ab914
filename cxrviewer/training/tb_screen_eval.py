"""Figures of a `tb_screen` run (issue 16): per source, with 95 % intervals, and whether it learned the source.

`python -m cxrviewer.training.tb_screen_eval RUN_DIR [--maps] [--compare OTHER_RUN]` scores every
film of the run's catalog with its best checkpoint and writes RUN_DIR/tb_eval.json and tb_eval.md:

- each film's role (train / val / test) is read from the run's split.json, so every figure names
  what the model saw: trained on, selected on (validation: best epoch and threshold), or never seen;
- paired sets (TB films of one source against normal films of one source): AUC, specificity at 90 %
  sensitivity, sensitivity at 70 % specificity, each with a stratified bootstrap 95 % interval
  (1,000 resamples); a pair across two sources is confounded by the source (it is flagged);
- per source, the rate at the run's operating threshold (sensitivity for TB, specificity for
  normals) with its Wilson 95 % interval;
- source learning: per-source score distributions (a figure), a source classifier (logistic
  regression, 5-fold) on the same pooled last-conv features within one class, and how well the TB
  score alone tells the sources apart within one class (AUC; 0.5 = not at all);
- with --maps: the pointing game (Pasa 2019: saliency against Grad-CAM, and CAM) on the TBX11K TB
  boxes of the test films, with the uniform-map baseline (`analysis.localisation.score_maps`), and a
  figure of the maps on TB films;
- with --compare: the paired bootstrap difference in AUC between two runs on the same test films
  (Rajaraman 2021: bone-suppressed against original input).
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from sklearn import metrics as skm

from cxrviewer.analysis.localisation_measure import peak_pointing
from cxrviewer.training.config import config_from_dict
from cxrviewer.training.metrics import wilson_interval
from cxrviewer.training.sources import Catalog, load_catalog, source_of
from cxrviewer.training.splits import Split

log = logging.getLogger(__name__)

N_BOOT = 1000
TARGET_SENSITIVITY = 0.90
TARGET_SPECIFICITY = 0.70


@dataclass
class Scored:
    """Every film of a run's catalog: score P(tb), pooled features, label, source, role."""

    scores: npt.NDArray[np.float64]
    features: npt.NDArray[np.float32]
    labels: npt.NDArray[np.int64]
    sources: list[str]
    roles: list[str]
    threshold: float
    catalog: Catalog
    config: Any
    model: torch.nn.Module


def load_run(run_dir: Path):
    from cxrviewer.training.checkpoint import build_from_checkpoint, read_checkpoint

    config = config_from_dict(json.loads((run_dir / "config.json").read_text(encoding="utf-8")),
                              origin=str(run_dir / "config.json"))
    catalog = load_catalog(config.data)
    split = Split.load(run_dir / "split.json")
    checkpoint = read_checkpoint(run_dir / "checkpoints" / "best.safetensors")
    return config, catalog, split, checkpoint, build_from_checkpoint(checkpoint)


def score_run(run_dir: Path) -> Scored:
    from torch.utils.data import DataLoader

    from cxrviewer.training.data import PreparedDataset
    from cxrviewer.training.evaluation import predict

    config, catalog, split, checkpoint, model = load_run(run_dir)
    roles = ["unused"] * len(catalog.samples)
    for name in ("train", "val", "test"):
        for i in getattr(split, name):
            roles[i] = name
    everything = list(range(len(catalog.samples)))
    loader = DataLoader(PreparedDataset(catalog, everything, config.input, "classification"), batch_size=64)
    pred = predict(model, loader, "classification", device=torch.device("cpu"), keep_features=True)
    thresholds = checkpoint.meta.get("thresholds") or [0.5, 0.5]
    return Scored(pred.scores[:, 1], pred.features, pred.truth, [source_of(s) for s in catalog.samples], roles,
                  float(thresholds[-1]), catalog, config, model)


def score_full_resolution(sc: Scored, shared: Path) -> Scored:
    """The same run on the films as a viewer meets them: each held-out film of the other sources read
    at its stored resolution (512x512 TBX11K, RSNA and JSRT; OpenIST about 500x400), the lung box
    scaled from the 128x128 film to it, then the run's input contract (crop, resize, intensity
    steps). Shenzhen films exist at 128x128 only and keep their score. Returns a copy with the new scores."""
    import dataclasses

    from cxrviewer.core.io import read_image
    from cxrviewer.core.preprocess import prepare

    rows = {f"{r['source']}/{r['case']}": r for r in _read_labels(Path(sc.config.data.root))}
    scores = sc.scores.copy()
    contract = sc.config.input
    batch, where = [], []
    for i, sample in enumerate(sc.catalog.samples):
        if sc.sources[i] == "shenzhen" or sc.roles[i] == "train":
            continue
        row = rows[sample.patient]
        pixels = read_image(shared / row["original"]).pixels
        if sc.sources[i] == "jsrt":  # stored inverted
            pixels = 1.0 - pixels
        h, w = pixels.shape
        y0, x0, y1, x1 = sample.crop_box
        box = (round(y0 * h / 128), round(x0 * w / 128), round(y1 * h / 128), round(x1 * w / 128))
        tensor, _ = prepare(pixels, contract, crop_box=box if contract.needs_lung_box else None)
        batch.append(tensor)
        where.append(i)
    with torch.no_grad():
        for start in range(0, len(batch), 64):
            x = torch.from_numpy(np.stack(batch[start:start + 64]))
            prob = torch.softmax(sc.model(x), 1)[:, 1].double().numpy()
            scores[where[start:start + 64]] = prob
    return dataclasses.replace(sc, scores=scores)


def _read_labels(root: Path) -> list[dict[str, str]]:
    from cxrviewer.training.sources import _read_rows

    return _read_rows(root / "labels.csv")


# --- operating-point figures ---------------------------------------------------------------------


def spec_at_sens(y: npt.NDArray, s: npt.NDArray, target: float = TARGET_SENSITIVITY) -> float:
    """Best specificity among thresholds whose sensitivity reaches `target`."""
    fpr, tpr, _ = skm.roc_curve(y, s, drop_intermediate=False)
    return float(np.max(1.0 - fpr[tpr >= target]))


def sens_at_spec(y: npt.NDArray, s: npt.NDArray, target: float = TARGET_SPECIFICITY) -> float:
    """Best sensitivity among thresholds whose specificity reaches `target`."""
    fpr, tpr, _ = skm.roc_curve(y, s, drop_intermediate=False)
    return float(np.max(tpr[fpr <= 1.0 - target + 1e-12]))


FIGURES = {"auc": skm.roc_auc_score, "spec_at_90_sens": spec_at_sens, "sens_at_70_spec": sens_at_spec}


def paired_figures(pos: npt.NDArray, neg: npt.NDArray, *, n_boot: int = N_BOOT, seed: int = 0) -> dict[str, Any]:
    """AUC, specificity at 90 % sensitivity, sensitivity at 70 % specificity of TB scores `pos`
    against normal scores `neg`, each with a stratified bootstrap 95 % interval."""
    y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    s = np.r_[pos, neg]
    out: dict[str, Any] = {"n_tb": int(len(pos)), "n_normal": int(len(neg))}
    rng = np.random.default_rng(seed)
    boots = {k: [] for k in FIGURES}
    for _ in range(n_boot):
        bp, bn = rng.choice(pos, len(pos)), rng.choice(neg, len(neg))
        yb, sb = y, np.r_[bp, bn]
        for k, f in FIGURES.items():
            boots[k].append(f(yb, sb))
    for k, f in FIGURES.items():
        out[k] = float(f(y, s))
        out[f"{k}_ci95"] = [float(v) for v in np.percentile(boots[k], [2.5, 97.5])]
    return out


def rate(scores: npt.NDArray, positive: bool, threshold: float) -> dict[str, Any]:
    called = scores >= threshold
    hits = int(called.sum() if positive else (~called).sum())
    return {"n": int(len(scores)), "value": hits / max(len(scores), 1), "ci95": list(wilson_interval(hits, len(scores)))}


def _select(sc: Scored, source: str, label: int, roles: tuple[str, ...]) -> npt.NDArray[np.bool_]:
    return np.array([s == source for s in sc.sources]) & (sc.labels == label) & np.isin(sc.roles, roles)


def role_name(sc: Scored, source: str) -> str:
    roles = {r for r, s in zip(sc.roles, sc.sources, strict=True) if s == source}
    if "train" in roles:
        return "trained on (figures on its held-out films)"
    if "val" in roles and "test" in roles:
        return "never trained on; half selected on (val), figures on the other half"
    if "val" in roles:
        return "never trained on; used for selection and the threshold"
    return "never seen in training or selection"


def operating_table(sc: Scored) -> dict[str, Any]:
    """Paired sets and per-source rates on held-out films (test; validation where a source is only there)."""
    pairs: dict[str, Any] = {}
    test = ("test",)
    srcs = list(dict.fromkeys(sc.sources))
    tb_sources = [s for s in srcs if _select(sc, s, 1, ("train", "val", "test")).any()]
    normal_sources = [s for s in srcs if _select(sc, s, 0, ("train", "val", "test")).any()]
    for tb in tb_sources:
        pos = sc.scores[_select(sc, tb, 1, test)]
        if not len(pos):
            continue
        for normal in normal_sources:
            neg = sc.scores[_select(sc, normal, 0, test)]
            if len(neg):
                pairs[f"{tb} TB vs {normal} normal (test)"] = {**paired_figures(pos, neg), "same_source": tb == normal}
        external = [n for n in normal_sources if n != tb and _select(sc, n, 0, test).any()]
        if len(external) > 1:
            neg = np.concatenate([sc.scores[_select(sc, n, 0, test)] for n in external])
            pairs[f"{tb} TB vs {' + '.join(external)} normal (test)"] = {**paired_figures(pos, neg), "same_source": False}
    # validation pairs (selection data: reported, not a test)
    val_pos = [s for s in tb_sources if _select(sc, s, 1, ("val",)).any()]
    val_neg = [s for s in normal_sources if _select(sc, s, 0, ("val",)).any()]
    if val_pos and val_neg:
        pos = np.concatenate([sc.scores[_select(sc, s, 1, ("val",))] for s in val_pos])
        neg = np.concatenate([sc.scores[_select(sc, s, 0, ("val",))] for s in val_neg])
        pairs[f"{' + '.join(val_pos)} TB vs {' + '.join(val_neg)} normal (validation: selection data)"] = {
            **paired_figures(pos, neg), "same_source": False}
    rates = {}
    for source in srcs:
        for label, name in ((1, "sensitivity"), (0, "specificity")):
            for roles in (("test",), ("val",)):
                chosen = _select(sc, source, label, roles)
                if chosen.any():
                    rates[f"{source} {name} ({roles[0]})"] = rate(sc.scores[chosen], label == 1, sc.threshold)
    return {"threshold": sc.threshold, "pairs": pairs, "rates": rates,
            "roles": {s: role_name(sc, s) for s in srcs}}


# --- source learning ------------------------------------------------------------------------------


def source_learning(sc: Scored, *, seed: int = 0) -> dict[str, Any]:
    """Within one class, on films not trained on: can the features (and can the TB score) tell the
    sources apart?"""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    out: dict[str, Any] = {}
    sources = np.asarray(sc.sources)
    held_out = np.asarray(sc.roles) != "train"  # films the model did not learn from
    for label, name in ((0, "normal"), (1, "tb")):
        chosen = (sc.labels == label) & held_out
        present = [s for s in dict.fromkeys(sources[chosen]) if (sources[chosen] == s).sum() >= 10]
        if len(present) < 2:
            continue
        rows = chosen & np.isin(sources, present)
        x, y = sc.features[rows], sources[rows]
        clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, class_weight="balanced"))
        predicted = cross_val_predict(clf, x, y, cv=StratifiedKFold(5, shuffle=True, random_state=seed))
        entry: dict[str, Any] = {
            "sources": {s: int((y == s).sum()) for s in present},
            "feature_source_balanced_accuracy": float(skm.balanced_accuracy_score(y, predicted)),
            "chance": 1.0 / len(present),
        }
        # The TB score alone: one source against each other, within this class.
        first = "shenzhen" if "shenzhen" in present else present[0]
        entry["score_auc_vs_" + first] = {
            other: float(skm.roc_auc_score(np.r_[np.ones((y == other).sum()), np.zeros((y == first).sum())],
                                           np.r_[sc.scores[rows][y == other], sc.scores[rows][y == first]]))
            for other in present if other != first
        }
        entry["median_score"] = {s: float(np.median(sc.scores[rows][y == s])) for s in present}
        out[name] = entry
    return out


def score_figure(sc: Scored, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = []
    for source in dict.fromkeys(sc.sources):
        for label, name in ((1, "TB"), (0, "normal")):
            chosen = np.array([s == source for s in sc.sources]) & (sc.labels == label)
            if chosen.any():
                seen = "trained-on source" if any(r == "train" for r, c in zip(sc.roles, chosen, strict=True) if c) \
                    else "never trained on"
                held = chosen & (np.asarray(sc.roles) != "train")
                groups.append((f"{source}\n{name}\n({seen})", sc.scores[held], label))
    fig, ax = plt.subplots(figsize=(1.2 * len(groups) + 1.5, 3.4), dpi=100)
    rng = np.random.default_rng(0)
    for i, (_, values, label) in enumerate(groups):
        ax.scatter(i + rng.uniform(-0.25, 0.25, len(values)), values, s=5, alpha=0.5,
                   color="tab:red" if label else "tab:blue")
        ax.boxplot([values], positions=[i], widths=0.6, showfliers=False)
    ax.axhline(sc.threshold, color="k", lw=0.8, ls="--")
    ax.set_xticks(range(len(groups)), [g[0] for g in groups], fontsize=7)
    ax.set_ylabel("P(tb)")
    ax.set_title(title + " (held-out films; dashed: operating threshold)", fontsize=8)
    fig.tight_layout()
    _save_small(fig, path)
    plt.close(fig)


# --- maps: saliency against Grad-CAM on TBX11K boxes ----------------------------------------------


def film_maps(sc: Scored, index: int) -> tuple[dict[str, npt.NDArray[np.float32]], npt.NDArray[np.float32]]:
    """Saliency |dlogit_tb/dinput| (Pasa 2019), Grad-CAM and CAM of the tb logit for one film,
    on the 128x128 film's grid (outside the lung crop: 0), and the film itself."""
    from cxrviewer.core.imageops.resample import resize
    from cxrviewer.core.preprocess import prepare
    from cxrviewer.training.data import read_pixels

    sample = sc.catalog.samples[index]
    pixels = read_pixels(sample.path)
    contract = sc.config.input
    tensor, geometry = prepare(pixels, contract, crop_box=sample.crop_box if contract.needs_lung_box else None)
    x = torch.from_numpy(tensor[None]).requires_grad_(True)
    model = sc.model
    features = model.features(x)
    features.retain_grad()
    logits = model.head(features)
    logits[0, 1].backward()
    saliency = x.grad[0].abs().amax(0).numpy()
    acts = features[0].detach().numpy()
    alpha = features.grad[0].mean(dim=(1, 2)).numpy()
    gradcam = np.maximum(np.tensordot(alpha, acts, axes=1), 0).astype(np.float32)
    weight = model.head.linear.weight[1].detach().numpy() if hasattr(model.head, "linear") else alpha
    cam = np.tensordot(weight, acts, axes=1).astype(np.float32)
    h, w = contract.height, contract.width
    # Coarse maps as blocks (nearest): each feature cell covers its square of the input, so the pointing
    # game's plateau centre is the cell's centre (linear upsampling puts a flat maximum in the film's corner).
    maps = {"saliency": geometry.to_image(saliency.astype(np.float32)),
            "gradcam": geometry.to_image(resize(gradcam, (h, w), "nearest"), order="nearest"),
            "cam": geometry.to_image(resize(cam, (h, w), "nearest"), order="nearest")}
    return maps, pixels


def pointing(sc: Scored, roles: tuple[str, ...] = ("test",)) -> dict[str, Any]:
    from cxrviewer.analysis.localisation import score_maps
    from cxrviewer.training.data import boxes_mask

    chosen = [i for i, s in enumerate(sc.catalog.samples)
              if sc.sources[i] == "tbx11k" and s.boxes and sc.roles[i] in roles]

    plateau: dict[str, list[bool]] = {}

    def studies():
        for i in chosen:
            maps, pixels = film_maps(sc, i)
            mask = boxes_mask(pixels.shape, sc.catalog.samples[i].boxes)
            for method, values in maps.items():
                plateau.setdefault(method, []).append(peak_pointing(values, mask))
            yield maps, mask, None

    table = score_maps(studies(), model=sc.config.name, dataset=f"tbx11k_tb ({'/'.join(roles)} films, 128x128)")
    hits = {m: float(np.mean(v)) for m, v in plateau.items()}
    # Paired: exact McNemar (two-sided binomial on the films where exactly one of the two maps hits).
    from scipy.stats import binomtest

    sal, cam_hits = np.asarray(plateau["saliency"]), np.asarray(plateau["gradcam"])
    only_sal, only_cam = int((sal & ~cam_hits).sum()), int((~sal & cam_hits).sum())
    mcnemar = {"saliency_only": only_sal, "gradcam_only": only_cam,
               "p": float(binomtest(only_sal, only_sal + only_cam).pvalue) if only_sal + only_cam else 1.0}
    markdown = table.to_markdown() + "\n\npointing game at the centre of the maximum's plateau (Grad-CAM and CAM are drawn as " \
        "blocks of their feature cells, so this is the best cell's centre; the first maximum is its corner): " + \
        ", ".join(f"{m} {v:.3f}" for m, v in hits.items()) + \
        (f"; saliency against Grad-CAM, paired: {mcnemar['saliency_only']} films only saliency hits, "
         f"{mcnemar['gradcam_only']} only Grad-CAM, exact McNemar p = {mcnemar['p']:.3g}")
    return {"markdown": markdown, "plateau_pointing": hits, "mcnemar_saliency_vs_gradcam": mcnemar,
            "rows": [{"method": r.method, "images": r.images, "pointing": r.pointing, "mass_in_boxes": r.mass_in_boxes,
                      "iou": r.iou} for r in table.rows]}


def maps_figure(sc: Scored, path: Path, count: int = 4) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    chosen = [i for i, s in enumerate(sc.catalog.samples)
              if sc.sources[i] == "tbx11k" and s.boxes and sc.roles[i] == "test"]
    chosen = sorted(chosen, key=lambda i: -sc.scores[i])[:: max(1, len(chosen) // count)][:count]
    fig, axes = plt.subplots(3, len(chosen), figsize=(2.0 * len(chosen), 6.2), dpi=80)
    for col, i in enumerate(chosen):
        maps, pixels = film_maps(sc, i)
        for row, (name, overlay) in enumerate((("film", None), ("saliency", maps["saliency"]),
                                               ("Grad-CAM", maps["gradcam"]))):
            ax = axes[row, col]
            ax.imshow(pixels, cmap="gray", vmin=0, vmax=1)
            if overlay is not None and overlay.max() > 0:
                # Scaled to its 99.5th percentile so that a few extreme saliency pixels do not hide the rest.
                scale = float(np.percentile(overlay[overlay > 0], 99.5))
                shown = np.clip(overlay / max(scale, 1e-12), 0, 1)
                ax.imshow(np.ma.masked_less(shown, 0.2), cmap="jet", alpha=0.5, vmin=0, vmax=1)
                rows, cols = np.nonzero(overlay >= overlay.max() * (1 - 1e-6))  # as peak_pointing
                ax.plot(np.median(cols), np.median(rows), "w+", ms=8, mew=1.5)
            for x0, y0, x1, y1 in sc.catalog.samples[i].boxes:
                ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec="lime", lw=1))
            ax.set_xticks([])
            ax.set_yticks([])
            if col == 0:
                ax.set_ylabel(name)
            if row == 0:
                ax.set_title(f"P(tb) {sc.scores[i]:.2f}", fontsize=8)
    fig.tight_layout()
    _save_small(fig, path)
    plt.close(fig)


def _save_small(fig, path: Path) -> None:
    """A figure as a 256-colour PNG (a few tens of kB for the docs)."""
    import io

    from PIL import Image as PilImage

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    buffer.seek(0)
    with PilImage.open(buffer) as image:
        image.convert("RGB").quantize(256).save(path, optimize=True)


# --- two runs on the same films -------------------------------------------------------------------


def compare(a: Scored, b: Scored, *, n_boot: int = N_BOOT, seed: int = 0) -> dict[str, Any]:
    """Paired bootstrap of (b - a) on the test films both runs hold out (same catalog order)."""
    if [s.patient for s in a.catalog.samples] != [s.patient for s in b.catalog.samples]:
        raise ValueError("the runs' catalogs differ: compare needs the same films in the same order")
    out = {}
    test = (np.asarray(a.roles) == "test") & (np.asarray(b.roles) == "test")
    sources = np.asarray(a.sources)
    sets = {"all held-out test films": test}
    for src in dict.fromkeys(a.sources):
        chosen = test & (sources == src)
        if len(np.unique(a.labels[chosen])) == 2:
            sets[f"{src} test"] = chosen
    if (test & (sources != "shenzhen")).any():
        sets["external test films (not Shenzhen)"] = test & (sources != "shenzhen")
    rng = np.random.default_rng(seed)
    for name, chosen in sets.items():
        idx = np.flatnonzero(chosen)
        y = a.labels[idx]
        pos, neg = idx[y == 1], idx[y == 0]
        entry = {}
        for k, f in FIGURES.items():
            fa, fb = f(a.labels[idx], a.scores[idx]), f(b.labels[idx], b.scores[idx])
            diffs = []
            for _ in range(n_boot):
                bi = np.r_[rng.choice(pos, len(pos)), rng.choice(neg, len(neg))]
                diffs.append(f(b.labels[bi], b.scores[bi]) - f(a.labels[bi], a.scores[bi]))
            entry[k] = {"a": float(fa), "b": float(fb), "b_minus_a": float(fb - fa),
                        "ci95": [float(v) for v in np.percentile(diffs, [2.5, 97.5])]}
        out[name] = {"n": int(len(idx)), **entry}
    return out


# --- report ---------------------------------------------------------------------------------------


def _ci(entry: dict[str, Any], key: str) -> str:
    low, high = entry[f"{key}_ci95"]
    return f"{entry[key]:.3f} ({low:.3f}–{high:.3f})"


def pairs_markdown(table: dict[str, Any]) -> list[str]:
    lines = ["| TB films vs normal films | n TB / normal | AUC (95 % CI) | specificity at 90 % sensitivity | "
             "sensitivity at 70 % specificity |", "| --- | ---: | ---: | ---: | ---: |"]
    for key, e in table["pairs"].items():
        flag = "" if e["same_source"] else " †"
        lines.append(f"| {key}{flag} | {e['n_tb']} / {e['n_normal']} | {_ci(e, 'auc')} | {_ci(e, 'spec_at_90_sens')} | "
                     f"{_ci(e, 'sens_at_70_spec')} |")
    lines += ["", "† TB and normal films from different sources: the figure mixes disease and source differences.", "",
              f"| at the operating threshold P(tb) ≥ {table['threshold']:.4f} | n | rate (Wilson 95 % CI) |",
              "| --- | ---: | ---: |"]
    for key, e in table["rates"].items():
        lines.append(f"| {key} | {e['n']} | {e['value']:.3f} ({e['ci95'][0]:.3f}–{e['ci95'][1]:.3f}) |")
    return lines


def learning_markdown(learning: dict[str, Any]) -> list[str]:
    lines = ["| class (films not trained on) | films per source | source classifier on the features (balanced "
             "accuracy, 5-fold) | chance | TB score: AUC of each source against the first | median P(tb) per source |",
             "| --- | --- | ---: | ---: | --- | --- |"]
    for cls, e in learning.items():
        auc_key = next(k for k in e if k.startswith("score_auc_vs_"))
        aucs = ", ".join(f"{s} {v:.2f}" for s, v in e[auc_key].items())
        medians = ", ".join(f"{s} {v:.2f}" for s, v in e["median_score"].items())
        counts = ", ".join(f"{s} {n}" for s, n in e["sources"].items())
        lines.append(f"| {cls} | {counts} | {e['feature_source_balanced_accuracy']:.3f} | {e['chance']:.2f} | "
                     f"vs {auc_key.removeprefix('score_auc_vs_')}: {aucs} | {medians} |")
    return lines


def to_markdown(name: str, table: dict[str, Any], learning: dict[str, Any]) -> str:
    lines = [f"### `{name}`", "", f"Operating threshold P(tb) ≥ {table['threshold']:.4f} (validation, sensitivity ≥ 0.90).", "",
             "| source | role |", "| --- | --- |"]
    lines += [f"| {s} | {r} |" for s, r in table["roles"].items()]
    lines += ["", *pairs_markdown(table), "", *learning_markdown(learning)]
    return "\n".join(lines)


def apply_to_card(card_file: Path, result: dict[str, Any], split_method: str) -> None:
    """Write the per-source figures into an exported card: every paired set's AUC, specificity at
    90 % sensitivity and sensitivity at 70 % specificity, and every source's rate at the operating
    threshold, each with its 95 % interval and the films it was measured on; what the threshold is;
    what the model was and was not validated on."""
    import dataclasses

    from cxrviewer.core.cards import Metric, load_card, write_card

    card = load_card(card_file, verify_files=False)
    table = result["operating"]
    metrics = []
    for key, e in table["pairs"].items():
        where = f"{key}{'' if e['same_source'] else ' [TB and normal films from different sources]'}: {split_method}"
        for figure in FIGURES:
            metrics.append(Metric(figure, e[figure], where, tuple(e[f"{figure}_ci95"])))
    for key, e in table["rates"].items():
        source, name, role = key.split(" ", 2)
        metrics.append(Metric(f"{name}[{source}]", e["value"], f"{role.strip('()')} {source} ({e['n']} films; "
                              f"{table['roles'][source]}; Wilson 95 % CI): {split_method}", tuple(e["ci95"])))
    t = table["threshold"]
    val_tb = [k.split()[0] for k in table["rates"] if k.endswith("sensitivity (val)")]
    val_normal = [k.split()[0] for k in table["rates"] if k.endswith("specificity (val)")]
    meaning = (f"{card.probability_meaning} The operating threshold P(tb) >= {t:.4f} is the WHO triage target: "
               f"the highest threshold whose sensitivity reached 0.90 on the validation films (TB films of "
               f"{', '.join(val_tb)}; normal films of {', '.join(val_normal)}). A site should calibrate its own "
               "threshold on local films (WHO operational handbook).")
    roles = "; ".join(f"{s}: {r}" for s, r in table["roles"].items())
    limits = (
        f"Sources and what the model saw of them: {roles}.",
        f"Trained on {result['trained_films']} films at 128x128 (squashed). Not validated on "
        "children, HIV-positive populations, other lung disease, AP or portable films, or lateral views.",
        "Only Shenzhen holds both classes here; every figure pairing TB films of one source with normal films of "
        "another mixes disease and source differences. The figure that counts is on a hospital with both classes that "
        "the model never saw (kept outside the project).",
        *(["Its input contract crops to the lungs (lung_crop): it needs the lung model's box for each film "
           "(training.tb_screen.film_lung_box)."] if card.input.needs_lung_box else []),
        *card.limits[1:],
    )
    write_card(dataclasses.replace(card, metrics=tuple(metrics) + tuple(card.metrics), probability_meaning=meaning,
                                   limits=limits), card_file)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="per-source figures and source-learning checks of a tb_screen run")
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--maps", action="store_true", help="pointing game on TBX11K boxes and a figure of maps")
    parser.add_argument("--figures", type=Path, default=None, help="folder for the PNG figures (default: the run)")
    parser.add_argument("--compare", type=Path, default=None, help="another run on the same films (b = this run)")
    parser.add_argument("--compare-only", action="store_true", help="with --compare: only the paired comparison")
    parser.add_argument("--full-resolution", action="store_true",
                        help="also score the other sources' held-out films at their stored resolution (as a viewer would)")
    parser.add_argument("--card", type=Path, default=None, help="an exported card to write the per-source figures into")
    parser.add_argument("--card-only", action="store_true", help="with --card: use the run's tb_eval.json, do not score again")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(1)
    if args.card and args.card_only:
        apply_to_card(args.card, json.loads((args.run_dir / "tb_eval.json").read_text(encoding="utf-8")),
                      Split.load(args.run_dir / "split.json").method)
        return 0
    sc = score_run(args.run_dir)
    if args.compare and args.compare_only:
        figures = compare(score_run(args.compare), sc)
        out = args.run_dir / f"compare-{args.compare.name}.json"
        out.write_text(json.dumps({"a": str(args.compare), "b": str(args.run_dir), "figures": figures}, indent=1),
                       encoding="utf-8")
        print(json.dumps(figures, indent=1))
        return 0
    figures = args.figures or args.run_dir
    figures.mkdir(parents=True, exist_ok=True)
    trained = [s for s, r in zip(sc.sources, sc.roles, strict=True) if r == "train"]
    result: dict[str, Any] = {"run": str(args.run_dir), "operating": operating_table(sc), "source_learning": source_learning(sc),
                              "trained_films": ", ".join(f"{trained.count(s)} {s}" for s in dict.fromkeys(trained))}
    score_figure(sc, figures / f"{sc.config.name}-scores.png", sc.config.name)
    if args.maps:
        result["pointing"] = pointing(sc)
        maps_figure(sc, figures / f"{sc.config.name}-maps.png")
    if args.full_resolution:
        from cxrviewer import paths

        full = score_full_resolution(sc, paths.shared_data_dir())
        result["full_resolution"] = operating_table(full)
        moved = np.asarray(sc.roles) != "train"
        result["full_resolution"]["score_change"] = {
            "median_abs": float(np.median(np.abs(full.scores - sc.scores)[moved])),
            "spearman": float(__import__("scipy.stats").stats.spearmanr(full.scores[moved], sc.scores[moved])[0])}
    if args.compare:
        result["compare"] = {"a": str(args.compare), "b": str(args.run_dir), "figures": compare(score_run(args.compare), sc)}
    np.savez_compressed(args.run_dir / "tb_scores.npz", scores=sc.scores, labels=sc.labels, sources=np.asarray(sc.sources),
                        roles=np.asarray(sc.roles), features=sc.features)
    (args.run_dir / "tb_eval.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    if args.card is not None:
        apply_to_card(args.card, result, Split.load(args.run_dir / "split.json").method)
    text = to_markdown(sc.config.name, result["operating"], result["source_learning"])
    if "pointing" in result:
        text += "\n\n" + result["pointing"]["markdown"]
    if "full_resolution" in result:
        fr = result["full_resolution"]
        text += (f"\n\n#### The other sources at their stored resolution (as a viewer reads them)\n\nscore change against the "
                 f"128x128 films: median |change| {fr['score_change']['median_abs']:.3f}, Spearman "
                 f"{fr['score_change']['spearman']:.3f}\n\n")
        text += "\n".join(pairs_markdown(fr))
    (args.run_dir / "tb_eval.md").write_text(text + "\n", encoding="utf-8")
    print(text)
    if "compare" in result:
        print(json.dumps(result["compare"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
