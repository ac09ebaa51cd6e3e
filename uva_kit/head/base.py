"""What every diffusion head shares: a denoiser, the training schedule, the loss and sampling.

A head turns the backbone's joint latents z (B, L, cond_dim) into one condition per predicted row
(``conditions``), trains its denoiser on those rows, and samples them with a sampler.

Context a head factory receives (``registry.get("head", name).build(spec, **context)``):
``in_channels`` (channels of one predicted row), ``cond_dim`` (backbone width), ``grid``
(a ``TokenGrid``), ``num_outputs`` (rows predicted per sample) and ``diffusion`` (a ``DiffusionSpec``).
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from uva_kit.diffusion.loss import diffusion_loss
from uva_kit.diffusion.schedule import DiffusionSchedule
from uva_kit.errors import InputError
from uva_kit.head.denoiser import AdaLNDenoiser
from uva_kit.model.grid import TokenGrid
from uva_kit.spec.model import DiffusionSpec


class NarrowHeadWarning(UserWarning):
    """A diffusion head narrower than the rows it denoises."""


class DiffusionHead(nn.Module):
    def __init__(
        self, *, in_channels: int, cond_dim: int, width: int, depth: int, clamp_x0: bool, diffusion: DiffusionSpec | None,
        loss_repeats: int = 1, shared_noise: bool = False,
    ):
        super().__init__()
        if width < in_channels:
            warnings.warn(
                f"{type(self).__name__}: width {width} is below the {in_channels} channels it denoises; its output "
                f"has rank at most {width}, so it cannot predict the noise of every channel. Set the head's width "
                f"to at least {in_channels}.", NarrowHeadWarning, stacklevel=2,
            )
        self.in_channels = in_channels
        self.clamp_x0 = clamp_x0
        self.loss_repeats = loss_repeats
        self.shared_noise = shared_noise
        self.net = AdaLNDenoiser(in_channels, width, depth, cond_dim)
        self.schedule = DiffusionSchedule.from_spec(diffusion or DiffusionSpec())

    def conditions(self, z: torch.Tensor) -> torch.Tensor:
        """(B, L, cond_dim) joint latents -> (B, M, cond_dim): one condition per predicted row."""
        raise NotImplementedError

    def loss(self, z: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None, generator=None) -> torch.Tensor:
        """Mean diffusion loss over the rows of ``target`` (B, M, in_channels), weighted by ``weight`` (B, M).

        Each row's loss is the mean over ``loss_repeats`` independent draws of (timestep, noise).
        """
        conditions = self.conditions(z)
        if target.shape[:2] != conditions.shape[:2] or target.shape[-1] != self.in_channels:
            raise InputError(
                f"{type(self).__name__}: target {tuple(target.shape)} does not match "
                f"{tuple(conditions.shape[:2]) + (self.in_channels,)}"
            )
        repeats = self.loss_repeats
        flat_conditions = conditions.reshape(-1, conditions.shape[-1]).repeat(repeats, 1)
        flat_target = target.reshape(-1, self.in_channels).repeat(repeats, 1)
        # the loss works on fp32 rows when the target is half precision; the denoiser takes the conditions' dtype
        per_row = diffusion_loss(self.schedule, lambda x, t: self.net(x.to(flat_conditions.dtype), t, flat_conditions),
                                 flat_target, generator)
        per_row = per_row.reshape(repeats, -1).mean(dim=0)
        if weight is None:
            return per_row.mean()
        weight = weight.reshape(-1).to(per_row.dtype)
        return (per_row * weight).sum() / weight.sum().clamp(min=1)

    def draw_noise(self, sampler, batch: int, rows: int, generator=None, steps: int | None = None, device=None,
                   dtype=None) -> torch.Tensor:
        """The noise ``sample`` draws for ``batch`` samples of ``rows`` rows, (steps + 1, batch * rows,
        in_channels): a sequence per row, or with ``shared_noise`` one per sample given to all its rows."""
        if not self.shared_noise:
            return sampler.draw_noise(batch * rows, self.in_channels, steps, generator=generator, device=device,
                                      dtype=dtype)
        per_sample = sampler.draw_noise(batch, self.in_channels, steps, generator=generator, device=device, dtype=dtype)
        return per_sample[:, :, None, :].expand(-1, -1, rows, -1).reshape(per_sample.shape[0], -1, self.in_channels)

    def sample(
        self, z: torch.Tensor, sampler, generator=None, steps: int | None = None, noise: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Rows (B, M, in_channels) drawn from noise given the joint latents z.

        ``noise`` (steps + 1, B, M, in_channels) or (steps + 1, B * M, in_channels) replaces the
        generator's draws (see ``Sampler.sample``); without it the noise comes from ``draw_noise``.
        """
        conditions = self.conditions(z)
        if noise is None:
            noise = self.draw_noise(sampler, *conditions.shape[:2], generator, steps, conditions.device, conditions.dtype)
        rows = sampler.sample(
            self.net, conditions.reshape(-1, conditions.shape[-1]), self.in_channels,
            clamp_x0=self.clamp_x0, steps=steps, noise=noise.reshape(noise.shape[0], -1, noise.shape[-1]),
        )
        return rows.reshape(*conditions.shape[:2], self.in_channels)


def check_grid(grid: TokenGrid | None, head: str) -> TokenGrid:
    if grid is None:
        raise InputError(f"the {head} head needs the token grid (context 'grid')")
    return grid
