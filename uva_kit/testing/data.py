"""Small learnable batches in a spec's layout, and the min/max statistics a model's normalizers need."""

from __future__ import annotations


def smooth_frames(batch: int, frames: int, size: int, generator):
    """(batch, frames, 3, size, size) frames in [0, 1] made of smooth colour gradients (learnable, unlike pixel noise)."""
    import torch

    coarse = torch.rand(batch * frames, 3, 2, 2, generator=generator)
    return torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=True).reshape(
        batch, frames, 3, size, size
    )


def make_batch(batch: int = 2, size: int = 16, seed: int = 0, with_actions: bool = True, layout=None) -> dict:
    """History and future frames (and actions in [-1, 1]) shaped by ``layout`` (default: the PushT layout)."""
    import torch

    from uva_kit.spec import LayoutSpec

    layout = layout or LayoutSpec()
    generator = torch.Generator().manual_seed(seed)
    out = {
        "history_frames": smooth_frames(batch, layout.history_frames, size, generator),
        "future_frames": smooth_frames(batch, layout.future_frames, size, generator),
    }
    if with_actions:
        out["actions"] = torch.rand(batch, layout.action_chunk, layout.action_dim, generator=generator) * 2 - 1
    return out


def batch_stats(batch: dict) -> dict[str, dict[str, list[float]]]:
    """Per-channel min/max of every tensor of ``batch`` (the form of ``UVADataset.stats`` that ``fit`` reads)."""
    import torch

    stats = {}
    for key, value in batch.items():
        if isinstance(value, torch.Tensor) and value.dim() >= 2:
            flat = value.reshape(-1, value.shape[-1]).float()
            stats[key] = {"min": flat.amin(0).tolist(), "max": flat.amax(0).tolist()}
    return stats
