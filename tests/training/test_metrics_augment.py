"""Metrics against scikit-learn and hand-computed values; augmentation keeps pairs aligned."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score, matthews_corrcoef, roc_auc_score

from cxrviewer.training.augment import augment
from cxrviewer.training.config import AugmentConfig
from cxrviewer.training.metrics import (
    binary_metrics,
    bootstrap_auc,
    calibration,
    choose_threshold,
    image_metrics,
    multiclass_metrics,
    segmentation_metrics,
)


def test_binary_metrics_by_hand():
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    s = np.array([0.1, 0.2, 0.3, 0.7, 0.4, 0.6, 0.8, 0.9])
    out = binary_metrics(y, s, 0.5, n_boot=200)
    # At 0.5: TP 3 (0.6, 0.8, 0.9), FN 1 (0.4), FP 1 (0.7), TN 3.
    assert out["confusion"] == [[3, 1], [1, 3]]
    assert (out["sensitivity"], out["specificity"], out["precision"], out["accuracy"]) == (0.75, 0.75, 0.75, 0.75)
    assert out["auc"] == pytest.approx(roc_auc_score(y, s)) == pytest.approx(14 / 16)
    assert out["mcc"] == pytest.approx(matthews_corrcoef(y, s >= 0.5)) == pytest.approx(0.5)
    low, high = out["auc_ci95"]
    assert low < out["auc"] <= high <= 1.0


def test_bootstrap_ci_narrows_with_more_cases():
    rng = np.random.default_rng(0)
    widths = []
    for n in (40, 400):
        y = rng.integers(0, 2, n)
        s = y * 0.5 + rng.random(n)
        auc, low, high = bootstrap_auc(y, s, n_boot=300)
        assert auc == pytest.approx(roc_auc_score(y, s))
        widths.append(high - low)
    assert widths[1] < 0.6 * widths[0]


def test_thresholds_youden_and_target_sensitivity():
    y = np.array([0, 0, 0, 1, 1, 1])
    s = np.array([0.1, 0.3, 0.35, 0.4, 0.8, 0.9])
    assert choose_threshold(y, s, "youden") == pytest.approx(0.4)  # separates perfectly: J = 1
    assert choose_threshold(y, s, "sensitivity", 0.6) == pytest.approx(0.8)  # 2 of 3 found at 0.8


def test_multiclass_macro_f1_matches_sklearn():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 90)
    prob = rng.dirichlet([1, 1, 1], 90)
    prob[np.arange(90), y] += 0.5
    prob /= prob.sum(1, keepdims=True)
    out = multiclass_metrics(y, prob, n_boot=50)
    assert out["f1"] == pytest.approx(f1_score(y, prob.argmax(1), average="macro"))
    assert out["auc"] == pytest.approx(roc_auc_score(y, prob, multi_class="ovr"))
    assert np.sum(out["confusion"]) == 90
    per_class = f1_score(y, prob.argmax(1), average=None)
    assert out["f1_per_class"] == pytest.approx(per_class.tolist())
    low, high = out["f1_ci95"]
    assert low < out["f1"] < high
    onehot = np.eye(3)[y]
    assert out["brier"] == pytest.approx(np.mean(np.sum((prob - onehot) ** 2, 1)))
    assert 0 <= out["ece"] <= 1
    # The per-epoch validation score asks for no bootstrap: no interval, no crash on an empty resample list.
    assert multiclass_metrics(y, prob, n_boot=0)["f1_ci95"] is None


def test_expected_calibration_error_of_a_perfectly_and_a_badly_calibrated_model():
    y = np.array([0] * 20 + [1] * 80)
    calibrated = np.tile([0.2, 0.8], (100, 1))  # says 80 % for class 1 and is right 80 % of the time
    assert calibration(y, calibrated)["ece"] == pytest.approx(0.0, abs=1e-12)
    overconfident = np.tile([0.01, 0.99], (100, 1))
    assert calibration(y, overconfident)["ece"] == pytest.approx(0.19)


def test_image_metrics_identity_baseline_and_mask():
    rng = np.random.default_rng(2)
    target = rng.random((2, 1, 64, 64)).astype(np.float32)
    source = np.clip(target + 0.1, 0, 1).astype(np.float32)
    mask = np.zeros_like(target)
    mask[..., 16:48, 16:48] = 1
    out = image_metrics(target.copy(), target, source, mask)
    assert out["model"]["mae"] == 0 and out["model"]["ms_ssim"] == pytest.approx(1.0, abs=1e-5)
    inside = np.abs(source - target)[mask > 0].mean()
    assert out["identity"]["mae"] == pytest.approx(inside, rel=1e-5)
    assert out["identity"]["psnr"] < out["model"]["psnr"]
    seg = segmentation_metrics(mask, mask)
    assert seg["dice"] == 1.0 and seg["iou"] == 1.0


def test_augment_applies_identical_geometry_to_pairs_and_keeps_masks_binary():
    image = np.zeros((1, 48, 48), np.float32)
    image[0, 10:20, 30:40] = 1.0
    cfg = AugmentConfig(rotation_deg=20, shift=0.1, zoom=0.1, hflip=1.0, elastic=1.0, elastic_alpha=3)
    out, target, mask = augment(cfg, np.random.default_rng(5), image, target=image.copy(), mask=image.copy())
    np.testing.assert_array_equal(out, target)
    assert set(np.unique(mask)) <= {0.0, 1.0}
    assert np.abs((out > 0.5).astype(np.float32) - mask).mean() < 0.02
    assert np.abs(out - image).sum() > 10  # something moved
    again, _, _ = augment(cfg, np.random.default_rng(5), image)
    np.testing.assert_array_equal(again, out)
