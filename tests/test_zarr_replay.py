"""Diffusion Policy replay buffers (zarr format 2, as pusht_cchi_v7_replay.zarr) read into UVA samples."""

import numpy as np
import pytest
import zarr

from uva_kit.data import load_episodes
from uva_kit.data.dataset import UVADataset
from uva_kit.errors import DataError

ENDS = [30, 55, 90]


def make_replay(path, drop=None, img_dtype=np.uint8, state_shape=None):
    n = ENDS[-1]
    root = zarr.open_group(str(path), mode="w", zarr_format=2)
    steps = np.arange(n)
    arrays = {
        "data/img": np.broadcast_to((steps % 200).astype(img_dtype)[:, None, None, None], (n, 96, 96, 3)).copy(),
        "data/state": np.stack([steps, steps + 1, steps + 2, steps + 3, steps * 0.01], 1).astype(np.float32),
        "data/action": np.stack([steps * 2, steps * 2 + 1], 1).astype(np.float32),
        "data/keypoint": np.zeros((n, 9, 2), np.float32),
        "meta/episode_ends": np.array(ENDS, dtype=np.int64),
    }
    if state_shape is not None:
        arrays["data/state"] = np.zeros(state_shape, np.float32)
    for key, value in arrays.items():
        if key != drop:
            root.create_array(key, data=value, chunks=(16,) + value.shape[1:])
    return path


def test_reads_a_replay_buffer(tmp_path):
    table = load_episodes(make_replay(tmp_path / "pusht_replay.zarr"))
    assert table.frames.shape == (90, 96, 96, 3) and table.frames.dtype == np.uint8
    assert table.episode_ends.tolist() == ENDS
    np.testing.assert_array_equal(table.agent_pos[:, 0], np.arange(90))
    assert table.extras["environment_state"].shape == (90, 5)
    assert table.extras["keypoint"].shape == (90, 18)
    assert table.stats["actions"]["max"].tolist() == [178.0, 179.0]

    dataset = UVADataset(table, split="all", augment=False)
    sample = dataset[6]  # episode 0, window starting at step 5
    assert sample["history_frames"].shape == (4, 3, 96, 96)
    assert (sample["history_frames"][:, 0, 0, 0] * 255).round().tolist() == [8, 12, 16, 20]
    assert sample["actions"][:, 0].tolist() == [2.0 * min(s, 29) for s in range(20, 36)]  # episode ends at 29


@pytest.mark.parametrize("missing", ["data/img", "data/action", "meta/episode_ends"])
def test_missing_key(tmp_path, missing):
    path = make_replay(tmp_path / "r.zarr", drop=missing)
    with pytest.raises(DataError, match=rf"r.zarr: missing '{missing}'"):
        load_episodes(path)


def test_float_images_in_0_255_read_as_uint8_like_diffusion_policys_pusht_buffer(tmp_path):
    """Diffusion Policy's pusht_cchi_v7_replay.zarr stores data/img as float32 pixel values."""
    as_uint8 = load_episodes(make_replay(tmp_path / "u.zarr"))
    as_float = load_episodes(make_replay(tmp_path / "f.zarr", img_dtype=np.float32))
    assert as_float.frames.dtype == np.uint8
    np.testing.assert_array_equal(as_float.frames, as_uint8.frames)


@pytest.mark.parametrize("dtype, scale, message", [
    (np.float32, 4.0, r"must hold pixel values in 0..255; frames 0..89 have values in \[0.0, 356.0\]"),
    (np.float32, 1 / 255, r"must hold pixel values in 0..255, but none is above 1: frames in \[0, 1\] would read as black"),
    (np.int16, 1.0, r"must be uint8 or float 0..255 \(N, H, W, 3\), got int16"),
])
def test_images_of_other_types_or_ranges_are_refused(tmp_path, dtype, scale, message):
    path = make_replay(tmp_path / "r.zarr", img_dtype=dtype)
    root = zarr.open_group(str(path), mode="a")
    root["data/img"][...] = root["data/img"][...] * scale
    with pytest.raises(DataError, match=rf"r.zarr: (float )?'data/img' {message}"):
        load_episodes(path)


def test_channels_first_images_are_named(tmp_path):
    path = make_replay(tmp_path / "r.zarr")
    root = zarr.open_group(str(path), mode="a")
    root.create_array("data/img", data=root["data/img"][...].transpose(0, 3, 1, 2), overwrite=True)
    with pytest.raises(DataError, match=r"got uint8 \(90, 3, 96, 96\): channels first\? store frames.transpose"):
        load_episodes(path)


def test_wrong_shape(tmp_path):
    path = make_replay(tmp_path / "r.zarr", state_shape=(90,))
    with pytest.raises(DataError, match=r"'data/state' must have 2 dimensions"):
        load_episodes(path)


def test_mismatched_lengths(tmp_path):
    path = make_replay(tmp_path / "r.zarr", state_shape=(80, 5))
    with pytest.raises(DataError, match=r"r.zarr: 'agent_pos' has 80 steps but there are 90 frames"):
        load_episodes(path)


def test_truncated_chunk(tmp_path):
    path = make_replay(tmp_path / "r.zarr")
    chunk = path / "data" / "action" / "1.0"
    chunk.write_bytes(chunk.read_bytes()[:7])
    with pytest.raises(DataError, match=r"cannot read 'data/action'.*corrupt or truncated"):
        load_episodes(path)
