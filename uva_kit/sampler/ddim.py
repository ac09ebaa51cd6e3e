"""``ddim``: deterministic (eta = 0) or stochastic DDIM over a respaced schedule; ignores the learned variance."""

from __future__ import annotations

import attrs
import torch

from uva_kit.sampler.base import Sampler
from uva_kit.sampler.update import coefficient_table
from uva_kit.spec import ComponentSpec
from uva_kit.spec.model import DiffusionSpec
from uva_kit.spec.validators import non_negative, positive


@attrs.frozen
class DdimSpec(ComponentSpec):
    """``eta`` = 0 is deterministic given the initial noise; 1 matches DDPM's variance."""

    steps: int = attrs.field(default=100, validator=positive)
    eta: float = attrs.field(default=0.0, validator=non_negative)


class DdimSampler(Sampler):
    learned_variance = False
    noise_scale = 1.0

    def __init__(self, spec: DdimSpec, diffusion: DiffusionSpec | None = None):
        super().__init__(spec.steps, diffusion)
        self.eta = spec.eta

    def coefficients(self, tables: dict[str, torch.Tensor]) -> torch.Tensor:
        """DDIM's x0 * sqrt(abar_prev) + k * eps' with eps' = (a x - x0) / b, k = sqrt(1 - abar_prev - sigma^2),
        rewritten as x0_coef * x0 + x_coef * x."""
        alpha_bar, alpha_bar_prev = tables["alphas_cumprod"], tables["alphas_cumprod_prev"]
        sigma = self.eta * ((1 - alpha_bar_prev) / (1 - alpha_bar)).sqrt() * (1 - alpha_bar / alpha_bar_prev).sqrt()
        k = (1 - alpha_bar_prev - sigma**2).clamp(min=0).sqrt()
        a, b = tables["sqrt_recip_alphas_cumprod"], tables["sqrt_recipm1_alphas_cumprod"]
        return coefficient_table(tables, alpha_bar_prev.sqrt() - k / b, k * a / b, sigma)
