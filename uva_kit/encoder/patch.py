"""``patch``: raw pixels rearranged into patch tokens. No parameters, no pretraining; for tests and ablations."""

from __future__ import annotations

import attrs
import torch
import torch.nn.functional as F

from uva_kit.errors import InputError
from uva_kit.spec import ComponentSpec
from uva_kit.spec.validators import positive


@attrs.frozen
class PatchSpec(ComponentSpec):
    """``patch_size`` pixels per token side; a token has 3 * patch_size**2 channels in [-1, 1]."""

    patch_size: int = attrs.field(default=8, validator=positive)


class PatchEncoder(torch.nn.Module):
    """Lossless: ``decode(encode(frames)) == frames`` for frames whose size is a multiple of the patch."""

    def __init__(self, spec: PatchSpec):
        super().__init__()
        self.spec = spec
        self.downsample = spec.patch_size
        self.latent_channels = 3 * spec.patch_size**2

    def encode(self, frames: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Frames (B, T, 3, H, W) in [0, 1] -> (B, T, 3 * p * p, H / p, W / p); deterministic (``generator`` unused)."""
        if frames.dim() != 5 or frames.shape[2] != 3:
            raise InputError(f"frames must be (B, T, 3, H, W), got {tuple(frames.shape)}")
        batch, time, _, height, width = frames.shape
        if height % self.downsample or width % self.downsample:
            raise InputError(f"frame size {height}x{width} is not a multiple of patch_size {self.downsample}")
        tokens = F.pixel_unshuffle(frames.reshape(batch * time, 3, height, width) * 2 - 1, self.downsample)
        return tokens.reshape(batch, time, *tokens.shape[1:])

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        batch, time = latents.shape[:2]
        frames = F.pixel_shuffle(latents.reshape(batch * time, *latents.shape[2:]), self.downsample)
        return ((frames + 1) / 2).clamp(0, 1).reshape(batch, time, *frames.shape[1:])
