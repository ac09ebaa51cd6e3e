"""A disk cache of encoder latents: encode a dataset's frames once, reuse them every epoch.

    cache = LatentCache("cache/latents", encoder)
    latents = cache.latents_for("episode_000012", frames).draw()   # frames (T, 3, H, W) in [0, 1]

The cache lives in a folder named by a fingerprint of the encoder (its class, spec and every weight),
so a changed encoder never reads stale latents. Where the encoder samples its posterior, the posterior
moments (mean, logvar) are stored and a fresh sample is drawn at each read; otherwise the latents
themselves. One safetensors file per item (written atomically) plus an ``encoder.json`` that
describes the encoder. ``item_id`` must identify the frames (e.g. dataset fingerprint + episode).
An unreadable item file (truncated, overwritten) is deleted with a warning and encoded again.
"""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn
from tqdm import tqdm

from uva_kit.atomic import atomic_write
from uva_kit.encoder.latent_posterior import LatentPosterior, encoder_posterior
from uva_kit.errors import InputError
from uva_kit.spec import to_dict


def encoder_fingerprint(encoder: nn.Module) -> str:
    """SHA-256 of the encoder's class, spec (without the checkpoint path) and state dict."""
    digest = hashlib.sha256()
    spec = {k: v for k, v in to_dict(encoder.spec).items() if k != "checkpoint"}
    digest.update(json.dumps([type(encoder).__qualname__, spec], sort_keys=True).encode())
    for name, tensor in encoder.state_dict().items():
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


class LatentCache:
    """Latents of frames, on disk under ``directory/<encoder fingerprint>/``."""

    def __init__(self, directory: str | Path, encoder: nn.Module, batch_frames: int = 32):
        self.encoder = encoder
        self.batch_frames = batch_frames
        self.fingerprint = encoder_fingerprint(encoder)
        self.directory = Path(directory) / self.fingerprint[:24]
        self.directory.mkdir(parents=True, exist_ok=True)
        description = self.directory / "encoder.json"
        if not description.exists():
            info = {"fingerprint": self.fingerprint, "class": type(encoder).__qualname__, "spec": to_dict(encoder.spec)}
            atomic_write(description, lambda path: Path(path).write_text(json.dumps(info, indent=2) + "\n"))

    def path(self, item_id: str) -> Path:
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", item_id)[:80]
        return self.directory / f"{safe}-{hashlib.sha1(item_id.encode()).hexdigest()[:10]}.safetensors"

    def contains(self, item_id: str) -> bool:
        """Whether ``item_id`` is cached in a readable file (its header is checked; a damaged file is discarded)."""
        path = self.path(item_id)
        if not path.exists():
            return False
        try:
            with safe_open(str(path), "pt"):
                return True
        except SafetensorError as exc:
            _discard(path, exc)
            return False

    def get(self, item_id: str) -> LatentPosterior | None:
        """The cached latents of ``item_id``, or None (also for a damaged file, which is discarded)."""
        path = self.path(item_id)
        if not path.exists():
            return None
        try:
            tensors = load_file(path)
        except SafetensorError as exc:
            _discard(path, exc)
            return None
        return LatentPosterior(tensors["mean"], tensors.get("logvar"))

    @torch.no_grad()
    def encode(self, frames: torch.Tensor) -> LatentPosterior:
        """Latents of ``frames`` (T, 3, H, W) in [0, 1], encoded in chunks of ``batch_frames``."""
        if frames.dim() != 4:
            raise InputError(f"frames must be (T, 3, H, W) in [0, 1], got shape {tuple(frames.shape)}")
        chunks = [encoder_posterior(self.encoder, frames[i:i + self.batch_frames][None])
                  for i in range(0, len(frames), self.batch_frames)]
        return LatentPosterior.cat(chunks, dim=1).select(0)

    def latents_for(self, item_id: str, frames: torch.Tensor | Callable[[], torch.Tensor]) -> LatentPosterior:
        """The latents of ``item_id``, encoding ``frames`` (or what the callable returns) on a miss."""
        cached = self.get(item_id)
        if cached is not None:
            return cached
        latents = self.encode(frames() if callable(frames) else frames)
        tensors = {"mean": latents.mean.contiguous().cpu()}
        if latents.logvar is not None:
            tensors["logvar"] = latents.logvar.contiguous().cpu()
        atomic_write(self.path(item_id), lambda path: save_file(tensors, path, metadata={"item_id": item_id}))
        return LatentPosterior(tensors["mean"], tensors.get("logvar"))  # on the CPU, as a hit returns them

    def build(self, items: Iterable[tuple[str, torch.Tensor | Callable[[], torch.Tensor]]], total: int | None = None,
              progress: bool = True) -> int:
        """Encode every item not cached yet; returns how many were encoded."""
        encoded = 0
        for item_id, frames in tqdm(items, total=total, desc="caching latents", unit="item", disable=not progress):
            if not self.contains(item_id):
                self.latents_for(item_id, frames)
                encoded += 1
        return encoded


def _discard(path: Path, problem: Exception) -> None:
    """Delete a damaged cache file, saying so: the cache is derived data, so the item is simply encoded again."""
    warnings.warn(f"latent cache file {path} is unreadable ({problem}); deleted it, its frames are encoded again",
                  stacklevel=3)
    path.unlink(missing_ok=True)
