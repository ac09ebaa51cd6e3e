"""The uva-kit command: subcommands, --set overrides, clean errors."""

from __future__ import annotations

import json

from cli_support import run_cli


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
