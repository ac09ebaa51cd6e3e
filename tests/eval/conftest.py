"""Fixtures for the evaluation tests: untrained pusht-tiny checkpoints with the shipped data's action range."""

from __future__ import annotations

import pytest
from eval_support import save_tiny

import uva_kit


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    return save_tiny(tmp_path_factory.mktemp("tiny") / "pretrained_model")


@pytest.fixture(scope="session")
def tiny_model(tiny_checkpoint):
    return uva_kit.load(tiny_checkpoint)
