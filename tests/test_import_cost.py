"""``import uva_kit`` and plugin listing stay light: torch loads only when a component is built."""

from __future__ import annotations

import subprocess
import sys

from cli_support import REPO_ROOT


def run_python(code: str, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *flags, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, timeout=120)


def test_import_uva_kit_does_not_import_torch():
    result = run_python("import uva_kit", "-X", "importtime")
    assert result.returncode == 0, result.stderr
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert "uva_kit" in imported
    assert not any(name == "torch" or name.startswith("torch.") for name in imported)


def test_listing_plugins_and_components_does_not_import_torch():
    code = (
        "import sys, uva_kit\n"
        "from uva_kit.cli import main\n"
        "main(['plugins'])\n"
        "uva_kit.registry.list('encoder'); uva_kit.registry.get('encoder', 'patch')\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr


def test_building_a_component_imports_it():
    code = (
        "import sys, uva_kit\n"
        "uva_kit.registry.get('encoder', 'patch').build()\n"
        "assert 'torch' in sys.modules and 'uva_kit.encoder.patch' in sys.modules\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr


def test_the_workflow_subpackages_are_reachable_after_a_plain_import():
    code = (
        "import uva_kit\n"
        "assert {'data', 'envs', 'eval', 'spec', 'train'} <= set(dir(uva_kit))\n"
        "assert callable(uva_kit.train.fit) and callable(uva_kit.envs.make) and uva_kit.data.UVADataset\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
