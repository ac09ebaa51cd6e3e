"""Episodes given as numpy arrays: wrong layouts are DataErrors that say the fix, before anything is written."""

import numpy as np
import pytest

from uva_kit.data import EpisodeRecord, LeRobotWriter, load_episodes
from uva_kit.errors import DataError

T = 30


def arrays(**changes):
    values = {"frames": np.zeros((T, 16, 20, 3), np.uint8), "agent_pos": np.zeros((T, 9), np.float32),
              "actions": np.zeros((T, 7), np.float32)}
    return {**values, **changes}


@pytest.mark.parametrize("changes, message", [
    ({"frames": np.zeros((T, 3, 16, 20), np.uint8)}, r"channels last.*transpose\(0, 2, 3, 1\)"),
    ({"frames": np.zeros((T, 16, 20, 3), np.float32)}, r"uint8 pixels 0..255.*\* 255"),
    ({"frames": np.zeros((T, 16, 20), np.uint8)}, r"RGB.*np.repeat"),
    ({"actions": np.zeros((T - 1, 7), np.float32)}, "actions has 29 steps but frames has 30"),
    ({"actions": np.zeros(T, np.float32)}, r"actions must be \(T, D\)"),
    ({"agent_pos": [[0.0, 0.0]] * T}, "agent_pos must be a numeric numpy array, got list"),
    ({"extras": {"force": np.zeros((T + 1, 3))}}, r"extras\['force'\] has 31 steps"),
])
def test_a_wrong_layout_names_the_array_and_the_fix(changes, message):
    with pytest.raises(DataError, match=message):
        EpisodeRecord(**arrays(**changes))


def test_rewards_default_to_zeros():
    assert EpisodeRecord(**arrays()).rewards.tolist() == [0.0] * T


def test_the_writer_wants_a_new_folder_even_frames_and_alike_episodes(tmp_path):
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "file").write_text("")
    with pytest.raises(DataError, match="new or empty folder"):
        LeRobotWriter(tmp_path / "used")
    with pytest.raises(DataError, match="15x20; the video needs an even height and width"):
        LeRobotWriter(tmp_path / "odd").add(EpisodeRecord(**arrays(frames=np.zeros((T, 15, 20, 3), np.uint8))))
    writer = LeRobotWriter(tmp_path / "mixed")
    writer.add(EpisodeRecord(**arrays()))
    with pytest.raises(DataError, match=r"episode 1: actions has per-step shape \(2,\), but episode 0's is \(7,\)"):
        writer.add(EpisodeRecord(**arrays(actions=np.zeros((T, 2), np.float32))))


def test_own_arrays_round_trip(tmp_path):
    writer = LeRobotWriter(tmp_path / "mine")
    for _ in range(2):
        writer.add(EpisodeRecord(**arrays()))
    writer.close()
    table = load_episodes(tmp_path / "mine")
    assert table.frames.shape == (2 * T, 16, 20, 3) and table.actions.shape == (2 * T, 7)
    assert table.agent_pos.shape == (2 * T, 9)
