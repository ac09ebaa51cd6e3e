"""The MLP-with-AdaLN denoiser shared by every diffusion head (MAR's SimpleMLPAdaLN).

It predicts [eps, variance logits] (2 x in_channels) for noisy rows x at training step t given a
condition c. The pieces a sampler can hoist out of its loop are separate methods:

    y = denoiser.time_embedding(t) + denoiser.condition_embedding(c)   # once per step / once per call
    out = denoiser.forward_embedded(x, y)                               # per step

Each block computes its own (shift, scale, gate) from y, as in the original;
``folded_modulation_weights()`` stacks those linears with each block's LayerNorm affine folded
in, so a sampler computes every step's modulations in one batched matmul before its loop.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from uva_kit.ops import adaln_modulate

FREQUENCY_DIM = 256
MAX_PERIOD = 10000.0
LN_EPS = 1e-6


def sinusoidal_embedding(timesteps: torch.Tensor, dim: int = FREQUENCY_DIM, max_period: float = MAX_PERIOD) -> torch.Tensor:
    """[cos | sin] features of integer timesteps (N,) -> (N, dim)."""
    half = dim // 2
    frequencies = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=timesteps.device) / half)
    angles = timesteps.float()[:, None] * frequencies[None]
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)


class TimestepEmbedder(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(FREQUENCY_DIM, width), nn.SiLU(), nn.Linear(width, width))

    def forward(self, timesteps: torch.Tensor) -> torch.Tensor:
        """Features in float32 (as the original), cast to the MLP's dtype (so a float64 copy runs as an oracle)."""
        return self.mlp(sinusoidal_embedding(timesteps).to(self.mlp[0].weight.dtype))


class ResBlock(nn.Module):
    """x + gate * MLP(modulate(LN(x), shift, scale)), LN with affine parameters."""

    def __init__(self, width: int):
        super().__init__()
        self.in_ln = nn.LayerNorm(width, eps=LN_EPS)
        self.mlp = nn.Sequential(nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(width, 3 * width))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        shift, scale, gate = self.adaLN_modulation(y).chunk(3, dim=-1)
        # LN_affine(x) * (1 + scale) + shift == LN(x) * (1 + scale') + shift' with the affine folded in,
        # so the plain (fused) modulation op applies.
        scale_folded = self.in_ln.weight * (1 + scale)
        shift_folded = self.in_ln.bias * (1 + scale) + shift
        h = adaln_modulate(x, shift_folded, scale_folded - 1, LN_EPS)
        return x + gate * self.mlp(h)


class FinalLayer(nn.Module):
    def __init__(self, width: int, out_channels: int):
        super().__init__()
        self.linear = nn.Linear(width, out_channels)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(width, 2 * width))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        shift, scale = self.adaLN_modulation(y).chunk(2, dim=-1)
        return self.linear(adaln_modulate(x, shift.expand_as(x), scale.expand_as(x), LN_EPS))


class AdaLNDenoiser(nn.Module):
    """SimpleMLPAdaLN: in_channels -> width x depth ResBlocks -> 2 * in_channels, conditioned on c (cond_dim)."""

    def __init__(self, in_channels: int, width: int, depth: int, cond_dim: int):
        super().__init__()
        self.in_channels = in_channels
        self.width = width
        self.input_proj = nn.Linear(in_channels, width)
        self.time_embed = TimestepEmbedder(width)
        self.cond_embed = nn.Linear(cond_dim, width)
        self.res_blocks = nn.ModuleList(ResBlock(width) for _ in range(depth))
        self.final_layer = FinalLayer(width, 2 * in_channels)
        self._initialize()

    def _initialize(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)
        for layer in (self.time_embed.mlp[0], self.time_embed.mlp[2]):
            nn.init.normal_(layer.weight, std=0.02)
        for block in self.res_blocks:
            nn.init.zeros_(block.adaLN_modulation[-1].weight)
            nn.init.zeros_(block.adaLN_modulation[-1].bias)
        for layer in (self.final_layer.adaLN_modulation[-1], self.final_layer.linear):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def time_embedding(self, timesteps: torch.Tensor) -> torch.Tensor:
        """(S,) training-step indices -> (S, width); a sampler can tabulate it once per step count."""
        return self.time_embed(timesteps)

    def condition_embedding(self, condition: torch.Tensor) -> torch.Tensor:
        """(N, cond_dim) -> (N, width); constant over a sampling call."""
        return self.cond_embed(condition)

    def folded_modulation_weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Weight (depth + 1, width, 3 * width) and bias (depth + 1, 1, 3 * width) for ``baddbmm(bias, silu(y), weight)``.

        Entry j < depth gives block j's [multiplier, shift, gate] with its LayerNorm affine (gamma, beta)
        folded in: LN_affine(h) * (1 + scale) + shift == LN(h) * multiplier + shift with
        multiplier = gamma * (1 + scale) and shift' = beta * (1 + scale) + shift. The last entry is the
        final layer's [1 + scale, shift, 0] (its LayerNorm has no affine).
        """
        weights, biases = [], []
        for block in self.res_blocks:
            linear = block.adaLN_modulation[-1]
            (w_shift, w_scale, w_gate), (b_shift, b_scale, b_gate) = linear.weight.chunk(3), linear.bias.chunk(3)
            gamma, beta = block.in_ln.weight, block.in_ln.bias
            weights.append(torch.cat([gamma[:, None] * w_scale, beta[:, None] * w_scale + w_shift, w_gate]))
            biases.append(torch.cat([gamma * (1 + b_scale), beta * (1 + b_scale) + b_shift, b_gate]))
        linear = self.final_layer.adaLN_modulation[-1]
        (w_shift, w_scale), (b_shift, b_scale) = linear.weight.chunk(2), linear.bias.chunk(2)
        weights.append(torch.cat([w_scale, w_shift, torch.zeros_like(w_shift)]))
        biases.append(torch.cat([1 + b_scale, b_shift, torch.zeros_like(b_shift)]))
        return torch.stack(weights).transpose(1, 2).contiguous(), torch.stack(biases)[:, None]

    def forward_embedded(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Noisy rows x (N, in_channels) and the embedding y = time + condition (N, width) -> (N, 2 * in_channels)."""
        h = self.input_proj(x)
        for block in self.res_blocks:
            h = block(h, y)
        return self.final_layer(h, y)

    def forward(self, x: torch.Tensor, timesteps: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        return self.forward_embedded(x, self.time_embedding(timesteps) + self.condition_embedding(condition))
