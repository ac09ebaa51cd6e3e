"""Benchmark protocol (see benchmarks/RESULTS.md): one thread, medians, ratios measured side by side."""

from __future__ import annotations

import pytest
import torch

import uva_kit


@pytest.fixture(autouse=True)
def one_thread():
    """A shared 2-core machine: more threads only add contention noise."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def tiny_model():
    torch.manual_seed(0)
    return uva_kit.build("pusht-tiny").eval()
