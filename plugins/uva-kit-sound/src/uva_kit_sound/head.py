"""``frame``: a diffusion head for per-frame signals. Each frame's joint latents are mean-pooled into one
condition (a Linear over time maps frames to ``num_outputs`` rows when they differ), refined by an
MLP, then denoised by the AdaLN-MLP denoiser every uva_kit head uses."""

from __future__ import annotations

import attrs
import torch
from torch import nn

from uva_kit.head.base import DiffusionHead, check_grid
from uva_kit.spec import ComponentSpec
from uva_kit.spec.model import DiffusionSpec
from uva_kit.spec.validators import positive


@attrs.frozen
class FrameHeadSpec(ComponentSpec):
    """Denoiser ``width`` and ``depth``; ``clamp_x0`` clamps the predicted x0 to [-1, 1] while sampling."""

    width: int = attrs.field(default=256, validator=positive)
    depth: int = attrs.field(default=3, validator=positive)
    clamp_x0: bool = True


class FrameHead(DiffusionHead):
    def __init__(self, spec: FrameHeadSpec, *, in_channels: int, cond_dim: int, grid=None, num_outputs: int,
                 diffusion: DiffusionSpec | None = None, **_):
        super().__init__(in_channels=in_channels, cond_dim=cond_dim, width=spec.width, depth=spec.depth,
                         clamp_x0=spec.clamp_x0, diffusion=diffusion)
        self.grid = check_grid(grid, "frame")
        self.to_outputs = nn.Identity() if num_outputs == self.grid.frames else nn.Linear(self.grid.frames, num_outputs)
        self.refine = nn.Sequential(nn.Linear(cond_dim, cond_dim), nn.SiLU(), nn.Linear(cond_dim, cond_dim))

    def conditions(self, z: torch.Tensor) -> torch.Tensor:
        per_frame = z.reshape(z.shape[0], self.grid.frames, self.grid.tokens_per_frame, z.shape[-1]).mean(dim=2)
        return self.refine(self.to_outputs(per_frame.transpose(1, 2)).transpose(1, 2))
