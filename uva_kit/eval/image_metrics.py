"""PSNR and SSIM of predicted frames against real ones, for frames in [0, 1] shaped (..., 3, H, W).

SSIM follows Wang et al. (2004): an 11x11 Gaussian window (sigma 1.5; smaller images use their side, made
odd), K1 = 0.01, K2 = 0.03, data range 1, computed per channel over the window positions that fit inside
the image ("valid"), averaged over channels and positions. Both return one value per frame.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from uva_kit.errors import InputError

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
K1, K2 = 0.01, 0.03
MIN_MSE = 1e-10  # identical frames: PSNR 100 dB instead of infinity


def _frames(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if x.shape != y.shape or x.dim() < 3 or x.shape[-3] != 3:
        raise InputError(f"frames must both be (..., 3, H, W) and of equal shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    return x.double().reshape(-1, *x.shape[-3:]), y.double().reshape(-1, *y.shape[-3:])


def psnr(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB per frame (shape ``x.shape[:-3]``), data range 1."""
    a, b = _frames(x, y)
    mse = ((a - b) ** 2).mean(dim=(1, 2, 3)).clamp_min(MIN_MSE)
    return (-10.0 * torch.log10(mse)).reshape(x.shape[:-3])


def _gaussian_window(size: int, sigma: float) -> torch.Tensor:
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    line = torch.exp(-(coords ** 2) / (2 * sigma ** 2))
    line = line / line.sum()
    return (line[:, None] * line[None, :]).expand(3, 1, size, size)


def ssim(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Structural similarity per frame (shape ``x.shape[:-3]``), 1 for identical frames."""
    a, b = _frames(x, y)
    size = min(SSIM_WINDOW, a.shape[-1], a.shape[-2])
    size -= 1 - size % 2
    window = _gaussian_window(size, SSIM_SIGMA).to(a.device)

    def blur(image: torch.Tensor) -> torch.Tensor:
        return F.conv2d(image, window, groups=3)

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a ** 2
    var_b = blur(b * b) - mu_b ** 2
    cov = blur(a * b) - mu_a * mu_b
    c1, c2 = K1 ** 2, K2 ** 2
    index = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return index.mean(dim=(1, 2, 3)).reshape(x.shape[:-3])
