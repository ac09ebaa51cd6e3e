"""Explicit, versioned upgrades of spec files.

Every spec carries ``spec_version``. When the spec format changes, bump
``CURRENT_SPEC_VERSION`` and add ``MIGRATIONS[old] = function`` that turns the dict form of
version ``old`` into version ``old + 1``. Old files are upgraded step by step when loaded;
files from a newer uva_kit are refused rather than guessed at.
"""

from __future__ import annotations

from collections.abc import Callable

from uva_kit.errors import SpecError

CURRENT_SPEC_VERSION = 1

MIGRATIONS: dict[int, Callable[[dict], dict]] = {}


def migrate(data: dict, source: str = "spec") -> dict:
    """Upgrade the dict form of a spec to ``CURRENT_SPEC_VERSION``."""
    version = data.get("spec_version", CURRENT_SPEC_VERSION)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise SpecError("spec_version", f"expected a positive int, got {version!r} in {source}.")
    if version > CURRENT_SPEC_VERSION:
        raise SpecError(
            "spec_version",
            f"{source} has spec_version {version}, but this uva_kit reads up to {CURRENT_SPEC_VERSION}. "
            "Upgrade uva_kit (pip install -U uva_kit).",
        )
    while version < CURRENT_SPEC_VERSION:
        if version not in MIGRATIONS:
            raise SpecError("spec_version", f"no migration from spec_version {version} (in {source}).")
        data = MIGRATIONS[version](dict(data))
        version += 1
        data["spec_version"] = version
    return data
