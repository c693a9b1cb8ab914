"""Losses: cross-entropy (optionally class-weighted), class-weighted BCE for multi-label (Group-Q),
0.16*MAE + 0.84*(1 - MS-SSIM) for bone suppression (Rajaraman 2021; optionally rib-aware, the MAE
weighted by the bone shadow each pixel must lose), BCE + Dice for lung masks.

MS-SSIM is pytorch-msssim's, averaged inside the lung mask (`masked_ssim`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cxrviewer.core.errors import ConfigError
from cxrviewer.training.masked_ssim import masked_ms_ssim

MAE_WEIGHT = 0.16  # Rajaraman 2021: 0.16 * MAE + 0.84 * (1 - MS-SSIM)


def msssim_window(size: int) -> int:
    """The largest odd Gaussian window <= 11 that MS-SSIM's four downsamplings allow at `size`."""
    for win in (11, 9, 7, 5, 3):
        if size > (win - 1) * 16:
            return win
    raise ConfigError(f"MS-SSIM needs images larger than 32 pixels a side, got {size}")


class BoneSuppressionLoss(nn.Module):
    """pred, target: (N, 1, H, W) float32 about [0, 1]; mask: (N, 1, H, W) {0, 1} or None.

    With a mask, MAE is averaged inside it and MS-SSIM is each scale's map averaged inside it
    (`masked_ssim`), so pixels outside the mask neither count nor get a gradient.

    Rib-aware (`bone_weight` > 0, issue 17): the film minus its target is the bone shadow to remove.
    Its contrast is a few percent of the range, so in a plain MAE and MS-SSIM a model that keeps most of
    it costs little (the shipped model removes about a third of its energy). Each pixel's absolute
    error is weighted 1 + bone_weight * shadow / (the film's mean shadow in the mask): soft tissue
    still counts once, a rib edge several times over. Needs the network's input (`source`)."""

    def __init__(self, mae_weight: float = MAE_WEIGHT, bone_weight: float = 0.0):
        super().__init__()
        self.mae_weight = mae_weight
        self.bone_weight = bone_weight

    def forward(self, pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None,
                source: torch.Tensor | None = None) -> torch.Tensor:
        if mask is None:
            mask = torch.ones_like(target)
        inside = mask.sum().clamp_min(1.0)
        weights = mask
        if self.bone_weight > 0:
            if source is None:
                raise ValueError("a rib-aware bone-suppression loss needs the network's input")
            shadow = (source - target).abs() * mask
            per_film = shadow.sum((1, 2, 3), keepdim=True) / mask.sum((1, 2, 3), keepdim=True).clamp_min(1.0)
            weights = mask * (1 + self.bone_weight * shadow / per_film.clamp_min(1e-6))
        mae = ((pred - target).abs() * weights).sum() / inside
        win = msssim_window(min(pred.shape[-2:]))
        similarity = masked_ms_ssim(pred.clamp(0, 1), target, mask, data_range=1.0, win_size=win)
        return self.mae_weight * mae + (1 - self.mae_weight) * (1 - similarity)


class SegmentationLoss(nn.Module):
    """logits, target: (N, C, H, W); BCE-with-logits + (1 - soft Dice), the usual pair for masks."""

    def forward(self, logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        bce = F.binary_cross_entropy_with_logits(logits, target)
        prob = torch.sigmoid(logits)
        dims = (0, 2, 3)
        dice = (2 * (prob * target).sum(dims) + 1) / (prob.sum(dims) + target.sum(dims) + 1)
        return bce + (1 - dice.mean())


def build_loss(task: str, class_weights: torch.Tensor | None = None, *, bone_weight: float = 0.0) -> nn.Module:
    """class_weights: (num_classes,) float32 or None. For "multilabel" they are BCE `pos_weight`
    (negatives / positives per class), for "classification" CE class weights. bone_weight: the
    bone-suppression loss's rib-aware weighting (0: the paper's loss)."""
    if task == "classification":
        return nn.CrossEntropyLoss(weight=class_weights)
    if task == "multilabel":
        return nn.BCEWithLogitsLoss(pos_weight=class_weights)
    if task == "bone_suppression":
        return BoneSuppressionLoss(bone_weight=bone_weight)
    if task == "segmentation":
        return SegmentationLoss()
    raise ConfigError(f"no loss for task {task!r}")
