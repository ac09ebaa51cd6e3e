"""The uva-kit command: subcommands, --set overrides, clean errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from cli_support import REPO_ROOT, run_cli


def test_help_lists_the_subcommands():
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("info", "plugins", "spec"):
        assert command in result.stdout


def test_spec_command_applies_set_overrides(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('name = "cli"\n[encoder]\ntype = "patch"\n')
    result = run_cli("spec", "--spec", str(path), "--set", "encoder.patch_size=4", "--set", "layout.action_dim=7",
                     "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["encoder"] == {"type": "patch", "patch_size": 4}
    assert data["layout"]["action_dim"] == 7 and data["name"] == "cli"


def test_bad_spec_is_a_one_line_error_with_exit_code_2(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[encoder]\ntype = "patch"\n')
    result = run_cli("spec", "--spec", str(path), "--set", "encoder.patch_sise=4")
    assert result.returncode == 2
    assert "uva-kit spec: error: encoder.patch_sise: unknown key 'patch_sise'" in result.stderr
    assert "Did you mean 'patch_size'?" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_input_found_by_library_checks_is_a_one_line_error_unless_a_traceback_is_asked_for(tmp_path):
    train = ("train", "--spec", "pusht-tiny", "--data", "default", "--out", str(tmp_path / "run"), "--no-progress",
             "--set", "layout.action_chunk=5")
    result = run_cli(*train)
    assert result.returncode == 2
    assert "uva-kit train: error: modality 'action': the token grid has 64 positions" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()
    shown = run_cli(*train, env_extra={"UVA_KIT_TRACEBACK": "1"})
    assert shown.returncode == 1 and "Traceback" in shown.stderr and "InputError: modality 'action'" in shown.stderr


def test_a_missing_dataset_says_how_to_get_one(tmp_path):
    missing = tmp_path / "data" / "pusht"
    result = run_cli("train", "--spec", "pusht-tiny", "--data", str(missing), "--out", str(tmp_path / "run"))
    assert result.returncode == 2 and f"uva-kit collect pusht --episodes 200 --out {missing}" in result.stderr
    assert "--data default" in result.stderr and not (tmp_path / "run").exists()


def test_a_missing_key_prints_its_message_unquoted_and_a_bug_keeps_its_traceback(monkeypatch, capsys):
    from uva_kit import cli
    from uva_kit.errors import MissingKeyError

    def missing(args):
        raise MissingKeyError("obs must have an 'image'")

    def bug(args):
        raise KeyError("a bug")

    monkeypatch.delenv("UVA_KIT_TRACEBACK", raising=False)
    monkeypatch.setattr("uva_kit.cli.info.run", missing)
    assert cli.main(["info"]) == 2
    assert "uva-kit info: error: obs must have an 'image'\n" in capsys.readouterr().err
    monkeypatch.setattr("uva_kit.cli.info.run", bug)
    with pytest.raises(KeyError, match="a bug"):
        cli.main(["info"])


@pytest.mark.parametrize("command", [["collect", "pusht", "--episodes", "1", "--out", "x"],
                                     ["eval", "policy", "--agent", "random"],
                                     ["eval", "video", "--checkpoint", "x"],
                                     ["eval", "planning", "--checkpoint", "x"],
                                     ["train-vae", "--frames", "f.npz", "--out", "x"]])
def test_a_negative_seed_is_a_usage_error(command, capsys):
    from uva_kit.cli import build_parser

    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([*command, "--seed", "-1"])
    assert exit_info.value.code == 2 and "argument --seed: must be 0 or more, got -1" in capsys.readouterr().err


@pytest.mark.parametrize("command, message", [
    (["collect", "pusht", "--out", "x", "--episodes", "0"], "uva-kit collect: error: argument --episodes: must be 1 or more, got 0"),
    (["bench", "--spec", "pusht-tiny", "--steps", "16", "0"], "argument --steps: must be 1 or more, got 0"),
    (["train-vae", "--frames", "f.npz", "--out", "x", "--threads", "0"], "argument --threads: must be 1 or more, got 0"),
    (["quickstart", "--max-steps", "0"], "argument --max-steps: must be 1 or more, got 0"),
    (["eval", "policy", "--agent", "random", "--videos", "-1"],
     "uva-kit eval policy: error: argument --videos: must be 0 or more, got -1"),
    (["eval", "video", "--checkpoint", "x", "--num-iter", "1", "0"], "argument --num-iter: must be 1 or more, got 0"),
    (["eval", "planning", "--checkpoint", "x", "--batch-envs", "two"], "argument --batch-envs: expected an integer, got 'two'"),
    (["quickstart", "--minutes", "nan"], "uva-kit quickstart: error: argument --minutes: expected a finite number, got nan"),
    (["quickstart", "--minutes", "0"], "argument --minutes: must be more than 0, got 0.0"),
    (["train-vae", "--frames", "f.npz", "--out", "x", "--minutes", "ten"], "argument --minutes: expected a number, got 'ten'"),
    (["train-vae", "--frames", "f.npz", "--out", "x", "--learning-rate", "-0.001"],
     "argument --learning-rate: must be more than 0, got -0.001"),
    (["train-vae", "--frames", "f.npz", "--out", "x", "--kl-weight", "-1"], "argument --kl-weight: must be 0 or more, got -1.0"),
    (["train-vae", "--frames", "f.npz", "--out", "x", "--held-out", "1"],
     "argument --held-out: must be between 0 and 1 (both excluded), got 1.0"),
])
def test_a_count_or_amount_out_of_range_is_a_usage_error(command, message, capsys):
    from uva_kit.cli import build_parser

    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(command)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize("command, message", [
    (["train", "--spec", "pusht-tiny", "--data", "default"], "give --spec, --data and --out (or --resume OUT)"),
    (["train", "--resume", "runs/x", "--latent-cache", "c", "--set", "a=1"],
     "its saved spec, data and options; drop --set, --latent-cache"),
    (["collect", "two-block", "--episodes", "1", "--out", "x", "--legacy-seeding"], "applies to pusht and pusht-m only"),
    (["eval", "policy", "--agent", "random", "--env", "two-block", "--visual", "bg-color"], "--visual variants exist"),
])
def test_options_that_do_not_go_together_are_usage_errors(command, message, tmp_path, monkeypatch, capsys):
    """The subcommand's usage line, then its error, exit status 2; nothing is written."""
    from uva_kit import cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("UVA_KIT_TRACEBACK", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(command)
    err = capsys.readouterr().err
    prog = "uva-kit " + " ".join(command[:2] if command[0] == "eval" else command[:1])
    assert exit_info.value.code == 2 and err.startswith(f"usage: {prog} ") and f"{prog}: error: " in err
    assert message in err and not list(tmp_path.iterdir())


def test_a_reader_that_goes_away_stops_a_command_quietly():
    """`uva-kit plugins | head -1`: the closed pipe ends the command without a traceback."""
    command = subprocess.Popen([sys.executable, "-m", "uva_kit", "plugins"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               cwd=REPO_ROOT)
    command.stdout.close()  # before the command prints its first line
    _, stderr = command.communicate(timeout=120)
    assert command.returncode == 141 and stderr == b""


def test_eval_policy_batches_its_episodes_as_the_quickstart_and_evaluate_policy():
    """How batched computations round depends on how many episodes run side by side (a kl_f16 encoder's), so
    the three entry points share the default."""
    import inspect

    from uva_kit.cli import build_parser
    from uva_kit.eval.policy_eval import evaluate_policy
    from uva_kit.quickstart import QuickstartOptions

    cli_default = build_parser().parse_args(["eval", "policy", "--agent", "random"]).batch_envs
    assert cli_default == inspect.signature(evaluate_policy).parameters["batch_envs"].default
    assert cli_default == QuickstartOptions(out=".").batch_envs
