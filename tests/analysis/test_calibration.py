"""Site calibration maths (analysis.calibration): the ROC and AUC equal to scikit-learn's, the bootstrap
interval recomputed by hand, a binormal outcome set whose ROC is known in closed form, and a small
example whose every figure is worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.metrics import roc_curve as sk_roc_curve

from cxrviewer.analysis import calibration as cal


def phi(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


@pytest.mark.parametrize("seed", range(6))
def test_roc_and_auc_equal_scikit_learn_with_ties(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(8, 400))
    y = rng.random(n) < rng.uniform(0.1, 0.9)
    y[:2] = (True, False)
    # Scores on a coarse grid: many ties, within and across the classes.
    s = np.round(rng.normal(0.8 * y, 1.0) * 3) / 3
    roc = cal.roc_curve(y, s)
    fpr, tpr, thresholds = sk_roc_curve(y, s, drop_intermediate=False)
    np.testing.assert_array_equal(roc.thresholds, thresholds)
    np.testing.assert_allclose(roc.fpr, fpr, rtol=0, atol=1e-15)
    np.testing.assert_allclose(roc.tpr, tpr, rtol=0, atol=1e-15)
    assert roc.auc == pytest.approx(roc_auc_score(y, s), abs=1e-12)


def test_an_roc_needs_both_outcomes():
    with pytest.raises(ValueError, match="both positive and negative"):
        cal.roc_curve([True, True], [0.2, 0.3])
    with pytest.raises(ValueError, match="both positive and negative"):
        cal.calibrate([False, False, False], [0.2, 0.3, 0.4])


def test_the_bootstrap_resamples_each_outcome_and_is_seeded():
    rng = np.random.default_rng(3)
    y = rng.random(60) < 0.4
    s = np.round(rng.normal(y * 1.0, 1.0), 1)
    # One resample: the same draws by hand (positives, then negatives), scored by scikit-learn.
    draw = np.random.default_rng(11)
    pos, neg = s[y], s[~y]
    p = pos[draw.integers(0, pos.size, (1, pos.size))][0]
    n = neg[draw.integers(0, neg.size, (1, neg.size))][0]
    expected = roc_auc_score(np.r_[np.ones(p.size), np.zeros(n.size)], np.r_[p, n])
    low, high = cal.bootstrap_auc_interval(y, s, n_boot=1, seed=11)
    assert low == pytest.approx(expected, abs=1e-12) and high == pytest.approx(expected, abs=1e-12)
    assert cal.bootstrap_auc_interval(y, s, seed=5) == cal.bootstrap_auc_interval(y, s, seed=5)
    assert cal.bootstrap_auc_interval(y, s, seed=5) != cal.bootstrap_auc_interval(y, s, seed=6)


def test_a_binormal_outcome_set_gives_its_known_roc():
    # Negatives N(0, 1), positives N(d, 1): AUC = Phi(d / sqrt 2); at threshold t the sensitivity is
    # 1 - Phi(t - d) and the specificity Phi(t).
    d = 1.5
    rng = np.random.default_rng(20261206)
    y = np.r_[np.ones(1500, bool), np.zeros(2500, bool)]
    s = np.r_[rng.normal(d, 1, 1500), rng.normal(0, 1, 2500)]
    c = cal.calibrate(y, s, seed=1)
    true_auc = phi(d / math.sqrt(2))
    assert c.auc_ci[0] <= true_auc <= c.auc_ci[1], (c.auc, c.auc_ci, true_auc)
    assert c.auc_ci[1] - c.auc_ci[0] < 0.04
    assert c.auc == pytest.approx(true_auc, abs=0.02)
    covered = 0
    for t in (-0.5, 0.5, 1.0, 2.0):
        point = c.at(t)
        for estimate, ci, truth, n in ((point.sensitivity, point.sensitivity_ci, 1 - phi(t - d), 1500),
                                       (point.specificity, point.specificity_ci, phi(t), 2500)):
            assert abs(estimate - truth) < 3.5 * math.sqrt(truth * (1 - truth) / n), (t, estimate, truth)
            covered += ci[0] <= truth <= ci[1]
    assert covered >= 6  # of 8 intervals at 95 %
    # Target sensitivity 0.90: the threshold lies near the positives' 10th centile, d + Phi^-1(0.1).
    chosen = c.at(c.for_sensitivity(0.90))
    assert chosen.sensitivity >= 0.90 and chosen.threshold == pytest.approx(d - 1.2816, abs=0.1)
    assert chosen.specificity_ci[0] <= phi(d - 1.2816) + 0.04 and phi(d - 1.2816) - 0.04 <= chosen.specificity_ci[1]


def test_the_auc_interval_covers_the_true_auc_about_95_times_in_100():
    d, true_auc, covered = 1.0, phi(1.0 / math.sqrt(2)), 0
    rng = np.random.default_rng(7)
    trials = 120
    for trial in range(trials):
        y = np.r_[np.ones(60, bool), np.zeros(90, bool)]
        s = np.r_[rng.normal(d, 1, 60), rng.normal(0, 1, 90)]
        low, high = cal.bootstrap_auc_interval(y, s, n_boot=400, seed=trial)
        covered += low <= true_auc <= high
    assert 0.88 <= covered / trials <= 0.99, covered


# Positives 0.9 0.8 0.6 0.4, negatives 0.7 0.5 0.3 0.2 0.1 0.05.
HAND_SCORES = [0.9, 0.8, 0.6, 0.4, 0.7, 0.5, 0.3, 0.2, 0.1, 0.05]
HAND_OUTCOMES = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]


def test_a_small_example_worked_by_hand():
    c = cal.calibrate(HAND_OUTCOMES, HAND_SCORES, n_boot=200)
    assert c.auc == pytest.approx(21 / 24)  # 6 + 6 + 5 + 4 of the 24 pairs
    assert c.sample_prevalence == pytest.approx(0.4)
    p = c.at(0.5, prevalence=0.02)  # calls 0.9 0.8 0.6 (TP), 0.7 0.5 (FP)
    assert (p.true_positives, p.false_negatives, p.false_positives, p.true_negatives) == (3, 1, 2, 4)
    assert p.sensitivity == pytest.approx(0.75) and p.specificity == pytest.approx(4 / 6)
    # Wilson 95 % intervals as published (Newcombe 1998): 3/4 → 0.3006-0.9544; 4/6 → 0.3000-0.9032.
    assert p.sensitivity_ci == pytest.approx((0.3006, 0.9544), abs=5e-5)
    assert p.specificity_ci == pytest.approx((0.3000, 0.9032), abs=5e-5)
    # Per 1,000 screened at 2 %: 20 cases, 15 found, 5 missed; 980 without, a third of them called.
    assert p.found_per_1000 == pytest.approx(15.0)
    assert p.missed_per_1000 == pytest.approx(5.0)
    assert p.tests_per_1000 == pytest.approx(15 + 980 / 3)
    assert p.ppv == pytest.approx(15 / (15 + 980 / 3))
    assert p.npv == pytest.approx((980 * 2 / 3) / (980 * 2 / 3 + 5))
    own = c.at(0.5)  # the sample's prevalence, 40 %: PPV is then 3 / 5 as counted
    assert own.prevalence == pytest.approx(0.4) and own.ppv == pytest.approx(3 / 5) and own.npv == pytest.approx(4 / 5)
    assert c.for_sensitivity(0.90) == 0.4 and c.for_sensitivity(1.0) == 0.4
    assert c.for_sensitivity(0.75) == 0.6 and c.for_sensitivity(0.5) == 0.8 and c.for_sensitivity(0.25) == 0.9
    assert c.at(0.4).specificity == pytest.approx(4 / 6)
    assert cal.wilson_interval(0, 5) == pytest.approx((0.0, 0.4345), abs=5e-5)


def test_the_threshold_for_a_target_sensitivity_is_the_highest_that_reaches_it():
    rng = np.random.default_rng(4)
    y = rng.random(200) < 0.3
    s = np.round(rng.normal(y * 1.2, 1), 1)  # ties
    table = cal.operating_table(y, s)
    for target in (0.5, 0.8, 0.9, 0.95, 1.0):
        t = cal.threshold_for_sensitivity(y, s, target)
        assert cal.operating_point(y, s, t).sensitivity >= target
        assert all(row.sensitivity < target for row in table if row.threshold > t)


def test_the_table_has_a_row_per_distinct_score_equal_to_each_point():
    rng = np.random.default_rng(5)
    y = rng.random(80) < 0.5
    s = np.round(rng.random(80), 2)
    table = cal.operating_table(y, s, prevalence=0.05)
    assert [row.threshold for row in table] == sorted(set(s.tolist()), reverse=True)
    for row in table[::7]:
        assert row == cal.operating_point(y, s, row.threshold, prevalence=0.05)


def test_subgroups_by_age_band_and_sex():
    ages = [20, 40, 70, None, 30, 10, 60, 45, 50, 36]
    sexes = ["F", "M", "F", "M", None, "F", "M", "F", "M", "F"]
    c = cal.calibrate(HAND_OUTCOMES, HAND_SCORES, ages=ages, sexes=sexes, n_boot=100)
    groups = {g.name: g for g in c.groups}
    assert set(groups) == {"age <15", "age 15-34", "age 35-54", "age 55+", "age unknown", "male", "female",
                           "sex unknown"}
    female = groups["female"]  # films 0 2 5 7 9: positives 0.9 0.6, negatives 0.5 0.2 0.05
    assert (female.positives, female.negatives) == (2, 3) and female.auc == pytest.approx(1.0)
    assert groups["age <15"].auc is None and groups["age <15"].auc_ci is None  # one negative film only
    at = dict((g.name, p) for g, p in c.subgroups(0.5))
    assert at["male"].sensitivity == pytest.approx(1 / 2) and at["male"].specificity == 1.0  # 0.8 0.4 / 0.3 0.1
    assert not cal.calibrate(HAND_OUTCOMES, HAND_SCORES, ages=[None] * 10, n_boot=10).groups


def test_the_short_table_marks_the_card_and_chosen_rows():
    c = cal.calibrate(HAND_OUTCOMES, HAND_SCORES, n_boot=10)
    rows = c.short_table({"card": 0.55, "chosen": 0.4}, prevalence=0.02)
    thresholds = [p.threshold for _, p in rows]
    assert thresholds == sorted(thresholds, reverse=True)
    marks = {p.threshold: mark for mark, p in rows}
    assert marks[0.55] == "card" and marks[0.4].startswith("chosen") and "sens >= 0.90" in marks[0.4]
