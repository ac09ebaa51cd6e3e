"""``chunk``: the action head. The joint latents are pooled into one condition per action, then denoised.

Aggregator (the original's ``conv_fc``): per frame conv 3x3 -> ReLU -> adaptive avg-pool to
pool x pool -> MLP to one vector per frame; a Linear over time maps frames to ``num_outputs``
actions; a refining MLP gives each action its condition. It runs once per call, before sampling.
"""

from __future__ import annotations

import attrs
import torch
from torch import nn

from uva_kit.head.base import DiffusionHead, check_grid
from uva_kit.model.grid import TokenGrid
from uva_kit.spec import ComponentSpec
from uva_kit.spec.model import DiffusionSpec
from uva_kit.spec.validators import positive


@attrs.frozen
class ChunkHeadSpec(ComponentSpec):
    """Denoiser ``width``/``depth`` (paper: 1024, 6); ``pool_size`` of the aggregator; x0 clamped by default.

    ``loss_repeats`` trains each action on that many independent (timestep, noise) draws per backbone
    pass (MAR's ``diffusion_batch_mul``; the original UVA uses 1): more action-head signal per step.

    ``shared_noise`` samples a chunk's actions from one noise draw (each keeps its own condition)
    instead of one draw per action, as the original does. With independent draws, a weakly trained
    head lets consecutive actions land in different modes, tens of pixels apart.
    """

    width: int = attrs.field(default=1024, validator=positive)
    depth: int = attrs.field(default=6, validator=positive)
    pool_size: int = attrs.field(default=4, validator=positive)
    clamp_x0: bool = True
    loss_repeats: int = attrs.field(default=1, validator=positive)
    shared_noise: bool = False


class ChunkAggregator(nn.Module):
    """(B, frames * h * w, C) joint latents -> (B, num_outputs, C) per-action conditions."""

    def __init__(self, channels: int, grid: TokenGrid, num_outputs: int, pool_size: int):
        super().__init__()
        self.grid = grid
        self.conv = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(pool_size))
        self.fc = nn.Sequential(nn.Linear(channels * pool_size**2, channels), nn.ReLU(), nn.Linear(channels, channels))
        self.interpolate = nn.Linear(grid.frames, num_outputs)
        self.refine = nn.Sequential(nn.Linear(channels, channels), nn.ReLU(), nn.Linear(channels, channels))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        batch, _, channels = z.shape
        grid = self.grid
        maps = z.reshape(batch * grid.frames, grid.height, grid.width, channels).permute(0, 3, 1, 2)
        per_frame = self.fc(self.conv(maps).flatten(1)).reshape(batch, grid.frames, channels)
        per_action = self.interpolate(per_frame.transpose(1, 2)).transpose(1, 2)
        return self.refine(per_action)


class ChunkHead(DiffusionHead):
    def __init__(
        self,
        spec: ChunkHeadSpec,
        *,
        in_channels: int,
        cond_dim: int,
        grid: TokenGrid | None = None,
        num_outputs: int,
        diffusion: DiffusionSpec | None = None,
        **_,
    ):
        super().__init__(
            in_channels=in_channels, cond_dim=cond_dim, width=spec.width, depth=spec.depth,
            clamp_x0=spec.clamp_x0, diffusion=diffusion, loss_repeats=spec.loss_repeats,
            shared_noise=spec.shared_noise,
        )
        self.aggregator = ChunkAggregator(cond_dim, check_grid(grid, "chunk"), num_outputs, spec.pool_size)

    def conditions(self, z: torch.Tensor) -> torch.Tensor:
        return self.aggregator(z)
