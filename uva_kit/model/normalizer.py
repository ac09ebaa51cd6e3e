"""The model-owned min/max normalizer of a modality's values (actions: environment units <-> [-1, 1]).

Its ``low``/``high`` buffers, the range mapped to [-1, 1], are saved with the model. The default
range is [-1, 1], the identity; set the dataset's range with ``set_range`` (as the original's
"limits" normalizer does).
"""

from __future__ import annotations

import torch
from torch import nn

from uva_kit.errors import InputError

RANGE_EPS = 1e-4


class RangeNormalizer(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.register_buffer("low", -torch.ones(dim))
        self.register_buffer("high", torch.ones(dim))

    def set_range(self, low, high) -> None:
        """Map the data range [low, high] to [-1, 1]. A dimension whose range is below ``RANGE_EPS`` is only
        shifted, its low value to 0, as the original's limits normalizer does (scale 1, offset -low): the range
        stored for it is [low - 1, low + 1]."""
        low = torch.as_tensor(low, dtype=self.low.dtype)
        high = torch.as_tensor(high, dtype=self.high.dtype)
        if low.numel() != self.low.numel() or high.numel() != self.high.numel():
            raise InputError(f"normalizer range needs {self.low.numel()} values per bound, got low={low.tolist()}, "
                             f"high={high.tolist()}")
        low, high = low.reshape(self.low.shape), high.reshape(self.high.shape)
        if (high < low).any():
            raise InputError(f"normalizer range has high < low: low={low.tolist()}, high={high.tolist()}")
        constant = high - low < RANGE_EPS
        self.low.copy_(torch.where(constant, low - 1, low))
        self.high.copy_(torch.where(constant, low + 1, high))

    def _scale_offset(self) -> tuple[torch.Tensor, torch.Tensor]:
        span = self.high - self.low
        # A stored range below RANGE_EPS only comes from a model saved before set_range widened constant
        # dimensions: it was trained with that dimension shifted to -1, so it keeps that mapping.
        span = torch.where(span < RANGE_EPS, torch.full_like(span, 2.0), span)
        scale = 2.0 / span
        return scale, -1.0 - scale * self.low

    def normalize(self, values: torch.Tensor) -> torch.Tensor:
        scale, offset = self._scale_offset()
        return values * scale + offset

    def unnormalize(self, values: torch.Tensor) -> torch.Tensor:
        scale, offset = self._scale_offset()
        return (values - offset) / scale
