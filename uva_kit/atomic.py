"""Atomic writes: build a file or a directory under a temporary name beside the target, then rename it."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

from uva_kit.errors import UvaKitError

# The temporary names used here (8 random characters; [a-z0-9_] as tempfile's, which earlier versions used): a
# directory is built in ".<name>.tmp-XXXXXXXX" and the one it replaces is retired to ".<name>.old-XXXXXXXX"; a
# file is written to ".<name>.XXXXXXXX.tmp". ``remove_leftovers`` recognises exactly these.
_LEFTOVER_DIRECTORY = re.compile(r"\.(?P<target>.+)\.(?P<kind>tmp|old)-[a-z0-9_]{8}")
_LEFTOVER_FILE = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")


def _create_new(folder: Path, name: Callable[[str], str], create: Callable[[Path], object]) -> Path:
    """``create(folder / name(token))`` with a random token, retried while the name is taken; returns the path.

    Not tempfile's mkdtemp/mkstemp: they make private (0700/0600) entries, while a plain mkdir/open honours
    the umask, so collaborators can read what is written. Tokens come from the OS (``secrets``), never from
    ``random``, whose state a checkpoint records.
    """
    while True:
        path = folder / name(secrets.token_hex(4))
        try:
            create(path)
            return path
        except FileExistsError:
            continue


def _create_file(path: Path) -> None:
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))


@contextlib.contextmanager
def atomic_directory(target: str | Path, overwrite: bool = True) -> Iterator[Path]:
    """Yield an empty temporary directory; on success it replaces ``target``, on error it vanishes.

    Readers never see a half-written ``target``: either the old one or the complete new one. With
    ``overwrite=False`` an existing ``target`` is an error (raised before any work is done).
    """
    target = Path(target)
    if target.exists() and not overwrite:
        raise UvaKitError(f"{target} already exists; choose another --out or pass --overwrite")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = _create_new(target.parent, lambda token: f".{target.name}.tmp-{token}", os.mkdir)
    except OSError as exc:
        reason = "a file is in the way" if isinstance(exc, (FileExistsError, NotADirectoryError)) else exc.strerror or exc
        raise UvaKitError(f"cannot create {target}: {reason} ({exc.filename or target.parent}); "
                          "choose an --out in a folder you can write to") from None
    try:
        yield staging
        if target.exists():
            retired = target.with_name(f".{target.name}.old-{staging.name.rsplit('-', 1)[-1]}")
            target.rename(retired)
            staging.rename(target)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def atomic_write(path: str | Path, write: Callable[[str], object]) -> Path:
    """Call ``write(temporary_path)``, then move the result to ``path``; a failure leaves ``path`` untouched."""
    path = Path(path)
    temporary = _create_new(path.parent, lambda token: f".{path.name}.{token}.tmp", _create_file)
    try:
        write(str(temporary))
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def remove_leftovers(folder: str | Path) -> list[Path]:
    """Clean up after atomic writes in ``folder`` that were killed (SIGKILL, power loss) half-way; returns what changed.

    Unfinished temporary directories and files are deleted. A retired directory whose target is
    missing (killed between the two renames) is put back in place; one whose target exists is deleted.
    Only the temporary names made here are touched.
    """
    folder = Path(folder)
    changed = []
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        directory = _LEFTOVER_DIRECTORY.fullmatch(path.name) if path.is_dir() else None
        if directory and directory["kind"] == "old" and not (folder / directory["target"]).exists():
            path.rename(folder / directory["target"])
        elif directory:
            shutil.rmtree(path, ignore_errors=True)
        elif path.is_file() and _LEFTOVER_FILE.fullmatch(path.name):
            path.unlink(missing_ok=True)
        else:
            continue
        changed.append(path)
    return changed
