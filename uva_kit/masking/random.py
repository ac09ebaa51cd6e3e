"""``random``: the paper's application-independent masking (Table IX).

A fixed ``ratio`` of tokens is hidden regardless of the task's semantics: in every future frame
independently (so positions differ between frames), and in every *given* input stream (history
video, actions given to forward dynamics, ...), where the tokens are replaced by the stream's absent
vector. The paper found 25% best for video and forward dynamics, 50% for policy and inverse dynamics.
"""

from __future__ import annotations

import attrs
import torch

from uva_kit.masking.base import MaskingStrategy, random_ranks
from uva_kit.spec import ComponentSpec
from uva_kit.spec.validators import probability


@attrs.frozen
class RandomMaskingSpec(ComponentSpec):
    ratio: float = attrs.field(default=0.5, validator=probability)
    mask_inputs: bool = True


class RandomMasking(MaskingStrategy):
    def __init__(self, spec: RandomMaskingSpec | None = None):
        self.spec = spec or RandomMaskingSpec(type="random")

    def _count(self, length: int) -> int:
        return min(length, max(1, round(self.spec.ratio * length)))

    def future_mask(self, batch: int, frames: int, tokens: int, *, generator=None, device="cpu") -> torch.Tensor:
        return random_ranks((batch, frames, tokens), generator, device) < self._count(tokens)

    def input_drop(self, batch: int, length: int, *, generator=None, device="cpu") -> torch.Tensor | None:
        if not self.spec.mask_inputs or self.spec.ratio == 0:
            return None
        return random_ranks((batch, length), generator, device) < round(self.spec.ratio * length)
