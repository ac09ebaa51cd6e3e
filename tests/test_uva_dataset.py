"""UVADataset samples: keys, shapes, value ranges, episode split, stats and clip-consistent augmentation."""

import math

import numpy as np
import pytest
import torch
from data_helpers import synthetic_episode

from uva_kit.data import EpisodeTable, UVADataset
from uva_kit.data.augment import ClipAugmentation, gaussian_blur
from uva_kit.data.stats import array_stats, image_stats
from uva_kit.errors import DataError


def table(num_episodes=10, length=40):
    episodes = [synthetic_episode(length, offset=1000 * i) for i in range(num_episodes)]
    return EpisodeTable(
        frames=np.concatenate([e.frames for e in episodes]),
        actions=np.concatenate([e.actions for e in episodes]),
        agent_pos=np.concatenate([e.agent_pos for e in episodes]),
        episode_ends=np.cumsum([e.length for e in episodes]),
        extras={"contact_impulse": np.concatenate([e.extras["contact_impulse"] for e in episodes])},
        stats={"actions": {"min": np.zeros(2), "max": np.ones(2)}},
    )


def test_sample_keys_shapes_and_units():
    dataset = UVADataset(table(), split="all", augment=False)
    assert len(dataset) == 10 * (40 - 23)
    sample = dataset[6]  # episode 0, window from step 5
    assert sample["history_frames"].shape == (4, 3, 32, 32)
    assert sample["future_frames"].shape == (4, 3, 32, 32)
    assert sample["history_frames"].dtype == torch.float32
    assert 0 <= sample["history_frames"].min() and sample["future_frames"].max() <= 1
    assert (sample["future_frames"][:, 0, 0, 0] * 255 / 4).round().tolist() == [24, 28, 32, 36]
    assert sample["actions"].shape == (16, 2)
    assert sample["actions"][:, 0].tolist() == [2.0 * s for s in range(20, 36)]  # environment units
    assert sample["agent_pos"][:, 0].tolist() == [8, 12, 16, 20]
    assert sample["contact_impulse"][:, 1].tolist() == [-float(s) for s in range(20, 36)]
    assert dataset.stats["actions"]["max"].tolist() == [1, 1]
    batch = next(iter(torch.utils.data.DataLoader(dataset, batch_size=3)))
    assert batch["history_frames"].shape == (3, 4, 3, 32, 32)


def test_split_is_by_episode_and_seeded():
    data = table(num_episodes=50)
    train = UVADataset(data, split="train", val_ratio=0.1, split_seed=1)
    val = UVADataset(data, split="val", val_ratio=0.1, split_seed=1)
    assert len(val.episode_indices) == 5
    assert set(train.episode_indices).isdisjoint(val.episode_indices)
    assert len(train) + len(val) == 50 * 17
    again = UVADataset(data, split="val", val_ratio=0.1, split_seed=1)
    other = UVADataset(data, split="val", val_ratio=0.1, split_seed=2)
    assert again.episode_indices.tolist() == val.episode_indices.tolist()
    assert other.episode_indices.tolist() != val.episode_indices.tolist()
    assert train.augmentation is not None and val.augmentation is None


def test_extra_keys_and_image_size():
    dataset = UVADataset(table(), split="all", extra_keys=(), image_size=48)
    sample = dataset[0]
    assert "contact_impulse" not in sample
    assert sample["history_frames"].shape == (4, 3, 48, 48)
    with pytest.raises(DataError, match="no per-step signal 'force'"):
        UVADataset(table(), extra_keys=("force",))


def test_statistics_a_table_lacks_are_computed():
    stats = UVADataset(table(), split="all").stats
    assert stats["actions"]["max"].tolist() == [1.0, 1.0]  # given: kept
    assert stats["agent_pos"]["min"].tolist() == [0.0, 0.5] and stats["agent_pos"]["max"].tolist() == [9039.0, 9039.5]
    assert set(stats) == {"actions", "agent_pos", "contact_impulse"}


def test_action_dim_mismatch_is_an_error():
    import attrs

    from uva_kit.spec import LayoutSpec

    with pytest.raises(DataError, match=r"layout.action_dim is 7; .* \(uva-kit train --set layout.action_dim=2\)"):
        UVADataset(table(), layout=attrs.evolve(LayoutSpec(), action_dim=7))


@pytest.mark.parametrize("key", ["actions", "contact_impulse"])
def test_non_finite_per_step_values_are_refused_with_their_steps(key):
    import attrs

    good = table()
    values = (good.actions if key == "actions" else good.extras[key]).astype(np.float32)
    values[[5, 49], 0] = [np.nan, np.inf]  # episodes of 40 steps: in episodes 0 and 1
    with pytest.raises(DataError, match=rf"'{key}' is NaN or infinite at 2 step\(s\), first \[5, 49\], in episode\(s\) \[0, 1\]"):
        attrs.evolve(good, actions=values) if key == "actions" else attrs.evolve(good, extras={key: values})


def test_augmentation_is_shared_by_all_frames_of_a_clip():
    frame = torch.rand(3, 96, 96)
    clip = frame.expand(8, 3, 96, 96).clone()
    changed = 0
    for seed in range(20):
        out = ClipAugmentation()(clip, generator=torch.Generator().manual_seed(seed))
        assert out.shape == clip.shape
        assert torch.allclose(out, out[:1].expand_as(out))  # one transform for every frame
        changed += not torch.allclose(out, clip)
    assert 8 <= changed <= 20  # p(no crop and no blur) = 0.25


def test_blur_only_and_crop_only_differ_from_the_input():
    clip = torch.rand(2, 3, 96, 96)
    blur = ClipAugmentation(crop_probability=0.0, blur_probability=1.0)(clip)
    crop = ClipAugmentation(crop_probability=1.0, blur_probability=0.0)(clip)
    assert blur.std() < clip.std()  # blurring smooths noise
    assert not torch.allclose(crop, clip) and crop.shape == clip.shape


def centre_weight(sigma: float) -> float:
    """The centre weight of the normalized 5x5 Gaussian kernel: what blurring a unit impulse leaves at its pixel."""
    line = [math.exp(-(k * k) / (2 * sigma * sigma)) for k in range(-2, 3)]
    return (line[2] / sum(line)) ** 2


def impulse(size: int = 9) -> torch.Tensor:
    image = torch.zeros(1, 3, size, size)
    image[..., size // 2, size // 2] = 1.0
    return image


def test_blur_of_an_impulse_is_the_normalized_gaussian_kernel():
    line = torch.tensor([math.exp(-(k * k) / (2 * 1.5**2)) for k in range(-2, 3)])
    line = line / line.sum()
    torch.testing.assert_close(gaussian_blur(impulse(), 5, 1.5)[0, 0, 2:7, 2:7], line[:, None] * line[None, :])


def test_blur_sigma_is_drawn_from_its_range_for_each_clip():
    blur_only = ClipAugmentation(crop_probability=0.0, blur_probability=1.0)
    centres = {round(float(blur_only(impulse(), torch.Generator().manual_seed(s))[0, 0, 4, 4]), 6) for s in range(20)}
    assert len(centres) == 20
    assert centre_weight(2.0) - 1e-6 <= min(centres) and max(centres) <= centre_weight(0.1) + 1e-6


def test_crop_keeps_0_95_of_the_side():
    """On a horizontal ramp i / 95, a 91-pixel crop resized back to 96 spans exactly 90 / 95 (bilinear keeps the ends)."""
    ramp = (torch.arange(96.0) / 95).expand(1, 3, 96, 96)
    crop_only = ClipAugmentation(crop_probability=1.0, blur_probability=0.0)
    for seed in range(5):
        out = crop_only(ramp, torch.Generator().manual_seed(seed))[0, 0, 0]
        assert (out.max() - out.min()).item() == pytest.approx(90 / 95, abs=1e-5)


def test_stats_are_per_dimension_with_the_population_std():
    stats = array_stats(np.array([[0.0, 10.0], [2.0, 10.0], [4.0, 10.0]]))
    np.testing.assert_allclose(stats["min"], [0, 10])
    np.testing.assert_allclose(stats["max"], [4, 10])
    np.testing.assert_allclose(stats["mean"], [2, 10])
    np.testing.assert_allclose(stats["std"], [math.sqrt(8 / 3), 0])
    assert stats["count"].tolist() == [3]


def test_image_stats_are_per_channel_in_0_1():
    frames = np.array([[[[0, 255, 51]]], [[[255, 255, 51]]]], dtype=np.uint8)  # (N, H, W, 3)
    stats = image_stats(frames)
    assert stats["mean"].shape == (3, 1, 1)
    np.testing.assert_allclose(stats["mean"].ravel(), [0.5, 1.0, 0.2])
    np.testing.assert_allclose(stats["std"].ravel(), [0.5, 0.0, 0.0], atol=1e-12)


def test_history_keys_give_stored_or_computed_signals_at_the_history_frames():
    import attrs

    data = table()
    steps = np.arange(len(data.frames), dtype=np.float32)
    state = np.stack([steps, steps + 1, steps + 2, steps + 3, 0.1 * steps], axis=1)  # a T that keeps turning
    data = attrs.evolve(data, extras={**data.extras, "environment_state": state})
    dataset = UVADataset(data, split="all", augment=False, history_keys=("agent_pos", "pusht_state", "contact_impulse"))
    sample = dataset[6]  # episode 0, window from step 5: history steps 8, 12, 16, 20
    assert sample["pusht_state"].shape == (4, 6)
    assert sample["pusht_state"][:, :4].tolist() == [[s, s + 1, s + 2, s + 3] for s in (8, 12, 16, 20)]
    angles = 0.1 * torch.tensor([8.0, 12.0, 16.0, 20.0])
    torch.testing.assert_close(sample["pusht_state"][:, 4:], torch.stack([angles.cos(), angles.sin()], dim=1))
    assert sample["contact_impulse"][:, 1].tolist() == [-8, -12, -16, -20]  # a stored extra, read per frame
    assert sample["environment_state"].shape == (16, 5)  # the other extras stay at the action steps
    assert dataset.stats["pusht_state"]["max"][:4].tolist() == [len(steps) - 1 + i for i in range(4)]
    with pytest.raises(DataError, match="'pusht_state' is computed from 'environment_state'"):
        UVADataset(table(), history_keys=("pusht_state",))
    with pytest.raises(DataError, match="no per-step signal 'force'"):
        UVADataset(table(), history_keys=("force",))


def write_episodes(folder, tasks):
    """A LeRobot folder of blank 30-step episodes, one per task (None: an episode without one)."""
    from uva_kit.data import EpisodeRecord, LeRobotWriter

    writer = LeRobotWriter(folder)
    for task in tasks:
        writer.add(EpisodeRecord(frames=np.zeros((30, 16, 16, 3), np.uint8), agent_pos=np.zeros((30, 2), np.float32),
                                 actions=np.zeros((30, 2), np.float32), task=task))
    writer.close()
    return str(folder)


def test_a_language_spec_trains_on_the_episode_tasks(tmp_path):
    import torch

    import uva_kit
    from uva_kit.cli.train import split_dataset

    write_episodes(tmp_path / "tasks", ("open the drawer", "close the drawer"))
    spec = uva_kit.load_spec("pusht-tiny", ["modalities=[{type='video'}, {type='action'}, {type='language'}]"])
    dataset = split_dataset(spec, str(tmp_path / "tasks"), "all")
    assert [dataset[i]["instruction"] for i in (0, len(dataset) - 1)] == ["open the drawer", "close the drawer"]
    loss, _ = uva_kit.build(spec)(torch.utils.data.default_collate([dataset[0], dataset[len(dataset) - 1]]))
    assert torch.isfinite(loss)
    assert "instruction" not in split_dataset(uva_kit.load_spec("pusht-tiny"), str(tmp_path / "tasks"), "all")[0]
    with pytest.raises(DataError, match="the model reads an instruction, but the dataset names no task per episode"):
        UVADataset(table(), instructions=True)


def test_action_free_video_data_for_a_language_spec_must_name_its_tasks(tmp_path, capsys):
    from spec_overrides import TINY_LANGUAGE_MODALITIES

    from uva_kit import cli

    data, video = write_episodes(tmp_path / "tasks", ("open", "close")), write_episodes(tmp_path / "video", (None, None))
    train = ["train", "--spec", "pusht-tiny", "--set", TINY_LANGUAGE_MODALITIES, "--set", "training.video_data_ratio=0.5",
             "--data", data, "--out", str(tmp_path / "run"), "--no-progress"]
    assert cli.main([*train, "--video-data", video]) == 2
    assert "video: the model reads an instruction, but the dataset names no task per episode" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
