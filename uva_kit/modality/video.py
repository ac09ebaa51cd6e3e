"""``video``: the future-frame and history-frame streams over encoder latents, and the video head.

Both streams are Linear projections of latent tokens (``z_proj`` for the future, ``z_proj_cond``
for the history); history frame i, token s sits at the position of future frame i, token s. One
learned vector stands for masked future tokens and for absent history, as in the original.
The model encodes frames to latent tokens (B, frames * tokens, channels) before calling ``embed``.
"""

from __future__ import annotations

import attrs
import torch
from torch import nn

from uva_kit.modality.base import Modality, ModalityContext, absent_vector
from uva_kit.modality.latent_standardizer import LatentStandardizer
from uva_kit.mode.base import HISTORY, VIDEO
from uva_kit.spec import ComponentSpec, slot


@attrs.frozen
class VideoModalitySpec(ComponentSpec):
    """``head`` decodes future latent tokens; ``predict = false`` builds no head (the UVA-action ablation).

    ``standardize = true`` maps frame tokens to (token - training mean at its position) / channel std
    before the model sees them (see :mod:`uva_kit.modality.latent_standardizer`); the original feeds
    scaled VAE latents as they are.
    """

    head: ComponentSpec = slot("head", "token")
    predict: bool = True
    standardize: bool = False


class VideoModality(Modality):
    data_key = "future_frames"
    streams = (VIDEO, HISTORY)

    def __init__(self, spec: VideoModalitySpec, *, context: ModalityContext):
        super().__init__(spec.type)
        channels, width = context.grid.channels, context.width
        self.z_proj = nn.Linear(channels, width)
        self.z_proj_cond = nn.Linear(channels, width)
        self.fake_latent_x = absent_vector(width)
        self.standardizer = LatentStandardizer(context.grid.tokens_per_frame, channels) if spec.standardize else None
        for layer in (self.z_proj, self.z_proj_cond):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)
        if spec.predict:
            self.head = context.build_head(spec.head, channels, context.grid.length)

    def embed(self, stream: str, data: torch.Tensor) -> torch.Tensor:
        if stream == VIDEO:
            return self.z_proj(data)
        if stream == HISTORY:
            return self.z_proj_cond(data)
        return super().embed(stream, data)

    def absent_token(self, stream: str) -> torch.Tensor:
        if stream in self.streams:
            return self.fake_latent_x
        return super().absent_token(stream)
