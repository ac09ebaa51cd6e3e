"""Atomic writes give what a plain mkdir/open would: permissions from the umask, not private temporary ones."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from uva_kit.atomic import atomic_directory, atomic_write


@pytest.fixture(params=[0o022, 0o077], ids=["umask-022", "umask-077"])
def umask(request):
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_atomic_directory_has_the_permissions_of_a_plain_mkdir(tmp_path, umask):
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "file").write_text("x")
    for _ in range(2):  # a new folder, then one replacing it
        with atomic_directory(tmp_path / "written") as staging:
            (staging / "file").write_text("x")
        assert mode(tmp_path / "written") == mode(tmp_path / "plain") == 0o777 & ~umask
        assert mode(tmp_path / "written" / "file") == mode(tmp_path / "plain" / "file") == 0o666 & ~umask


def test_atomic_write_has_the_permissions_of_a_plain_open(tmp_path, umask):
    (tmp_path / "plain").write_text("x")
    for _ in range(2):  # a new file, then one replacing it
        atomic_write(tmp_path / "written", lambda temporary: Path(temporary).write_text("x"))
        assert mode(tmp_path / "written") == mode(tmp_path / "plain") == 0o666 & ~umask
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain", "written"]  # no temporary file left
