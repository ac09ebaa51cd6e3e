"""The heads' training loss: epsilon MSE plus the variational bound with a learned-range variance.

As in iDDPM/MAR (``LossType.MSE`` with ``learn_sigma``): the VB term trains only the variance branch
(the predicted mean is detached), is measured in bits, and is the discretized-Gaussian decoder NLL
at step 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from uva_kit.diffusion.schedule import DiffusionSchedule


def gather(table: torch.Tensor, timesteps: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``table[timesteps]`` shaped to broadcast against ``like`` (N, C)."""
    return table[timesteps].reshape(-1, *([1] * (like.dim() - 1)))


def learned_range_log_variance(tables: dict[str, torch.Tensor], variance_logits: torch.Tensor, timesteps) -> torch.Tensor:
    """log sigma^2 = frac * log(beta_t) + (1 - frac) * log(clipped posterior variance), frac = (v + 1) / 2."""
    low = gather(tables["posterior_log_variance_clipped"], timesteps, variance_logits)
    high = gather(tables["log_betas"], timesteps, variance_logits)
    fraction = (variance_logits + 1) / 2
    return fraction * high + (1 - fraction) * low


def predict_x0(tables: dict[str, torch.Tensor], x_t: torch.Tensor, timesteps, eps: torch.Tensor) -> torch.Tensor:
    return gather(tables["sqrt_recip_alphas_cumprod"], timesteps, x_t) * x_t - gather(
        tables["sqrt_recipm1_alphas_cumprod"], timesteps, x_t
    ) * eps


def posterior_mean(tables: dict[str, torch.Tensor], x0: torch.Tensor, x_t: torch.Tensor, timesteps) -> torch.Tensor:
    """Mean of q(x_{t-1} | x_t, x_0)."""
    return gather(tables["posterior_mean_coef1"], timesteps, x_t) * x0 + gather(tables["posterior_mean_coef2"], timesteps, x_t) * x_t


def normal_kl(mean1, logvar1, mean2, logvar2) -> torch.Tensor:
    return 0.5 * (-1.0 + logvar2 - logvar1 + torch.exp(logvar1 - logvar2) + (mean1 - mean2) ** 2 * torch.exp(-logvar2))


def _approx_standard_normal_cdf(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def discretized_gaussian_log_likelihood(x: torch.Tensor, mean: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
    """Log-likelihood of ``x`` (in [-1, 1]) under a Gaussian discretized into bins x +- 1/255 (one 8-bit level)."""
    centered = x - mean
    inv_std = torch.exp(-log_scale)
    cdf_plus = _approx_standard_normal_cdf(inv_std * (centered + 1.0 / 255.0))
    cdf_min = _approx_standard_normal_cdf(inv_std * (centered - 1.0 / 255.0))
    log_cdf_plus = cdf_plus.clamp(min=1e-12).log()
    log_one_minus_cdf_min = (1.0 - cdf_min).clamp(min=1e-12).log()
    log_delta = (cdf_plus - cdf_min).clamp(min=1e-12).log()
    return torch.where(x < -0.999, log_cdf_plus, torch.where(x > 0.999, log_one_minus_cdf_min, log_delta))


def diffusion_loss(
    schedule: DiffusionSchedule,
    model: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x0: torch.Tensor,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Per-row loss (N,) of ``model(x_t, t) -> [eps, variance logits]`` on clean rows ``x0`` (N, C).

    t ~ U{0..T-1} per row; the loss is mean-over-channels MSE(eps) + VB (bits). Half-precision rows (a VAE
    encoder's output under autocast) are promoted to fp32 first: bf16 schedule tables round sqrt(abar) to 1.
    """
    if x0.dtype in (torch.float16, torch.bfloat16):
        x0 = x0.float()
    tables = schedule.tables(x0.device, x0.dtype)
    timesteps = torch.randint(0, schedule.num_steps, (x0.shape[0],), device=x0.device, generator=generator)
    noise = torch.randn(x0.shape, device=x0.device, dtype=x0.dtype, generator=generator)
    x_t = gather(tables["sqrt_alphas_cumprod"], timesteps, x0) * x0 + gather(
        tables["sqrt_one_minus_alphas_cumprod"], timesteps, x0
    ) * noise
    eps, variance_logits = model(x_t, timesteps).chunk(2, dim=-1)

    true_mean = posterior_mean(tables, x0, x_t, timesteps)
    true_log_variance = gather(tables["posterior_log_variance_clipped"], timesteps, x0)
    model_mean = posterior_mean(tables, predict_x0(tables, x_t, timesteps, eps.detach()), x_t, timesteps)
    model_log_variance = learned_range_log_variance(tables, variance_logits, timesteps)
    kl = normal_kl(true_mean, true_log_variance, model_mean, model_log_variance).mean(dim=-1) / math.log(2.0)
    decoder_nll = -discretized_gaussian_log_likelihood(x0, model_mean, 0.5 * model_log_variance).mean(dim=-1) / math.log(2.0)
    vb = torch.where(timesteps == 0, decoder_nll, kl)
    return ((noise - eps) ** 2).mean(dim=-1) + vb
