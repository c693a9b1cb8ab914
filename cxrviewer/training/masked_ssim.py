"""SSIM and MS-SSIM averaged inside a mask, the same maths as pytorch-msssim otherwise.

pytorch-msssim averages the SSIM map over the whole image. For bone suppression only the lungs
count (the BSE-JSRT target is zero outside them): averaging over lung-masked images would let the
identical zeros outside inflate both the model's and the identity baseline's scores. Here `x` is
first set to `y` outside the mask (so nothing outside can differ, at any scale, even through the
coarse scales' pooling), then each scale's SSIM (or contrast-structure) map is averaged with the
mask as weights: the mask cropped to the valid-convolution map, and at coarser scales the mask
average-pooled like the images. With an all-ones mask the values equal pytorch-msssim's `ssim` /
`ms_ssim` (tested).
Differentiable: used by the bone-suppression loss as well as by the metrics.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

MS_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)  # Wang et al. 2003, as pytorch-msssim
K1, K2 = 0.01, 0.03
# pytorch-msssim clips negative factors at 0, where x ** 0.0448 has an infinite gradient: a tiny floor
# keeps training finite and changes no value above it.
EPS = 1e-6


def _gauss(size: int, sigma: float, like: torch.Tensor) -> torch.Tensor:
    coords = torch.arange(size, dtype=like.dtype, device=like.device) - size // 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    return g / g.sum()


def _filter(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Separable valid (unpadded) Gaussian filter of (N, C, H, W); axes shorter than the window are
    left unfiltered, as pytorch-msssim does."""
    c = x.shape[1]
    if x.shape[2] >= len(g):
        x = F.conv2d(x, g.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)
    if x.shape[3] >= len(g):
        x = F.conv2d(x, g.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return x


def _maps(x: torch.Tensor, y: torch.Tensor, g: torch.Tensor, data_range: float) -> tuple[torch.Tensor, torch.Tensor]:
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    mu1, mu2 = _filter(x, g), _filter(y, g)
    s11 = _filter(x * x, g) - mu1**2
    s22 = _filter(y * y, g) - mu2**2
    s12 = _filter(x * y, g) - mu1 * mu2
    cs = (2 * s12 + c2) / (s11 + s22 + c2)
    return (2 * mu1 * mu2 + c1) / (mu1**2 + mu2**2 + c1) * cs, cs


def _weighted_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(N, C) mean of `values` (N, C, h, w) weighted by `mask` (N, 1, H, W) centre-cropped to h, w."""
    dh, dw = (mask.shape[2] - values.shape[2]) // 2, (mask.shape[3] - values.shape[3]) // 2
    w = mask[:, :, dh:dh + values.shape[2], dw:dw + values.shape[3]]
    return (values * w).sum((2, 3)) / w.sum((2, 3)).clamp_min(1e-8)


def masked_ssim(
    x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor, *, data_range: float = 1.0, win_size: int = 11,
    sigma: float = 1.5,
) -> torch.Tensor:
    """x, y: (N, C, H, W) float; mask (N, 1, H, W) {0, 1}. Mean SSIM over mask pixels, averaged
    over channels and images (a 0-d tensor)."""
    x = torch.where(mask > 0.5, x, y)
    g = _gauss(win_size, sigma, x)
    ssim_map, _ = _maps(x, y, g, data_range)
    return _weighted_mean(ssim_map, mask).mean()


def masked_ms_ssim(
    x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor, *, data_range: float = 1.0, win_size: int = 11,
    sigma: float = 1.5,
) -> torch.Tensor:
    """x, y: (N, C, H, W) float, H and W > (win_size - 1) * 16. MS-SSIM
    over five scales with each scale's map averaged inside the (pooled) mask; a 0-d tensor.
    mask: (N, 1, H, W) {0, 1}."""
    x = torch.where(mask > 0.5, x, y)
    g = _gauss(win_size, sigma, x)
    weights = torch.tensor(MS_WEIGHTS, dtype=x.dtype, device=x.device)
    factors = []
    for level in range(len(MS_WEIGHTS)):
        ssim_map, cs = _maps(x, y, g, data_range)
        if level < len(MS_WEIGHTS) - 1:
            factors.append(_weighted_mean(cs, mask).clamp_min(EPS))
            pad = [s % 2 for s in x.shape[2:]]
            x, y, mask = (F.avg_pool2d(t, 2, padding=pad) for t in (x, y, mask))
    factors.append(_weighted_mean(ssim_map, mask).clamp_min(EPS))
    stacked = torch.stack(factors, dim=0)  # (levels, N, C)
    return torch.prod(stacked ** weights.view(-1, 1, 1), dim=0).mean()
