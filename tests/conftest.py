"""Shared fixtures: throwaway plugin distributions and a fresh registry per test that needs one."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest


@pytest.fixture
def make_plugin_dist(tmp_path, monkeypatch):
    """Write an installed-looking distribution (a package + .dist-info with a uva_kit.plugins entry point).

    Returns a function ``(dist_name, module_source, entry_point_name=None) -> site_dir``; put the
    site dir on sys.path (or PYTHONPATH) to "install" it.
    """
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)

    def make(dist_name: str, module_source: str, entry_point_name: str | None = None, version: str = "0.3.1") -> Path:
        module_name = dist_name.replace("-", "_")
        monkeypatch.delitem(sys.modules, module_name, raising=False)  # another test may have imported its twin
        (site / f"{module_name}.py").write_text(textwrap.dedent(module_source))
        info = site / f"{module_name}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist_name}\nVersion: {version}\n")
        (info / "entry_points.txt").write_text(
            f"[uva_kit.plugins]\n{entry_point_name or module_name} = {module_name}\n"
        )
        return site

    return make


@pytest.fixture
def fresh_registry(monkeypatch):
    """Rediscover plugins now (after sys.path changes) and again after the test."""
    from uva_kit import registry

    monkeypatch.delenv("UVA_KIT_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    yield registry.reload
    registry.reload()
