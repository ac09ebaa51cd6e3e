"""``--device``: the default, and a UvaKitError saying what is available for one that cannot run here."""

from __future__ import annotations

import pytest
import torch
from cli_support import run_cli

from uva_kit.devices import resolve_device
from uva_kit.errors import UvaKitError


@pytest.fixture
def cpu_only_build(monkeypatch):
    monkeypatch.setattr(torch.version, "cuda", None)
    monkeypatch.setattr(torch.version, "hip", None)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.fixture
def one_gpu(monkeypatch):
    monkeypatch.setattr(torch.version, "cuda", "12.4")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)


def test_default_is_cuda_when_visible_else_cpu(cpu_only_build):
    assert resolve_device(None) == "cpu" and resolve_device("cpu") == "cpu"


@pytest.mark.parametrize("device", ["gpu", "meta", "cuda:x"])
def test_unknown_device_lists_what_is_available(cpu_only_build, device):
    with pytest.raises(UvaKitError, match=rf"device '{device}' is not one uva_kit runs on.*available here: cpu\)"):
        resolve_device(device)


def test_cuda_on_a_cpu_only_torch_build(cpu_only_build):
    with pytest.raises(UvaKitError, match=r"CUDA is not available in this torch build .*torch.version.cuda is None.*"
                                          r"use --device cpu"):
        resolve_device("cuda")


def test_cuda_build_without_a_visible_gpu(monkeypatch):
    monkeypatch.setattr(torch.version, "cuda", "12.4")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(UvaKitError, match="no CUDA GPU is visible"):
        resolve_device("cuda:0")


def test_gpu_index_beyond_the_visible_ones(one_gpu):
    assert resolve_device(None) == "cuda" and resolve_device("cuda:0") == "cuda:0"
    with pytest.raises(UvaKitError, match=r"'cuda:3' does not exist \(available here: cpu, cuda, cuda:0\)"):
        resolve_device("cuda:3")


@pytest.mark.parametrize("command", [["train", "--spec", "pusht-tiny", "--data", "default"],
                                     ["eval", "policy", "--checkpoint", "no/such/model"]])
def test_train_and_eval_report_a_bad_device_before_reading_anything(tmp_path, command):
    result = run_cli(*command, "--out", str(tmp_path / "out"), "--device", "gpu")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"uva-kit {command[0]}: error: device 'gpu' is not one uva_kit runs on" in result.stderr
    assert not (tmp_path / "out").exists()
