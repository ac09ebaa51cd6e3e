"""``uva-kit collect``: several processes, a success report, a dataset that reads back, atomic output."""

import json
import os
from pathlib import Path

import pytest

pytest.importorskip("gym_pusht", reason="needs the sim extra: pip install 'uva_kit[sim]'")

from uva_kit.cli import main  # noqa: E402
from uva_kit.data import UVADataset, load_episodes  # noqa: E402
from uva_kit.data.lerobot import LeRobotWriter  # noqa: E402


def test_collect_writes_a_dataset_that_reads_back(tmp_path, capsys):
    out = tmp_path / "pusht_small"
    code = main(["collect", "pusht", "--episodes", "3", "--out", str(out), "--workers", "2",
                 "--max-steps", "30", "--keep-failed", "--seed", "7"])
    assert code == 0
    assert "success 0/3" in capsys.readouterr().out  # 30 steps are too few to finish
    report = json.loads((out / "collect_report.json").read_text())
    assert report["episodes"] == 3 and report["written_episodes"] == 3
    assert [r["seed"] for r in report["per_episode"]] == [7, 8, 9]
    table = load_episodes(out)
    assert table.episode_ends.tolist() == [30, 60, 90]
    assert table.frames.shape == (90, 96, 96, 3)
    assert set(table.extras) == {"contact_impulse", "environment_state"}
    sample = UVADataset(out, split="all")[0]
    assert sample["history_frames"].shape == (4, 3, 96, 96) and sample["actions"].shape == (16, 2)
    assert not list(tmp_path.glob(".*partial*"))


def test_failed_episodes_are_dropped_unless_kept(tmp_path, capsys):
    code = main(["collect", "two-block", "--episodes", "1", "--out", str(tmp_path / "x"), "--workers", "1",
                 "--max-steps", "3"])
    assert code == 2
    assert "nothing written" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_existing_output_is_not_overwritten(tmp_path, capsys):
    (tmp_path / "taken").mkdir()
    assert main(["collect", "pusht", "--episodes", "1", "--out", str(tmp_path / "taken")]) == 2
    assert "already exists" in capsys.readouterr().err


def test_output_that_cannot_be_created_is_a_clear_error(tmp_path, capsys, monkeypatch):
    (tmp_path / "file").write_text("")
    assert main(["collect", "pusht", "--episodes", "1", "--out", str(tmp_path / "file" / "out")]) == 2
    assert f"cannot create {tmp_path / 'file' / 'out'}: a file is in the way ({tmp_path / 'file'})" in capsys.readouterr().err

    mkdir = os.mkdir

    def refused(path, *args, **kwargs):  # the staging folder of --out cannot be made
        if Path(path).name.startswith(".out.tmp-"):
            raise PermissionError(13, "Permission denied", str(path))
        return mkdir(path, *args, **kwargs)

    monkeypatch.setattr("os.mkdir", refused)
    assert main(["collect", "pusht", "--episodes", "1", "--out", str(tmp_path / "out")]) == 2
    assert "Permission denied" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_interrupted_collection_leaves_nothing(tmp_path, monkeypatch):
    def interrupted(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(LeRobotWriter, "close", interrupted)
    code = main(["collect", "pusht", "--episodes", "1", "--out", str(tmp_path / "out"), "--workers", "1",
                 "--max-steps", "5", "--keep-failed"])
    assert code == 130
    assert list(tmp_path.iterdir()) == []
