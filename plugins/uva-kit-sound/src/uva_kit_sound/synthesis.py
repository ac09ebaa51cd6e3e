"""Contact sound: a deterministic audio rendering of contact impulses, and its per-video-frame log-mel feature.

PushT has no microphone, so the sound is synthesized from what the simulator records, the impulse
J_t the agent applied to the block in each control step t (``contact_impulse``):

1. Every step with contact strikes the block once, at the start of the step, with amplitude
   a_t = |J_t| / reference_impulse (the sound carries the strength of a contact, not its direction).
2. A strike of amplitude 1 sounds like ``sum_k gains[k] * exp(-s / decay) * sin(2 pi partials[k] s)``
   for s in [0, 5 decay): a small block's few resonant modes. Strikes add up; tails that pass the
   end of the chunk are cut off. The waveform has ``sample_rate`` samples per second and
   ``step_seconds`` per control step.
3. Short-time power spectra (Hann window of ``n_fft`` samples, hop n_fft / 2) are averaged over each
   video frame's interval: frame i hears the steps [i * s, (i + 1) * s), s = steps per frame, i.e.
   the actions that lead up to future frame i.
4. ``n_mels`` triangular filters, equally spaced on the mel scale (HTK: 2595 log10(1 + f / 700)) from
   0 Hz to sample_rate / 2, give band energies, scaled so that one strike of the reference impulse at
   the start of a frame peaks at 1 (0 dB). The feature is 10 log10(energy + 10^(floor_db / 10)) in
   dB: silence is ``floor_db``.

The same impulses always give the same feature (no noise is added).
"""

from __future__ import annotations

import math

import torch
from torch import nn

PARTIALS_HZ = (523.0, 1410.0, 2730.0)
PARTIAL_GAINS = (1.0, 0.5, 0.25)
DECAY_SECONDS = 0.04


def hz_to_mel(hz: torch.Tensor) -> torch.Tensor:
    return 2595.0 * torch.log10(1.0 + hz / 700.0)


def mel_to_hz(mel: torch.Tensor) -> torch.Tensor:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def mel_filterbank(n_mels: int, n_fft: int, sample_rate: int) -> torch.Tensor:
    """(n_fft // 2 + 1, n_mels) triangular filters on the mel scale, each peaking at 1."""
    bins = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float64)
    edges = mel_to_hz(torch.linspace(0, float(hz_to_mel(torch.tensor(sample_rate / 2.0))), n_mels + 2, dtype=torch.float64))
    low, centre, high = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins[:, None] - low) / (centre - low)
    falling = (high - bins[:, None]) / (high - centre)
    return torch.clamp(torch.minimum(rising, falling), min=0).float()


class ContactSound(nn.Module):
    """Impulses (B, steps, D) -> waveform (B, steps * samples_per_step) -> log-mel (B, frames, n_mels) in dB."""

    def __init__(self, *, sample_rate: int = 8000, step_seconds: float = 0.1, n_fft: int = 256, n_mels: int = 16,
                 reference_impulse: float = 1000.0, floor_db: float = -60.0):
        super().__init__()
        self.samples_per_step = round(sample_rate * step_seconds)
        if self.samples_per_step < n_fft:
            raise ValueError(f"a control step lasts {self.samples_per_step} samples, fewer than n_fft = {n_fft}; "
                             "raise sample_rate or lower n_fft")
        self.n_fft, self.hop = n_fft, n_fft // 2
        self.reference_impulse = reference_impulse
        self.floor = 10.0 ** (floor_db / 10.0)
        time = torch.arange(round(5 * DECAY_SECONDS * sample_rate), dtype=torch.float64) / sample_rate
        strike = sum(g * torch.sin(2 * math.pi * f * time) for f, g in zip(PARTIALS_HZ, PARTIAL_GAINS))
        self.register_buffer("strike", (strike * torch.exp(-time / DECAY_SECONDS)).float(), persistent=False)
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        self.register_buffer("mel", mel_filterbank(n_mels, n_fft, sample_rate), persistent=False)
        self.register_buffer("unit", torch.ones(()), persistent=False)
        reference = torch.zeros(1, 4, 1)
        reference[0, 0, 0] = reference_impulse
        self.unit = self.band_energy(reference, frames=1).max()

    def waveform(self, impulses: torch.Tensor) -> torch.Tensor:
        """(B, steps, D) impulses -> (B, steps * samples_per_step) samples."""
        batch, steps = impulses.shape[:2]
        amplitude = impulses.float().norm(dim=-1) / self.reference_impulse
        sound = nn.functional.conv_transpose1d(amplitude[:, None], self.strike[None, None], stride=self.samples_per_step)
        return sound[:, 0, : steps * self.samples_per_step]

    def band_energy(self, impulses: torch.Tensor, frames: int) -> torch.Tensor:
        """Mean mel band energy (B, frames, n_mels) over each frame's steps, relative to ``unit``."""
        steps = impulses.shape[1]
        if steps % frames:
            raise ValueError(f"{steps} steps do not split evenly into {frames} frames")
        spectra = torch.stft(self.waveform(impulses), self.n_fft, self.hop, window=self.window, center=False,
                             return_complex=True).abs().square()  # (B, bins, columns)
        centres = torch.arange(spectra.shape[-1], device=spectra.device) * self.hop + self.n_fft // 2
        owner = torch.div(centres, (steps // frames) * self.samples_per_step, rounding_mode="floor").clamp(max=frames - 1)
        assign = nn.functional.one_hot(owner, frames).to(spectra.dtype)
        per_frame = spectra @ (assign / assign.sum(0))  # (B, bins, frames)
        return (per_frame.transpose(1, 2) @ self.mel) / self.unit

    def forward(self, impulses: torch.Tensor, frames: int) -> torch.Tensor:
        """Log-mel features in dB (B, frames, n_mels) of the impulses (B, steps, D)."""
        return 10.0 * torch.log10(self.band_energy(impulses, frames) + self.floor)
