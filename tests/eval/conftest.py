"""Fixtures for the evaluation tests: untrained pusht-tiny checkpoints with the shipped data's action range."""

from __future__ import annotations

import pytest
import torch
from eval_support import save_tiny

import uva_kit


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run fastest (and steadiest on a busy machine) on one thread."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    return save_tiny(tmp_path_factory.mktemp("tiny") / "pretrained_model")


@pytest.fixture(scope="session")
def tiny_model(tiny_checkpoint):
    return uva_kit.load(tiny_checkpoint)
