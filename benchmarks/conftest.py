"""Benchmark protocol (see benchmarks/RESULTS.md): one thread, medians, ratios measured side by side."""

from __future__ import annotations

import pytest
import torch

import uva_kit


@pytest.fixture(scope="session")
def tiny_model():
    torch.manual_seed(0)
    return uva_kit.build("pusht-tiny").eval()
