"""The LDM-style KL autoencoder network (as in latent diffusion and MAR's ``kl16``).

Submodule and parameter names follow the original implementation (``encoder.down.0.block.0.conv1``,
``encoder.mid.attn_1.q``, ``quant_conv``, ...), so original state dicts load without renaming.
The encoder halves the resolution once per level after the first; the last level (the lowest
resolution) may carry self-attention blocks, and the middle block always has one.
"""

from __future__ import annotations

import attrs
import torch
import torch.nn.functional as F
from torch import nn


@attrs.frozen
class AutoencoderShape:
    """The architecture knobs of an :class:`AutoencoderKL`.

    ``ch_mult`` gives one level per entry (width ``ch * mult``); there are ``len(ch_mult) - 1``
    stride-2 steps, so the downsampling factor is ``patch_size * 2 ** (len(ch_mult) - 1)``.
    ``lowest_level_attention`` adds one attention block per encoder res-block at the lowest level.
    ``patch_size`` > 1 folds p x p pixel patches into channels before the first conv (and unfolds
    them after the last): a cheap stem for small CPU-trained VAEs; the original uses 1.
    """

    ch: int = 128
    ch_mult: tuple[int, ...] = (1, 1, 2, 2, 4)
    num_res_blocks: int = 2
    z_channels: int = 16
    lowest_level_attention: bool = True
    norm_groups: int = 32
    patch_size: int = 1

    @property
    def downsample(self) -> int:
        return self.patch_size * 2 ** (len(self.ch_mult) - 1)

    @property
    def image_channels(self) -> int:
        """Channels at the network's ends: RGB with patch_size**2 pixels folded into each position."""
        return 3 * self.patch_size**2


def _norm(channels: int, groups: int) -> nn.GroupNorm:
    return nn.GroupNorm(groups, channels, eps=1e-6, affine=True)


class ResnetBlock(nn.Module):
    """norm -> swish -> conv, twice, plus a (1x1-projected when widths differ) shortcut."""

    def __init__(self, in_channels: int, out_channels: int, groups: int):
        super().__init__()
        self.norm1 = _norm(in_channels, groups)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.norm2 = _norm(out_channels, groups)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.nin_shortcut = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        shortcut = x if self.nin_shortcut is None else self.nin_shortcut(x)
        return shortcut + h


class AttnBlock(nn.Module):
    """Single-head self-attention over all spatial positions, with 1x1-conv projections."""

    def __init__(self, channels: int, groups: int):
        super().__init__()
        self.norm = _norm(channels, groups)
        self.q = nn.Conv2d(channels, channels, 1)
        self.k = nn.Conv2d(channels, channels, 1)
        self.v = nn.Conv2d(channels, channels, 1)
        self.proj_out = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, channels, height, width = x.shape
        h = self.norm(x)
        q, k, v = (proj(h).reshape(batch, 1, channels, height * width).transpose(2, 3) for proj in (self.q, self.k, self.v))
        h = F.scaled_dot_product_attention(q, k, v)
        h = h.transpose(2, 3).reshape(batch, channels, height, width)
        return x + self.proj_out(h)


class Downsample(nn.Module):
    """Stride-2 3x3 conv with the original's asymmetric (right/bottom) padding."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class Upsample(nn.Module):
    """Nearest-neighbour x2, then a 3x3 conv."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class MiddleBlock(nn.Module):
    """res-block, attention, res-block at the lowest resolution."""

    def __init__(self, channels: int, groups: int):
        super().__init__()
        self.block_1 = ResnetBlock(channels, channels, groups)
        self.attn_1 = AttnBlock(channels, groups)
        self.block_2 = ResnetBlock(channels, channels, groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block_2(self.attn_1(self.block_1(x)))


class Level(nn.Module):
    """One resolution level's res-blocks, each optionally followed by an attention block."""

    def __init__(self, channels: list[tuple[int, int]], attention: bool, groups: int):
        super().__init__()
        self.block = nn.ModuleList(ResnetBlock(c_in, c_out, groups) for c_in, c_out in channels)
        self.attn = nn.ModuleList(AttnBlock(c_out, groups) for _, c_out in channels) if attention else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for index, block in enumerate(self.block):
            x = block(x)
            if self.attn is not None:
                x = self.attn[index](x)
        return x


class EncoderLevel(Level):
    """A level followed by a stride-2 ``downsample`` (all but the lowest level)."""

    def __init__(self, channels: list[tuple[int, int]], attention: bool, groups: int, downsample: bool):
        super().__init__(channels, attention, groups)
        self.downsample = Downsample(channels[-1][1]) if downsample else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = super().forward(x)
        return x if self.downsample is None else self.downsample(x)


class DecoderLevel(Level):
    """A level followed by an x2 ``upsample`` (all but the full-resolution level)."""

    def __init__(self, channels: list[tuple[int, int]], groups: int, upsample: bool):
        super().__init__(channels, False, groups)
        self.upsample = Upsample(channels[-1][1]) if upsample else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = super().forward(x)
        return x if self.upsample is None else self.upsample(x)


class Encoder(nn.Module):
    """Image (N, 3, H, W) in [-1, 1] -> posterior moments (N, 2 * z_channels, H / f, W / f)."""

    def __init__(self, shape: AutoencoderShape):
        super().__init__()
        groups, widths = shape.norm_groups, [shape.ch * m for m in shape.ch_mult]
        self.patch_size = shape.patch_size
        self.conv_in = nn.Conv2d(shape.image_channels, shape.ch, 3, padding=1)
        self.down = nn.ModuleList()
        width_in = shape.ch
        for level, width in enumerate(widths):
            last = level == len(widths) - 1
            channels = [(width_in if i == 0 else width, width) for i in range(shape.num_res_blocks)]
            self.down.append(EncoderLevel(channels, last and shape.lowest_level_attention, groups, downsample=not last))
            width_in = width
        self.mid = MiddleBlock(width_in, groups)
        self.norm_out = _norm(width_in, groups)
        self.conv_out = nn.Conv2d(width_in, 2 * shape.z_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv_in(F.pixel_unshuffle(x, self.patch_size))
        for level in self.down:
            h = level(h)
        h = self.mid(h)
        return self.conv_out(F.silu(self.norm_out(h)))


class Decoder(nn.Module):
    """Latent (N, z_channels, h, w) -> image (N, 3, h * f, w * f) in about [-1, 1]; attention in the middle only."""

    def __init__(self, shape: AutoencoderShape):
        super().__init__()
        groups, widths = shape.norm_groups, [shape.ch * m for m in shape.ch_mult]
        width_in = widths[-1]
        self.conv_in = nn.Conv2d(shape.z_channels, width_in, 3, padding=1)
        self.mid = MiddleBlock(width_in, groups)
        levels = []
        for level in reversed(range(len(widths))):  # lowest resolution first
            width = widths[level]
            channels = [(width_in if i == 0 else width, width) for i in range(shape.num_res_blocks + 1)]
            levels.insert(0, DecoderLevel(channels, groups, upsample=level > 0))
            width_in = width
        self.up = nn.ModuleList(levels)  # indexed by level, as in the original: up.0 is the full resolution
        self.norm_out = _norm(width_in, groups)
        self.conv_out = nn.Conv2d(width_in, shape.image_channels, 3, padding=1)
        self.patch_size = shape.patch_size

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.mid(self.conv_in(z))
        for level in reversed(self.up):
            h = level(h)
        return F.pixel_shuffle(self.conv_out(F.silu(self.norm_out(h))), self.patch_size)


class AutoencoderKL(nn.Module):
    """Encoder + 1x1 ``quant_conv`` on the moments; 1x1 ``post_quant_conv`` + decoder on latents."""

    def __init__(self, shape: AutoencoderShape):
        super().__init__()
        self.shape = shape
        self.encoder = Encoder(shape)
        self.decoder = Decoder(shape)
        self.quant_conv = nn.Conv2d(2 * shape.z_channels, 2 * shape.z_channels, 1)
        self.post_quant_conv = nn.Conv2d(shape.z_channels, shape.z_channels, 1)

    def moments(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The diagonal Gaussian posterior of ``images`` (N, 3, H, W) in [-1, 1]: (mean, logvar)."""
        mean, logvar = self.quant_conv(self.encoder(images)).chunk(2, dim=1)
        return mean, logvar.clamp(-30.0, 20.0)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.post_quant_conv(z))
