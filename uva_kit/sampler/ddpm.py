"""``ddpm``: respaced ancestral sampling with the learned-range variance (the original's sampler)."""

from __future__ import annotations

import attrs
import torch

from uva_kit.diffusion.loss import posterior_mean
from uva_kit.sampler.base import Sampler
from uva_kit.spec import ComponentSpec
from uva_kit.spec.model import DiffusionSpec
from uva_kit.spec.validators import positive


@attrs.frozen
class DdpmSpec(ComponentSpec):
    """``steps`` kept out of the training steps; ``temperature`` scales the per-step noise only."""

    steps: int = attrs.field(default=100, validator=positive)
    temperature: float = attrs.field(default=0.95, validator=attrs.validators.ge(0.0))


class DdpmSampler(Sampler):
    def __init__(self, spec: DdpmSpec, diffusion: DiffusionSpec | None = None):
        super().__init__(spec.steps, diffusion)
        self.temperature = spec.temperature

    def step(self, tables, x, x0, eps, variance_logits, step, index, noise) -> torch.Tensor:
        mean = posterior_mean(tables, x0, x, step)
        if noise is None:
            return mean
        return mean + torch.exp(0.5 * self.log_variance(tables, variance_logits, step)) * noise * self.temperature
