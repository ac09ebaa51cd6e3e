"""What a modality is: the data key it reads, the stream(s) it fills, and the head that decodes it.

A *stream* modality turns its data into one token per grid position (B, L, width); the model
concatenates every stream on the channel axis before the backbone's fusion Linear. When a mode does
not give a stream, the modality's learned absent vector fills it. A *prefix* modality (language)
instead prepends ``prefix_tokens`` tokens along the sequence.

Factories receive one keyword, ``context`` (a ``ModalityContext``), so new context fields never
break a plugin.
"""

from __future__ import annotations

import attrs
import torch
from torch import nn

from uva_kit.model.grid import TokenGrid
from uva_kit.spec.model import DiffusionSpec, LayoutSpec


@attrs.frozen
class ModalityContext:
    """``width`` of the backbone, the data ``layout``, the token ``grid``, the ``diffusion`` schedule,
    and the built ``text_encoder`` (None unless the spec has the language modality)."""

    width: int
    layout: LayoutSpec
    grid: TokenGrid
    diffusion: DiffusionSpec
    text_encoder: nn.Module | None = None

    def build_head(self, head_spec, in_channels: int, num_outputs: int) -> nn.Module:
        from uva_kit.registry import default_registry

        return default_registry().get("head", head_spec.type).build(
            head_spec, in_channels=in_channels, cond_dim=self.width, grid=self.grid,
            num_outputs=num_outputs, diffusion=self.diffusion,
        )


def absent_vector(width: int) -> nn.Parameter:
    """A learned "mask"/"absent" vector (1, 1, width), N(0, 0.02)."""
    return nn.Parameter(torch.randn(1, 1, width) * 0.02)


class Modality(nn.Module):
    """Base class. Subclasses set ``data_key`` (the batch key read), ``streams`` or ``prefix_tokens``,
    and ``head`` (a diffusion head, or None when the modality is only an input)."""

    data_key: str | None = None
    streams: tuple[str, ...] = ()
    prefix_tokens: int = 0

    def __init__(self, name: str):
        super().__init__()
        self.name = name
        self.head: nn.Module | None = None

    def prepare(self, value: torch.Tensor) -> torch.Tensor:
        """Batch value -> model units (what ``embed`` reads and the head predicts)."""
        return value

    def restore(self, value: torch.Tensor) -> torch.Tensor:
        """Model units -> batch units (the inverse of ``prepare``)."""
        return value

    def embed(self, stream: str, data: torch.Tensor) -> torch.Tensor:
        """Real tokens (B, L, width) of ``stream`` from prepared data."""
        raise NotImplementedError(f"modality '{self.name}' has no stream '{stream}'")

    def absent_token(self, stream: str) -> torch.Tensor:
        """The learned vector (1, 1, width) that fills ``stream`` when it is absent or hidden."""
        raise NotImplementedError(f"modality '{self.name}' has no stream '{stream}'")

    def prefix(self, value, *, generator=None) -> torch.Tensor:
        """Prefix tokens (B, prefix_tokens, width) for a prefix modality."""
        raise NotImplementedError(f"modality '{self.name}' has no prefix tokens")
