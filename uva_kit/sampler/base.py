"""What every sampler shares: the respaced schedule cache, the noise, and the choice of sampling path.

Paths, all computing the same math on the same noise (``uva_kit.sampler.update``):

* ``fused``: the C++/CUDA op running the whole loop in one call (``uva_kit.sampler.fused``);
* ``restructured``: pure PyTorch with everything x-independent hoisted out of the loop;
* ``reference``: the original loop, naively (the oracle; also the path for denoisers that are not
  an ``AdaLNDenoiser``).

``sampler.path = "auto"`` (the default) picks the fastest that applies: fused where the extension
is built for the device and dtype, else restructured. All noise is drawn up front in one
``torch.randn((S + 1, N, C), generator=...)``, so every path gives the same samples (to float
rounding) for the same generator state.
"""

from __future__ import annotations

import contextlib

import torch

from uva_kit.diffusion.schedule import DiffusionSchedule
from uva_kit.errors import InputError, UvaKitError
from uva_kit.spec.model import DiffusionSpec

PATHS = ("auto", "fused", "restructured", "reference")


class Sampler:
    """Base class: ``sample(denoiser, condition, channels, ...) -> (N, channels)``.

    Subclasses set ``learned_variance`` and ``noise_scale`` and define ``coefficients(tables)``
    (see ``uva_kit.sampler.update``).
    """

    learned_variance: bool
    noise_scale: float

    def __init__(self, steps: int, diffusion: DiffusionSpec | None = None):
        self.steps = steps
        self.base_schedule = DiffusionSchedule.from_spec(diffusion or DiffusionSpec())
        self._respaced: dict[int, DiffusionSchedule] = {}
        self.path = "auto"

    def schedule(self, steps: int | None = None) -> DiffusionSchedule:
        steps = self.steps if steps is None else steps
        if steps not in self._respaced:
            self._respaced[steps] = self.base_schedule.respaced(steps)
        return self._respaced[steps]

    def coefficients(self, tables: dict[str, torch.Tensor]) -> torch.Tensor:
        """(S, 7) float64 update coefficients in schedule order from the schedule's float64 tables."""
        raise NotImplementedError

    def choose_path(self, denoiser, condition: torch.Tensor, path: str | None = None) -> str:
        """The path ``sample`` takes: ``path`` (or ``self.path``) checked, "auto" resolved."""
        from uva_kit.head.denoiser import AdaLNDenoiser
        from uva_kit.sampler.fused import fused_unavailable_reason

        path = path or self.path
        if path not in PATHS:
            raise UvaKitError(f"unknown sampling path '{path}'; choose one of {', '.join(PATHS)}")
        structured = isinstance(denoiser, AdaLNDenoiser)
        fused_reason = fused_unavailable_reason(condition.device, condition.dtype) if structured else (
            f"the denoiser is a {type(denoiser).__name__}, not an AdaLNDenoiser")
        if path == "auto":
            return "fused" if fused_reason is None else "restructured" if structured else "reference"
        if path == "fused" and fused_reason is not None:
            raise UvaKitError(f"the fused sampling path cannot run: {fused_reason}. Use sampler.path = 'auto'.")
        if path == "restructured" and not structured:
            raise UvaKitError(f"the restructured path needs an AdaLNDenoiser, got {type(denoiser).__name__}")
        return path

    @contextlib.contextmanager
    def path_set_to(self, path: str | None):
        """``self.path`` is ``path`` within the block (unchanged where ``path`` is None), as before after it."""
        previous = self.path
        self.path = previous if path is None else path
        try:
            yield
        finally:
            self.path = previous

    def draw_noise(self, rows: int, channels: int, steps: int | None = None, *, generator=None, device=None,
                   dtype=torch.float32) -> torch.Tensor:
        """(S + 1, rows, channels): [0] is x_T, [k + 1] the noise of loop iteration k."""
        return torch.randn((self.schedule(steps).num_steps + 1, rows, channels), generator=generator, device=device, dtype=dtype)

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
        path: str | None = None,
    ) -> torch.Tensor:
        """Denoise N rows given their conditions (N, cond_dim), from ``noise`` (S + 1, N, channels) or
        noise drawn from ``generator``."""
        from uva_kit.sampler.fused import fused_sample
        from uva_kit.sampler.reference import reference_sample
        from uva_kit.sampler.restructured import prepare_sampling, restructured_sample

        schedule = self.schedule(steps)
        expected = (schedule.num_steps + 1, condition.shape[0], channels)
        if noise is None:
            noise = self.draw_noise(condition.shape[0], channels, steps, generator=generator, device=condition.device,
                                    dtype=condition.dtype)
        elif tuple(noise.shape) != expected:
            raise InputError(f"noise must be (steps + 1, rows, channels) = {expected}, got {tuple(noise.shape)}")
        chosen = self.choose_path(denoiser, condition, path)
        if chosen == "reference":
            return reference_sample(self, denoiser, condition, schedule, noise, clamp_x0)
        run = fused_sample if chosen == "fused" else restructured_sample
        # the fused op takes fp32 only: under autocast its hoisted tensors are still made in fp32
        fp32 = torch.autocast(condition.device.type, enabled=False) if chosen == "fused" else contextlib.nullcontext()
        with fp32:
            prepared = prepare_sampling(self, denoiser, condition, schedule)
            return run(prepared, noise, clamp_x0=clamp_x0, learned_variance=self.learned_variance,
                       noise_scale=self.noise_scale)
