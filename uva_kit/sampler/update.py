"""One denoising update, shared by every sampling path, and the per-step coefficient table it reads.

A sampler reduces its step to seven coefficients per step (columns of ``COLUMNS``):

    x0   = clamp(sqrt_recip * x - sqrt_recipm1 * eps)
    x   <- x0_coef * x0 + x_coef * x + std * noise_scale * z          (no noise at the last step)
    std  = exp(0.5 * (f * log_beta + (1 - f) * log_variance_low)), f = (v + 1) / 2   if the variance is learned
         = fixed_std                                                                  otherwise

DDPM uses the posterior-mean coefficients and the learned-range variance; DDIM re-expresses its
update through the same two coefficients and a fixed std. The C++/CUDA op computes exactly this.
"""

from __future__ import annotations

import torch

COLUMNS = ("sqrt_recip", "sqrt_recipm1", "x0_coef", "x_coef", "log_beta", "log_variance_low", "fixed_std")


def coefficient_table(tables: dict[str, torch.Tensor], x0_coef, x_coef, fixed_std) -> torch.Tensor:
    """(S, 7) float64 table in schedule order from a schedule's float64 ``tables`` and the sampler's columns."""
    columns = [
        tables["sqrt_recip_alphas_cumprod"], tables["sqrt_recipm1_alphas_cumprod"], x0_coef, x_coef,
        tables["log_betas"], tables["posterior_log_variance_clipped"], fixed_std,
    ]
    return torch.stack([torch.as_tensor(c, dtype=torch.float64).expand(len(tables["betas"])) for c in columns], dim=1)


def denoise_update(
    x: torch.Tensor, eps: torch.Tensor, variance_logits: torch.Tensor, coefficients, *, learned_variance: bool,
    noise_scale: float, clamp_x0: bool, noise: torch.Tensor | None,
) -> torch.Tensor:
    """The next x; ``coefficients`` are the 7 columns, each broadcastable to x (scalars or (N, 1))."""
    sqrt_recip, sqrt_recipm1, x0_coef, x_coef, log_beta, log_variance_low, fixed_std = coefficients
    x0 = sqrt_recip * x - sqrt_recipm1 * eps
    if clamp_x0:
        x0 = x0.clamp(-1, 1)
    mean = x0_coef * x0 + x_coef * x
    if noise is None:
        return mean
    if learned_variance:
        fraction = (variance_logits + 1) / 2
        std = torch.exp(0.5 * (fraction * log_beta + (1 - fraction) * log_variance_low))
    else:
        std = fixed_std
    return mean + std * noise_scale * noise
