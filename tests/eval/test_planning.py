"""Forward-dynamics planning on two-block: reading rewards from frames, choosing candidates, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytest.importorskip("gym_pusht")

from cli_support import run_cli  # noqa: E402

import uva_kit.envs as envs  # noqa: E402
from uva_kit.eval.frame_reward import frame_reward, locate  # noqa: E402
from uva_kit.eval.planning import (  # noqa: E402
    ObservationHistory,
    best_candidates,
    score_with_model,
    score_with_simulator,
)


def test_frame_reward_reads_the_env_reward_from_pixels():
    env = envs.make("two-block", observation_size=192)
    obs, _ = env.reset(seed=3)
    scene = env.unwrapped
    true_reward = float(np.mean(np.clip(1 - scene.block_distances() / 100, 0, 1)))
    assert frame_reward(obs["pixels"], list(scene.targets)) == pytest.approx(true_reward, abs=0.02)
    np.testing.assert_allclose(locate(obs["pixels"], "block1"), scene.blocks[1].position, atol=3)


def test_best_candidate_is_the_highest_score_first_on_ties():
    assert best_candidates(np.array([[0.1, 0.7, 0.3], [0.5, 0.5, 0.2]])).tolist() == [1, 0]


class DrawingForwardModel:
    """A stand-in forward model: its predicted last frame shows block 0 at the chunk's last action."""

    def __init__(self, size: int = 64):
        self.size = size

    def forward_dynamics(self, history, actions, num_iter=1, generator=None):
        frames = torch.ones(len(actions), 4, 3, self.size, self.size)
        red = torch.tensor([178, 34, 34]) / 255.0
        for i, (x, y) in enumerate((actions[:, -1] / 512 * self.size).long().tolist()):
            frames[i, -1, :, y - 3:y + 3, x - 3:x + 3] = red[:, None, None]
        return frames


def test_planner_picks_the_candidate_predicted_to_reach_the_target():
    target = np.array([300.0, 200.0])
    candidates = torch.zeros(2, 3, 16, 2)
    candidates[0, :, -1] = torch.tensor([[100.0, 400.0], [296.0, 204.0], [420.0, 120.0]])  # env 0: the 2nd lands on target
    candidates[1, :, -1] = torch.tensor([[280.0, 220.0], [100.0, 100.0], [300.0, 200.0]])  # env 1: the 3rd does
    targets = [[target, None], [target, None]]
    scores = score_with_model(DrawingForwardModel(), torch.zeros(2, 4, 3, 16, 16), candidates, targets)
    assert scores.shape == (2, 3)
    assert best_candidates(scores).tolist() == [1, 2]


def test_simulator_scores_a_chunk_as_executing_it_would():
    env = envs.make("two-block")
    obs, _ = env.reset(seed=11)
    scene = env.unwrapped
    block = np.asarray(scene.blocks[0].position)
    push = np.linspace(block + (block - scene.targets[0]) / np.linalg.norm(block - scene.targets[0]) * 60,
                       scene.targets[0], 16)  # approach from behind, push toward the target
    chunks = np.stack([np.repeat(obs["agent_pos"][None], 16, axis=0), push])[None]
    targets = [list(scene.targets)]
    scores = score_with_simulator([scene], chunks, targets)
    for action in push:
        final, *_ = env.step(action)
    assert scores[0, 1] == pytest.approx(frame_reward(final["pixels"], targets[0]))
    assert scores[0, 0] == pytest.approx(frame_reward(obs["pixels"], targets[0]), abs=0.02)


def test_observation_history_matches_the_policy_window(tiny_model):
    history = ObservationHistory(tiny_model.spec.layout, {"proprio": "agent_pos"})
    for step in range(14):
        history.add({"pixels": np.full((1, 2, 2, 3), step, dtype=np.uint8), "agent_pos": np.array([[step, -step]])})
    assert (history.history()[0, :, 0, 0, 0] * 255).round().tolist() == [1, 5, 9, 13]
    assert history.inputs()["proprio"][0].tolist() == [[1, -1], [5, -5], [9, -9], [13, -13]]


@pytest.mark.slow
def test_eval_planning_cli_runs_every_selector_on_the_same_seeds(tiny_checkpoint, tmp_path):
    out = tmp_path / "planning"
    result = run_cli("eval", "planning", "--checkpoint", str(tiny_checkpoint), "--episodes", "2", "--candidates", "2",
                     "--max-steps", "12", "--batch-envs", "2", "--out", str(out), "--no-progress",
                     env_extra={"OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr
    info = json.loads((out / "eval_info.json").read_text())
    assert [r["selector"] for r in info["runs"]] == ["base", "uva", "simulator"]
    assert info["batch_envs"] == 2 and info["device"] == "cpu" and info["options"]["batch_envs"] == 2
    assert all([e["seed"] for e in r["per_episode"]] == [100000, 100001] for r in info["runs"])
    assert (out / "report.html").is_file() and (out / info["runs"][1]["videos"][0]["mp4"]).is_file()


def test_eval_planning_refuses_an_instructed_checkpoint_before_it_starts(tmp_path, capsys):
    from eval_support import save_tiny
    from spec_overrides import TINY_LANGUAGE_MODALITIES

    from uva_kit import cli

    instructed = save_tiny(tmp_path / "instructed", [TINY_LANGUAGE_MODALITIES])
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["eval", "planning", "--checkpoint", str(instructed), "--out", str(tmp_path / "x")])
    assert exit_info.value.code == 2
    assert "eval planning gives no instruction: its --checkpoint and --base-policy must have no language" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
