"""What every sampler shares: the respaced schedule cache and the hoisted, per-call embeddings."""

from __future__ import annotations

import torch

from uva_kit.diffusion.loss import learned_range_log_variance, predict_x0
from uva_kit.diffusion.schedule import DiffusionSchedule
from uva_kit.spec.model import DiffusionSpec


class Sampler:
    """Base class: ``sample(denoiser, condition, channels, ...) -> (N, channels)``; subclasses define ``step``.

    ``adds_noise`` says whether ``step`` takes a fresh standard-normal draw (every step but the last).
    """

    adds_noise = True

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
        noise: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Denoise N rows from N(0, I) given their conditions (N, cond_dim).

        The standard-normal draws come from ``generator``, or all from ``noise`` (S, N, channels) with
        S the number of sampling steps: ``noise[0]`` is the initial x, ``noise[k]`` the draw of the
        k-th step (k = 1 .. S - 1; the last step adds none). The generator is then not used.
        """
        schedule = self.schedule(steps)
        rows, size = condition.shape[0], schedule.num_steps
        if noise is not None and tuple(noise.shape) != (size, rows, channels):
            raise ValueError(f"noise must be (steps, rows, channels) = {(size, rows, channels)}, got {tuple(noise.shape)}")
        tables = schedule.tables(condition.device, condition.dtype)
        condition_embedding = denoiser.condition_embedding(condition)
        time_table = denoiser.time_embedding(tables["timestep_map"])  # (S, width), once per call
        step_indices = torch.arange(size, device=condition.device)

        def draw(k: int) -> torch.Tensor:
            if noise is not None:
                return noise[k].to(condition.device, condition.dtype)
            return torch.randn(rows, channels, device=condition.device, dtype=condition.dtype, generator=generator)

        x = draw(0)
        for k, index in enumerate(reversed(range(size))):
            out = denoiser.forward_embedded(x, condition_embedding + time_table[index])
            eps, variance_logits = out.chunk(2, dim=-1)
            step = step_indices[index].expand(x.shape[0])
            x0 = predict_x0(tables, x, step, eps)
            if clamp_x0:
                x0 = x0.clamp(-1, 1)
            step_noise = draw(k + 1) if index > 0 and self.adds_noise else None
            x = self.step(tables, x, x0, eps, variance_logits, step, index, step_noise)
        return x

    def step(self, tables, x, x0, eps, variance_logits, step, index: int, noise: torch.Tensor | None) -> torch.Tensor:
        """x at step ``index`` - 1; ``noise`` is this step's standard-normal draw (None at index 0)."""
        raise NotImplementedError

    @staticmethod
    def log_variance(tables, variance_logits, step) -> torch.Tensor:
        return learned_range_log_variance(tables, variance_logits, step)
