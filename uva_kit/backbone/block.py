"""A pre-LN transformer block (timm ``Block`` layout) whose attention goes through the attention slot."""

from __future__ import annotations

import torch
from torch import nn

from uva_kit.errors import InputError

LN_EPS = 1e-6


class SelfAttention(nn.Module):
    """qkv projection -> attention backend (B, heads, L, head_dim) -> output projection."""

    def __init__(self, width: int, num_heads: int, backend: nn.Module, attn_drop: float, proj_drop: float, qkv_bias: bool):
        super().__init__()
        if width % num_heads:
            raise InputError(f"width {width} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.qkv = nn.Linear(width, 3 * width, bias=qkv_bias)
        self.proj = nn.Linear(width, width)
        self.attn_drop = attn_drop
        self.proj_drop = nn.Dropout(proj_drop)
        # Parameter-free and shared by every block: kept out of the module tree (and the state dict).
        self.__dict__["backend"] = backend

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, width = x.shape
        qkv = self.qkv(x).reshape(batch, length, 3, self.num_heads, width // self.num_heads).permute(2, 0, 3, 1, 4)
        out = self.backend(qkv[0], qkv[1], qkv[2], self.attn_drop if self.training else 0.0)
        return self.proj_drop(self.proj(out.transpose(1, 2).reshape(batch, length, width)))


class Mlp(nn.Module):
    def __init__(self, width: int, hidden: int, drop: float):
        super().__init__()
        self.fc1 = nn.Linear(width, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, width)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class Block(nn.Module):
    """x + Attn(LN(x)), then x + MLP(LN(x)). No drop-path, no layer scale."""

    def __init__(self, width: int, num_heads: int, mlp_ratio: float, backend: nn.Module, dropout: float, qkv_bias: bool = True):
        super().__init__()
        self.norm1 = nn.LayerNorm(width, eps=LN_EPS)
        self.attn = SelfAttention(width, num_heads, backend, dropout, dropout, qkv_bias)
        self.norm2 = nn.LayerNorm(width, eps=LN_EPS)
        self.mlp = Mlp(width, int(width * mlp_ratio), dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))
