"""``token``: the video head. Every latent token is denoised from the joint latent at its position."""

from __future__ import annotations

import attrs
import torch

from uva_kit.head.base import DiffusionHead
from uva_kit.spec import ComponentSpec
from uva_kit.spec.model import DiffusionSpec
from uva_kit.spec.validators import positive


@attrs.frozen
class TokenHeadSpec(ComponentSpec):
    """Denoiser ``width`` and ``depth`` (paper: 1024, 6); ``clamp_x0`` clamps predicted x0 to [-1, 1]."""

    width: int = attrs.field(default=1024, validator=positive)
    depth: int = attrs.field(default=6, validator=positive)
    clamp_x0: bool = False


class TokenHead(DiffusionHead):
    """The condition of a token is the joint latent at its position: no aggregation."""

    def __init__(self, spec: TokenHeadSpec, *, in_channels: int, cond_dim: int, diffusion: DiffusionSpec | None = None, **_):
        super().__init__(
            in_channels=in_channels, cond_dim=cond_dim, width=spec.width, depth=spec.depth,
            clamp_x0=spec.clamp_x0, diffusion=diffusion,
        )

    def conditions(self, z: torch.Tensor) -> torch.Tensor:
        return z
