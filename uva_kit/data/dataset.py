"""The torch Dataset of UVA training samples: history/future frames, an action chunk, extras."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from uva_kit.data.augment import ClipAugmentation
from uva_kit.data.derived import derive_signal
from uva_kit.data.loading import load_episodes
from uva_kit.data.split import split_episodes
from uva_kit.data.stats import array_stats
from uva_kit.data.table import EpisodeTable
from uva_kit.data.windows import WindowSampler
from uva_kit.errors import DataError, InputError
from uva_kit.spec import LayoutSpec


class UVADataset(torch.utils.data.Dataset):
    """Windows of a dataset laid out as UVA trains on them (see :mod:`uva_kit.data.windows`).

    A sample is a dict of tensors:

    * ``history_frames`` / ``future_frames``: (history_frames / future_frames, 3, H, W) float in [0, 1];
    * ``actions``: (action_chunk, action_dim) in environment units (the model normalizes, with :attr:`stats`);
      absent in an action-free (video-only) dataset;
    * ``agent_pos``: (history_frames, 2), at the history frames;
    * each of ``history_keys`` (a stored per-step signal, or one computed from them, e.g. ``pusht_state``, see
      :mod:`uva_kit.data.derived`): (history_frames, D), at the history frames;
    * every other extra per-step signal of the dataset (e.g. ``contact_impulse``): (action_chunk, D), at the action steps.

    ``split`` is "train", "val" or "all" (episodes split by ``val_ratio`` and ``split_seed``);
    ``augment`` (default: on for "train") applies one random crop + blur to all 8 frames of a sample;
    ``extra_keys`` limits the extras (default: all); ``history_keys`` names the per-frame inputs the
    model's ``proprio`` streams read (see :func:`uva_kit.modality.proprio.proprio_keys`); ``image_size``
    resizes frames (default: as stored); ``instructions`` adds each window's episode task as ``instruction`` (a
    string; what a ``language`` modality reads).
    """

    def __init__(
        self,
        source: str | Path | EpisodeTable,
        layout: LayoutSpec | None = None,
        split: str = "train",
        val_ratio: float = 0.02,
        split_seed: int = 42,
        augment: bool | None = None,
        extra_keys: tuple[str, ...] | None = None,
        image_size: int | None = None,
        history_keys: tuple[str, ...] = (),
        instructions: bool = False,
    ):
        self.episodes = source if isinstance(source, EpisodeTable) else load_episodes(source)
        self.layout = layout or LayoutSpec()
        if split not in ("train", "val", "all"):
            raise InputError(f"split must be 'train', 'val' or 'all', got '{split}'")
        train, val = split_episodes(self.episodes.num_episodes, val_ratio, split_seed)
        self.episode_indices = {"train": train, "val": val, "all": np.arange(self.episodes.num_episodes)}[split]
        self.sampler = WindowSampler(
            self.episodes.episode_ends, self.layout, self.episode_indices, source=self.episodes.source
        )
        if self.episodes.has_actions and self.episodes.actions.shape[1] != self.layout.action_dim:
            raise DataError(
                f"{self.episodes.source}: actions have {self.episodes.actions.shape[1]} dimensions but "
                f"layout.action_dim is {self.layout.action_dim}; a model for these actions sets layout.action_dim = "
                f"{self.episodes.actions.shape[1]} in its spec (uva-kit train --set layout.action_dim="
                f"{self.episodes.actions.shape[1]})"
            )
        available = tuple(self.episodes.extras)
        unknown = sorted(set(extra_keys or ()) - set(available))
        if unknown:
            raise DataError(f"{self.episodes.source}: no per-step signal '{unknown[0]}' (it has: {', '.join(available) or 'none'})")
        extras = self.episodes.extras
        self.history_signals = {
            key: extras[key] if key in extras else derive_signal(key, extras, str(self.episodes.source))
            for key in history_keys if key != "agent_pos"
        }
        chosen = available if extra_keys is None else tuple(extra_keys)
        self.extra_keys = tuple(key for key in chosen if key not in self.history_signals)
        signals = {**self.episodes.low_dim(), **self.history_signals}  # an in-memory table may come without stats
        computed = {key: array_stats(values) for key, values in signals.items() if key not in self.episodes.stats}
        self._stats = {**self.episodes.stats, **computed}
        self.augmentation = ClipAugmentation() if (split == "train" if augment is None else augment) else None
        self.image_size = image_size
        if instructions and not self.episodes.tasks:
            raise DataError(f"{self.episodes.source}: the model reads an instruction, but the dataset names no task per "
                            "episode (write them with EpisodeRecord(task=...))")
        self.instructions = instructions

    @property
    def cache_key(self) -> dict:
        """What identifies this dataset's windows (for a latent cache): source, layout, split, size."""
        from uva_kit.spec import to_dict

        return {"source": str(self.episodes.source), "layout": to_dict(self.layout), "image_size": self.image_size,
                "episodes": [int(i) for i in self.episode_indices]}

    @property
    def stats(self) -> dict[str, dict[str, np.ndarray]]:
        """Normalization statistics ({"min", "max", "mean", "std", "count"}) of actions, agent_pos, extras and
        ``history_keys``."""
        return self._stats

    def __len__(self) -> int:
        return len(self.sampler)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        window = self.sampler[index]
        steps = np.concatenate([window.history, window.future])
        clip = torch.from_numpy(self.episodes.frames[steps]).permute(0, 3, 1, 2).float() / 255.0
        if self.image_size is not None and clip.shape[-1] != self.image_size:
            clip = torch.nn.functional.interpolate(
                clip, size=(self.image_size, self.image_size), mode="bilinear", antialias=True, align_corners=False
            )
        if self.augmentation is not None:
            clip = self.augmentation(clip)
        history = len(window.history)
        sample = {
            "history_frames": clip[:history],
            "future_frames": clip[history:],
            "agent_pos": torch.from_numpy(self.episodes.agent_pos[window.history]),
        }
        if self.episodes.has_actions:
            sample["actions"] = torch.from_numpy(self.episodes.actions[window.actions])
        for key, values in self.history_signals.items():
            sample[key] = torch.from_numpy(values[window.history])
        for key in self.extra_keys:
            sample[key] = torch.from_numpy(self.episodes.extras[key][window.actions])
        if self.instructions:
            episode = np.searchsorted(self.episodes.episode_ends, window.actions[0], side="right")
            sample["instruction"] = self.episodes.tasks[episode]
        return sample
