"""``mar``: the MAR-style bidirectional encoder-decoder transformer over the fused token grid.

    streams (each B, L, width)  --concat on channels--> Linear(S * width -> width)     # channel-wise fusion
      + temporal[t] + spatial[s]                                                        # factorised learned tables
      [prefix tokens + their table prepended along the sequence]                        # e.g. language
      -> LN -> encoder blocks -> LN -> Linear -> + decoder tables -> decoder blocks -> LN
      -> drop the prefix -> + diffusion tables -> z (B, L, width)                       # the heads' conditions

Every position goes through encoder and decoder (masked ones carry the mask vector in their
stream), so the sequence length is constant. Context the factory receives: ``streams`` (number of
fused streams), ``grid`` (``TokenGrid``), ``prefix_tokens`` (0 without language) and ``attention``
(a built attention backend, shared by all blocks).
"""

from __future__ import annotations

import attrs
import torch
from torch import nn

from uva_kit.backbone.block import LN_EPS, Block
from uva_kit.errors import InputError
from uva_kit.model.grid import TokenGrid
from uva_kit.spec import ComponentSpec
from uva_kit.spec.validators import positive, probability


@attrs.frozen
class MarSpec(ComponentSpec):
    """Paper scale is MAR-B: width 768, 12 encoder + 12 decoder blocks, 12 heads, dropout 0.1."""

    width: int = attrs.field(default=768, validator=positive)
    depth: int = attrs.field(default=12, validator=positive)
    decoder_depth: int = attrs.field(default=12, validator=positive)
    num_heads: int = attrs.field(default=12, validator=positive)
    mlp_ratio: float = attrs.field(default=4.0, validator=positive)
    dropout: float = attrs.field(default=0.1, validator=probability)

    def __attrs_post_init__(self):
        if self.width % self.num_heads:
            raise InputError(f"width {self.width} must be divisible by num_heads {self.num_heads}")


def _table(*shape: int) -> nn.Parameter:
    return nn.Parameter(torch.randn(*shape) * 0.02)


class MarBackbone(nn.Module):
    def __init__(self, spec: MarSpec, *, streams: int, grid: TokenGrid, attention: nn.Module, prefix_tokens: int = 0):
        super().__init__()
        width = spec.width
        self.width = width
        self.grid = grid
        self.num_streams = streams
        self.prefix_tokens = prefix_tokens
        self.fusion = nn.Linear(streams * width, width)
        self.temporal_pos_embed = _table(1, grid.frames, 1, width)
        self.spatial_pos_embed = _table(1, 1, grid.tokens_per_frame, width)
        self.decoder_temporal_pos_embed = _table(1, grid.frames, 1, width)
        self.decoder_spatial_pos_embed = _table(1, 1, grid.tokens_per_frame, width)
        self.diffusion_temporal_embed = _table(1, grid.frames, 1, width)
        self.diffusion_spatial_embed = _table(1, 1, grid.tokens_per_frame, width)
        if prefix_tokens:
            self.text_pos_embed = _table(1, prefix_tokens, width)
            self.decoder_text_pos_embed = _table(1, prefix_tokens, width)
        self.z_proj_ln = nn.LayerNorm(width, eps=LN_EPS)
        self.encoder_blocks = nn.ModuleList(
            Block(width, spec.num_heads, spec.mlp_ratio, attention, spec.dropout) for _ in range(spec.depth)
        )
        self.encoder_norm = nn.LayerNorm(width, eps=LN_EPS)
        self.decoder_embed = nn.Linear(width, width)
        self.decoder_blocks = nn.ModuleList(
            Block(width, spec.num_heads, spec.mlp_ratio, attention, spec.dropout) for _ in range(spec.decoder_depth)
        )
        self.decoder_norm = nn.LayerNorm(width, eps=LN_EPS)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)

    def _grid_table(self, temporal: torch.Tensor, spatial: torch.Tensor) -> torch.Tensor:
        return (temporal + spatial).reshape(1, self.grid.length, self.width)

    def forward(self, streams: list[torch.Tensor], prefix: torch.Tensor | None = None) -> torch.Tensor:
        """Fuse ``streams`` (each (B, L, width)), optionally prepend ``prefix`` (B, P, width) -> z (B, L, width)."""
        if len(streams) != self.num_streams:
            raise InputError(f"the backbone was built for {self.num_streams} streams, got {len(streams)}")
        if (prefix is None) != (self.prefix_tokens == 0) or (prefix is not None and prefix.shape[1] != self.prefix_tokens):
            raise InputError(f"the backbone expects {self.prefix_tokens} prefix tokens, got "
                             f"{0 if prefix is None else prefix.shape[1]}")
        x = self.fusion(torch.cat(streams, dim=-1))
        x = x + self._grid_table(self.temporal_pos_embed, self.spatial_pos_embed)
        if prefix is not None:
            x = torch.cat([prefix + self.text_pos_embed, x], dim=1)
        x = self.z_proj_ln(x)
        for block in self.encoder_blocks:
            x = block(x)
        x = self.decoder_embed(self.encoder_norm(x))
        grid_table = self._grid_table(self.decoder_temporal_pos_embed, self.decoder_spatial_pos_embed)
        if prefix is not None:
            grid_table = torch.cat([self.decoder_text_pos_embed, grid_table], dim=1)
        x = x + grid_table
        for block in self.decoder_blocks:
            x = block(x)
        x = self.decoder_norm(x)[:, self.prefix_tokens:]
        return x + self._grid_table(self.diffusion_temporal_embed, self.diffusion_spatial_embed)
