"""Fréchet Video Distance: the Fréchet distance between I3D logit statistics of real and generated clips.

As the original's evaluation: clips shorter than 16 frames have each frame repeated (4 predicted frames
-> 16), frames are resized so the shorter side is 224 and centre-cropped, scaled to [-1, 1], and the
features are the 400 Kinetics logits of :class:`uva_kit.eval.i3d.InceptionI3d`. Few clips give a noisy
estimate (the original used 16 per evaluation); compare FVDs only over the same clips.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from uva_kit.errors import InputError

I3D_FRAMES = 16
I3D_SIZE = 224


def i3d_input(frames: torch.Tensor) -> torch.Tensor:
    """Clips (B, T, 3, H, W) in [0, 1] -> the I3D input (B, 3, max(T, 16), 224, 224) in [-1, 1]."""
    if frames.dim() != 5 or frames.shape[2] != 3:
        raise InputError(f"clips must be (B, T, 3, H, W) in [0, 1], got {tuple(frames.shape)}")
    batch, time = frames.shape[:2]
    if time < I3D_FRAMES:
        frames = frames.repeat_interleave(math.ceil(I3D_FRAMES / time), dim=1)[:, :I3D_FRAMES]
        time = I3D_FRAMES
    height, width = frames.shape[-2:]
    scale = I3D_SIZE / min(height, width)
    size = (max(I3D_SIZE, round(height * scale)), max(I3D_SIZE, round(width * scale)))
    flat = F.interpolate(frames.reshape(batch * time, 3, height, width).float(), size=size, mode="bilinear",
                         align_corners=False)
    top, left = (size[0] - I3D_SIZE) // 2, (size[1] - I3D_SIZE) // 2
    flat = flat[:, :, top:top + I3D_SIZE, left:left + I3D_SIZE]
    return (flat.reshape(batch, time, 3, I3D_SIZE, I3D_SIZE).permute(0, 2, 1, 3, 4) * 2.0 - 1.0).clamp(-1.0, 1.0)


@torch.no_grad()
def i3d_features(i3d: torch.nn.Module, clips: torch.Tensor, batch_size: int = 4, progress: bool = False) -> np.ndarray:
    """I3D logits (N, 400) as float64 of clips (N, T, 3, H, W) in [0, 1]."""
    device = next(i3d.parameters()).device
    features = []
    for start in tqdm(range(0, len(clips), batch_size), desc="I3D features", unit="batch", disable=not progress):
        features.append(i3d(i3d_input(clips[start:start + batch_size]).to(device)).double().cpu())
    return torch.cat(features).numpy()


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(real: np.ndarray, fake: np.ndarray) -> float:
    """||mu_r - mu_f||^2 + tr(S_r) + tr(S_f) - 2 tr((S_r^1/2 S_f S_r^1/2)^1/2) of two feature sets (N, D), N >= 2."""
    real, fake = np.asarray(real, dtype=np.float64), np.asarray(fake, dtype=np.float64)
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1] or min(len(real), len(fake)) < 2:
        raise InputError(f"need two feature sets (N, D) with equal D and N >= 2, got {real.shape} and {fake.shape}")
    mean_real, mean_fake = real.mean(axis=0), fake.mean(axis=0)
    cov_real, cov_fake = np.cov(real, rowvar=False), np.cov(fake, rowvar=False)
    root = _sqrt_psd(cov_real)
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root @ cov_fake @ root), 0.0, None)).sum()
    distance = ((mean_real - mean_fake) ** 2).sum() + np.trace(cov_real) + np.trace(cov_fake) - 2.0 * cross
    return float(max(distance, 0.0))


def fvd(i3d: torch.nn.Module, real: torch.Tensor, fake: torch.Tensor, batch_size: int = 4) -> float:
    """FVD between real and generated clips (N, T, 3, H, W) in [0, 1]."""
    return frechet_distance(i3d_features(i3d, real, batch_size), i3d_features(i3d, fake, batch_size))
