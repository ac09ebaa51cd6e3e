"""What an encoder says about frames before a latent is drawn: its posterior, or fixed latents.

A KL-VAE encoder (``sample_posterior`` set) gives a diagonal Gaussian per frame; the original UVA
samples it at every use, also at inference. Keeping the moments rather than one sample lets the
latent cache and the policy reuse an encoding while every use still draws its own latents.
"""

from __future__ import annotations

import attrs
import torch
from torch import nn

from uva_kit.encoder.vae_encoder import sample_latents


@attrs.frozen
class LatentPosterior:
    """Latents (..., C, h, w): the posterior ``mean`` and ``logvar``, or fixed latents (``logvar`` None)."""

    mean: torch.Tensor
    logvar: torch.Tensor | None = None

    def draw(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """Latents as the encoder would give them: a fresh posterior sample, or the fixed latents."""
        return self.mean if self.logvar is None else sample_latents(self.mean, self.logvar, generator)

    def select(self, index) -> LatentPosterior:
        """The posterior of ``mean[index]`` (e.g. ``(slice(None), t)`` for frame t of every sample)."""
        return LatentPosterior(self.mean[index], None if self.logvar is None else self.logvar[index])

    @staticmethod
    def cat(posteriors: list[LatentPosterior], dim: int) -> LatentPosterior:
        """The posteriors concatenated along ``dim`` (all sampled, or all fixed)."""
        logvars = [p.logvar for p in posteriors]
        return LatentPosterior(torch.cat([p.mean for p in posteriors], dim),
                               None if logvars[0] is None else torch.cat(logvars, dim))


def encoder_posterior(encoder: nn.Module, frames: torch.Tensor) -> LatentPosterior:
    """The posterior of ``frames`` (B, T, 3, H, W) under ``encoder``: moments where it samples, else its latents."""
    if getattr(encoder, "sample_posterior", False):
        return LatentPosterior(*encoder.posterior(frames))
    return LatentPosterior(encoder.encode(frames))
