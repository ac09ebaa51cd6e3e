"""Training a KL-VAE encoder (``conv_vae``) on image frames: reconstruction MSE + a small KL term.

    report = train_vae(encoder, train_frames, held_out_frames, minutes=10)

The budget is a number of steps, a number of minutes, or both (whichever ends first); the learning
rate follows a cosine decay over it. Minutes are wall-clock time, or this process's CPU time with
``cpu_time=True`` (for honest budgets on a machine shared with other jobs). At the end the latent scale is set to 1 / std of the training
latents (so latents are about unit-variance) and the held-out PSNR is measured.
"""

from __future__ import annotations

import math
import time

import attrs
import numpy as np
import torch
from tqdm import tqdm

from uva_kit.encoder.vae_encoder import VAEEncoder, sample_latents
from uva_kit.errors import InputError

EVAL_FRAMES = 512  # at most this many frames for the held-out PSNR and the latent scale


@attrs.frozen
class VAETrainingReport:
    steps: int
    seconds: float  # of the budget's clock: wall-clock, or CPU time with cpu_time=True
    losses: tuple[float, ...]  # the training loss of every step
    held_out_psnr: float  # dB, reconstructions from the posterior mean
    held_out_psnr_sampled: float  # dB, reconstructions from a posterior sample
    latent_scale: float


def _as_images(frames: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> float (N, 3, H, W) in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 127.5 - 1


def _spread(frames: np.ndarray, count: int = EVAL_FRAMES) -> np.ndarray:
    """At most ``count`` frames evenly spread over ``frames``."""
    return frames[:: max(1, math.ceil(len(frames) / count))]


def _learning_rate(base: float, progress: float, warmup: float = 0.02) -> float:
    if progress < warmup:
        return base * (progress / warmup)
    return base * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


@torch.no_grad()
def reconstruction_psnr(encoder: VAEEncoder, frames: np.ndarray, sample: bool, batch_size: int = 64) -> float:
    """PSNR of ``encoder``'s reconstructions of uint8 frames (N, H, W, 3)."""
    squared_error, count = 0.0, 0
    for start in range(0, len(frames), batch_size):
        images = _as_images(frames[start:start + batch_size])
        mean, logvar = encoder.autoencoder.moments(images)
        decoded = encoder.autoencoder.decode(sample_latents(mean, logvar) if sample else mean)
        squared_error += torch.sum((((decoded + 1) / 2).clamp(0, 1) - (images + 1) / 2) ** 2).item()
        count += images.numel()
    return 10 * math.log10(1.0 / max(squared_error / count, 1e-12))


@torch.no_grad()
def _latent_std(encoder: VAEEncoder, frames: np.ndarray, batch_size: int = 64) -> float:
    means = [encoder.autoencoder.moments(_as_images(frames[s:s + batch_size]))[0] for s in range(0, len(frames), batch_size)]
    return torch.cat(means).std().item()


def train_vae(
    encoder: VAEEncoder,
    frames: np.ndarray,
    held_out: np.ndarray,
    *,
    steps: int | None = None,
    minutes: float | None = None,
    batch_size: int = 16,
    learning_rate: float = 2e-3,
    kl_weight: float = 1e-4,
    seed: int = 0,
    cpu_time: bool = False,
    progress: bool = True,
) -> VAETrainingReport:
    """Train ``encoder`` (its ``autoencoder`` and ``latent_scale`` buffer) on uint8 frames (N, H, W, 3).

    ``kl_weight`` weighs the KL divergence to N(0, I) (averaged per latent element) against the
    pixel MSE on [-1, 1] images. The encoder is frozen again afterwards.
    """
    if steps is None and minutes is None:
        raise InputError("give a budget: steps, minutes, or both")
    if len(frames) == 0 or len(held_out) == 0:
        raise InputError("train_vae needs training frames and held-out frames")
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    pixels = torch.from_numpy(np.ascontiguousarray(frames))  # uint8, converted per batch
    seconds = None if minutes is None else minutes * 60
    autoencoder = encoder.autoencoder
    autoencoder.requires_grad_(True).train()
    optimizer = torch.optim.Adam(autoencoder.parameters(), lr=learning_rate)
    if steps is not None:
        bar = tqdm(total=steps, unit="step", desc="train VAE", disable=not progress)
    else:
        bar = tqdm(total=round(seconds), desc="train VAE", disable=not progress,
                   bar_format="{l_bar}{bar}| {n}/{total} s [{elapsed}{postfix}]")
    losses: list[float] = []
    clock = time.process_time if cpu_time else time.perf_counter
    start = clock()
    while True:
        elapsed = clock() - start
        done = max(len(losses) / steps if steps else 0.0, elapsed / seconds if seconds else 0.0)
        if done >= 1.0:
            break
        for group in optimizer.param_groups:
            group["lr"] = _learning_rate(learning_rate, done)
        index = torch.randint(len(pixels), (batch_size,), generator=generator)
        images = pixels[index].permute(0, 3, 1, 2).float() / 127.5 - 1
        mean, logvar = autoencoder.moments(images)
        reconstruction = autoencoder.decode(sample_latents(mean, logvar, generator))
        mse = torch.mean((reconstruction - images) ** 2)
        kl = 0.5 * torch.mean(mean**2 + logvar.exp() - 1 - logvar)
        loss = mse + kl_weight * kl
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        bar.set_postfix(loss=f"{losses[-1]:.4f}", psnr=f"{10 * math.log10(4 / max(mse.item(), 1e-12)):.1f}")
        bar.update(1 if steps is not None else round(clock() - start) - bar.n)
    bar.close()
    seconds_used = clock() - start
    autoencoder.requires_grad_(False).eval()
    encoder.latent_scale.fill_(1.0 / _latent_std(encoder, _spread(frames)))
    return VAETrainingReport(
        steps=len(losses),
        seconds=seconds_used,
        losses=tuple(losses),
        held_out_psnr=reconstruction_psnr(encoder, _spread(held_out), sample=False),
        held_out_psnr_sampled=reconstruction_psnr(encoder, _spread(held_out), sample=True),
        latent_scale=encoder.latent_scale.item(),
    )
