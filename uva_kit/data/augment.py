"""Clip-consistent image augmentation (UVA on PushT): one random draw shared by every frame of a clip.

With probability 0.5 a random crop of 0.95 of the side, resized back (bilinear, antialiased); then with
probability 0.5 a Gaussian blur, kernel 5, sigma ~ U(0.1, 2.0). Reflect padding, as torchvision's blur.
"""

from __future__ import annotations

import attrs
import torch
import torch.nn.functional as F


@attrs.frozen
class ClipAugmentation:
    crop_scale: float = 0.95
    crop_probability: float = 0.5
    blur_kernel: int = 5
    blur_sigma: tuple[float, float] = (0.1, 2.0)
    blur_probability: float = 0.5

    def __call__(self, clip: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Augment ``clip`` (T, 3, H, W) in [0, 1]; every frame gets the same crop and blur."""

        def uniform() -> float:
            return float(torch.rand((), generator=generator))

        height, width = clip.shape[-2:]
        if uniform() < self.crop_probability:
            crop_h, crop_w = round(height * self.crop_scale), round(width * self.crop_scale)
            top = int(torch.randint(0, height - crop_h + 1, (), generator=generator))
            left = int(torch.randint(0, width - crop_w + 1, (), generator=generator))
            clip = clip[..., top : top + crop_h, left : left + crop_w]
            clip = F.interpolate(clip, size=(height, width), mode="bilinear", antialias=True, align_corners=False)
        if uniform() < self.blur_probability:
            low, high = self.blur_sigma
            clip = gaussian_blur(clip, self.blur_kernel, low + (high - low) * uniform())
        return clip.clamp(0, 1)


def gaussian_blur(images: torch.Tensor, kernel_size: int, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (N, C, H, W) images with reflect padding."""
    offsets = torch.arange(kernel_size, dtype=images.dtype) - (kernel_size - 1) / 2
    weights = torch.exp(-0.5 * (offsets / sigma) ** 2)
    weights = weights / weights.sum()
    channels = images.shape[1]
    pad = kernel_size // 2
    out = F.pad(images, (pad, pad, pad, pad), mode="reflect")
    out = F.conv2d(out, weights.view(1, 1, 1, -1).expand(channels, 1, 1, kernel_size), groups=channels)
    return F.conv2d(out, weights.view(1, 1, -1, 1).expand(channels, 1, kernel_size, 1), groups=channels)
