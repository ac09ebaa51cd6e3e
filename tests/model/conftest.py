"""Shared fixtures: the pusht-tiny model and a batch with its layout."""

from __future__ import annotations

import pytest
import torch

import uva_kit
from uva_kit.testing.data import make_batch


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run fastest (and steadiest on a busy machine) on one thread."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def tiny_model():
    torch.manual_seed(0)
    return uva_kit.build("pusht-tiny")


@pytest.fixture
def tiny_batch():
    return make_batch()


@pytest.fixture
def batch_factory():
    return make_batch
