"""The ``uva_kit_testing`` pytest plugin (entry point ``pytest11``): fixtures for the contract mixins.

Loaded automatically by pytest wherever uva_kit is installed; nothing here imports torch.
"""

from __future__ import annotations

import pytest


@pytest.fixture
def uva_kit_component(request):
    """The registered component named by the test class's ``component = (slot, name)``."""
    from uva_kit import plugins
    from uva_kit.errors import RegistryError
    from uva_kit.registry import default_registry

    reference = getattr(request.cls, "component", None)
    if not (isinstance(reference, tuple) and len(reference) == 2):
        pytest.fail(f"{request.cls.__name__ if request.cls else 'this test'} must set component = (slot, name), "
                    f"e.g. component = ('modality', 'force'); got {reference!r}")
    try:
        return default_registry().get(*reference)
    except RegistryError as exc:
        failed = [f"{r.provider}: {r.error}" for r in plugins.reports() if not r.ok]
        pytest.fail(f"{exc}\nIs your distribution installed (pip install -e .) with a 'uva_kit.plugins' entry point?"
                    + "".join(f"\n  failed plugin {line}" for line in failed))


def pytest_report_header(config):
    from uva_kit import plugins

    third_party = [r for r in plugins.reports() if r.provider.plugin != plugins.BUILTIN_PLUGIN]
    if not third_party:
        return None
    listed = ", ".join(f"{r.provider.plugin} ({r.provider.distribution} {r.provider.version}"
                       f"{', FAILED' if not r.ok else ''})" for r in third_party)
    return f"uva_kit plugins: {listed}"
