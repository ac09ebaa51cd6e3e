"""Benchmark protocol (see benchmarks/RESULTS.md): one thread, medians, ratios measured side by side.

``test_policy_stages.py`` times pusht-tiny on the CPU unless told otherwise, e.g. at paper scale on a GPU:
``pytest benchmarks/test_policy_stages.py --benchmark-only --stages-spec uva-b-pusht --stages-device cuda``.
"""

from __future__ import annotations

import warnings

import pytest
import torch

import uva_kit


def pytest_addoption(parser):
    parser.addoption("--stages-spec", default="pusht-tiny",
                     help="preset or spec file whose policy stages test_policy_stages.py times (default: pusht-tiny)")
    parser.addoption("--stages-device", default="cpu",
                     help="device for test_policy_stages.py; on cuda the fast path replays CUDA graphs (default: cpu)")


@pytest.fixture(scope="session")
def stages_model(request):
    """The model test_policy_stages.py times: random weights (kl_f16's warning is expected), eval mode."""
    device = torch.device(request.config.getoption("--stages-device"))
    if device.type == "cuda" and not torch.cuda.is_available():
        pytest.skip(f"--stages-device {device}: no CUDA device is available here")
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return uva_kit.build(request.config.getoption("--stages-spec")).eval().to(device)
