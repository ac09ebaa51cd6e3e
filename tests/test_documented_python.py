"""Every ```python block of README.md and docs/*.md runs.

A document's blocks run in order in one namespace (a later block may use an earlier one's names), in a fresh
working directory. What a document takes as given (``history`` in the README, a spec file in specs.md, ...)
comes from ``GIVEN``; the few settings too slow for a test (50 evaluation episodes) are swapped for smaller
ones through ``SMALLER``, each checked to still appear in the document. A value shown as a list in a
comment (``registry.list("head")  # ['chunk', 'token']``) is checked. A block that cannot run here carries
``<!-- not executed: REASON -->`` on the line before it; docs/writing-a-plugin.md's ``<!-- example: PATH -->``
blocks run in tests/test_writing_a_plugin_guide.py.
"""

from __future__ import annotations

import re
import shutil
import textwrap
import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from compat.original_format import OriginalSizes, policy_state, workspace
from documents import DOCUMENTS, ROOT, CodeBlock, code_blocks

import uva_kit
from uva_kit.cli import main
from uva_kit.data import UVADataset, default_pusht_dataset

NOT_EXECUTED = "not executed:"
GUIDE = ROOT / "docs" / "writing-a-plugin.md"  # its "example:" blocks run in tests/test_writing_a_plugin_guide.py

# Per document: the names its blocks use without defining them, and the files they read.
GIVEN = {
    "README.md": ["history", "pusht_state"],
    "compatibility.md": ["history_frames"],
    "datasets-and-environments.md": ["action", "policy", "my_episodes", "spec", "path"],
    "evaluation.md": ["model", "spec", "dataset", "out"],
    "plugins.md": [],
    "specs.md": [],
}
GIVEN_FILES = {"README.md": ["runs/small"], "compatibility.md": ["checkpoints/latest.ckpt"],
               "specs.md": ["my.toml"]}
# Per document: (documented text, the smaller setting the test runs instead).
SMALLER = {
    "datasets-and-environments.md": [('make_vector("pusht", 8,', 'make_vector("pusht", 2,')],
    "evaluation.md": [("episodes=50)", "episodes=1, max_steps=8)"),
                      ("episodes=10, max_steps=300", "episodes=1, max_steps=8"),
                      ('env = make("pusht")', 'env = make("pusht", max_episode_steps=10)'),
                      ('make_vector("pusht", 4, max_episode_steps=300)', 'make_vector("pusht", 4, max_episode_steps=6)'),
                      ("range(1000)", "range(16)")],
}

# A bare expression whose comment starts with its value as a list: `uva_kit.registry.list("head")  # ['chunk', ...]`.
SHOWN_VALUE = re.compile(r"^(\w[^#=]*?)\s+# (\[.*?\])")


def python_blocks(document: Path) -> list[CodeBlock]:
    return [block for block in code_blocks(document) if block.language == "python"]


def executed_blocks(document: Path) -> list[CodeBlock]:
    """The document's Python blocks that this test runs."""
    return [block for block in python_blocks(document) if not block.note.startswith(NOT_EXECUTED)
            and not (document == GUIDE and block.note.startswith("example:"))]


EXECUTED = [document for document in DOCUMENTS if executed_blocks(document)]


def test_every_python_block_runs_or_says_why_not():
    blocks = [block for document in DOCUMENTS for block in python_blocks(document)]
    unexplained = [block.where for block in blocks if block.note.strip() == NOT_EXECUTED]
    assert len(blocks) >= 16 and not unexplained, f"markers without a reason: {unexplained}"
    assert sum(bool(SHOWN_VALUE.match(line)) for block in blocks for line in block.lines) >= 2
    assert {document.name for document in EXECUTED} == set(GIVEN), "list each executed document in GIVEN"


@pytest.fixture(scope="module")
def small_run(tmp_path_factory) -> Path:
    """What README.md's ``runs/small`` stands for: ``pusht-small`` trained one step on the shipped data."""
    run = tmp_path_factory.mktemp("runs") / "small"
    assert main(["train", "--spec", "pusht-small", "--data", "default", "--out", str(run), "--no-progress",
                 "--set", "training.steps=1", "--set", "training.batch_size=2"]) == 0
    return run


@pytest.fixture(scope="module")
def original_checkpoint(tmp_path_factory) -> Path:
    """What compatibility.md's ``checkpoints/latest.ckpt`` stands for: an original PushT workspace file, at a
    reduced size with MAR-B's width (so the heads need no option), its raw and EMA weights the same."""
    path = tmp_path_factory.mktemp("original") / "latest.ckpt"
    state = policy_state(OriginalSizes.small(width=768, heads=12, mlp_hidden=768, side=4))
    torch.save(workspace(state, state), path)
    return path


@pytest.fixture(scope="module")
def given(small_run) -> dict:
    """A value for each name of ``GIVEN``."""
    model = uva_kit.load(small_run)
    spec = uva_kit.load_spec("pusht-tiny", overrides=["training.steps=1", "training.batch_size=2",
                                                      "training.eval_every=1"])
    windows = UVADataset(default_pusht_dataset(), layout=model.spec.layout, split="val",
                         history_keys=("pusht_state",))
    batch = torch.utils.data.default_collate([windows[0], windows[len(windows) // 2]])
    rng = np.random.default_rng(0)
    episodes = [{"rgb": rng.integers(0, 255, (length, 24, 30, 3), dtype=np.uint8),
                 "state": rng.normal(size=(length, 9)), "action": rng.normal(size=(length, 7)),
                 "force": rng.normal(size=(length, 3))} for length in (30, 34)]
    return {"history": batch["history_frames"], "history_frames": batch["history_frames"],
            "pusht_state": batch["pusht_state"], "action": np.array([256.0, 300.0]),
            "policy": uva_kit.Policy(model), "my_episodes": episodes, "model": model, "spec": spec,
            "path": default_pusht_dataset(),
            "dataset": UVADataset(default_pusht_dataset(), layout=spec.layout), "out": "runs/evaluated"}


@pytest.fixture(scope="module")
def given_files(small_run, original_checkpoint) -> Callable[[str, Path], None]:
    """Writes a file or folder of ``GIVEN_FILES`` into a working directory."""
    copies = {"runs/small": small_run, "checkpoints/latest.ckpt": original_checkpoint}

    def write(name: str, directory: Path) -> None:
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        if name == "my.toml":
            (directory / name).write_text('extends = "pusht-tiny"\n')
        elif copies[name].is_dir():
            shutil.copytree(copies[name], directory / name)
        else:
            (directory / name).symlink_to(copies[name])

    return write


def runnable_source(document: Path, block: CodeBlock) -> str:
    """The block's code, made smaller, at its document's line numbers (tracebacks point into the document);
    a line showing its value (``SHOWN_VALUE``) asserts it."""
    source = textwrap.dedent("\n".join(block.lines))
    for documented, tested in SMALLER.get(document.name, []):
        source = source.replace(documented, tested)
    lines = [f"assert {shown[1]} == {shown[2]}, 'the value is ' + repr({shown[1]})"
             if (shown := SHOWN_VALUE.match(line)) else line for line in source.splitlines()]
    return "\n" * (block.line - 1) + "\n".join(lines)


@pytest.fixture
def builtins_only(monkeypatch):
    """The registry of the built-ins alone, which is what the documents show (installed plugins add to it)."""
    from uva_kit.plugins import DISABLE_AUTOLOAD_ENV

    monkeypatch.setenv(DISABLE_AUTOLOAD_ENV, "1")
    uva_kit.registry.reload()
    yield
    monkeypatch.delenv(DISABLE_AUTOLOAD_ENV)
    uva_kit.registry.reload()


@pytest.mark.parametrize("document", EXECUTED, ids=[document.name for document in EXECUTED])
@pytest.mark.filterwarnings("ignore::uva_kit.encoder.checkpoint.RandomWeightsWarning")  # the README's uva-b-pusht
def test_documented_python_runs(document, given, given_files, builtins_only, tmp_path, monkeypatch):
    text = "\n".join("\n".join(block.lines) for block in executed_blocks(document))
    stale = [documented for documented, _ in SMALLER.get(document.name, []) if documented not in text]
    assert not stale, f"{document.name} no longer shows {stale}: update SMALLER"
    monkeypatch.chdir(tmp_path)
    for name in GIVEN_FILES.get(document.name, []):
        given_files(name, tmp_path)
    namespace = {"__name__": "__documented__", **{name: given[name] for name in GIVEN[document.name]}}
    try:
        for block in executed_blocks(document):
            try:
                exec(compile(runnable_source(document, block), str(document), "exec"), namespace)
            except Exception as error:
                frames = traceback.extract_tb(error.__traceback__)
                line = [block.line, *(frame.lineno for frame in frames if frame.filename == str(document))][-1]
                raise AssertionError(f"{document.name}:{line} (in the Python block at {block.where}) fails: "
                                     f"{type(error).__name__}: {error}") from error
    finally:
        for value in namespace.values():  # environments the blocks made (vector envs hold worker processes)
            if hasattr(value, "close") and type(value).__module__.startswith("gymnasium"):
                value.close()
