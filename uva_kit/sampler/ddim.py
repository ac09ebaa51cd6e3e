"""``ddim``: deterministic (eta = 0) or stochastic DDIM over a respaced schedule; ignores the learned variance."""

from __future__ import annotations

import attrs
import torch

from uva_kit.diffusion.loss import gather
from uva_kit.sampler.base import Sampler
from uva_kit.spec import ComponentSpec
from uva_kit.spec.model import DiffusionSpec
from uva_kit.spec.validators import positive


@attrs.frozen
class DdimSpec(ComponentSpec):
    """``eta`` = 0 is deterministic given the initial noise; 1 matches DDPM's variance."""

    steps: int = attrs.field(default=100, validator=positive)
    eta: float = attrs.field(default=0.0, validator=attrs.validators.ge(0.0))


class DdimSampler(Sampler):
    def __init__(self, spec: DdimSpec, diffusion: DiffusionSpec | None = None):
        super().__init__(spec.steps, diffusion)
        self.eta = spec.eta
        self.adds_noise = spec.eta > 0

    def step(self, tables, x, x0, eps, variance_logits, step, index, noise) -> torch.Tensor:
        # eps consistent with the (possibly clamped) x0
        eps = (gather(tables["sqrt_recip_alphas_cumprod"], step, x) * x - x0) / gather(tables["sqrt_recipm1_alphas_cumprod"], step, x)
        alpha_bar = gather(tables["alphas_cumprod"], step, x)
        alpha_bar_prev = gather(tables["alphas_cumprod_prev"], step, x)
        sigma = self.eta * ((1 - alpha_bar_prev) / (1 - alpha_bar)).sqrt() * (1 - alpha_bar / alpha_bar_prev).sqrt()
        mean = x0 * alpha_bar_prev.sqrt() + (1 - alpha_bar_prev - sigma**2).clamp(min=0).sqrt() * eps
        if noise is None:
            return mean
        return mean + sigma * noise
