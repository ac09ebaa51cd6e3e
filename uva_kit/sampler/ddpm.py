"""``ddpm``: respaced ancestral sampling with the learned-range variance (the original's sampler)."""

from __future__ import annotations

import attrs
import torch

from uva_kit.sampler.base import Sampler
from uva_kit.sampler.update import coefficient_table
from uva_kit.spec import ComponentSpec
from uva_kit.spec.model import DiffusionSpec
from uva_kit.spec.validators import non_negative, positive


@attrs.frozen
class DdpmSpec(ComponentSpec):
    """``steps`` kept out of the training steps; ``temperature`` scales the per-step noise only."""

    steps: int = attrs.field(default=100, validator=positive)
    temperature: float = attrs.field(default=0.95, validator=non_negative)


class DdpmSampler(Sampler):
    learned_variance = True

    def __init__(self, spec: DdpmSpec, diffusion: DiffusionSpec | None = None):
        super().__init__(spec.steps, diffusion)
        self.noise_scale = spec.temperature

    def coefficients(self, tables: dict[str, torch.Tensor]) -> torch.Tensor:
        """x <- posterior mean of q(x_{t-1} | x_t, x0) + exp(learned log variance / 2) * temperature * z."""
        return coefficient_table(tables, tables["posterior_mean_coef1"], tables["posterior_mean_coef2"], 0.0)
