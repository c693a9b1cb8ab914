"""Site calibration maths: a model's ROC on a site's own films with confirmed outcomes, and what each
threshold would mean for the site's screening programme.

WHO's operational guidance on CAD for TB asks every programme to choose its threshold on its own
population: the same score means another sensitivity on another machine, population and prevalence.
From (outcome, score) pairs this gives the ROC and its AUC with a stratified bootstrap 95 % interval
(seeded), and per threshold the sensitivity and specificity with Wilson 95 % intervals, PPV and NPV
at the programme's prevalence (the sample's own by default; a screening programme enters its
expected 0.5-5 %), confirmatory tests per 1,000 screened and cases found and missed per 1,000. A
film is called positive when its score reaches the threshold (score >= threshold), as the viewer
calls it. Subgroups (age band, sex) get their own AUC and figures at the chosen threshold.

Kept in numpy so the viewer bundle (no scikit-learn) calibrates; tests hold the ROC and AUC equal to
scikit-learn's `roc_curve(drop_intermediate=False)` and `roc_auc_score`. Wilson rather than exact
(Clopper-Pearson) intervals: the exact one needs the beta quantile (scipy), and Wilson keeps close
to nominal coverage at the small counts a site has. A threshold picked on the same films as its
figures flatters them a little; the intervals say how little the films can tell.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Z95 = 1.959963984540054
N_BOOT = 2000
DEFAULT_TARGET_SENSITIVITY = 0.90
# Rows of the short table: the highest threshold reaching each of these sensitivities.
TABLE_SENSITIVITIES = (0.99, 0.95, 0.90, 0.85, 0.80, 0.70, 0.60, 0.50)
AGE_BANDS = ((0.0, 15.0, "age <15"), (15.0, 35.0, "age 15-34"), (35.0, 55.0, "age 35-54"),
             (55.0, math.inf, "age 55+"))
SEX_NAMES = {"M": "male", "F": "female", "O": "other sex"}
_BOOT_CHUNK = 256

Bools = npt.NDArray[np.bool_]
Floats = npt.NDArray[np.float64]


def _check(outcomes: npt.ArrayLike, scores: npt.ArrayLike) -> tuple[Bools, Floats]:
    y, s = np.asarray(outcomes, dtype=bool).ravel(), np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError(f"{y.size} outcomes for {s.size} scores")
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite")
    return y, s


@dataclass(frozen=True, eq=False)
class Roc:
    """The full ROC (every distinct score a threshold), as scikit-learn's roc_curve with
    drop_intermediate=False. thresholds: (T,) float64 descending, the first +inf (nothing called);
    fpr, tpr: (T,) float64 in [0, 1], the rates when films with score >= threshold are called."""

    thresholds: Floats
    fpr: Floats
    tpr: Floats

    @property
    def auc(self) -> float:
        """Area under the curve by the trapezoid rule (= P(positive scores above negative), ties half)."""
        return float(np.trapezoid(self.tpr, self.fpr))


def roc_curve(outcomes: npt.ArrayLike, scores: npt.ArrayLike) -> Roc:
    """outcomes (N,) bool/0-1 (True = positive), scores (N,) finite floats → the ROC.
    Raises ValueError without both positives and negatives."""
    y, s = _check(outcomes, scores)
    if y.all() or not y.any():
        raise ValueError("an ROC needs both positive and negative films")
    order = np.argsort(-s, kind="stable")
    s, y = s[order], y[order]
    last_of_each = np.r_[np.flatnonzero(np.diff(s)), s.size - 1]
    tps = np.cumsum(y)[last_of_each]
    fps = (last_of_each + 1) - tps
    return Roc(np.r_[np.inf, s[last_of_each]], np.r_[0.0, fps / fps[-1]], np.r_[0.0, tps / tps[-1]])


def _dense_ranks(values: Floats) -> npt.NDArray[np.int64]:
    return np.unique(values, return_inverse=True)[1].astype(np.int64)


def bootstrap_auc_interval(outcomes: npt.ArrayLike, scores: npt.ArrayLike, *, n_boot: int = N_BOOT, seed: int = 0,
                           level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of the AUC over `n_boot` stratified resamples (positives and negatives each
    resampled with replacement at their own count, so every resample has both), seeded."""
    y, s = _check(outcomes, scores)
    ranks = _dense_ranks(s)
    pos, neg = ranks[y], ranks[~y]
    if pos.size == 0 or neg.size == 0:
        raise ValueError("an AUC needs both positive and negative films")
    rng = np.random.default_rng(seed)
    span = int(ranks.max()) + 1
    aucs = np.empty(n_boot)
    for start in range(0, n_boot, _BOOT_CHUNK):
        b = min(_BOOT_CHUNK, n_boot - start)
        p = pos[rng.integers(0, pos.size, (b, pos.size))]
        n = np.sort(neg[rng.integers(0, neg.size, (b, neg.size))], axis=1)
        # One sorted array for all rows: row r's values shifted by r * span never mix with another row's.
        offset = (np.arange(b) * span)[:, None]
        flat = (n + offset).ravel()
        below = np.searchsorted(flat, p + offset, side="left") - (offset // span) * neg.size
        not_above = np.searchsorted(flat, p + offset, side="right") - (offset // span) * neg.size
        aucs[start:start + b] = (below + not_above).sum(axis=1) / (2.0 * pos.size * neg.size)
    tail = (1 - level) / 2
    low, high = np.quantile(aucs, [tail, 1 - tail])
    return float(low), float(high)


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion successes / n; (nan, nan) for n = 0."""
    if n == 0:
        return math.nan, math.nan
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    # At 0 or n successes the interval's end is exactly 0 or 1; rounding must not move it.
    return (0.0 if successes == 0 else max(0.0, centre - half)), (1.0 if successes == n else min(1.0, centre + half))


@dataclass(frozen=True)
class OperatingPoint:
    """What calling films with score >= threshold gives: counts on the films, rates with Wilson 95 %
    intervals, and at `prevalence` (a fraction) the predictive values and, per 1,000 screened, the
    films sent for a confirmatory test and the cases found and missed."""

    threshold: float
    true_positives: int
    false_negatives: int
    false_positives: int
    true_negatives: int
    sensitivity: float
    sensitivity_ci: tuple[float, float]
    specificity: float
    specificity_ci: tuple[float, float]
    prevalence: float
    ppv: float
    npv: float
    tests_per_1000: float
    found_per_1000: float
    missed_per_1000: float


def operating_point(outcomes: npt.ArrayLike, scores: npt.ArrayLike, threshold: float,
                    prevalence: float | None = None) -> OperatingPoint:
    """The figures at one threshold; prevalence None means the sample's own."""
    y, s = _check(outcomes, scores)
    called = s >= threshold
    tp, fn = int((called & y).sum()), int((~called & y).sum())
    fp, tn = int((called & ~y).sum()), int((~called & ~y).sum())
    return _point(float(threshold), tp, fn, fp, tn, _prevalence(y, prevalence))


def _prevalence(y: Bools, prevalence: float | None) -> float:
    if prevalence is None:
        return float(y.mean())
    if not 0 < prevalence < 1:
        raise ValueError(f"prevalence must lie strictly between 0 and 1, not {prevalence}")
    return float(prevalence)


def _point(threshold: float, tp: int, fn: int, fp: int, tn: int, prevalence: float) -> OperatingPoint:
    sens = tp / (tp + fn) if tp + fn else math.nan
    spec = tn / (tn + fp) if tn + fp else math.nan
    found = sens * prevalence
    false_alarms = (1 - spec) * (1 - prevalence)
    called = found + false_alarms
    cleared = spec * (1 - prevalence) + (1 - sens) * prevalence
    return OperatingPoint(
        threshold, tp, fn, fp, tn, sens, wilson_interval(tp, tp + fn), spec, wilson_interval(tn, tn + fp), prevalence,
        found / called if called > 0 else math.nan, spec * (1 - prevalence) / cleared if cleared > 0 else math.nan,
        1000 * called, 1000 * found, 1000 * (1 - sens) * prevalence)


def operating_table(outcomes: npt.ArrayLike, scores: npt.ArrayLike,
                    prevalence: float | None = None) -> list[OperatingPoint]:
    """One row per distinct score as the threshold, highest first (the ROC's points but its +inf)."""
    y, s = _check(outcomes, scores)
    roc = roc_curve(y, s)
    p_count, n_count = int(y.sum()), int((~y).sum())
    tps = np.rint(roc.tpr * p_count).astype(int)
    fps = np.rint(roc.fpr * n_count).astype(int)
    prev = _prevalence(y, prevalence)
    return [_point(float(t), int(tp), p_count - int(tp), int(fp), n_count - int(fp), prev)
            for t, tp, fp in zip(roc.thresholds[1:], tps[1:], fps[1:], strict=True)]


def threshold_for_sensitivity(outcomes: npt.ArrayLike, scores: npt.ArrayLike,
                              target: float = DEFAULT_TARGET_SENSITIVITY) -> float:
    """The highest threshold (a film's score) whose sensitivity is >= target, target in (0, 1]."""
    if not 0 < target <= 1:
        raise ValueError(f"target sensitivity must lie in (0, 1], not {target}")
    y, s = _check(outcomes, scores)
    positives = np.sort(s[y])[::-1]
    if positives.size == 0:
        raise ValueError("a sensitivity needs positive films")
    # Calling the k highest-scoring positives needs threshold positives[k-1]; ties may call more.
    needed = math.ceil(target * positives.size - 1e-9)
    return float(positives[max(needed, 1) - 1])


@dataclass(frozen=True, eq=False)
class Group:
    """A subgroup of the films: name ("female", "age 35-54"), mask (N,) bool over the films, and its
    AUC with the bootstrap interval (None when it lacks positives or negatives)."""

    name: str
    mask: Bools
    positives: int
    negatives: int
    auc: float | None
    auc_ci: tuple[float, float] | None


@dataclass(frozen=True, eq=False)
class Calibration:
    """A model's scores on a site's films with their outcomes (N,), and what follows from them
    whatever the threshold: the ROC, the AUC with its interval, the subgroups."""

    outcomes: Bools
    scores: Floats
    roc: Roc
    auc: float
    auc_ci: tuple[float, float]
    n_boot: int
    seed: int
    groups: tuple[Group, ...]

    @property
    def films(self) -> int:
        return int(self.outcomes.size)

    @property
    def positives(self) -> int:
        return int(self.outcomes.sum())

    @property
    def sample_prevalence(self) -> float:
        return float(self.outcomes.mean())

    def at(self, threshold: float, prevalence: float | None = None) -> OperatingPoint:
        return operating_point(self.outcomes, self.scores, threshold, prevalence)

    def for_sensitivity(self, target: float = DEFAULT_TARGET_SENSITIVITY) -> float:
        return threshold_for_sensitivity(self.outcomes, self.scores, target)

    def table(self, prevalence: float | None = None) -> list[OperatingPoint]:
        return operating_table(self.outcomes, self.scores, prevalence)

    def short_table(self, marked: dict[str, float], prevalence: float | None = None) -> list[tuple[str, OperatingPoint]]:
        """(mark, point) rows, highest threshold first: the highest threshold reaching each of
        TABLE_SENSITIVITIES (mark "sens >= 0.90"), and each of `marked` ({"card": 0.64, ...}). One
        row per threshold, marks joined."""
        rows: dict[float, list[str]] = {}
        for target in TABLE_SENSITIVITIES:
            rows.setdefault(self.for_sensitivity(target), []).append(f"sens >= {target:.2f}")
        for mark, threshold in marked.items():
            rows.setdefault(float(threshold), []).insert(0, mark)
        return [(", ".join(dict.fromkeys(rows[t])), self.at(t, prevalence)) for t in sorted(rows, reverse=True)]

    def subgroups(self, threshold: float) -> list[tuple[Group, OperatingPoint]]:
        """Each subgroup with its figures at `threshold` (its own films' prevalence)."""
        return [(g, operating_point(self.outcomes[g.mask], self.scores[g.mask], threshold)) for g in self.groups]


def calibrate(outcomes: npt.ArrayLike, scores: npt.ArrayLike, *, ages: Sequence[float | None] | None = None,
              sexes: Sequence[str | None] | None = None, n_boot: int = N_BOOT, seed: int = 0) -> Calibration:
    """outcomes (N,) True = confirmed positive, scores (N,) the model's → the Calibration.

    ages: years per film or None where unknown; sexes: "M", "F", "O" or None. Subgroups are formed
    only when some film has the fact; films without it form an "unknown" group. Raises ValueError
    without both positives and negatives.
    """
    y, s = _check(outcomes, scores)
    roc = roc_curve(y, s)
    groups = [*_age_groups(ages, y.size), *_sex_groups(sexes, y.size)]
    return Calibration(y, s, roc, roc.auc, bootstrap_auc_interval(y, s, n_boot=n_boot, seed=seed), n_boot, seed,
                       tuple(_group(name, mask, y, s, n_boot, seed) for name, mask in groups))


def _group(name: str, mask: Bools, y: Bools, s: Floats, n_boot: int, seed: int) -> Group:
    pos, neg = int((y & mask).sum()), int((~y & mask).sum())
    if pos and neg:
        auc = roc_curve(y[mask], s[mask]).auc
        return Group(name, mask, pos, neg, auc, bootstrap_auc_interval(y[mask], s[mask], n_boot=n_boot, seed=seed))
    return Group(name, mask, pos, neg, None, None)


def _age_groups(ages: Sequence[float | None] | None, n: int) -> list[tuple[str, Bools]]:
    if ages is None or all(a is None for a in ages):
        return []
    if len(ages) != n:
        raise ValueError(f"{len(ages)} ages for {n} films")
    years = np.array([math.nan if a is None else float(a) for a in ages])
    groups = [(name, (years >= low) & (years < high)) for low, high, name in AGE_BANDS]
    groups.append(("age unknown", np.isnan(years)))
    return [(name, mask) for name, mask in groups if mask.any()]


def _sex_groups(sexes: Sequence[str | None] | None, n: int) -> list[tuple[str, Bools]]:
    if sexes is None or all(x is None for x in sexes):
        return []
    if len(sexes) != n:
        raise ValueError(f"{len(sexes)} sexes for {n} films")
    codes = np.array([x or "" for x in sexes])
    groups = [(name, codes == code) for code, name in SEX_NAMES.items()]
    groups.append(("sex unknown", codes == ""))
    return [(name, mask) for name, mask in groups if mask.any()]
