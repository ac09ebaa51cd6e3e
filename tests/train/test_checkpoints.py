"""Damaged training checkpoints: checksums, unreadable files, and the way back to an earlier checkpoint."""

from __future__ import annotations

import shutil

import pytest
from synthetic import SyntheticWindows

from uva_kit import load_spec
from uva_kit.errors import CheckpointError
from uva_kit.run_layout import LAST, checkpoint_root
from uva_kit.train import fit, training_state

SPEC = load_spec("pusht-tiny", ["training.steps=2", "training.batch_size=4", "training.checkpoint_every=1"])


@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory):
    """A run stopped after step 1 of 2 (``time_limit_s=0``): checkpoint 00000001 only."""
    out = tmp_path_factory.mktemp("runs") / "run"
    fit(SPEC, SyntheticWindows(4), out, time_limit_s=0.0, progress=False)
    return out


@pytest.fixture
def run(stopped_run, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(stopped_run, out)
    return out


def state_file(out, name: str):
    return checkpoint_root(out) / "00000001" / "training_state" / name


def resume(out):
    return fit(SPEC, SyntheticWindows(4), out, resume=True, progress=False)


def test_checksums_are_recorded_for_every_training_state_file(run):
    listed = state_file(run, "checksums.json").read_text()
    assert all(name in listed for name in training_state.STATE_FILES)


def test_truncated_file_is_named_with_the_way_back(run):
    path = state_file(run, "optimizer.safetensors")
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match=r"cannot resume from .*00000001: .*optimizer\.safetensors is truncated "
                                              r"or corrupt: 100 bytes, expected \d+") as info:
        resume(run)
    assert "The run has no other checkpoint; start a new run" in str(info.value)


def test_same_size_corruption_fails_the_checksum(run):
    path = state_file(run, "model.safetensors")
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"model\.safetensors is corrupt: its checksum does not match checksums\.json"):
        resume(run)


def test_checkpoint_without_checksums_still_resumes_and_garbage_is_named(run):
    state_file(run, "checksums.json").unlink()  # as written before checksums were recorded
    path = state_file(run, "rng.safetensors")
    original = path.read_bytes()
    path.write_bytes(b"\x07" * len(original))
    with pytest.raises(CheckpointError, match=r"rng\.safetensors is truncated or corrupt \("):
        resume(run)
    path.write_bytes(original)
    assert resume(run).step == 2


def test_the_hint_names_earlier_checkpoints_and_following_it_resumes(run):
    assert resume(run).step == 2
    corrupt = checkpoint_root(run) / "00000002"
    (corrupt / "training_state" / "state.json").write_text("{ not json")
    with pytest.raises(CheckpointError) as info:
        resume(run)
    message = str(info.value)
    assert "state.json is truncated or corrupt" in message
    assert "Other checkpoints of this run: 00000001" in message and "echo 00000001 > " in message
    shutil.move(corrupt, run / "corrupt-00000002")
    (checkpoint_root(run) / LAST).write_text("00000001\n")
    assert resume(run).step == 2


def leave_killed_saves(out):
    """What SIGKILL during checkpoint saves leaves: a half-written step folder, a retired one, a pointer file."""
    root = checkpoint_root(out)
    (root / ".00000002.tmp-k1ll3d_x" / "training_state").mkdir(parents=True)
    shutil.copytree(root / "00000001", root / ".00000001.old-k1ll3d_x")
    (root / ".last.k1ll3d_x.tmp").write_text("0000")
    return [".00000002.tmp-k1ll3d_x", ".00000001.old-k1ll3d_x", ".last.k1ll3d_x.tmp"]


def test_resume_cleans_up_after_killed_saves_and_leaves_other_files(run, capsys):
    leftovers = leave_killed_saves(run)
    root = checkpoint_root(run)
    (root / "notes.txt").write_text("mine")
    (root / ".mine.tmp-keep").mkdir()
    assert resume(run).step == 2
    names = {p.name for p in root.iterdir()}
    assert not names & set(leftovers) and {"notes.txt", ".mine.tmp-keep"} <= names
    printed = capsys.readouterr().out
    assert all(f"cleaned up {name}, left by a checkpoint save that was killed" in printed for name in leftovers)


def test_a_retired_checkpoint_whose_replacement_was_killed_is_put_back(run):
    root = checkpoint_root(run)
    (root / "00000001").rename(root / ".00000001.old-k1ll3d_x")  # killed between the two renames of a re-save
    (root / ".00000001.tmp-k1ll3d_x").mkdir()
    assert resume(run).step == 2
    assert not [p for p in root.iterdir() if p.name.startswith(".00000001")]


def test_prune_removes_leftovers(run):
    leftovers = leave_killed_saves(run)
    training_state.prune(run, keep_last=10, keep_top_k=1)
    root = checkpoint_root(run)
    assert not {p.name for p in root.iterdir()} & set(leftovers) and (root / "00000001").is_dir()
