"""Patient-grouped splits: hold-out (train/val/test) and k-fold, stratified where labels allow.

No patient ever sits on two sides: every split is made on patients (sklearn `StratifiedGroupKFold`
for labelled data, `GroupShuffleSplit` otherwise) and checked before it is returned. The split is
saved with the run (`Split.save`) so the card can name it and evaluation can reproduce it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from sklearn.model_selection import GroupShuffleSplit, StratifiedGroupKFold

from cxrviewer.core.errors import ConfigError


@dataclass(frozen=True)
class Split:
    """Indices into a catalog's samples. `test` may be empty (k-fold: the held-out fold is `test`).
    `external`: a source or named part that plays no part in training or selection (`part_split`),
    evaluated after training and reported with scope "external"; `test` is the internal hold-out."""

    train: tuple[int, ...]
    val: tuple[int, ...]
    test: tuple[int, ...]
    method: str
    external: tuple[int, ...] = ()

    PARTS = ("train", "val", "test", "external")

    def check_disjoint(self, patients: Sequence[str]) -> None:
        """Raise if any patient appears in two parts (a guard on our own code, not user input)."""
        sets = {name: {patients[i] for i in getattr(self, name)} for name in self.PARTS}
        for i, a in enumerate(self.PARTS):
            for b in self.PARTS[i + 1:]:
                shared = sets[a] & sets[b]
                if shared:
                    raise AssertionError(f"patients in both {a} and {b}: {sorted(shared)[:5]}")

    def to_dict(self, paths: Sequence[str] = (), patients: Sequence[str] = ()) -> dict:
        d: dict = {"method": self.method}
        for name in self.PARTS if self.external else self.PARTS[:3]:
            idx = getattr(self, name)
            d[name] = {"index": list(idx)}
            if paths:
                d[name]["paths"] = [paths[i] for i in idx]
            if patients:
                d[name]["patients"] = sorted({patients[i] for i in idx})
        return d

    def save(self, path: Path, paths: Sequence[str] = (), patients: Sequence[str] = ()) -> None:
        path.write_text(json.dumps(self.to_dict(paths, patients), indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Split:
        d = json.loads(path.read_text(encoding="utf-8"))
        return cls(*(tuple(d[name]["index"]) for name in ("train", "val", "test")), method=d["method"],
                   external=tuple(d.get("external", {}).get("index", ())))


def _strata(labels: Sequence[tuple[int, ...]]) -> npt.NDArray[np.int64] | None:
    """One stratum per distinct label set; None when nothing to stratify (image-to-image)."""
    if not labels or all(len(lab) == 0 for lab in labels):
        return None
    keys = {lab: i for i, lab in enumerate(sorted(set(labels)))}
    return np.array([keys[lab] for lab in labels], dtype=np.int64)


def _one_cut(
    indices: npt.NDArray[np.int64], strata: npt.NDArray[np.int64] | None, groups: npt.NDArray,
    fraction: float, seed: int,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(rest, held) with about `fraction` of `indices` held out, grouped by patient."""
    n_groups = len(set(groups[indices]))
    folds = max(2, round(1 / fraction))
    if strata is not None and n_groups >= folds:
        splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
        rest, held = next(splitter.split(indices, strata[indices], groups[indices]))
    else:
        splitter = GroupShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
        rest, held = next(splitter.split(indices, groups=groups[indices]))
    return indices[rest], indices[held]


def holdout_split(
    labels: Sequence[tuple[int, ...]], patients: Sequence[str], *, val_fraction: float, test_fraction: float,
    seed: int,
) -> Split:
    """Train / validation / test by patient, stratified by label set where there are labels."""
    groups = np.asarray(patients)
    if len(set(patients)) < 3:
        raise ConfigError(f"only {len(set(patients))} patient(s): at least 3 are needed for train/val/test")
    strata = _strata(labels)
    all_idx = np.arange(len(patients))
    rest, test = (all_idx, all_idx[:0]) if test_fraction == 0 else _one_cut(all_idx, strata, groups, test_fraction, seed)
    train, val = _one_cut(rest, strata, groups, val_fraction / (1 - test_fraction), seed + 1)
    split = Split(tuple(sorted(train.tolist())), tuple(sorted(val.tolist())), tuple(sorted(test.tolist())),
                  method=f"holdout by patient val={val_fraction} test={test_fraction} seed={seed}")
    split.check_disjoint(patients)
    return split


def kfold_splits(
    labels: Sequence[tuple[int, ...]], patients: Sequence[str], *, folds: int, val_fraction: float, seed: int
) -> list[Split]:
    """k folds by patient (Rajaraman 2021 used 4): fold i tests on part i; its validation set is cut
    from the remaining patients, so model selection never sees the test fold."""
    groups = np.asarray(patients)
    if len(set(patients)) < folds:
        raise ConfigError(f"{folds}-fold split needs at least {folds} patients, got {len(set(patients))}")
    strata = _strata(labels)
    all_idx = np.arange(len(patients))
    if strata is not None:
        parts = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed).split(all_idx, strata, groups)
    else:
        rng = np.random.default_rng(seed)
        unique = rng.permutation(np.unique(groups))
        fold_of = {g: i % folds for i, g in enumerate(unique)}
        parts = [(all_idx[[fold_of[g] != f for g in groups]], all_idx[[fold_of[g] == f for g in groups]])
                 for f in range(folds)]
    splits = []
    for f, (rest, test) in enumerate(parts):
        train, val = _one_cut(np.asarray(rest), strata, groups, val_fraction, seed + 1 + f)
        split = Split(tuple(sorted(train.tolist())), tuple(sorted(val.tolist())), tuple(sorted(np.asarray(test).tolist())),
                      method=f"fold {f} of {folds} by patient seed={seed}")
        split.check_disjoint(patients)
        splits.append(split)
    return splits


def source_role_split(
    labels: Sequence[tuple[int, ...]], patients: Sequence[str], origins: Sequence[str], *,
    val_sources: Sequence[str], test_sources: Sequence[str], val_fraction: float, test_fraction: float, seed: int,
) -> Split:
    """Whole sources kept out of training (issue 16: select on a source the model never saw).

    origins[i] names item i's source. A source only in `val_sources` is all validation, only in
    `test_sources` all test, in both halved by patient (stratified). Every other source is a training
    source: with `val_sources` it is split into train and test only (`test_fraction`; validation
    then holds no image of a source the model was trained on); without, into train/val/test as
    `holdout_split` does."""
    groups = np.asarray(patients)
    strata = _strata(labels)
    origins = list(origins)
    known = set(origins)
    unknown = sorted((set(val_sources) | set(test_sources)) - known)
    if unknown:
        raise ConfigError(f"split.val_sources/test_sources name {unknown}, not sources of this data: {sorted(known)}")
    parts: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    for origin in dict.fromkeys(origins):
        members = np.array([i for i, o in enumerate(origins) if o == origin], dtype=np.int64)
        in_val, in_test = origin in val_sources, origin in test_sources
        if in_val and in_test:
            first, second = _one_cut(members, strata, groups, 0.5, seed)
            parts["val"] += first.tolist()
            parts["test"] += second.tolist()
        elif in_val or in_test:
            parts["val" if in_val else "test"] += members.tolist()
        elif val_sources:
            rest, held = (members, members[:0]) if test_fraction == 0 else _one_cut(members, strata, groups, test_fraction, seed)
            parts["train"] += rest.tolist()
            parts["test"] += held.tolist()
        else:
            rest, held = (members, members[:0]) if test_fraction == 0 else _one_cut(members, strata, groups, test_fraction, seed)
            train, val = _one_cut(rest, strata, groups, val_fraction / (1 - test_fraction), seed + 1)
            parts["train"] += train.tolist()
            parts["val"] += val.tolist()
            parts["test"] += held.tolist()
    if not parts["train"] or not parts["val"]:
        raise ConfigError("split.val_sources/test_sources leave no training or no validation images")
    trained = [o for o in dict.fromkeys(origins) if o not in val_sources and o not in test_sources]
    split = Split(*(tuple(sorted(parts[name])) for name in ("train", "val", "test")),
                  method=f"by source seed={seed}: trained on {', '.join(trained)} (test_fraction={test_fraction} of each "
                         f"held out); validation {', '.join(val_sources) or 'a split of the training sources'}; "
                         f"test {', '.join(test_sources) or 'none'} (a source in both is halved by patient)")
    split.check_disjoint(patients)
    return split


def part_split(
    labels: Sequence[tuple[int, ...]], patients: Sequence[str], parts: Sequence[str], *,
    val_parts: Sequence[str], external: Sequence[str], test_fraction: float, seed: int, rule: str = "parts",
) -> Split:
    """Train / shifted validation / internal test / external test by named part (issue 17).

    parts[i] names item i's part (another acquisition period, another hospital, a source). Items of
    `external` parts are the external test: never trained on, never used to select. Items of
    `val_parts` are the validation: model selection on a shifted part, not a random split. Every other
    part is trained on, with `test_fraction` of its patients (stratified) held out as the internal test.
    A patient must lie in one part only."""
    groups = np.asarray(patients)
    strata = _strata(labels)
    part_of: dict[str, str] = {}
    for patient, part in zip(patients, parts, strict=True):
        if part_of.setdefault(patient, part) != part:
            raise ConfigError(f"patient {patient} lies in two parts, {part_of[patient]} and {part}")
    known = set(parts)
    unknown = sorted((set(val_parts) | set(external)) - known)
    if unknown:
        raise ConfigError(f"split.val_parts/external name {unknown}, not parts of this data: {sorted(known)}")
    role = ["external" if p in external else "val" if p in val_parts else "train" for p in parts]
    chosen = {name: np.array([i for i, r in enumerate(role) if r == name], dtype=np.int64)
              for name in ("train", "val", "external")}
    if not len(chosen["train"]) or not len(chosen["val"]):
        raise ConfigError("split.val_parts/external leave no training or no validation images")
    train, test = chosen["train"], chosen["train"][:0]
    if test_fraction:
        train, test = _one_cut(chosen["train"], strata, groups, test_fraction, seed)
    trained = [p for p in dict.fromkeys(parts) if p not in val_parts and p not in external]
    split = Split(tuple(sorted(train.tolist())), tuple(sorted(chosen["val"].tolist())), tuple(sorted(test.tolist())),
                  method=f"by {rule} seed={seed}: trained on {', '.join(trained)} ({test_fraction} of its patients held "
                         f"out as the internal test); validation {', '.join(val_parts)}; external test "
                         f"{', '.join(external) or 'none'}",
                  external=tuple(sorted(chosen["external"].tolist())))
    split.check_disjoint(patients)
    return split
