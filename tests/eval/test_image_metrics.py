"""PSNR and SSIM against values computed by hand."""

from __future__ import annotations

import math

import pytest
import torch

from uva_kit.eval.image_metrics import K1, K2, psnr, ssim


def constant(value: float, shape=(2, 3, 16, 16)) -> torch.Tensor:
    return torch.full(shape, value)


def test_psnr_of_a_uniform_offset():
    # mse = 0.1^2 -> PSNR = -10 log10(0.01) = 20 dB; 0.01 -> 40 dB
    assert psnr(constant(0.5), constant(0.6)).tolist() == pytest.approx([20.0, 20.0])
    assert psnr(constant(0.3), constant(0.31)).tolist() == pytest.approx([40.0, 40.0], abs=1e-4)  # float32 inputs


def test_psnr_per_frame_keeps_the_leading_shape():
    x = torch.rand(2, 4, 3, 8, 8)
    assert psnr(x, x.flip(0)).shape == (2, 4)
    assert psnr(x, x).min() >= 99.0  # identical: capped at 100 dB, not infinite


def test_ssim_of_identical_frames_is_one():
    x = torch.rand(3, 3, 32, 32)
    assert ssim(x, x).tolist() == pytest.approx([1.0] * 3)


def test_ssim_of_two_constant_frames_is_the_luminance_term():
    # no variance: SSIM = (2ab + C1) / (a^2 + b^2 + C1), the contrast-structure term is C2 / C2 = 1
    a, b = 0.2, 0.7
    c1 = K1**2
    expected = (2 * a * b + c1) / (a * a + b * b + c1)
    assert ssim(constant(a), constant(b)).tolist() == pytest.approx([expected] * 2)


def test_ssim_of_one_changed_pixel_weighs_it_by_the_gaussian_window():
    """An 11x11 frame is one window position. Raising its centre pixel by d on a constant a gives
    mu_y = a + w d, var_y = w (1 - w) d^2, cov = 0, with w the centre weight of the 11x11, sigma 1.5 window."""
    a, d = 0.4, 0.5
    line = [math.exp(-(k * k) / (2 * 1.5**2)) for k in range(-5, 6)]
    w = (line[5] / sum(line)) ** 2
    mu, var = a + w * d, w * (1 - w) * d * d
    c1, c2 = K1**2, K2**2
    expected = (2 * a * mu + c1) * c2 / ((a * a + mu * mu + c1) * (var + c2))
    x = constant(a, (1, 3, 11, 11))
    y = x.clone()
    y[..., 5, 5] += d
    assert ssim(x, y).item() == pytest.approx(expected, rel=1e-6)


def test_ssim_drops_with_noise_and_psnr_matches_mse():
    torch.manual_seed(0)
    x = torch.rand(1, 3, 32, 32)
    noisy = (x + 0.1 * torch.randn_like(x)).clamp(0, 1)
    mse = ((x - noisy) ** 2).mean().item()
    assert psnr(x, noisy).item() == pytest.approx(-10 * math.log10(mse))
    assert ssim(x, noisy).item() < 0.95


def test_mismatched_shapes_are_refused():
    with pytest.raises(ValueError, match="equal shape"):
        ssim(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 9))
