"""The example plugin distributions in plugins/: ``pip install`` makes their modalities appear, and a model
saved with a plugin refuses to load where the plugin is missing, naming the distribution to install."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from cli_support import REPO_ROOT, run_cli

PACKAGES = {"force": "uva-kit-force", "sound": "uva-kit-sound"}
BUILD_OUTPUTS = shutil.ignore_patterns("build", "*.egg-info", "__pycache__", ".pytest_cache")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Both plugins pip-installed into a folder of their own (put it on PYTHONPATH to use them)."""
    target = tmp_path_factory.mktemp("plugins-site")
    copies = tmp_path_factory.mktemp("plugins-src")  # pip builds in the source folder: keep the checkout clean
    sources = [str(shutil.copytree(REPO_ROOT / "plugins" / name, copies / name, ignore=BUILD_OUTPUTS))
               for name in PACKAGES.values()]
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), *sources], check=True, capture_output=True, timeout=300)
    return target


@pytest.mark.slow
def test_pip_install_makes_the_modalities_appear_in_uva_kit_plugins(site):
    listing = run_cli("plugins", "--failed", pythonpath=site)
    assert listing.returncode == 0, listing.stdout + listing.stderr
    for modality, distribution in PACKAGES.items():
        assert f"{modality}  [{distribution} 0.1.0]  ok" in listing.stdout
        assert f"modality      {modality}" in listing.stdout
        assert f"preset        pusht-tiny-{modality}" in listing.stdout


@pytest.mark.slow
@pytest.mark.parametrize("modality", sorted(PACKAGES))
def test_a_model_needing_a_missing_plugin_names_the_distribution_to_install(site, tmp_path, modality):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(site)]), "OMP_NUM_THREADS": "1"}
    env.pop("UVA_KIT_DISABLE_PLUGIN_AUTOLOAD", None)
    save = f"import uva_kit; uva_kit.save(uva_kit.build('pusht-tiny-{modality}'), {str(tmp_path / 'model')!r})"
    subprocess.run([sys.executable, "-c", save], env=env, check=True, capture_output=True, timeout=120)

    load = f"import uva_kit; uva_kit.load({str(tmp_path / 'model')!r})"
    reloaded = subprocess.run([sys.executable, "-c", load], env=env, capture_output=True, text=True, timeout=120)
    assert reloaded.returncode == 0, reloaded.stderr
    without = {**env, "UVA_KIT_DISABLE_PLUGIN_AUTOLOAD": "1"}  # the registry as if the plugin were not installed
    refused = subprocess.run([sys.executable, "-c", load], env=without, capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0
    assert "CheckpointError" in refused.stderr
    assert f"{modality} (pip install {PACKAGES[modality]})" in refused.stderr
