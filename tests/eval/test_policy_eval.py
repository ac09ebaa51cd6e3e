"""Policy evaluation of a UVA checkpoint: Python API, the trainer hook, and `uva-kit eval policy` end to end."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("gym_pusht")

from cli_support import run_cli  # noqa: E402
from eval_support import save_tiny  # noqa: E402

from uva_kit.data.video import read_video  # noqa: E402
from uva_kit.eval import evaluate_policy, policy_evaluator  # noqa: E402

ONE_THREAD = {"OMP_NUM_THREADS": "1"}


def test_evaluate_policy_and_the_training_hook_agree(tiny_model):
    summary = evaluate_policy(tiny_model, "pusht", episodes=2, max_steps=10, batch_envs=2, progress=False)
    assert summary["episodes"] == 2 and [e["seed"] for e in summary["per_episode"]] == [100000, 100001]
    assert all(e["steps"] == 10 for e in summary["per_episode"])
    hook = policy_evaluator("pusht", episodes=2, max_steps=10, batch_envs=2)
    assert hook(tiny_model, 0) == pytest.approx(summary["score"])  # seeded: same episodes, same score


def test_eval_policy_cli_compares_a_checkpoint_with_baselines(tiny_checkpoint, tmp_path):
    out = tmp_path / "policy"
    result = run_cli("eval", "policy", "--checkpoint", str(tiny_checkpoint), "--agent", "random", "still",
                     "--episodes", "2", "--max-steps", "12", "--videos", "1", "--batch-envs", "1", "--n-action-steps", "4",
                     "--out", str(out), "--no-progress", env_extra=ONE_THREAD)
    assert result.returncode == 0, result.stderr
    assert f"results in {out}" in result.stdout
    info = json.loads((out / "eval_info.json").read_text())
    assert [run["label"] for run in info["runs"]] == ["uva", "random", "still"]
    # what changes the scores is recorded, so that they can be reproduced
    assert info["command"] == "uva-kit eval policy" and info["batch_envs"] == 1
    assert info["command_line"] == (f"uva-kit eval policy --checkpoint {tiny_checkpoint} --agent random still --env pusht "
                                    "--episodes 2 --seed 100000 --max-steps 12 --batch-envs 1 --n-action-steps 4 "
                                    "--visual normal --videos 1")
    assert info["options"]["checkpoint"] == [str(tiny_checkpoint)] and info["options"]["n_action_steps"] == 4
    assert {"out", "no_progress", "overwrite"}.isdisjoint(info["options"])
    assert [(r["n_action_steps"], r["device"]) for r in info["runs"]] == [(4, "cpu"), (None, None), (None, None)]
    for run in info["runs"]:
        assert [e["seed"] for e in run["per_episode"]] == [100000, 100001]
        assert run["score"] == pytest.approx(sum(e["score"] for e in run["per_episode"]) / 2)
        video = read_video(out / run["videos"][0])
        assert len(video) == run["per_episode"][0]["steps"] + 1
    report = (out / "report.html").read_text()
    assert "data:image/png;base64," in report and "data:image/gif;base64," in report
    assert "How this was made" in report and info["command_line"] in report


@pytest.mark.slow
def test_history_sweep_and_visual_variants(tiny_checkpoint, tmp_path):
    short = save_tiny(tmp_path / "h2", ["layout.history_frames=2", "layout.future_frames=2"])
    out = tmp_path / "sweep"
    result = run_cli("eval", "policy", "--checkpoint", str(short), str(tiny_checkpoint), "--history-sweep",
                     "--visual", "normal", "goal-color", "--episodes", "1", "--max-steps", "9", "--videos", "0",
                     "--out", str(out), "--no-progress", env_extra=ONE_THREAD)
    assert result.returncode == 0, result.stderr
    runs = json.loads((out / "eval_info.json").read_text())["runs"]
    assert [(r["history_frames"], r["visual"]) for r in runs] == [(2, "normal"), (2, "goal-color"), (4, "normal"),
                                                                  (4, "goal-color")]
    assert (out / "history_sweep.png").is_file()
    assert "Score under visual disturbances" in (out / "report.html").read_text()


def test_eval_policy_errors_are_clear(tmp_path):
    result = run_cli("eval", "policy", "--episodes", "2", "--out", str(tmp_path / "x"))
    assert result.returncode == 2 and "give --checkpoint" in result.stderr
    result = run_cli("eval", "policy", "--checkpoint", str(tmp_path), "--out", str(tmp_path / "x"))
    assert result.returncode == 2 and "is not a model folder" in result.stderr
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("arguments, message", [  # counts below 1 (or 0) are usage errors: tests/test_cli.py
    (["policy", "--n-action-steps", "99"], "n_action_steps must be in 1..16 (the action chunk), got 99"),
])
def test_bad_eval_options_are_one_line_errors(tmp_path, tiny_checkpoint, arguments, message):
    checkpoint = [] if "--agent" in arguments else ["--checkpoint", str(tiny_checkpoint)]
    result = run_cli("eval", *arguments, *checkpoint, "--out", str(tmp_path / "x"))
    assert result.returncode == 2 and f"uva-kit eval: error: {message}" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "x").exists()


def test_eval_policy_gives_an_instructed_checkpoint_its_instruction(tiny_checkpoint, tmp_path, capsys):
    from spec_overrides import TINY_LANGUAGE_MODALITIES

    import uva_kit
    from uva_kit import cli

    instructed = save_tiny(tmp_path / "instructed", [TINY_LANGUAGE_MODALITIES])
    policy = ["eval", "policy", "--episodes", "1", "--max-steps", "4", "--batch-envs", "1", "--videos", "0", "--no-progress"]
    for checkpoint, message in ((instructed, "reads an instruction (its spec has a language modality): give --instruction"),
                                (tiny_checkpoint, "--instruction is for a checkpoint with a language modality")):
        arguments = ["--checkpoint", str(checkpoint), "--out", str(tmp_path / "x")]
        with pytest.raises(SystemExit) as exit_info:
            cli.main([*policy, *arguments, *(["--instruction", "push"] if checkpoint == tiny_checkpoint else [])])
        assert exit_info.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    out = tmp_path / "policy"
    assert cli.main([*policy, "--checkpoint", str(instructed), "--instruction", "push the T", "--out", str(out)]) == 0
    info = json.loads((out / "eval_info.json").read_text())
    assert info["options"]["instruction"] == "push the T" and "--instruction 'push the T'" in info["command_line"]
    summary = evaluate_policy(uva_kit.load(instructed), episodes=1, max_steps=4, batch_envs=1, progress=False,
                              instruction="push the T")
    assert summary["episodes"] == 1
