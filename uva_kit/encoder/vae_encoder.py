"""The shared frames <-> latents wrapper of the KL-VAE encoders (``kl_f16``, ``conv_vae``).

Frames (B, T, 3, H, W) in [0, 1] are mapped to [-1, 1] and encoded into a diagonal Gaussian
posterior; latents are its sample (or mean) times ``latent_scale``. The VAE is frozen: its
parameters never require gradients inside a UVA model.
"""

from __future__ import annotations

import torch
from torch import nn

from uva_kit.encoder.kl_autoencoder import AutoencoderKL, AutoencoderShape
from uva_kit.errors import InputError


def sample_latents(mean: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """A draw from the diagonal Gaussian N(mean, exp(logvar))."""
    noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
    return mean + torch.exp(0.5 * logvar) * noise


class VAEEncoder(nn.Module):
    """Base of the KL-VAE encoders. Subclasses register ``latent_scale`` as a 0-dim buffer."""

    latent_scale: torch.Tensor

    def __init__(self, spec, shape: AutoencoderShape):
        super().__init__()
        self.spec = spec
        self.autoencoder = AutoencoderKL(shape)
        self.latent_channels = shape.z_channels
        self.downsample = shape.downsample
        self.sample_posterior = spec.sample_posterior
        self.requires_grad_(False)

    def _images(self, frames: torch.Tensor) -> torch.Tensor:
        if frames.dim() != 5 or frames.shape[2] != 3:
            raise InputError(f"frames must be (B, T, 3, H, W) in [0, 1], got shape {tuple(frames.shape)}")
        height, width = frames.shape[-2:]
        if height % self.downsample or width % self.downsample:
            raise InputError(
                f"frame size {height}x{width} is not a multiple of the encoder's downsampling factor "
                f"{self.downsample}; resize the frames (e.g. layout.image_size) first"
            )
        return frames.flatten(0, 1) * 2 - 1

    def posterior(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, logvar) of the scaled latents of ``frames``, each (B, T, C, h, w)."""
        mean, logvar = self.autoencoder.moments(self._images(frames))
        mean = mean * self.latent_scale
        logvar = logvar + 2 * torch.log(self.latent_scale)
        batch, time = frames.shape[:2]
        return mean.unflatten(0, (batch, time)), logvar.unflatten(0, (batch, time))

    def encode(self, frames: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Latents (B, T, C, h, w): a posterior sample when ``sample_posterior``, else the mean."""
        mean, logvar = self.posterior(frames)
        return sample_latents(mean, logvar, generator) if self.sample_posterior else mean

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Frames (B, T, 3, H, W) in [0, 1] from latents (B, T, C, h, w)."""
        images = self.autoencoder.decode(latents.flatten(0, 1) / self.latent_scale)
        frames = ((images + 1) / 2).clamp(0, 1)
        return frames.unflatten(0, latents.shape[:2])
