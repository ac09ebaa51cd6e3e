"""Training on cached encoder latents: each window's frames are encoded once, then read from disk.

The frozen encoder is a large share of training compute (about 40% in the original). With a latent
cache the dataset yields ``history_latents`` / ``future_latents`` instead of frames; where the encoder
samples its posterior, a fresh sample is drawn from the cached moments at every read. The cache folder
is keyed by a fingerprint of the encoder (``uva_kit.encoder.latent_cache``), so a changed encoder never
reads stale latents. Augmentation is off: cached windows are the stored frames.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from uva_kit.encoder.latent_cache import LatentCache
from uva_kit.errors import UvaKitError


class CachedLatentWindows(torch.utils.data.Dataset):
    """``dataset``'s samples with frames replaced by encoder latents from a ``LatentCache``."""

    def __init__(self, dataset: Any, model: torch.nn.Module, directory: str | Path):
        if getattr(dataset, "augmentation", None) is not None:
            raise UvaKitError("a latent cache stores un-augmented windows: build the dataset with augment=False")
        key = getattr(dataset, "cache_key", None)
        if key is None:
            raise UvaKitError(f"{type(dataset).__name__} has no cache_key identifying its frames; it cannot be cached")
        self.dataset, self.model = dataset, model
        self.prefix = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]
        self.cache = LatentCache(directory, model.encoder)
        self.stats = getattr(dataset, "stats", {})

    def __len__(self) -> int:
        return len(self.dataset)

    def _item_id(self, index: int) -> str:
        return f"{self.prefix}-{index:08d}"

    def _frames(self, history: torch.Tensor, future: torch.Tensor):
        """A call giving the window's frames at the model's input size (run only on a cache miss)."""

        def frames() -> torch.Tensor:
            with torch.no_grad():
                return self.model.resize_frames(torch.cat([history, future])[None])[0]

        return frames

    def fill(self, progress: bool = True, rank: int = 0, world_size: int = 1) -> int:
        """Encode the windows not cached yet, here and now (with a progress bar); returns how many.

        ``fit`` calls it before training, so DataLoader workers only read the cache: they never run the
        encoder, which may sit on a CUDA device they must not touch. Under torchrun each rank encodes every
        ``world_size``-th window from its ``rank`` on, so the ranks reach the following barrier together.
        """
        indices = range(rank, len(self), world_size)

        def windows():
            for index in indices:
                if not self.cache.contains(self._item_id(index)):
                    sample = self.dataset[index]
                    yield self._item_id(index), self._frames(sample["history_frames"], sample["future_frames"])

        return self.cache.build(windows(), total=len(indices), progress=progress)

    def __getitem__(self, index: int) -> dict:
        sample = dict(self.dataset[index])
        history = sample.pop("history_frames")
        future = sample.pop("future_frames")
        latents = self.cache.latents_for(self._item_id(index), self._frames(history, future)).draw()
        sample["history_latents"], sample["future_latents"] = latents[: len(history)], latents[len(history):]
        return sample
