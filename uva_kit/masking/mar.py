"""``mar``: the original's masking. One ratio per batch ~ truncated normal on [min_ratio, max_ratio]
(loc ``mean``, scale ``std``); ceil(ratio * tokens) positions per sample, the same in every future frame.
History and other given inputs are never masked.
"""

from __future__ import annotations

import math

import attrs
import torch

from uva_kit.errors import InputError
from uva_kit.masking.base import MaskingStrategy, random_ranks
from uva_kit.spec import ComponentSpec
from uva_kit.spec.validators import finite, positive, probability


@attrs.frozen
class MarMaskingSpec(ComponentSpec):
    min_ratio: float = attrs.field(default=0.7, validator=probability)
    max_ratio: float = attrs.field(default=1.0, validator=probability)
    mean: float = attrs.field(default=1.0, validator=finite)
    std: float = attrs.field(default=0.25, validator=positive)

    def __attrs_post_init__(self):
        if self.min_ratio > self.max_ratio:
            raise InputError(f"min_ratio {self.min_ratio} is above max_ratio {self.max_ratio}")


def truncated_normal(mean: float, std: float, low: float, high: float, generator=None) -> float:
    """One draw of N(mean, std) truncated to [low, high], by inverting the CDF."""
    cdf = torch.special.ndtr(torch.tensor([(low - mean) / std, (high - mean) / std], dtype=torch.float64))
    device = generator.device if generator is not None else None  # a generator draws on its own device
    u = torch.rand(1, generator=generator, dtype=torch.float64, device=device).cpu()
    value = mean + std * torch.special.ndtri(cdf[0] + u * (cdf[1] - cdf[0]))
    return float(value.clamp(low, high))


class MarMasking(MaskingStrategy):
    def __init__(self, spec: MarMaskingSpec | None = None):
        self.spec = spec or MarMaskingSpec(type="mar")

    def ratio(self, generator=None) -> float:
        spec = self.spec
        return truncated_normal(spec.mean, spec.std, spec.min_ratio, spec.max_ratio, generator)

    def future_mask(self, batch: int, frames: int, tokens: int, *, generator=None, device="cpu") -> torch.Tensor:
        masked = max(1, math.ceil(tokens * self.ratio(generator)))
        per_position = random_ranks((batch, tokens), generator, device) < masked
        return per_position[:, None, :].expand(batch, frames, tokens)
