"""Running the uva-kit command in a fresh process, for tests that need clean plugin discovery."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, env_extra: dict[str, str] | None = None, pythonpath: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m uva_kit ARGS`` in a fresh process (so plugin discovery starts clean)."""
    env = {k: v for k, v in os.environ.items() if k != "UVA_KIT_DISABLE_PLUGIN_AUTOLOAD"}
    paths = [str(REPO_ROOT)] + ([str(pythonpath)] if pythonpath else [])
    env["PYTHONPATH"] = os.pathsep.join(paths + [env.get("PYTHONPATH", "")])
    env.update(env_extra or {})
    # the timeout only stops a hung command: a test of three eval commands took 100 s on a busy 2-core machine
    return subprocess.run([sys.executable, "-m", "uva_kit", *args], capture_output=True, text=True, env=env, timeout=600)
