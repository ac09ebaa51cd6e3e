"""Size and SHA-256 of the files of a saved folder: recorded when it is written, verified when it is read."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from uva_kit.errors import CheckpointError


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def record_files(directory: Path, names: Iterable[str]) -> dict[str, dict]:
    """``{name: {"bytes": size, "sha256": digest}}`` of the files ``names`` in ``directory``."""
    return {name: {"bytes": (directory / name).stat().st_size, "sha256": sha256(directory / name)} for name in names}


def verify_files(directory: Path, records: Any, required: Iterable[str], listing: Path) -> None:
    """Check the files of ``directory`` against ``records`` (as read from the file ``listing``).

    Every ``required`` file must be listed, and every listed file present with its size and checksum;
    anything else is a ``CheckpointError`` naming the file.
    """
    if not isinstance(records, dict):
        raise CheckpointError(f"{listing}: the file checksums must be a table, got {type(records).__name__}; "
                              "the file was edited or is corrupt.")
    unlisted = [name for name in required if name not in records]
    if unlisted:
        raise CheckpointError(f"{listing} has no checksum for {', '.join(unlisted)}; the file was edited or is corrupt.")
    for name, expected in records.items():
        if not (isinstance(expected, dict) and isinstance(expected.get("bytes"), int)
                and isinstance(expected.get("sha256"), str)):
            raise CheckpointError(f"{listing}: the entry of {name} must be {{\"bytes\": int, \"sha256\": str}}, "
                                  f"got {expected!r}; the file was edited or is corrupt.")
        path = directory / name
        if not path.is_file():
            raise CheckpointError(f"{directory} is incomplete: {name} is missing.")
        size = path.stat().st_size
        if size != expected["bytes"]:
            raise CheckpointError(f"{path} is truncated or corrupt: {size} bytes, expected {expected['bytes']}.")
        if sha256(path) != expected["sha256"]:
            raise CheckpointError(f"{path} is corrupt: its checksum does not match {listing.name}.")
