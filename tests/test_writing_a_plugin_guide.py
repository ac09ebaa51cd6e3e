"""docs/writing-a-plugin.md runs: its files are written out, pip-installed, listed by ``uva-kit plugins``, and
its contract tests and training script pass."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib import metadata

import pytest
from cli_support import REPO_ROOT, run_cli

GUIDE = REPO_ROOT / "docs" / "writing-a-plugin.md"
EXAMPLE_BLOCK = re.compile(r"<!-- example: (\S+) -->\n```\w*\n(.*?)```", re.DOTALL)


def guide_files() -> dict[str, str]:
    """The guide's example files: each code block preceded by ``<!-- example: PATH -->``."""
    return dict(EXAMPLE_BLOCK.findall(GUIDE.read_text()))


def kit_plugin_arguments() -> list[str]:
    """Load the uva_kit_testing pytest plugin explicitly where uva_kit's installed metadata predates its entry point."""
    registered = {entry.name for entry in metadata.entry_points(group="pytest11")}
    return [] if "uva_kit_testing" in registered else ["-p", "uva_kit.testing.pytest_plugin"]


def test_the_guide_has_every_file_of_its_package():
    assert set(guide_files()) == {"pyproject.toml", "uva_kit_velocity/__init__.py", "uva_kit_velocity/plugin.py",
                                  "uva_kit_velocity/modality.py", "tests/test_velocity.py", "velocity.toml", "train.py"}


@pytest.mark.slow
def test_the_guide_example_installs_lists_passes_its_contract_tests_and_trains(tmp_path):
    package, site = tmp_path / "uva-kit-velocity", tmp_path / "site"
    for path, text in guide_files().items():
        (package / path).parent.mkdir(parents=True, exist_ok=True)
        (package / path).write_text(text)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(site), str(package)], check=True, capture_output=True, timeout=300)

    listing = run_cli("plugins", pythonpath=site)
    assert "velocity  [uva-kit-velocity 0.1.0]  ok" in listing.stdout, listing.stdout + listing.stderr
    assert "modality      velocity" in listing.stdout

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(site)]), "OMP_NUM_THREADS": "1"}
    env.pop("UVA_KIT_DISABLE_PLUGIN_AUTOLOAD", None)
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *kit_plugin_arguments(),
                            "tests"], cwd=package, env=env, capture_output=True, text=True, timeout=300)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert re.search(r"\b7 passed\b", tests.stdout), tests.stdout  # every contract test ran

    training = subprocess.run([sys.executable, "train.py"], cwd=package, env=env, capture_output=True, text=True,
                              timeout=300)
    assert training.returncode == 0, training.stdout + training.stderr
    assert (package / "runs" / "velocity" / "checkpoints").is_dir()
