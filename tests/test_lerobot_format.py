"""LeRobotDataset v3 writing and reading, and clear errors for damaged datasets."""

import json
import shutil

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from data_helpers import synthetic_episode

from uva_kit.data.lerobot import LeRobotWriter, read_lerobot
from uva_kit.data.loading import load_episodes
from uva_kit.errors import DataError

LENGTHS = (30, 26)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    root = tmp_path_factory.mktemp("lerobot") / "set"
    episodes = [synthetic_episode(n, offset=100 * i) for i, n in enumerate(LENGTHS)]
    writer = LeRobotWriter(root, fps=10)
    for episode in episodes:
        writer.add(episode)
    writer.close()
    return root, episodes


@pytest.fixture
def copy(written, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(written[0], root)
    return root


def test_layout_and_metadata(written):
    root, _ = written
    for part in ("meta/info.json", "meta/stats.json", "meta/tasks.parquet", "meta/episodes/chunk-000/file-000.parquet",
                 "data/chunk-000/file-000.parquet", "videos/observation.image/chunk-000/file-000.mp4"):
        assert (root / part).is_file(), part
    info = json.loads((root / "meta/info.json").read_text())
    assert info["codebase_version"] == "v3.0"
    assert info["total_episodes"] == 2 and info["total_frames"] == sum(LENGTHS)
    assert info["features"]["observation.image"]["dtype"] == "video"
    assert info["features"]["action"]["shape"] == [2]
    episodes = pq.read_table(root / "meta/episodes/chunk-000/file-000.parquet").to_pylist()
    assert [e["dataset_from_index"] for e in episodes] == [0, 30]
    assert episodes[1]["videos/observation.image/from_timestamp"] == pytest.approx(3.0)


def test_round_trip(written):
    root, episodes = written
    table = read_lerobot(root)
    assert table.episode_ends.tolist() == [30, 56]
    np.testing.assert_array_equal(table.actions, np.concatenate([e.actions for e in episodes]))
    np.testing.assert_array_equal(table.agent_pos, np.concatenate([e.agent_pos for e in episodes]))
    np.testing.assert_array_equal(table.extras["contact_impulse"],
                                  np.concatenate([e.extras["contact_impulse"] for e in episodes]))
    original = np.concatenate([e.frames for e in episodes]).astype(int)
    assert table.frames.shape == original.shape
    assert np.abs(table.frames.astype(int) - original).max() <= 3  # lossy H.264, flat frames
    assert table.stats["actions"]["min"].tolist() == [0.0, 0.0]
    assert table.stats["actions"]["max"].tolist() == [2 * 125, 3 * 125]


def test_episode_tasks_are_read(written):
    assert read_lerobot(written[0]).tasks == ("synthetic", "synthetic")


def test_missing_info_json(copy):
    (copy / "meta/info.json").unlink()
    with pytest.raises(DataError, match="unknown dataset format.*numpy arrays become one with uva_kit.data.LeRobotWriter"):
        load_episodes(copy)
    with pytest.raises(DataError, match=r"info.json: missing"):
        read_lerobot(copy)


def test_missing_feature_names_the_file(copy):
    info = json.loads((copy / "meta/info.json").read_text())
    del info["features"]["observation.state"]
    (copy / "meta/info.json").write_text(json.dumps(info))
    with pytest.raises(DataError, match=r"info.json: feature 'observation.state' is missing"):
        read_lerobot(copy)


def test_action_free_episodes_write_and_read_without_actions(tmp_path):
    from uva_kit.data import UVADataset

    writer = LeRobotWriter(tmp_path / "video", fps=10)
    for i, length in enumerate(LENGTHS):
        writer.add(attrs.evolve(synthetic_episode(length, offset=100 * i), actions=None))
    writer.close()
    assert "action" not in json.loads((tmp_path / "video/meta/info.json").read_text())["features"]
    table = read_lerobot(tmp_path / "video")
    assert not table.has_actions and table.actions.shape == (sum(LENGTHS), 0) and "actions" not in table.stats
    sample = UVADataset(tmp_path / "video", split="all")[0]
    assert "actions" not in sample and sample["future_frames"].shape == (4, 3, 32, 32)


def test_corrupt_info_json(copy):
    (copy / "meta/info.json").write_text('{"codebase_version": "v3.0", "fps"')
    with pytest.raises(DataError, match="not valid JSON"):
        read_lerobot(copy)


def test_corrupt_stats_json_names_the_file(copy):
    (copy / "meta/stats.json").write_text('{"action": {"min": [0')
    with pytest.raises(DataError, match=r"meta/stats\.json: not valid JSON .*delete it to have the statistics computed"):
        read_lerobot(copy)


@pytest.mark.parametrize("name, value, message", [
    ("min", [0.0], r"'action\.min' has 1 values, but each step of 'action' has 2"),
    ("max", [1.0, float("nan")], r"'action\.max' must be finite"),
    ("min", [float("-inf"), 0.0], r"'action\.min' must be finite"),
    ("std", ["a", "b"], r"'action\.std' must be a number or a list of numbers"),
    ("max", [-1e9, -1e9], r"'action\.max' is below 'action\.min'"),
])
def test_bad_stats_entry_names_the_file_and_key(copy, name, value, message):
    path = copy / "meta/stats.json"
    stats = json.loads(path.read_text())
    stats["action"][name] = value
    path.write_text(json.dumps(stats))  # json writes NaN and Infinity, as Python's json reads them
    with pytest.raises(DataError, match=r"meta/stats\.json: " + message):
        read_lerobot(copy)


def test_stats_json_supplies_the_stored_statistics(copy):
    path = copy / "meta/stats.json"
    stats = json.loads(path.read_text())
    stats["action"]["min"] = [-5.0, -6.0]
    path.write_text(json.dumps(stats))
    np.testing.assert_array_equal(read_lerobot(copy).stats["actions"]["min"], [-5.0, -6.0])


def test_truncated_parquet(copy):
    path = copy / "data/chunk-000/file-000.parquet"
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(DataError, match=r"file-000.parquet: cannot read data .*truncated"):
        read_lerobot(copy)


def test_truncated_video(copy):
    path = copy / "videos/observation.image/chunk-000/file-000.mp4"
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 3])
    with pytest.raises(DataError, match=r"file-000.mp4: .*(truncated|corrupt)"):
        read_lerobot(copy)


def test_wrong_column_width(copy):
    path = copy / "data/chunk-000/file-000.parquet"
    table = pq.read_table(path)
    three_wide = pa.FixedSizeListArray.from_arrays(pa.array(np.zeros(3 * table.num_rows, np.float32)), 3)
    pq.write_table(table.set_column(table.column_names.index("action"), "action", three_wide), path)
    with pytest.raises(DataError, match=r"column 'action' should hold 2 values"):
        read_lerobot(copy)


def test_wrong_dtype_column(copy):
    path = copy / "data/chunk-000/file-000.parquet"
    table = pq.read_table(path)
    strings = pa.array(["x"] * table.num_rows)
    pq.write_table(table.set_column(table.column_names.index("next.reward"), "next.reward", strings), path)
    with pytest.raises(DataError, match=r"column 'next.reward' must be numeric"):
        read_lerobot(copy)


def test_rows_missing_from_data(copy):
    path = copy / "data/chunk-000/file-000.parquet"
    pq.write_table(pq.read_table(path).slice(0, 40), path)
    with pytest.raises(DataError, match=r"episode 1 needs 26 rows, found 10"):
        read_lerobot(copy)


def test_data_without_an_index_column_reads_each_episode_at_its_rows(written, copy):
    # Without the global "index" column, an episode's rows are found from its dataset_from_index, relative to
    # the first row the file holds (reading from the file's start would give every episode episode 0's rows).
    path = copy / "data/chunk-000/file-000.parquet"
    table = pq.read_table(path)
    pq.write_table(table.drop_columns(["index"]), path)
    info = json.loads((copy / "meta/info.json").read_text())
    del info["features"]["index"]
    (copy / "meta/info.json").write_text(json.dumps(info))
    _, episodes = written
    np.testing.assert_array_equal(read_lerobot(copy).actions, np.concatenate([e.actions for e in episodes]))


def test_episodes_without_video_timestamps_read_each_episode_at_its_frames(written, copy):
    # Without from_timestamp, an episode's frames are found from its dataset_from_index, relative to the first
    # episode in its video file (reading from the file's start would give every episode episode 0's frames).
    path = copy / "meta/episodes/chunk-000/file-000.parquet"
    table = pq.read_table(path)
    pq.write_table(table.drop_columns(["videos/observation.image/from_timestamp"]), path)
    np.testing.assert_array_equal(read_lerobot(copy).frames, read_lerobot(written[0]).frames)
