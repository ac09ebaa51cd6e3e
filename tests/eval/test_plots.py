"""The plots of the evaluation reports say what they show: labels, integer episode ticks, every number."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from uva_kit.eval import inverse_eval, planning, plots, policy_eval, video_eval, visuals
from uva_kit.eval.scoring import episode_caption, episode_result


@pytest.fixture
def saved_figures(monkeypatch):
    """The matplotlib figures saved during a test, by file name."""
    from matplotlib.figure import Figure

    figures = {}
    savefig = Figure.savefig

    def keep(figure, path, *args, **kwargs):
        figures[Path(path).name] = figure
        return savefig(figure, path, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", keep)
    return figures


def _policy_report(tmp_path, scores_by_run, baselines=("random", "still")):
    runs = [policy_eval.PolicyRun(name, name, "normal", None if name in baselines else f"runs/{name}",
                                  [episode_result(100000 + i, [score], [False]) for i, score in enumerate(scores)])
            for name, scores in scores_by_run.items()]
    episodes = len(next(iter(scores_by_run.values())))
    info = {"env": "pusht", "episodes": episodes, "seeds": list(range(100000, 100000 + episodes)), "max_steps": 5,
            "visuals": ["normal"]}
    policy_eval._write_report(info, runs, tmp_path, history_sweep=False)


def test_per_episode_plot_keeps_equal_points_apart_on_a_0_to_1_scale(tmp_path, saved_figures):
    _policy_report(tmp_path, {"uva": [0.0, 0.1, 0.2], "still": [0.0, 0.1, 0.2]})
    axes = saved_figures["per_seed.png"].axes[0]
    lines = axes.get_lines()
    assert all(line.get_linestyle() == "None" for line in lines)  # episodes are independent points
    assert len({line.get_marker() for line in lines}) == 2
    assert not set(lines[0].get_xdata()) & set(lines[1].get_xdata())  # the same score does not hide the other run
    assert axes.get_ylim()[0] <= 0 and axes.get_ylim()[1] >= 1
    ticks = [tick for tick in axes.get_xticks() if axes.get_xlim()[0] <= tick <= axes.get_xlim()[1]]
    assert ticks and all(float(tick).is_integer() for tick in ticks)


def test_score_plot_prints_the_numbers_and_the_spread_over_episodes(tmp_path, saved_figures):
    _policy_report(tmp_path, {"uva": [0.2, 0.4], "random": [0.1, 0.1]})
    axes = saved_figures["scores.png"].axes[0]
    printed = [text.get_text() for text in axes.texts]
    assert printed == ["0.30", "0.10", "0.00", "0.00"]  # score of each run, then its success rate
    error_bars = [c for c in axes.containers if getattr(c, "has_yerr", False)]
    assert len(error_bars) == 1 and error_bars[0].lines[2][0].get_segments()[0][:, 1] == pytest.approx([0.2, 0.4])
    assert axes.get_ylim()[0] == 0 and axes.get_ylim()[1] >= 1


def test_score_plot_sets_the_baselines_apart_from_the_model(tmp_path, saved_figures):
    _policy_report(tmp_path, {"uva": [0.2, 0.4], "random": [0.1, 0.1], "still": [0.0, 0.1]})
    axes = saved_figures["scores.png"].axes[0]
    score_bars, success_bars = (container for container in axes.containers if hasattr(container, "patches"))
    for bars in (score_bars, success_bars):  # in run order: uva, random, still
        assert [bar.get_hatch() for bar in bars] == [None, "//", "//"]
        assert bars[0].get_alpha() in (None, 1) and bars[1].get_alpha() < 1
    assert [text.get_text() for text in axes.get_legend().get_texts()] == [
        "score (mean best reward)", "success rate", "baseline"]


def test_planning_plot_shows_the_score_beside_the_success_rate(tmp_path, saved_figures):
    runs = [{"selector": name, "success_rate": 0.0, "score": score, "score_sem": 0.1, "mean_steps": 300, "videos": [],
             "per_episode": []}
            for name, score in (("base", 0.2), ("uva", 0.4))]
    info = {"episodes": 2, "seeds": [100000, 100001], "candidates": 4, "execute_steps": 6, "runs": runs}
    planning._write_report(info, tmp_path)
    axes = saved_figures["success.png"].axes[0]
    assert sorted(bar.get_height() for bar in axes.patches) == [0.0, 0.0, 0.2, 0.4]
    assert [text.get_text() for text in axes.get_legend().get_texts()] == ["success rate", "score (mean best reward)"]
    assert [text.get_text() for text in axes.texts] == ["0.00", "0.00", "0.20", "0.40"]  # a zero bar is still read


def test_inverse_trajectory_plot_is_labelled(tmp_path, saved_figures):
    chunk = np.arange(8, dtype=float).reshape(1, 4, 2)
    inverse_eval._trajectory_plot(chunk, chunk + 1, tmp_path / "trajectories.png")
    axes = saved_figures["trajectories.png"].axes[0]
    assert axes.get_xlabel() and axes.get_ylabel() and axes.get_title()
    assert [text.get_text() for text in axes.get_legend().get_texts()] == ["window 0", "recorded", "predicted"]


def test_inverse_error_plot_starts_at_zero_and_shows_the_spread_over_windows(tmp_path, saved_figures):
    info = {"windows": 3, "actions_per_window": 2, "l2_env_units_per_step": [50.0, 60.0],
            "l2_env_units_per_step_quartiles": [[40.0, 45.0], [55.0, 70.0]]}
    inverse_eval._error_per_step_plot(info, tmp_path / "error_per_step.png")
    axes = saved_figures["error_per_step.png"].axes[0]
    assert axes.get_ylim()[0] == 0 and len(axes.collections) == 1  # the quartile band
    assert [text.get_text() for text in axes.get_legend().get_texts()] == ["windows' 25-75 %", "mean"]


def test_psnr_plot_groups_num_iter_under_each_mode(tmp_path, saved_figures):
    results = [{"mode": mode, "num_iter": n, "psnr": 10.0 + n, "psnr_per_future_frame": [10.0, 11.0]}
               for mode in ("video", "forward_dynamics") for n in (1, 8)]
    video_eval._psnr_plots({"samples": 4, "results": results}, tmp_path)
    axes = saved_figures["psnr.png"].axes[0]
    assert [label.get_text() for label in axes.get_xticklabels()] == ["video", "forward_dynamics"]
    assert [text.get_text() for text in axes.get_legend().get_texts()] == ["num_iter 1", "num_iter 8"]
    lines = saved_figures["psnr_per_frame.png"].axes[0].get_lines()
    assert len({(line.get_marker(), line.get_linestyle()) for line in lines}) == 4  # equal curves stay apart


def test_video_pictures_say_which_frames_are_real_predicted_history_and_future(tmp_path, saved_figures):
    import torch

    history, real = torch.rand(2, 2, 3, 8, 8), torch.rand(2, 3, 3, 8, 8)
    files = video_eval._write_pictures(tmp_path, "video_iter1", history, real, real, count=2)
    axes = saved_figures["video_iter1_grid.png"].axes
    assert [a.get_title() for a in axes[:5]] == ["history 1/2", "history 2/2", "future 1/3", "future 2/3", "future 3/3"]
    assert [a.get_ylabel() for a in axes[::5]] == ["window 1\nreal", "window 1\npredicted", "window 2\nreal",
                                                   "window 2\npredicted"]
    from PIL import Image

    gif = Image.open(tmp_path / files["side_by_side_gif"])
    frame = video_eval.PICTURE_SCALE * 8
    assert gif.size == (2 * frame + visuals.SEPARATOR, 2 * visuals.CAPTION_HEIGHT + 2 * frame)  # two caption strips


def test_captions_are_drawn_above_each_frame():
    frames = np.zeros((2, 10, 40, 3), dtype=np.uint8)
    captioned = visuals.add_caption(frames, ["a", "b"])
    assert captioned.shape == (2, 10 + visuals.CAPTION_HEIGHT, 40, 3)
    strip = captioned[:, :visuals.CAPTION_HEIGHT]
    assert (strip < 128).any() and (strip > 128).any()  # dark text on white
    with pytest.raises(ValueError, match="one caption per frame"):
        visuals.add_caption(frames, ["a"])


def test_rollout_videos_caption_each_frame_with_its_step_and_reward(tmp_path):
    assert visuals.rollout_captions([0.1, 0.5, 0.2]) == [
        "step 0 (start)", "step 1: reward 0.10, best 0.10", "step 2: reward 0.50, best 0.50", "step 3: reward 0.20, best 0.50"]
    frames = np.full((3, 96, 96, 3), 255, dtype=np.uint8)
    mp4, gif = visuals.write_rollout(frames, [0.1, 0.2], tmp_path / "videos" / "seed_7")
    from uva_kit.data.video import read_video

    video = read_video(mp4)
    assert (mp4.name, gif.name) == ("seed_7.mp4", "seed_7.gif")
    assert video.shape[:3] == (3, visuals.CAPTION_HEIGHT + 2 * 96, 2 * 96)


def test_rollout_captions_in_the_report_name_the_seed_and_its_score():
    assert episode_caption({"seed": 5, "score": 0.4567, "steps": 300, "success": False}) == (
        "seed 5, best reward 0.46, 300 steps")
    assert episode_caption({"seed": 5, "score": 1.0, "steps": 40, "success": True}).endswith("40 steps, success")


def test_long_bar_labels_are_turned_so_that_they_do_not_overlap(tmp_path, saved_figures):
    _policy_report(tmp_path, {"uva-1 [bg-color]": [0.1], "uva-2 [bg-color]": [0.2], "random [bg-color]": [0.3]})
    assert {label.get_rotation() for label in saved_figures["scores.png"].axes[0].get_xticklabels()} == {30}
    _policy_report(tmp_path, {"uva": [0.1], "random": [0.2], "still": [0.3]})
    assert {label.get_rotation() for label in saved_figures["scores.png"].axes[0].get_xticklabels()} == {0}


def test_long_lines_have_no_markers_short_ones_do(tmp_path, saved_figures):
    steps = list(range(200))
    plots.line_plot({"train": (steps, steps), "validation": ([0, 100], [1.0, 2.0])}, tmp_path / "loss.png",
                      xlabel="step", ylabel="loss", title="training loss")
    train, validation = saved_figures["loss.png"].axes[0].get_lines()
    assert train.get_marker() in (None, "None", "") and validation.get_marker() == "s"
