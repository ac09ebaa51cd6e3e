"""``kl_f16``: the KL-16 autoencoder of LDM/MAR that UVA encodes frames with (frozen, 66,456,019 parameters).

Architecture (``AutoencoderShape()`` defaults): ch 128, ch_mult (1, 1, 2, 2, 4), 2 res-blocks per
level, attention at the lowest (16x16 for 256x256 frames) encoder level and in both middle blocks,
16 latent channels, stride 16. Latents are scaled by 0.2325 as in MAR. Parameter names match the
original, so MAR's ``kl16.ckpt`` (or UVA's ``vae_model.*`` weights) load as they are.
"""

from __future__ import annotations

import attrs
import torch

from uva_kit.encoder.checkpoint import load_state, read_state_dict, warn_random_weights
from uva_kit.encoder.kl_autoencoder import AutoencoderShape
from uva_kit.encoder.vae_encoder import VAEEncoder
from uva_kit.spec import ComponentSpec
from uva_kit.spec.validators import absolute_path, positive

KL_F16_SHAPE = AutoencoderShape()


@attrs.frozen
class KLF16Spec(ComponentSpec):
    """``sample_posterior``: latents are posterior samples (the original, also at inference) or means.

    ``checkpoint``: a local ``.safetensors`` / ``.ckpt`` with the original parameter names; without
    one the weights are random (with a warning). A named but absent file is an error.
    """

    sample_posterior: bool = True
    checkpoint: str | None = attrs.field(default=None, converter=absolute_path)
    scale: float = attrs.field(default=0.2325, validator=positive)


class KLF16Encoder(VAEEncoder):
    """Frames (B, T, 3, H, W) in [0, 1], H and W multiples of 16 -> latents (B, T, 16, H/16, W/16)."""

    def __init__(self, spec: KLF16Spec):
        state = None if spec.checkpoint is None else read_state_dict(spec.checkpoint)  # fail before building
        super().__init__(spec, KL_F16_SHAPE)
        # a buffer (not saved: it comes from the spec), so it moves with the model and a CUDA graph needs no upload
        self.register_buffer("latent_scale", torch.tensor(float(spec.scale)), persistent=False)
        if state is None:
            warn_random_weights(spec.type)
        else:
            load_state(self.autoencoder, state, spec.checkpoint)
