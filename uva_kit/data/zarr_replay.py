"""Read Diffusion Policy replay buffers (e.g. ``pusht_cchi_v7_replay.zarr``) into an EpisodeTable.

A replay buffer is a zarr group with ``data/img`` (N, H, W, 3) in 0..255 (uint8, or float32 as in Diffusion
Policy's own ``pusht_cchi_v7_replay.zarr``; read as uint8), ``data/state`` (N, >=2) whose first two
columns are the agent position, ``data/action`` (N, action_dim) and ``meta/episode_ends`` (E,) cumulative
ends. Other ``data/*`` arrays with N rows become extras (``state`` itself as ``environment_state``).
Zarr format 2 (what Diffusion Policy wrote) and 3 both read; ``.zip`` stores too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from uva_kit.data.stats import array_stats
from uva_kit.data.table import EpisodeTable
from uva_kit.errors import DataError

REQUIRED = {"data/img": 4, "data/state": 2, "data/action": 2, "meta/episode_ends": 1}  # key -> ndim


def is_zarr_replay(path: str | Path) -> bool:
    path = Path(path)
    return path.suffix == ".zarr" or (path / ".zgroup").is_file() or (path / "zarr.json").is_file() or path.name.endswith(".zarr.zip")


def read_zarr_replay(path: str | Path, fps: float = 10.0) -> EpisodeTable:
    import zarr

    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: replay buffer not found")
    try:
        store = zarr.storage.ZipStore(str(path), mode="r") if path.suffix == ".zip" else str(path)
        root = zarr.open_group(store, mode="r")
    except Exception as exc:  # zarr raises several unrelated types for unreadable stores
        raise DataError(f"{path}: not a readable zarr group ({type(exc).__name__}: {exc})") from exc
    arrays = {}
    for key, ndim in REQUIRED.items():
        try:
            array = root[key]
        except KeyError:
            raise DataError(
                f"{path}: missing '{key}' (a Diffusion Policy replay buffer has data/img, data/state, "
                "data/action and meta/episode_ends)"
            ) from None
        if array.ndim != ndim:
            raise DataError(f"{path}: '{key}' must have {ndim} dimensions, got shape {array.shape}")
        arrays[key] = _load_frames(array, path) if key == "data/img" else _load(array, path, key)
    frames = arrays["data/img"]
    state = arrays["data/state"]
    if state.shape[1] < 2:
        raise DataError(f"{path}: 'data/state' must start with the agent x, y; got shape {state.shape}")
    extras = {"environment_state": state.astype(np.float32)}
    for key in sorted(root["data"].array_keys()):
        if f"data/{key}" not in REQUIRED and root["data"][key].shape[:1] == (len(frames),):
            values = _load(root["data"][key], path, f"data/{key}")
            if np.issubdtype(values.dtype, np.number):
                extras[key] = values.reshape(len(values), -1).astype(np.float32)
    actions = arrays["data/action"].astype(np.float32)
    agent_pos = state[:, :2].astype(np.float32)
    low_dim = {"actions": actions, "agent_pos": agent_pos, **extras}
    return EpisodeTable(
        frames=frames,
        actions=actions,
        agent_pos=agent_pos,
        episode_ends=arrays["meta/episode_ends"].astype(np.int64),
        extras=extras,
        stats={k: array_stats(v) for k, v in low_dim.items()},
        fps=fps,
        source=str(path),
    )


def _load(array, path: Path, key: str, rows: slice = slice(None)) -> np.ndarray:
    try:
        return np.asarray(array[rows])
    except Exception as exc:  # a missing or corrupt chunk surfaces as a codec or key error
        raise DataError(f"{path}: cannot read '{key}' ({type(exc).__name__}: {exc}); the store is corrupt or truncated") from exc


def _load_frames(array, path: Path, block: int = 1024) -> np.ndarray:
    """``data/img`` as uint8 (N, H, W, 3). Float images hold 0..255 (Diffusion Policy divides them by 255); they
    are read ``block`` frames at a time, so their float copy (2.8 GB for PushT) never exists whole."""
    if array.shape[-1] != 3 or not (array.dtype == np.uint8 or np.issubdtype(array.dtype, np.floating)):
        hint = ": channels first? store frames.transpose(0, 2, 3, 1)" if array.shape[1] == 3 else ""
        raise DataError(f"{path}: 'data/img' must be uint8 or float 0..255 (N, H, W, 3), got {array.dtype} {array.shape}"
                        + hint)
    if array.dtype == np.uint8:
        return _load(array, path, "data/img")
    frames = np.empty(array.shape, np.uint8)
    brightest = 0.0
    for start in range(0, len(frames), block):
        values = _load(array, path, "data/img", slice(start, start + block))
        if not (np.isfinite(values).all() and values.min() >= 0 and values.max() <= 255):
            raise DataError(f"{path}: float 'data/img' must hold pixel values in 0..255; frames {start}.."
                            f"{start + len(values) - 1} have values in [{values.min()}, {values.max()}]")
        frames[start:start + len(values)] = np.rint(values)
        brightest = max(brightest, float(values.max()) if values.size else 0.0)
    if 0 < brightest <= 1:
        raise DataError(f"{path}: float 'data/img' must hold pixel values in 0..255, but none is above 1: frames in "
                        "[0, 1] would read as black; store them times 255 (or as uint8)")
    return frames
