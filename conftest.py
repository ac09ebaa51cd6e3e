"""Fixtures for every suite run from the repository root (tests/, benchmarks/, plugins/*/tests)."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread per test: tiny models run fastest and steadiest on a busy 2-core machine, and the
    benchmark protocol (benchmarks/RESULTS.md) times on one thread."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
