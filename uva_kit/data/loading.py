"""Open a dataset from disk, whatever its format: LeRobotDataset v3 folder or Diffusion Policy zarr."""

from __future__ import annotations

from pathlib import Path

from uva_kit.data.lerobot import is_lerobot_dataset, read_lerobot
from uva_kit.data.table import EpisodeTable
from uva_kit.data.zarr_replay import is_zarr_replay, read_zarr_replay
from uva_kit.errors import DataError


def load_episodes(path: str | Path) -> EpisodeTable:
    """All episodes of the dataset at ``path`` in memory (frames decoded), checked."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: dataset not found; collect one (`uva-kit collect pusht --episodes 200 --out {path}`) or use the "
                        "20 PushT demonstrations shipped in the package (`--data default`; in Python "
                        "uva_kit.data.default_pusht_dataset())")
    if is_lerobot_dataset(path):
        return read_lerobot(path)
    if is_zarr_replay(path):
        return read_zarr_replay(path)
    raise DataError(
        f"{path}: unknown dataset format; expected a LeRobotDataset v3 folder (meta/info.json) or a "
        "Diffusion Policy replay buffer (*.zarr with data/img, data/state, data/action, meta/episode_ends); "
        "numpy arrays become one with uva_kit.data.LeRobotWriter (docs/datasets-and-environments.md, 'Your own data')"
    )
