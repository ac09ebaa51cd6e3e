"""``sound``: one log-mel vector per video frame, rendered from the contact impulses, and a head predicting it.

Unlike actions (one row per control step), sound is a per-frame signal: the feature of future frame i
(``uva_kit_sound.synthesis``: the contact sound of the steps leading up to frame i) is projected to
the backbone width and fills the positions of frame i, fused channel-wise with the other streams.
The modality reads ``data_key`` (default ``contact_impulse``, (B, action_chunk, 2)) and renders it;
``prepare`` returns the features in model units: dB mapped linearly from [floor_db, headroom_db]
to [-1, 1] (a fixed map, not fitted to data). ``restore`` gives log-mel dB.
"""

from __future__ import annotations

import attrs
import torch
from torch import nn

from uva_kit.modality.base import Modality, ModalityContext, absent_vector
from uva_kit.spec import ComponentSpec, slot
from uva_kit.spec.validators import positive
from uva_kit_sound.synthesis import ContactSound


@attrs.frozen
class SoundModalitySpec(ComponentSpec):
    """Rendering options (see ``uva_kit_sound.synthesis``); ``head`` predicts the features, ``predict = false`` builds none."""

    data_key: str = "contact_impulse"
    sample_rate: int = attrs.field(default=8000, validator=positive)
    step_seconds: float = attrs.field(default=0.1, validator=positive)
    n_fft: int = attrs.field(default=256, validator=positive)
    n_mels: int = attrs.field(default=16, validator=positive)
    reference_impulse: float = attrs.field(default=1000.0, validator=positive)
    floor_db: float = -60.0
    headroom_db: float = 30.0
    head: ComponentSpec = slot("head", "frame")
    predict: bool = True

    def __attrs_post_init__(self):
        if self.headroom_db <= self.floor_db:
            raise ValueError(f"headroom_db ({self.headroom_db}) must be above floor_db ({self.floor_db})")


class SoundModality(Modality):
    def __init__(self, spec: SoundModalitySpec, *, context: ModalityContext):
        super().__init__(spec.type)
        layout, grid = context.layout, context.grid
        if layout.action_chunk % grid.frames:
            raise ValueError(f"modality '{spec.type}': {layout.action_chunk} action steps do not split evenly into "
                             f"{grid.frames} frames; change layout.action_chunk or layout.future_frames")
        self.data_key = spec.data_key
        self.streams = (spec.type,)
        self.steps, self.frames, self.repeats = layout.action_chunk, grid.frames, grid.tokens_per_frame
        self.floor_db, self.headroom_db = spec.floor_db, spec.headroom_db
        self.sound = ContactSound(sample_rate=spec.sample_rate, step_seconds=spec.step_seconds, n_fft=spec.n_fft,
                                  n_mels=spec.n_mels, reference_impulse=spec.reference_impulse, floor_db=spec.floor_db)
        self.proj = nn.Linear(spec.n_mels, context.width)
        nn.init.xavier_uniform_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)
        self.absent = absent_vector(context.width)
        if spec.predict:
            self.head = context.build_head(spec.head, spec.n_mels, grid.frames)

    def prepare(self, value: torch.Tensor) -> torch.Tensor:
        """Impulses (B, action_chunk, D) -> log-mel features in model units (B, frames, n_mels)."""
        if value.dim() != 3 or value.shape[1] != self.steps:
            raise ValueError(f"'{self.data_key}' must be (B, {self.steps}, D), got {tuple(value.shape)}")
        decibels = self.sound(value, self.frames)
        return (decibels - self.floor_db) / (self.headroom_db - self.floor_db) * 2 - 1

    def restore(self, value: torch.Tensor) -> torch.Tensor:
        """Model units -> log-mel dB (B, frames, n_mels)."""
        return (value + 1) / 2 * (self.headroom_db - self.floor_db) + self.floor_db

    def embed(self, stream: str, data: torch.Tensor) -> torch.Tensor:
        return self.proj(data).repeat_interleave(self.repeats, dim=1)

    def absent_token(self, stream: str) -> torch.Tensor:
        return self.absent
