"""The masking interface. No build context; masks are True where a token is hidden."""

from __future__ import annotations

import torch


def random_ranks(shape: tuple[int, ...], generator: torch.Generator | None, device) -> torch.Tensor:
    """A random permutation of 0..shape[-1]-1 along the last axis, independently for every leading index."""
    return torch.rand(shape, generator=generator, device=device).argsort(dim=-1).argsort(dim=-1)


class MaskingStrategy:
    def future_mask(self, batch: int, frames: int, tokens: int, *, generator=None, device="cpu") -> torch.Tensor:
        """(batch, frames, tokens) bool: future tokens replaced by the mask vector (and predicted)."""
        raise NotImplementedError

    def input_drop(self, batch: int, length: int, *, generator=None, device="cpu") -> torch.Tensor | None:
        """(batch, length) bool: positions of a *given* input stream replaced by its absent vector; None: keep all."""
        return None
