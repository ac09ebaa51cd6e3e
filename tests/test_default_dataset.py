"""The PushT dataset shipped in the package loads without simulation and holds successful expert episodes."""

import json
import re
import shlex

import numpy as np
import pyarrow.parquet as pq
import pytest

from uva_kit.cli import build_parser
from uva_kit.data import UVADataset, default_pusht_dataset, load_episodes
from uva_kit.errors import DataError


def test_default_dataset_is_shipped_and_usable():
    path = default_pusht_dataset()
    report = json.loads((path / "collect_report.json").read_text())
    assert report["env"] == "pusht" and report["expert"] == "diverse"
    table = load_episodes(path)
    assert table.num_episodes == report["written_episodes"] >= 10
    assert table.frames.shape[1:] == (96, 96, 3)
    assert np.all(table.actions >= 0) and np.all(table.actions <= 512)
    episodes = pq.read_table(path / "meta/episodes/chunk-000/file-000.parquet").to_pylist()
    assert all(e["success"] for e in episodes)
    train = UVADataset(path, split="train")
    val = UVADataset(path, split="val", val_ratio=0.1)
    assert len(train) > 1000 and len(val) > 0
    sample = train[len(train) // 2]
    assert set(sample) == {"history_frames", "future_frames", "actions", "agent_pos", "contact_impulse",
                           "environment_state"}


def test_a_missing_dataset_names_a_collect_command_that_runs(tmp_path):
    with pytest.raises(DataError, match="dataset not found") as error:
        load_episodes(tmp_path / "missing")
    command = re.search(r"`uva-kit (collect [^`]*)`", str(error.value)).group(1)
    args = build_parser().parse_args(shlex.split(command))  # exits (SystemExit) on a missing required option
    assert args.out == str(tmp_path / "missing")
