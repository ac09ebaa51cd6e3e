"""Datasets: LeRobotDataset v3 and Diffusion Policy zarr readers, UVA windows, the shipped PushT set.

``UVADataset(path, layout, split=...)`` is the torch Dataset the trainer uses (imported lazily: it needs torch);
``LeRobotWriter(folder)`` writes :class:`EpisodeRecord` s as a dataset (imported lazily: it needs PyAV).
"""

from __future__ import annotations

from uva_kit.data.default import default_pusht_dataset
from uva_kit.data.episode import EpisodeRecord
from uva_kit.data.loading import load_episodes
from uva_kit.data.table import EpisodeTable

__all__ = ["EpisodeRecord", "EpisodeTable", "LeRobotWriter", "UVADataset", "default_pusht_dataset", "load_episodes"]


def __getattr__(name: str):
    if name == "UVADataset":
        from uva_kit.data.dataset import UVADataset

        return UVADataset
    if name == "LeRobotWriter":
        from uva_kit.data.lerobot import LeRobotWriter

        return LeRobotWriter
    raise AttributeError(f"module 'uva_kit.data' has no attribute '{name}'")
