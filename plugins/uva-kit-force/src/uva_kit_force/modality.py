"""``force``: a chunk of contact forces (or impulses, torques) per action step, and a head that predicts it.

The data is read from the batch key ``data_key`` (default ``contact_impulse``: the impulse, world
frame, pymunk units, that the PushT agent applied to the block during each step, as recorded by
``uva_kit.envs`` and returned by ``UVADataset``), shaped (B, layout.action_chunk, dim). Step k is
tokenized like action k (a Linear to the backbone width, repeated along the sequence) and fused
channel-wise with the other streams; the head (default ``chunk``, like actions) predicts the chunk.

Contact signals are sparse and heavy-tailed (PushT: median 500, p99 1,500, max 10,000), so values
are compressed with sign(x) * log1p(|x| / compress_scale) before the min/max normalizer maps the
dataset's range to [-1, 1]; ``compress_scale = None`` keeps plain min/max normalization.
"""

from __future__ import annotations

import attrs
import torch

from uva_kit.modality.base import ModalityContext
from uva_kit.modality.chunk import ChunkModality
from uva_kit.model.normalizer import RangeNormalizer
from uva_kit.spec import ComponentSpec, slot
from uva_kit.spec.validators import positive


@attrs.frozen
class ForceModalitySpec(ComponentSpec):
    """``data_key`` and ``dim`` of the signal; ``head`` predicts it, ``predict = false`` makes it an input only."""

    data_key: str = "contact_impulse"
    dim: int = attrs.field(default=2, validator=positive)
    compress_scale: float | None = attrs.field(default=100.0, validator=attrs.validators.optional(positive))
    head: ComponentSpec = slot("head", "chunk")
    predict: bool = True


class SignedLogRangeNormalizer(RangeNormalizer):
    """Min/max normalization of sign(x) log1p(|x| / scale); ``set_range`` takes the range in data units."""

    def __init__(self, dim: int, scale: float):
        super().__init__(dim)
        self.scale = scale

    def compress(self, values: torch.Tensor) -> torch.Tensor:
        return torch.sign(values) * torch.log1p(values.abs() / self.scale)

    def expand(self, values: torch.Tensor) -> torch.Tensor:
        return torch.sign(values) * torch.expm1(values.abs()) * self.scale

    def set_range(self, low, high) -> None:
        super().set_range(*(self.compress(torch.as_tensor(v, dtype=self.low.dtype)) for v in (low, high)))

    def normalize(self, values: torch.Tensor) -> torch.Tensor:
        return super().normalize(self.compress(values))

    def unnormalize(self, values: torch.Tensor) -> torch.Tensor:
        return self.expand(super().unnormalize(values))


class ForceModality(ChunkModality):
    def __init__(self, spec: ForceModalitySpec, *, context: ModalityContext):
        super().__init__(
            spec.type, data_key=spec.data_key, dim=spec.dim, length=context.layout.action_chunk,
            head_spec=spec.head if spec.predict else None, context=context,
        )
        if spec.compress_scale is not None:
            self.normalizer = SignedLogRangeNormalizer(spec.dim, spec.compress_scale)
