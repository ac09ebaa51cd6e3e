"""The model-owned standardization of frame tokens: (token - mean at its position) / std of its channel.

Raw-pixel ``patch`` tokens of a fixed-camera scene are dominated by what never changes (the
background, PushT's goal region): the agent and the block move only a few channels of a few tokens.
Subtracting the mean frame and dividing by each channel's spread makes the moving parts the signal
the backbone sees and the video head predicts. ``fit`` measures both on training latents (as the
action normalizer measures its range); the buffers are saved with the model. Until then it is the
identity.
"""

from __future__ import annotations

import torch
from torch import nn

from uva_kit.errors import InputError

MIN_STD = 1e-3


class LatentStandardizer(nn.Module):
    """Tokens (B, frames * tokens_per_frame, channels) <-> standardized tokens, one mean per (position, channel)."""

    def __init__(self, tokens_per_frame: int, channels: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(tokens_per_frame, channels))
        self.register_buffer("std", torch.ones(channels))

    def fit(self, tokens: torch.Tensor) -> None:
        """Measure the statistics on tokens (N, frames * tokens_per_frame, channels) of training frames."""
        positions, channels = self.mean.shape
        if tokens.dim() != 3 or tokens.shape[-1] != channels or tokens.shape[1] % positions:
            raise InputError(f"tokens must be (N, frames * {positions}, {channels}), got {tuple(tokens.shape)}")
        per_position = tokens.reshape(-1, positions, channels).to(self.mean)
        mean = per_position.mean(dim=0)
        std = (per_position - mean).pow(2).mean(dim=(0, 1)).sqrt().clamp(min=MIN_STD)
        self.mean.copy_(mean)
        self.std.copy_(std)

    def _by_position(self, tokens: torch.Tensor) -> torch.Tensor:
        positions, channels = self.mean.shape
        return tokens.reshape(tokens.shape[0], -1, positions, channels)

    def standardize(self, tokens: torch.Tensor) -> torch.Tensor:
        return ((self._by_position(tokens) - self.mean) / self.std).reshape(tokens.shape)

    def unstandardize(self, tokens: torch.Tensor) -> torch.Tensor:
        return (self._by_position(tokens) * self.std + self.mean).reshape(tokens.shape)
