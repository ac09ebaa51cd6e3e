"""Write a folder atomically: build it under a temporary name next to the target, rename when complete."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from uva_kit.errors import UvaKitError


@contextlib.contextmanager
def atomic_directory(target: str | Path, overwrite: bool = False):
    """Yield a temporary folder; on success it replaces ``target``, on any error it is deleted.

    An interrupted run therefore never leaves a half-written ``target`` behind.
    """
    target = Path(target)
    if target.exists() and not overwrite:
        raise UvaKitError(f"{target} already exists; choose another --out or pass --overwrite")
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.parent / f".{target.name}.partial-{os.getpid()}"
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir()
    try:
        yield temporary
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    if target.exists():
        old = target.parent / f".{target.name}.old-{os.getpid()}"
        target.rename(old)
        temporary.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        temporary.rename(target)
