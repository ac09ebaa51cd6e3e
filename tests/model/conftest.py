"""Shared fixtures: the pusht-tiny model and a batch with its layout."""

from __future__ import annotations

import pytest
import torch

import uva_kit
from uva_kit.testing.data import make_batch


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
