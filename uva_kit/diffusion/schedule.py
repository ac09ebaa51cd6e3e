"""Noise schedules (iDDPM cosine or DDPM linear), respacing, and the coefficient tables derived from them.

Tables are computed in float64 (as the original does in numpy) and handed out in the caller's dtype
and device, cached per (device, dtype), so no host-to-device copy happens inside a sampling loop.
"""

from __future__ import annotations

import math

import torch

from uva_kit.errors import InputError
from uva_kit.spec.model import DiffusionSpec


def cosine_betas(steps: int, max_beta: float = 0.999) -> torch.Tensor:
    """iDDPM cosine schedule: alpha_bar(t) = cos^2(((t / T) + 0.008) / 1.008 * pi / 2)."""

    def alpha_bar(t: float) -> float:
        return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2

    betas = [min(1 - alpha_bar((i + 1) / steps) / alpha_bar(i / steps), max_beta) for i in range(steps)]
    return torch.tensor(betas, dtype=torch.float64)


def linear_betas(steps: int) -> torch.Tensor:
    """DDPM linear schedule, scaled so that any step count spans the same noise range."""
    scale = 1000 / steps
    return torch.linspace(scale * 1e-4, scale * 0.02, steps, dtype=torch.float64)


def spaced_timesteps(train_steps: int, sample_steps: int) -> list[int]:
    """The training steps kept by a respacing to ``sample_steps`` (e.g. 0, 10, 20, ..., 50, 61, ..., 999).

    Evenly strided with the original's float accumulation and Python rounding, so the kept steps are
    exactly the original's.
    """
    if not 1 <= sample_steps <= train_steps:
        raise InputError(f"sampling steps must be in 1..{train_steps}, got {sample_steps}")
    if sample_steps == 1:
        return [0]
    stride = (train_steps - 1) / (sample_steps - 1)
    kept, position = [], 0.0
    for _ in range(sample_steps):
        kept.append(round(position))
        position += stride
    return kept


class DiffusionSchedule:
    """A beta schedule with every derived table; ``timestep_map[i]`` is step i's training index."""

    def __init__(self, betas: torch.Tensor, timestep_map: torch.Tensor | None = None):
        betas = betas.to(torch.float64)
        self.num_steps = len(betas)
        self.timestep_map = torch.arange(self.num_steps) if timestep_map is None else timestep_map.long()
        alphas_cumprod = torch.cumprod(1 - betas, dim=0)
        alphas_cumprod_prev = torch.cat([torch.ones(1, dtype=torch.float64), alphas_cumprod[:-1]])
        posterior_variance = betas * (1 - alphas_cumprod_prev) / (1 - alphas_cumprod)
        # The variance is 0 at step 0: its log is clipped to the value of step 1.
        clipped = torch.cat([posterior_variance[1:2], posterior_variance[1:]]) if self.num_steps > 1 else betas
        self._tables64 = {
            "betas": betas,
            "alphas_cumprod": alphas_cumprod,
            "alphas_cumprod_prev": alphas_cumprod_prev,
            "sqrt_alphas_cumprod": alphas_cumprod.sqrt(),
            "sqrt_one_minus_alphas_cumprod": (1 - alphas_cumprod).sqrt(),
            "sqrt_recip_alphas_cumprod": (1 / alphas_cumprod).sqrt(),
            "sqrt_recipm1_alphas_cumprod": (1 / alphas_cumprod - 1).sqrt(),
            "posterior_log_variance_clipped": clipped.log(),
            "posterior_mean_coef1": betas * alphas_cumprod_prev.sqrt() / (1 - alphas_cumprod),
            "posterior_mean_coef2": (1 - alphas_cumprod_prev) * (1 - betas).sqrt() / (1 - alphas_cumprod),
            "log_betas": betas.log(),
        }
        self._cache: dict[tuple, dict[str, torch.Tensor]] = {}

    @classmethod
    def from_spec(cls, spec: DiffusionSpec) -> DiffusionSchedule:
        betas = cosine_betas(spec.train_steps) if spec.schedule == "cosine" else linear_betas(spec.train_steps)
        return cls(betas)

    def respaced(self, steps: int) -> DiffusionSchedule:
        """The schedule over ``steps`` kept training steps (new betas from alpha_bar ratios)."""
        kept = spaced_timesteps(self.num_steps, steps)
        alphas_cumprod = self._tables64["alphas_cumprod"][kept]
        previous = torch.cat([torch.ones(1, dtype=torch.float64), alphas_cumprod[:-1]])
        return DiffusionSchedule(1 - alphas_cumprod / previous, self.timestep_map[kept])

    def tables(self, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
        """Every coefficient table (and ``timestep_map``) on ``device`` in ``dtype``; cached."""
        key = (str(device), dtype)
        if key not in self._cache:
            tables = {name: table.to(device=device, dtype=dtype) for name, table in self._tables64.items()}
            tables["timestep_map"] = self.timestep_map.to(device)
            self._cache[key] = tables
        return self._cache[key]
