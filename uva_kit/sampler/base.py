"""What every sampler shares: the respaced schedule cache and the hoisted, per-call embeddings."""

from __future__ import annotations

import torch

from uva_kit.diffusion.loss import learned_range_log_variance, predict_x0
from uva_kit.diffusion.schedule import DiffusionSchedule
from uva_kit.spec.model import DiffusionSpec


class Sampler:
    """Base class: ``sample(denoiser, condition, channels, ...) -> (N, channels)``; subclasses define ``step``."""

    def __init__(self, steps: int, diffusion: DiffusionSpec | None = None):
        self.steps = steps
        self.base_schedule = DiffusionSchedule.from_spec(diffusion or DiffusionSpec())
        self._respaced: dict[int, DiffusionSchedule] = {}

    def schedule(self, steps: int | None = None) -> DiffusionSchedule:
        steps = self.steps if steps is None else steps
        if steps not in self._respaced:
            self._respaced[steps] = self.base_schedule.respaced(steps)
        return self._respaced[steps]

    @torch.no_grad()
    def sample(
        self,
        denoiser,
        condition: torch.Tensor,
        channels: int,
        *,
        clamp_x0: bool = False,
        generator: torch.Generator | None = None,
        steps: int | None = None,
    ) -> torch.Tensor:
        """Denoise N rows from N(0, I) given their conditions (N, cond_dim)."""
        schedule = self.schedule(steps)
        tables = schedule.tables(condition.device, condition.dtype)
        condition_embedding = denoiser.condition_embedding(condition)
        time_table = denoiser.time_embedding(tables["timestep_map"])  # (S, width), once per call
        step_indices = torch.arange(schedule.num_steps, device=condition.device)
        x = torch.randn(condition.shape[0], channels, device=condition.device, dtype=condition.dtype, generator=generator)
        for index in reversed(range(schedule.num_steps)):
            out = denoiser.forward_embedded(x, condition_embedding + time_table[index])
            eps, variance_logits = out.chunk(2, dim=-1)
            step = step_indices[index].expand(x.shape[0])
            x0 = predict_x0(tables, x, step, eps)
            if clamp_x0:
                x0 = x0.clamp(-1, 1)
            x = self.step(tables, x, x0, eps, variance_logits, step, index, generator)
        return x

    def step(self, tables, x, x0, eps, variance_logits, step, index: int, generator) -> torch.Tensor:
        raise NotImplementedError

    @staticmethod
    def log_variance(tables, variance_logits, step) -> torch.Tensor:
        return learned_range_log_variance(tables, variance_logits, step)
