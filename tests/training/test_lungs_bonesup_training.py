"""Issue 7 training pieces: Hausdorff distance, SSIM inside a mask, BSE-JSRT harmonisation, in-lung
image metrics with the identity baseline, and combined sources split and scored source by source."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from pytorch_msssim import ms_ssim, ssim

from cxrviewer.core.errors import ConfigError
from cxrviewer.training.checkpoint import read_checkpoint
from cxrviewer.training.config import config_from_dict
from cxrviewer.training.data import harmonise_target
from cxrviewer.training.losses import MAE_WEIGHT, BoneSuppressionLoss
from cxrviewer.training.masked_ssim import masked_ms_ssim, masked_ssim
from cxrviewer.training.metrics import hausdorff, image_metrics, segmentation_metrics
from cxrviewer.training.run import make_split, train
from cxrviewer.training.sources import load_catalog, source_of


def test_hausdorff_hand_computed_line_and_point():
    # truth: 3 pixels in a row (all boundary); pred: the first of them.
    # pred -> truth: [0]; truth -> pred: [0, 1, 2]; pooled [0, 0, 1, 2]:
    # max 2, 95th percentile (linear) 1 + 0.85 * (2 - 1) = 1.85.
    truth = np.zeros((9, 9), bool)
    truth[5, 2:5] = True
    pred = np.zeros((9, 9), bool)
    pred[5, 2] = True
    hd95, hd = hausdorff(pred, truth)
    assert hd == pytest.approx(2.0)
    assert hd95 == pytest.approx(1.85)


def test_hausdorff_uses_boundaries_and_is_symmetric():
    # Two 4x4 squares, one shifted 3 columns right: every boundary pixel is within 3 of the other's
    # boundary, and the far corners are exactly 3 away.
    a = np.zeros((12, 14), bool)
    a[2:6, 2:6] = True
    b = np.roll(a, 3, axis=1)
    assert hausdorff(a, b) == hausdorff(b, a)
    assert hausdorff(a, b)[1] == pytest.approx(3.0)
    assert hausdorff(a, a) == (0.0, 0.0)


def test_segmentation_metrics_report_hausdorff_and_empty_masks():
    truth = np.zeros((2, 1, 9, 9), np.float32)
    truth[:, 0, 5, 2:5] = 1
    prob = np.zeros_like(truth)
    prob[0, 0, 5, 2] = 0.9  # the line case above
    out = segmentation_metrics(prob, truth)  # image 1 predicts nothing: Hausdorff undefined
    assert out["hd_undefined"] == 1
    assert out["hausdorff"] == pytest.approx(2.0) and out["hd95"] == pytest.approx(1.85)
    assert out["dice"] == pytest.approx((2 * 1 / 4 + 0) / 2)


def test_masked_ssim_equals_pytorch_msssim_with_a_full_mask():
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.random((2, 1, 180, 176)).astype(np.float32))
    y = (x + 0.1 * torch.from_numpy(rng.standard_normal((2, 1, 180, 176)).astype(np.float32))).clamp(0, 1)
    ones = torch.ones_like(x)
    assert float(masked_ssim(x, y, ones)) == pytest.approx(float(ssim(x, y, data_range=1.0)), abs=1e-5)
    assert float(masked_ms_ssim(x, y, ones, win_size=11)) == pytest.approx(
        float(ms_ssim(x, y, data_range=1.0, win_size=11)), abs=1e-5)


def test_masked_ssim_ignores_what_lies_outside_the_mask():
    rng = np.random.default_rng(1)
    x = torch.from_numpy(rng.random((1, 1, 64, 64)).astype(np.float32))
    y = x.clone()
    mask = torch.zeros_like(x)
    mask[..., 16:48, 16:48] = 1
    y[..., 20:44, 20:44] = torch.from_numpy(rng.random((24, 24)).astype(np.float32))  # differ inside
    inside = float(masked_ssim(x, y, mask))
    outside_changed = y.clone()
    outside_changed[..., :8, :] = 0.5  # far from the mask: no window reaching the mask sees it
    assert float(masked_ssim(x, outside_changed, mask)) == pytest.approx(inside, abs=1e-6)
    # Zeroing outside the mask (the old way) counts identical zeros as perfect agreement.
    assert float(ssim(x * mask, y * mask, data_range=1.0)) > inside + 0.2


def test_harmonise_target_fits_the_input_scale_and_leaves_the_bones():
    # Inside the mask the input is 0.5 * target + 0.2 plus "bones" uncorrelated with the target and of
    # zero mean: the least-squares line recovers 0.5 * target + 0.2 exactly, so input - harmonised =
    # bones. Outside the mask the harmonised target is the input.
    target = np.tile(np.array([[0.0, 1.0], [0.0, 1.0]], np.float32), (4, 4))  # 8x8, columns alternate
    bones = np.tile(np.array([[0.05, 0.05], [-0.05, -0.05]], np.float32), (4, 4))  # rows alternate
    mask = np.zeros((8, 8), bool)
    mask[:, :] = True
    mask[0:2, :] = False  # keep whole 2x2 tiles so mean and covariance stay zero inside
    source = np.clip(0.5 * target + 0.2 + bones, 0, 1).astype(np.float32)
    source[~mask] = 0.9
    out = harmonise_target(source, target, mask)
    np.testing.assert_allclose(out[mask], (0.5 * target + 0.2)[mask], atol=1e-6)
    np.testing.assert_allclose((source - out)[mask], bones[mask], atol=1e-6)
    np.testing.assert_array_equal(out[~mask], source[~mask])


def test_image_metrics_inside_the_mask_with_the_identity_baseline():
    target = np.full((1, 1, 192, 192), 0.5, np.float32)
    target[..., ::2, :] = 0.6
    mask = np.zeros_like(target)
    mask[..., 40:150, 30:170] = 1
    source = target + 0.1 * mask  # the identity is off by exactly 0.1 inside: MAE 0.1, PSNR 20 dB
    source[..., :20, :] = 0.0  # wildly wrong outside the mask: must not count
    pred = target.copy()
    pred[..., :20, :] = 1.0
    out = image_metrics(pred, target, source, mask)
    assert out["identity"]["mae"] == pytest.approx(0.1, rel=1e-5)
    assert out["identity"]["psnr"] == pytest.approx(20.0, abs=1e-4)
    assert out["model"]["mae"] == 0.0 and out["model"]["psnr"] == pytest.approx(120.0)
    assert out["model"]["ssim"] == pytest.approx(1.0, abs=1e-6)
    assert out["model"]["ms_ssim"] == pytest.approx(1.0, abs=1e-6)
    assert out["identity"]["ssim"] < 1.0


def test_bone_suppression_loss_has_no_gradient_outside_the_mask():
    pred = torch.rand(1, 1, 176, 176, requires_grad=True)
    target = torch.rand(1, 1, 176, 176)
    mask = torch.zeros_like(target)
    mask[..., 40:140, 40:140] = 1
    BoneSuppressionLoss()(pred, target, mask).backward()
    assert float(pred.grad[..., :, :20].abs().max()) == 0.0
    assert float(pred.grad[..., 60:120, 60:120].abs().sum()) > 0



def test_rib_aware_loss_weights_errors_by_the_bone_shadow():
    """An error where the film carries bone shadow costs (1 + bone_weight * shadow / mean shadow) times
    the same error in soft tissue; without shadow, or at weight 0, it is the paper's loss."""
    target = torch.full((1, 1, 176, 176), 0.5)
    mask = torch.zeros_like(target)
    mask[..., 20:156, 20:156] = 1
    source = target.clone()
    source[..., 60:70, 20:156] += 0.1  # a "rib": 10 of the 136 rows inside the mask
    mean_shadow = 0.1 * 10 / 136
    plain, ribs = BoneSuppressionLoss(), BoneSuppressionLoss(bone_weight=4.0)

    def mae_part(loss, pred):
        # The same pred against the same target: the MS-SSIM part is equal in both losses.
        return float(loss(pred, target, mask, source)) - float(plain(pred, target, mask, source))

    on_rib = target.clone()
    on_rib[..., 64, 40] += 0.2
    in_tissue = target.clone()
    in_tissue[..., 100, 40] += 0.2
    inside = float(mask.sum())
    assert mae_part(ribs, in_tissue) == pytest.approx(0.0, abs=1e-6)
    expected_extra = MAE_WEIGHT * 0.2 * 4.0 * 0.1 / mean_shadow / inside
    assert mae_part(ribs, on_rib) == pytest.approx(expected_extra, rel=1e-3)
    assert float(BoneSuppressionLoss(bone_weight=0.0)(on_rib, target, mask, source)) == float(plain(on_rib, target, mask))
    with pytest.raises(ValueError, match="needs the network's input"):
        ribs(on_rib, target, mask)

def _openist(root: Path, n: int, rng: np.random.Generator) -> Path:
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    rows = ["image,mask"]
    for i in range(n):
        img = (rng.random((40, 48)) * 255).astype(np.uint8)
        mask = np.zeros((40, 48), np.uint8)
        mask[8:32, 6 + i % 4:20] = 255
        mask[8:32, 28:42 - i % 4] = 255
        img[mask > 0] //= 3
        cv2.imwrite(str(root / "images" / f"case{i}.png"), img)
        cv2.imwrite(str(root / "masks" / f"case{i}.png"), mask)
        rows.append(f"images/case{i}.png,masks/case{i}.png")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return root


def _jsrt(root: Path, n: int, rng: np.random.Generator) -> Path:
    """The BSE-JSRT layout: inverted radiographs and SCR colour masks (G left, B right lung)."""
    for sub in ("orig", "bse", "seg"):
        (root / sub).mkdir(parents=True)
    rows = ["id,input_inverted,target_bse_lungmasked_inverted,seg_rgb,jsrt_class"]
    for i in range(n):
        seg = np.zeros((64, 64, 3), np.uint8)  # cv2 writes BGR: index 0 is blue
        seg[12:50, 8:28, 0] = 255
        seg[12:50, 36:56 - i % 3, 1] = 255
        img = (rng.random((64, 64)) * 120).astype(np.uint8)
        img[seg.max(axis=2) > 0] += 120  # inverted: lungs bright
        for sub, arr in (("orig", img), ("bse", img), ("seg", seg)):
            cv2.imwrite(str(root / sub / f"JPCNN{i:03d}.png"), arr)
        rows.append(f"JPCNN{i:03d},orig/JPCNN{i:03d}.png,bse/JPCNN{i:03d}.png,seg/JPCNN{i:03d}.png,non-nodule")
    (root / "pairs.csv").write_text("\n".join(rows) + "\n")
    return root


def _combined_config(tmp_path: Path, jsrt_root: Path, openist_root: Path, **top) -> dict:
    return {
        "name": "both", "task": "segmentation", "arch": "unet_small",
        "data": {"sources": [{"source": "jsrt_lungs", "root": str(jsrt_root)},
                             {"source": "openist_lungs", "root": str(openist_root)}]},
        "input": {"height": 32, "width": 32, "channels": 1},
        "split": {"val_fraction": 0.25, "test_fraction": 0.25},
        "balance": "none", "out_dir": str(tmp_path / "runs"), **top,
    }


def test_combined_sources_keep_each_source_split_on_its_own(tmp_path):
    jsrt = _jsrt(tmp_path / "jsrt", 16, np.random.default_rng(2))
    openist = _openist(tmp_path / "openist", 12, np.random.default_rng(3))
    config = config_from_dict(_combined_config(tmp_path, jsrt, openist))
    assert config.data.source == "combined"
    assert [s.source for s in config.data.sources] == ["jsrt_lungs", "openist_lungs"]
    catalog = load_catalog(config.data)
    origins = [source_of(s) for s in catalog.samples]
    assert origins.count("jsrt_lungs") == 16 and origins.count("openist_lungs") == 12
    assert catalog.samples[0].patient == "jsrt_lungs/JPCNN000" and catalog.samples[0].inverted
    split = make_split(config, catalog)
    for origin, n in (("jsrt_lungs", 16), ("openist_lungs", 12)):
        test = [i for i in split.test if origins[i] == origin]
        val = [i for i in split.val if origins[i] == origin]
        assert len(test) == round(0.25 * n) and len(val) >= 2
    assert "each source on its own" in split.method
    again = config_from_dict(config.to_dict())  # the run's config.json reads back the same
    assert again.data == config.data
    with pytest.raises(ConfigError, match="data.sources"):
        config_from_dict(_combined_config(tmp_path, jsrt, openist) | {
            "data": {"sources": [{"source": "openist_lungs", "root": str(openist)}] * 2}})


def test_combined_segmentation_run_reports_each_source(tmp_path):
    jsrt = _jsrt(tmp_path / "jsrt", 12, np.random.default_rng(5))
    openist = _openist(tmp_path / "openist", 12, np.random.default_rng(4))
    config = config_from_dict(_combined_config(tmp_path, jsrt, openist, epochs=1, batch_size=8,
                                               notes=["a note"]))
    result = train(config)
    test = result.metrics["test"]
    assert set(test["by_source"]) == {"jsrt_lungs", "openist_lungs"}
    assert test["by_source"]["jsrt_lungs"]["n"] + test["by_source"]["openist_lungs"]["n"] == test["n"]
    for scores in test["by_source"].values():
        assert {"dice", "hd95", "hausdorff", "hd_undefined"} <= set(scores)
    meta = read_checkpoint(result.best_checkpoint).meta
    splits = {m["split"].split(":")[0] for m in meta["metrics"]}
    assert {"test", "test, jsrt_lungs only", "test, openist_lungs only"} <= splits
    assert meta["notes"] == ["a note"]


def test_crop_takes_the_same_window_of_each_array_and_holds_mask():
    from cxrviewer.training.augment import augment
    from cxrviewer.training.config import AugmentConfig

    image = np.arange(64 * 64, dtype=np.float32).reshape(1, 64, 64) / 4096
    mask = np.zeros((1, 64, 64), np.float32)
    mask[0, 50:54, 2:6] = 1  # a small corner region: every crop must reach it
    for seed in range(5):
        out, target, m = augment(AugmentConfig(crop=32), np.random.default_rng(seed), image, target=image * 2,
                                 mask=mask)
        assert out.shape == target.shape == m.shape == (1, 32, 32)
        np.testing.assert_array_equal(target, out * 2)
        assert m.sum() > 0
        y0, x0 = divmod(int(round(out[0, 0, 0] * 4096)), 64)
        np.testing.assert_array_equal(m, mask[:, y0:y0 + 32, x0:x0 + 32])


def test_a_single_source_config_reads_back_from_its_dict(tmp_path, pairs_dataset):
    config = config_from_dict({"name": "one", "task": "bone_suppression", "arch": "dwres_bs",
                               "data": {"source": "pairs", "root": str(pairs_dataset)},
                               "input": {"height": 64, "width": 64}, "augment": {"crop": 32}})
    assert config_from_dict(config.to_dict()) == config
