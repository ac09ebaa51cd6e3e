"""LeRobotDataset v3.0 on disk: write recorded episodes, read a local dataset back into an EpisodeTable.

Layout (one chunk and one file per stream, as LeRobot writes small datasets)::

    meta/info.json                          features, fps, path templates, totals
    meta/stats.json                         min/max/mean/std/count per feature (normalization, computed once)
    meta/tasks.parquet                      task string -> task_index
    meta/episodes/chunk-000/file-000.parquet    one row per episode: length, data rows, video timestamps
    data/chunk-000/file-000.parquet         one row per step: low-dimensional features
    videos/observation.image/chunk-000/file-000.mp4   all episodes' frames, concatenated (H.264)

Feature names follow LeRobot's PushT: ``observation.image``, ``observation.state`` (agent xy), ``action``;
other ``observation.*`` features (e.g. ``observation.contact_impulse``) become sample extras without the prefix.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from uva_kit.data.episode import EpisodeRecord
from uva_kit.data.stats import array_stats, image_stats, stats_to_json
from uva_kit.data.table import EpisodeTable
from uva_kit.data.video import VideoWriter, read_video
from uva_kit.errors import DataError

CODEBASE_VERSION = "v3.0"
IMAGE_KEY = "observation.image"
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
EPISODES_PATH = "meta/episodes/chunk-000/file-000.parquet"
# Dataset feature -> EpisodeTable key, for the features every dataset here has.
CORE_FEATURES = {"action": "actions", "observation.state": "agent_pos"}
# The per-dimension statistics of a stats.json entry, checked when it is read.
RANGE_STATS = ("min", "max", "mean", "std")
BOOKKEEPING = {"timestamp", "frame_index", "episode_index", "index", "task_index", "next.reward", "next.done", "next.success"}


def extra_feature_name(key: str) -> str:
    return f"observation.{key}"


def extra_key(feature: str) -> str:
    return feature.removeprefix("observation.").replace(".", "_")


class LeRobotWriter:
    """Writes episodes one at a time into ``root`` (which must be empty); :meth:`close` writes the metadata."""

    def __init__(self, root: str | Path, fps: int = 10, robot_type: str | None = None, crf: int = 18):
        self.root = Path(root)
        if self.root.exists() and (not self.root.is_dir() or any(self.root.iterdir())):
            raise DataError(f"{self.root}: a dataset is written into a new or empty folder; choose another or remove it")
        self.fps = fps
        self.robot_type = robot_type
        (self.root / "meta").mkdir(parents=True, exist_ok=True)
        video_path = self.root / VIDEO_PATH.format(video_key=IMAGE_KEY, chunk_index=0, file_index=0)
        video_path.parent.mkdir(parents=True, exist_ok=True)
        self.video = VideoWriter(video_path, fps, crf=crf)
        self.steps: list[dict[str, np.ndarray]] = []
        self.episodes: list[dict] = []
        self.tasks: dict[str, int] = {}
        self.image_shape = None
        self._image_samples = []

    @property
    def total_frames(self) -> int:
        return sum(e["length"] for e in self.episodes)

    def add(self, episode: EpisodeRecord) -> None:
        if episode.length == 0:
            raise DataError("cannot write an episode with no steps")
        self._check_like_the_first(episode)
        self.image_shape = episode.frames.shape[1:]
        start = self.total_frames
        task_index = self.tasks.setdefault(episode.task, len(self.tasks))
        self.video.write(episode.frames)
        self._image_samples.append(episode.frames[:: max(1, episode.length // 20)])
        length = episode.length
        columns = {
            "observation.state": episode.agent_pos.astype(np.float32),
            **({"action": episode.actions.astype(np.float32)} if episode.actions.shape[1] else {}),  # none: action-free
            **{extra_feature_name(k): v.astype(np.float32) for k, v in episode.extras.items()},
            "timestamp": (np.arange(length) / self.fps).astype(np.float32),
            "frame_index": np.arange(length, dtype=np.int64),
            "episode_index": np.full(length, len(self.episodes), dtype=np.int64),
            "index": np.arange(start, start + length, dtype=np.int64),
            "task_index": np.full(length, task_index, dtype=np.int64),
            "next.reward": episode.rewards.astype(np.float32),
            "next.done": np.arange(length) == length - 1,
            "next.success": np.arange(length) == length - 1 if episode.success else np.zeros(length, dtype=bool),
        }
        self.steps.append(columns)
        self.episodes.append(
            {
                "episode_index": len(self.episodes),
                "tasks": [episode.task],
                "length": length,
                "dataset_from_index": start,
                "dataset_to_index": start + length,
                "data/chunk_index": 0,
                "data/file_index": 0,
                f"videos/{IMAGE_KEY}/chunk_index": 0,
                f"videos/{IMAGE_KEY}/file_index": 0,
                f"videos/{IMAGE_KEY}/from_timestamp": start / self.fps,
                f"videos/{IMAGE_KEY}/to_timestamp": (start + length) / self.fps,
                "meta/episodes/chunk_index": 0,
                "meta/episodes/file_index": 0,
                "success": bool(episode.success),
                "seed": -1 if episode.seed is None else int(episode.seed),
            }
        )

    def _check_like_the_first(self, episode: EpisodeRecord) -> None:
        """DataError unless ``episode`` has the per-step shapes of the episodes written before it, and frames
        of even height and width (H.264 in yuv420p stores colour at half resolution)."""
        height, width = episode.frames.shape[1:3]
        if height % 2 or width % 2:
            raise DataError(f"episode {len(self.episodes)}: frames are {height}x{width}; the video needs an even height "
                            "and width: crop or pad them by one pixel (e.g. frames[:, :H - H % 2, :W - W % 2])")
        shapes = {"frames": episode.frames.shape[1:], "actions": episode.actions.shape[1:],
                  "agent_pos": episode.agent_pos.shape[1:],
                  **{f"extras['{key}']": value.shape[1:] for key, value in episode.extras.items()}}
        if self.episodes and shapes != self._shapes:
            differ = sorted(k for k in set(shapes) | set(self._shapes) if shapes.get(k) != self._shapes.get(k))
            raise DataError(f"episode {len(self.episodes)}: {differ[0]} has per-step shape {shapes.get(differ[0])}, but "
                            f"episode 0's is {self._shapes.get(differ[0])} (None: absent); every episode of a dataset "
                            "has the same frame size, action and state widths and extras")
        self._shapes = shapes

    def close(self) -> None:
        """Finish the video and write the parquet files, stats.json and info.json."""
        self.video.close()
        if not self.episodes:
            raise DataError("no episodes to write")
        columns = {k: np.concatenate([s[k] for s in self.steps]) for k in self.steps[0]}
        pq.write_table(pa.table({k: _arrow_column(v) for k, v in columns.items()}), self._path(DATA_PATH))
        pq.write_table(pa.Table.from_pylist(self.episodes), self._path(EPISODES_PATH))
        _write_tasks(self.root / "meta" / "tasks.parquet", self.tasks)
        stats = {k: array_stats(v) for k, v in columns.items() if k not in BOOKKEEPING or k == "next.reward"}
        stats[IMAGE_KEY] = image_stats(np.concatenate(self._image_samples))
        (self.root / "meta" / "stats.json").write_text(json.dumps(stats_to_json(stats), indent=2))
        info = {
            "codebase_version": CODEBASE_VERSION,
            "robot_type": self.robot_type,
            "total_episodes": len(self.episodes),
            "total_frames": self.total_frames,
            "total_tasks": len(self.tasks),
            "chunks_size": 1000,
            "data_files_size_in_mb": 100,
            "video_files_size_in_mb": 500,
            "fps": self.fps,
            "splits": {"train": f"0:{len(self.episodes)}"},
            "data_path": DATA_PATH,
            "video_path": VIDEO_PATH,
            "features": {IMAGE_KEY: self._video_feature(), **{k: _feature(v) for k, v in columns.items()}},
        }
        (self.root / "meta" / "info.json").write_text(json.dumps(info, indent=2))

    def _path(self, template: str) -> Path:
        path = self.root / template.format(chunk_index=0, file_index=0)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def _video_feature(self) -> dict:
        height, width, channels = self.image_shape
        return {
            "dtype": "video",
            "shape": [height, width, channels],
            "names": ["height", "width", "channels"],
            "info": {
                "video.height": height,
                "video.width": width,
                "video.codec": "h264",
                "video.pix_fmt": "yuv420p",
                "video.is_depth_map": False,
                "video.fps": self.fps,
                "video.channels": channels,
                "has_audio": False,
            },
        }


def _arrow_column(values: np.ndarray) -> pa.Array:
    if values.ndim == 1:
        return pa.array(values)
    return pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), values.shape[1])


def _feature(values: np.ndarray) -> dict:
    return {"dtype": str(values.dtype), "shape": list(values.shape[1:]) or [1], "names": None}


def _write_tasks(path: Path, tasks: dict[str, int]) -> None:
    """tasks.parquet as LeRobot reads it with pandas: task strings as the index, a ``task_index`` column."""
    table = pa.table({"task_index": list(tasks.values()), "task": list(tasks)})
    pandas_metadata = {
        "index_columns": ["task"],
        "column_indexes": [],
        "columns": [
            {"name": "task_index", "field_name": "task_index", "pandas_type": "int64", "numpy_type": "int64", "metadata": None},
            {"name": "task", "field_name": "task", "pandas_type": "unicode", "numpy_type": "object", "metadata": None},
        ],
        "pandas_version": "2.2.0",
    }
    pq.write_table(table.replace_schema_metadata({"pandas": json.dumps(pandas_metadata)}), path)


def is_lerobot_dataset(path: str | Path) -> bool:
    return (Path(path) / "meta" / "info.json").is_file()


def read_lerobot(root: str | Path) -> EpisodeTable:
    """Read a local LeRobotDataset v3.0 folder (frames decoded into memory) into an :class:`EpisodeTable`."""
    root = Path(root)
    info_path = root / "meta" / "info.json"
    if not info_path.is_file():
        raise DataError(f"{info_path}: missing; {root} is not a LeRobotDataset (expected meta/info.json)")
    try:
        info = json.loads(info_path.read_text())
    except json.JSONDecodeError as exc:
        raise DataError(f"{info_path}: not valid JSON ({exc}); the file is corrupt or truncated") from exc
    for key in ("codebase_version", "fps", "features", "data_path", "video_path"):
        if key not in info:
            raise DataError(f"{info_path}: missing key '{key}'")
    if not str(info["codebase_version"]).startswith("v3"):
        raise DataError(
            f"{info_path}: codebase_version {info['codebase_version']} is not supported; convert it to v3.0 "
            "with LeRobot's convert_dataset_v21_to_v30"
        )
    features = info["features"]
    image_keys = [k for k, f in features.items() if f.get("dtype") == "video"]
    if "observation.state" not in features:
        raise DataError(f"{info_path}: feature 'observation.state' is missing (features: {', '.join(features)})")
    if not image_keys:
        raise DataError(f"{info_path}: no video feature (expected '{IMAGE_KEY}')")
    image_key = IMAGE_KEY if IMAGE_KEY in image_keys else image_keys[0]

    episodes = _read_episode_rows(root / "meta" / "episodes")
    episodes.sort(key=lambda e: e["episode_index"])
    steps = _read_data(root, info, episodes)
    frames = _read_frames(root, info, episodes, image_key)

    lengths = np.array([e["length"] for e in episodes], dtype=np.int64)
    extras = {
        extra_key(k): steps[k]
        for k, f in features.items()
        if k not in CORE_FEATURES and k not in BOOKKEEPING and f.get("dtype") not in ("video", "image", "string")
    }
    stats_path = root / "meta" / "stats.json"
    stored = _read_stats(stats_path) if stats_path.is_file() else {}
    core = {k: steps[k] for k in CORE_FEATURES if k in steps}  # no "action": an action-free (video-only) dataset
    stats = {}
    for feature, values in {**core, **{extra_feature_name(k): v for k, v in extras.items()}}.items():
        key = CORE_FEATURES.get(feature, extra_key(feature))
        if feature in stored and "min" in stored[feature]:
            stats[key] = _checked_stats(stored[feature], stats_path, feature, values.shape[1:])
        else:
            stats[key] = array_stats(values)
    return EpisodeTable(
        frames=frames,
        actions=core.get("action", np.zeros((len(frames), 0))).astype(np.float32),
        agent_pos=steps["observation.state"].astype(np.float32),
        episode_ends=np.cumsum(lengths),
        extras={k: v.astype(np.float32) for k, v in extras.items()},
        stats=stats,
        fps=float(info["fps"]),
        source=str(root),
        tasks=_episode_tasks(episodes),
    )


def _episode_tasks(episodes: list[dict]) -> tuple[str, ...]:
    """Each episode's task string (its first, as LeRobot lists them per episode); () when none is named."""
    tasks = tuple((episode.get("tasks") or [""])[0] for episode in episodes)
    return tasks if any(tasks) else ()


def _read_stats(path: Path) -> dict:
    """The raw tables of stats.json (each feature's entries are checked where they are used)."""
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc}); the file is corrupt or truncated (delete it to have "
                        "the statistics computed from the data)") from exc
    if not isinstance(data, dict) or not all(isinstance(entry, dict) for entry in data.values()):
        raise DataError(f"{path}: expected a table of features, each a table of statistics (min, max, ...)")
    return data


def _checked_stats(entry: dict, path: Path, feature: str, shape: tuple[int, ...]) -> dict[str, np.ndarray]:
    """A feature's stats.json entry as arrays; min/max/mean/std must be finite, one per value of a step
    (``shape``), with min <= max."""
    arrays = {}
    for name, value in entry.items():
        try:
            arrays[name] = np.asarray(value, dtype=np.float64 if name in RANGE_STATS else None)
        except (TypeError, ValueError):
            raise DataError(f"{path}: '{feature}.{name}' must be a number or a list of numbers, got {value!r}") from None
        if name not in RANGE_STATS:
            continue
        if arrays[name].size != int(np.prod(shape)):
            raise DataError(f"{path}: '{feature}.{name}' has {arrays[name].size} values, but each step of '{feature}' "
                            f"has {int(np.prod(shape))}; fix it, or delete the file to have the statistics computed")
        if not np.isfinite(arrays[name]).all():
            raise DataError(f"{path}: '{feature}.{name}' must be finite, got {value!r}")
        arrays[name] = arrays[name].reshape(shape)
    if "max" in arrays and (arrays["max"] < arrays["min"]).any():
        raise DataError(f"{path}: '{feature}.max' is below '{feature}.min' ({entry['max']!r} < {entry['min']!r})")
    return arrays


def _read_parquet(path: Path, what: str) -> pa.Table:
    if not path.is_file():
        raise DataError(f"{path}: {what} file is missing")
    try:
        return pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(f"{path}: cannot read {what} ({exc}); the file is corrupt or truncated") from exc


def _read_episode_rows(folder: Path) -> list[dict]:
    """The episode metadata (meta/episodes/chunk-*/file-*.parquet): one row per episode, in file order."""
    what = "episode metadata"
    files = sorted(folder.glob("chunk-*/file-*.parquet"))
    if not files:
        raise DataError(f"{folder}: no {what} files (expected chunk-000/file-000.parquet)")
    rows = []
    for path in files:
        table = _read_parquet(path, what)
        for column in ("episode_index", "length", "dataset_from_index", "dataset_to_index"):
            if column not in table.column_names:
                raise DataError(f"{path}: {what} column '{column}' is missing")
        rows += table.to_pylist()
    return rows


def _first_rows(episodes: list[dict], file_of: Callable[[dict], Hashable]) -> dict[Hashable, int]:
    """File -> the dataset row its first row holds, by ``file_of(episode)``: a data or video file holds consecutive
    rows, from the first of its episodes on (what places an episode in a file without an index or timestamps)."""
    first: dict[Hashable, int] = {}
    for episode in episodes:
        key = file_of(episode)
        first[key] = min(first.get(key, episode["dataset_from_index"]), episode["dataset_from_index"])
    return first


def _read_data(root: Path, info: dict, episodes: list[dict]) -> dict[str, np.ndarray]:
    """The low-dimensional columns of every episode, in episode order."""
    def data_file(episode: dict) -> tuple[int, int]:
        return episode.get("data/chunk_index", 0), episode.get("data/file_index", 0)

    first_row = _first_rows(episodes, data_file)
    tables = {}
    for chunk, file in sorted(first_row):
        path = root / info["data_path"].format(chunk_index=chunk, file_index=file)
        table = _read_parquet(path, "data")
        start = first_row[(chunk, file)]
        index = table["index"].to_numpy() if "index" in table.column_names else np.arange(start, start + table.num_rows)
        tables[(chunk, file)] = (path, table, index)
    wanted = [k for k, f in info["features"].items() if f.get("dtype") not in ("video", "image", "string")]
    parts: dict[str, list] = {k: [] for k in wanted}
    for episode in episodes:
        path, table, index = tables[data_file(episode)]
        start = int(np.searchsorted(index, episode["dataset_from_index"]))
        rows = table.slice(start, episode["length"])
        if rows.num_rows != episode["length"]:
            raise DataError(
                f"{path}: episode {episode['episode_index']} needs {episode['length']} rows, found {rows.num_rows}; "
                "the file is truncated"
            )
        for key in wanted:
            if key not in rows.column_names:
                raise DataError(f"{path}: column '{key}' listed in meta/info.json is missing")
            parts[key].append(_column_numpy(rows[key], path, key, info["features"][key]))
    return {k: np.concatenate(v) for k, v in parts.items()}


def _column_numpy(column: pa.ChunkedArray, path: Path, key: str, feature: dict) -> np.ndarray:
    column = column.combine_chunks()
    if pa.types.is_list(column.type) or pa.types.is_fixed_size_list(column.type) or pa.types.is_large_list(column.type):
        values = column.flatten().to_numpy(zero_copy_only=False)
        width = int(np.prod(feature.get("shape", [1])))
        if len(values) != len(column) * width:
            raise DataError(f"{path}: column '{key}' should hold {width} values per row as meta/info.json says")
        values = values.reshape(len(column), width)
    else:
        values = column.to_numpy(zero_copy_only=False)
    if not (np.issubdtype(values.dtype, np.number) or values.dtype == bool):
        raise DataError(f"{path}: column '{key}' must be numeric, got {values.dtype}")
    return values


def _read_frames(root: Path, info: dict, episodes: list[dict], image_key: str) -> np.ndarray:
    fps = float(info["fps"])

    def video_file(episode: dict) -> Path:
        chunk = episode.get(f"videos/{image_key}/chunk_index", 0)
        file = episode.get(f"videos/{image_key}/file_index", 0)
        return root / info["video_path"].format(video_key=image_key, chunk_index=chunk, file_index=file)

    first_row = _first_rows(episodes, video_file)
    decoded = {}
    parts = []
    for episode in episodes:
        path = video_file(episode)
        if path not in decoded:
            decoded[path] = read_video(path)
        timestamp = episode.get(f"videos/{image_key}/from_timestamp")
        first = int(round(timestamp * fps)) if timestamp is not None else episode["dataset_from_index"] - first_row[path]
        frames = decoded[path][first : first + episode["length"]]
        if len(frames) != episode["length"]:
            raise DataError(
                f"{path}: episode {episode['episode_index']} needs frames {first}..{first + episode['length'] - 1} "
                f"but the video has {len(decoded[path])}; the file is truncated"
            )
        parts.append(frames)
    return np.concatenate(parts)
