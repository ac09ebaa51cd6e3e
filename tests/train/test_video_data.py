"""Action-free video mixed into training: its batches carry no actions, and it must fit the action data."""

from __future__ import annotations

import json
import types

import attrs
import numpy as np
import pytest
import torch

import uva_kit
from tests.cli_support import run_cli
from tests.data_helpers import synthetic_episode
from tests.train.runs import finish, run_fit, weights
from tests.train.synthetic import SyntheticWindows
from uva_kit.data import EpisodeTable, LeRobotWriter, UVADataset
from uva_kit.errors import DataError, InputError, SpecError, UvaKitError
from uva_kit.spec import load_spec, spec_from_dict, to_dict
from uva_kit.train import fit
from uva_kit.train.batches import BatchPlan
from uva_kit.train.metrics import read_metrics
from uva_kit.train.video_data import check_video_data

ALL_VIDEO = ["training.steps=3", "training.batch_size=4", "training.video_data_ratio=1.0", "training.log_every=1",
             "training.checkpoint_every=100"]


def test_video_batches_leave_out_the_video_datas_actions_and_its_statistics(tmp_path, capsys):
    video = SyntheticWindows(8, seed=3)  # with actions, far outside the action data's range
    video.actions = video.actions * 10 + 5000
    result = fit(load_spec("pusht-tiny", ALL_VIDEO), SyntheticWindows(4), tmp_path, video_dataset=video,
                 progress=False)
    assert "the action-free video data has actions; they are not used" in capsys.readouterr().out
    records = read_metrics(tmp_path, "train")
    assert len(records) == 3 and all("loss/video" in r and "loss/action" not in r and r["video_data"] == 1.0
                                     for r in records)
    normalizer = uva_kit.load(result.checkpoint / "pretrained_model").modalities["action"].normalizer
    main = SyntheticWindows(4).stats["actions"]
    assert torch.allclose(normalizer.low, torch.tensor(main["min"])) and torch.allclose(normalizer.high,
                                                                                       torch.tensor(main["max"]))


def test_the_log_shows_the_share_of_video_micro_batches_drawn_at_the_ratio(tmp_path):
    spec = load_spec("pusht-tiny", ["training.steps=40", "training.batch_size=4", "training.grad_accumulation=2",
                                    "training.video_data_ratio=0.25", "training.log_every=20",
                                    "training.checkpoint_every=100"])
    fit(spec, SyntheticWindows(8), tmp_path, video_dataset=SyntheticWindows(8, seed=3, with_actions=False),
        progress=False)
    plan = BatchPlan(8, 4, spec.training.seed, grad_accumulation=2, video_dataset_size=8, video_ratio=0.25)
    drawn = [[m.source for step in steps for m in plan.micro_batches(step)] for steps in (range(20), range(20, 40))]
    assert [r["video_data"] for r in read_metrics(tmp_path, "train")] == [d.count("video") / 40 for d in drawn]
    assert sum(d.count("video") for d in drawn) / 80 == pytest.approx(0.25, abs=0.12)


def test_latent_cache_covers_the_video_data(tmp_path):
    cache = tmp_path / "cache"
    fit(load_spec("pusht-tiny", ALL_VIDEO), SyntheticWindows(4), tmp_path / "run",
        video_dataset=SyntheticWindows(8, seed=3, with_actions=False), latent_cache=cache, progress=False)
    assert len(list(cache.rglob("*.safetensors"))) == 4 + 8  # each window of both datasets, once


@pytest.mark.parametrize("ratio, video, message", [
    (0.5, None, "training.video_data_ratio is 0.5 but no action-free video dataset is given"),
    (0.0, SyntheticWindows(8, with_actions=False), "training.video_data_ratio is 0, so it would never be used"),
])
def test_ratio_and_video_data_come_together(tmp_path, ratio, video, message):
    spec = load_spec("pusht-tiny", ["training.steps=1", "training.batch_size=4", f"training.video_data_ratio={ratio}"])
    with pytest.raises(InputError, match=message):
        fit(spec, SyntheticWindows(4), tmp_path, video_dataset=video, progress=False)


def test_ratio_outside_zero_one_is_refused():
    with pytest.raises(SpecError, match=r"training: .*video_data_ratio must be in \[0, 1\], got 1.5"):
        load_spec("pusht-tiny", ["training.video_data_ratio=1.5"])


def _table(fps: float, actions: int, state: int = 1) -> EpisodeTable:
    steps = 40
    return EpisodeTable(frames=np.zeros((steps, 16, 16, 3), np.uint8), actions=np.zeros((steps, actions), np.float32),
                        agent_pos=np.zeros((steps, state), np.float32), episode_ends=np.array([steps]), fps=fps)


def test_video_batches_leave_out_the_robot_state_of_another_embodiment(tmp_path):
    spec = to_dict(load_spec("pusht-tiny", ALL_VIDEO))
    spec["modalities"].append({"type": "proprio", "data_key": "agent_pos", "dim": 2})
    spec["modes"] = [{"mode": {"type": "policy", "given": ["proprio"]}}, {"mode": {"type": "video"}}]
    layout = load_spec("pusht-tiny").layout
    people = UVADataset(_table(10, 0, state=5), layout, split="all")  # e.g. hand poses: not the robot's state
    result = fit(spec_from_dict(spec), UVADataset(_table(10, 2, state=2), layout, split="all"), tmp_path,
                 video_dataset=people, progress=False)
    assert result.step == 3


def test_video_data_must_share_the_frame_rate_and_layout():
    layout = load_spec("pusht-tiny").layout
    actions = UVADataset(_table(10, 2), layout, augment=False, split="all")
    assert not check_video_data(actions, UVADataset(_table(10, 0), layout, split="all"))
    with pytest.raises(DataError, match="recorded at 30 fps, the action data at 10 fps.*resample the video to 10 fps"):
        check_video_data(actions, UVADataset(_table(30, 0), layout, split="all"))
    with pytest.raises(DataError, match=r"laid out differently: frame_stride 2 \(action data: 4\); read both with"):
        check_video_data(actions, UVADataset(_table(10, 0), attrs.evolve(layout, frame_stride=2), split="all"))
    assert not check_video_data(actions, UVADataset(_table(10, 0), attrs.evolve(layout, action_dim=7), split="all"))
    fewer = SyntheticWindows(8, frames=2, with_actions=False)  # no layout: its frame counts are compared
    with pytest.raises(DataError, match="have 2 history frames, the action data's 4: read both with the same layout"):
        check_video_data(SyntheticWindows(4), fewer)


def test_action_free_data_alone_pretrains_the_video_mode_and_says_what_else_it_needs(tmp_path):
    video = UVADataset(_table(10, 0), load_spec("pusht-tiny").layout, split="all")
    video_only = load_spec("pusht-tiny", ["training.steps=1", "training.batch_size=4", "modes=[{mode = {type = 'video'}}]"])
    assert fit(video_only, video, tmp_path / "stage1", progress=False).step == 1
    with pytest.raises(UvaKitError, match="the training data has no 'actions'.*--video-data DIR.*video-only pretraining"):
        fit(load_spec("pusht-tiny", ["training.steps=1", "training.batch_size=4"]), video, tmp_path / "all", progress=False)


@pytest.fixture(scope="module")
def action_free_folder(tmp_path_factory):
    """What a user writes from frames alone: LeRobotWriter episodes with actions=None."""
    folder = tmp_path_factory.mktemp("video") / "human"
    writer = LeRobotWriter(folder, fps=10)
    for i in range(3):
        writer.add(attrs.evolve(synthetic_episode(40, offset=50 * i), actions=None))
    writer.close()
    return folder


def test_cli_mixes_in_written_action_free_video_with_a_latent_cache_and_resumes_exactly(tmp_path, action_free_folder):
    mixed = ["--video-data", str(action_free_folder), "--set", "training.video_data_ratio=0.5",
             "--set", "training.checkpoint_every=1", "--latent-cache", str(tmp_path / "cache")]
    printed = finish(run_fit(tmp_path / "whole", 3, *mixed))
    assert "video: 3 episodes (51 windows), read without actions by 50% of the micro-batches" in printed
    assert "the action-free video data has actions" not in printed
    finish(run_fit(tmp_path / "parts", 3, *mixed, "--set", "training.steps=2"))
    config = json.loads((tmp_path / "parts" / "train_config.json").read_text())
    config["spec"]["training"]["steps"] = 3  # the resumed run goes on to the whole run's length
    (tmp_path / "parts" / "train_config.json").write_text(json.dumps(config))
    finish(run_fit(tmp_path / "parts", 3, resume=True))
    assert all(torch.equal(weights(tmp_path / "whole", 3, "model")[k], v)
               for k, v in weights(tmp_path / "parts", 3, "model").items())


@pytest.mark.parametrize("options, message", [
    (["--set", "training.video_data_ratio=0.5"], "no action-free video dataset is given"),
    (["--video-data", "VIDEO"], "training.video_data_ratio is 0, so it would never be used"),
])
def test_cli_ratio_and_video_data_without_each_other_are_usage_errors(tmp_path, action_free_folder, options, message):
    options = [str(action_free_folder) if o == "VIDEO" else o for o in options]
    result = run_cli("train", "--spec", "pusht-tiny", "--data", "default", "--out", str(tmp_path / "run"), *options)
    assert result.returncode == 2 and message in result.stderr


def _cli_datasets(monkeypatch, *arguments: str) -> dict:
    """What ``uva-kit train ARGUMENTS`` passes to ``fit`` (which is not run)."""
    from uva_kit.cli import main

    given = {}

    def fit_nothing(spec, data, out, **options):
        given.update(data=data, **options)
        return types.SimpleNamespace(checkpoint=None)

    monkeypatch.setattr("uva_kit.train.fit", fit_nothing)
    main(["train", "--spec", "pusht-tiny", "--data", "default", *arguments])
    return given


@pytest.mark.parametrize("cache", [False, True])
def test_cli_augments_the_video_data_as_the_action_data(tmp_path, monkeypatch, action_free_folder, cache):
    given = _cli_datasets(monkeypatch, "--out", str(tmp_path / "run"), "--video-data", str(action_free_folder),
                          "--set", "training.video_data_ratio=0.5",
                          *(["--latent-cache", str(tmp_path / "cache")] if cache else []))
    assert (given["video_dataset"].augmentation is None) == cache == (given["data"].augmentation is None)


def test_cli_gives_a_language_model_the_video_datas_instructions(tmp_path, monkeypatch, action_free_folder):
    given = _cli_datasets(monkeypatch, "--out", str(tmp_path / "run"), "--video-data", str(action_free_folder),
                          "--set", "training.video_data_ratio=0.5",
                          "--set", "modalities=[{type='video'}, {type='action'}, {type='language'}]")
    assert given["video_dataset"][0]["instruction"] == "synthetic"
