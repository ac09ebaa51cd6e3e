"""A small, fixed synthetic PushT-shaped dataset for training tests (no simulator needed)."""

from __future__ import annotations

import torch


class SyntheticWindows(torch.utils.data.Dataset):
    """``size`` windows of random frames whose actions are a function of the frames, plus min/max stats."""

    def __init__(self, size: int = 16, image_size: int = 32, frames: int = 4, actions: int = 16, action_dim: int = 2,
                 seed: int = 0, with_actions: bool = True):
        generator = torch.Generator().manual_seed(seed)
        self.history = torch.rand(size, frames, 3, image_size, image_size, generator=generator)
        self.future = (self.history + 0.1 * torch.rand(self.history.shape, generator=generator)).clamp(0, 1)
        level = self.history.mean(dim=(1, 2, 3, 4))
        self.actions = 100 + 300 * level[:, None, None] * torch.linspace(0, 1, actions)[None, :, None].repeat(1, 1, action_dim)
        self.with_actions = with_actions
        self.cache_key = {"synthetic": size, "seed": seed, "image_size": image_size}
        self.stats = {"actions": {"min": self.actions.amin(dim=(0, 1)).tolist(), "max": self.actions.amax(dim=(0, 1)).tolist()}}

    def __len__(self) -> int:
        return len(self.history)

    def __getitem__(self, index: int) -> dict:
        sample = {"history_frames": self.history[index], "future_frames": self.future[index]}
        if self.with_actions:
            sample["actions"] = self.actions[index]
        return sample
