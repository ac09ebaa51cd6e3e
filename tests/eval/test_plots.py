"""The plots of the evaluation reports say what they show: labels, integer episode ticks, every number."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from uva_kit.eval import inverse_eval, planning, policy_eval
from uva_kit.eval.scoring import episode_result


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


def test_per_episode_plot_has_integer_ticks_and_unconnected_markers(tmp_path, saved_figures):
    results = [episode_result(seed, [0.1 * i], [False]) for i, seed in enumerate((100000, 100001, 100002))]
    runs = [policy_eval.PolicyRun("uva", "uva", "normal", None, results),
            policy_eval.PolicyRun("still", "still", "normal", None, results)]
    info = {"env": "pusht", "episodes": 3, "seeds": [100000, 100001, 100002], "max_steps": 5, "visuals": ["normal"]}
    policy_eval._write_report(info, runs, tmp_path, history_sweep=False)
    axes = saved_figures["per_seed.png"].axes[0]
    assert all(line.get_linestyle() == "None" and line.get_marker() == "o" for line in axes.get_lines())
    ticks = [tick for tick in axes.get_xticks() if axes.get_xlim()[0] <= tick <= axes.get_xlim()[1]]
    assert ticks and all(float(tick).is_integer() for tick in ticks)


def test_planning_plot_shows_the_score_beside_the_success_rate(tmp_path, saved_figures):
    runs = [{"selector": name, "success_rate": 0.0, "score": score, "mean_steps": 300, "videos": []}
            for name, score in (("base", 0.2), ("uva", 0.4))]
    info = {"episodes": 2, "seeds": [100000, 100001], "candidates": 4, "execute_steps": 6, "runs": runs}
    planning._write_report(info, tmp_path)
    axes = saved_figures["success.png"].axes[0]
    assert sorted(bar.get_height() for bar in axes.patches) == [0.0, 0.0, 0.2, 0.4]
    assert [text.get_text() for text in axes.get_legend().get_texts()] == ["success rate", "score (mean best reward)"]


def test_inverse_trajectory_plot_is_labelled(tmp_path, saved_figures):
    chunk = np.arange(8, dtype=float).reshape(1, 4, 2)
    inverse_eval._trajectory_plot(chunk, chunk + 1, tmp_path / "trajectories.png")
    axes = saved_figures["trajectories.png"].axes[0]
    assert axes.get_xlabel() and axes.get_ylabel() and axes.get_title()
