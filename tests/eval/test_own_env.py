"""Policy evaluation in an environment of your own: `uva-kit eval policy --env MODULE:CALLABLE` (tests/eval/own_envs.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pytest.importorskip("gymnasium")

from cli_support import run_cli  # noqa: E402

import uva_kit  # noqa: E402
from uva_kit.cli import main  # noqa: E402
from uva_kit.data.video import read_video  # noqa: E402
from uva_kit.errors import UvaKitError  # noqa: E402
from uva_kit.eval import evaluate_policy  # noqa: E402
from uva_kit.eval.env_check import check_env_for_policy  # noqa: E402

HERE = Path(__file__).parent


def test_eval_policy_runs_in_your_own_env(tiny_checkpoint, tmp_path):
    out = tmp_path / "own"
    result = run_cli("eval", "policy", "--checkpoint", str(tiny_checkpoint), "--env", "own_envs:dot_env",
                     "--episodes", "2", "--max-steps", "6", "--batch-envs", "2", "--videos", "1", "--out", str(out),
                     "--no-progress", env_extra={"OMP_NUM_THREADS": "1"}, pythonpath=HERE)
    assert result.returncode == 0, result.stderr
    info = json.loads((out / "eval_info.json").read_text())
    assert info["env"] == "own_envs:dot_env" and info["options"]["env"] == "own_envs:dot_env"
    episodes = info["runs"][0]["per_episode"]
    assert [e["seed"] for e in episodes] == [100000, 100001] and all(e["steps"] == 6 for e in episodes)
    assert read_video(out / info["runs"][0]["videos"][0]).shape[2] == 48  # the dot env's 24 pixels, enlarged twice


@pytest.mark.parametrize("env, message", [
    ("no_such_module:make_env", r"cannot import module 'no_such_module' \(No module named 'no_such_module'\); install"),
    ("own_envs:dot_envv", "'dot_envv' of module 'own_envs' is missing; .* Did you mean 'dot_env'"),
    ("own_envs:not_an_env", "returned a dict, not a gymnasium.Env"),
    ("own_envs:PixelsOnlyEnv", r"does not fit this model's policy: an observation must be a dict. Expected observations "
                               r"\{'pixels': \(H, W, 3\) uint8\}, got a ndarray$"),
    ("own_envs:sized_env", r"cannot be built from the options \[\]: missing a required argument: 'size'"),
    ("own_envs:channels_first_env", r"'pixels' is \(3, 24, 24\) uint8, not \(H, W, 3\) uint8. Expected observations "
                                    r"\{'pixels': \(H, W, 3\) uint8\}, got \{'pixels': \(3, 24, 24\) uint8, 'agent_pos'"),
])
def test_a_bad_own_env_is_a_one_line_error_before_anything_is_written(env, message, tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "x"
    assert main(["eval", "policy", "--checkpoint", str(tiny_checkpoint), "--env", env, "--out", str(out),
                 "--no-progress"]) == 2
    error = capsys.readouterr().err
    assert re.search(message, error) and "Traceback" not in error, error
    assert not out.exists()


def test_the_keys_a_policy_reads_must_be_declared_and_the_actions_fit():
    spec = uva_kit.load_spec("pusht-tiny", ["modalities=[{type='video'}, {type='action'}, {type='proprio'}]",
                                            "modes=[{mode={type='policy', given=['proprio']}}]"])
    model = uva_kit.build(spec)
    check_env_for_policy("own_envs:dot_env", model)  # gives agent_pos (2,), which proprio reads
    with pytest.raises(UvaKitError, match="observation_space .* must declare 'agent_pos' with the shape the "
                                          r"observations have, \(2,\) \(the vector env batches what it declares\)"):
        check_env_for_policy("own_envs:undeclared_agent_pos_env", model)
    with pytest.raises(UvaKitError, match=r"policy: action_space has shape \(7,\), the model's actions \(2,\)\. "):
        check_env_for_policy("own_envs:joint_space_env", model)
    wider = uva_kit.load_spec("pusht-tiny", ["modalities=[{type='video'}, {type='action'}, {type='proprio', dim=3}]",
                                             "modes=[{mode={type='policy', given=['proprio']}}]"])
    with pytest.raises(UvaKitError, match=r"policy: 'agent_pos' is \(2,\) float64, not \(3,\)\. "):
        check_env_for_policy("own_envs:dot_env", uva_kit.build(wider))
    with pytest.raises(UvaKitError, match=r"no 'pusht_state' .* Expected observations \{'pixels': \(H, W, 3\) uint8, "
                                          r"'pusht_state': \(6,\)\}"):
        check_env_for_policy("own_envs:dot_env", uva_kit.build(uva_kit.load_spec("pusht-small")))


@pytest.mark.parametrize("arguments, message", [
    (["--env", "pushtt"], "argument --env: unknown environment 'pushtt'. .* Did you mean 'pusht'"),
    (["--env", "own_envs:dot_env", "--agent", "random"], "--agent baselines act in the 512 x 512 workspace"),
    (["--env", "own_envs:dot_env", "--visual", "bg-color"], "--visual variants exist for pusht and pusht-m only"),
])
def test_options_that_do_not_fit_an_own_env_are_usage_errors(arguments, message, tiny_checkpoint, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["eval", "policy", "--checkpoint", str(tiny_checkpoint), *arguments, "--out", str(tmp_path / "x")])
    assert exit_.value.code == 2 and re.search(message, capsys.readouterr().err)


def test_evaluate_policy_takes_an_own_env_and_checks_it_first(tiny_model):
    summary = evaluate_policy(tiny_model, "own_envs:dot_env", episodes=1, max_steps=3, progress=False)
    assert [e["steps"] for e in summary["per_episode"]] == [3]
    with pytest.raises(UvaKitError, match="'own_envs:channels_first_env' does not fit this model's policy"):
        evaluate_policy(tiny_model, "own_envs:channels_first_env", episodes=1, max_steps=3, progress=False)
