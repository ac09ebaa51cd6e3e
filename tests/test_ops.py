"""Fused ops: the C++ extension matches the PyTorch reference, has a fake impl, and falls back cleanly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from cli_support import REPO_ROOT, run_cli

from uva_kit.ops import adaln_modulate, adaln_modulate_reference, extension_status

REQUIRE_EXTENSION = os.environ.get("UVA_KIT_REQUIRE_EXTENSION") == "1"  # set by CI, where a compiler exists


def fused_available() -> bool:
    status = extension_status()
    if REQUIRE_EXTENSION:
        assert status.loaded and "adaln_modulate" in status.ops, f"C++ extension required but {status.detail}"
    return status.loaded and "adaln_modulate" in status.ops


needs_extension = pytest.mark.skipif(not fused_available(), reason=f"C++ extension: {extension_status().detail}")


def random_inputs(rows: int, width: int, seed: int):
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(rows, width, generator=generator) * scale for scale in (3.0, 0.5, 0.5)]


@needs_extension
@pytest.mark.parametrize("rows,width", [(1, 7), (16, 1024), (130, 64)])
def test_fused_adaln_matches_reference(rows, width):
    for seed in range(3):
        x, shift, scale = random_inputs(rows, width, seed)
        x = x + 5.0  # a large mean exercises the variance computation
        fused = torch.ops.uva_kit.adaln_modulate(x, shift, scale, 1e-6)
        reference = adaln_modulate_reference(x, shift, scale, 1e-6)
        relative = (fused - reference).norm() / reference.norm()
        assert relative <= 1e-5, relative


@needs_extension
def test_dispatch_uses_fused_op_without_grad_and_reference_with_grad(monkeypatch):
    x, shift, scale = random_inputs(4, 32, 0)
    calls = []
    original = adaln_modulate_reference
    monkeypatch.setattr("uva_kit.ops.adaln.adaln_modulate_reference", lambda *a: calls.append(1) or original(*a))
    with torch.no_grad():
        adaln_modulate(x, shift, scale)
    assert calls == []
    x.requires_grad_(True)
    out = adaln_modulate(x, shift, scale)
    out.sum().backward()
    assert calls == [1] and x.grad is not None


@needs_extension
def test_fused_op_has_schema_and_fake_impl():
    x, shift, scale = random_inputs(8, 16, 1)
    torch.library.opcheck(
        torch.ops.uva_kit.adaln_modulate.default, (x, shift, scale, 1e-6), test_utils=("test_schema", "test_faketensor")
    )
    meta = torch.ops.uva_kit.adaln_modulate(*(t.to("meta") for t in (x, shift, scale)), 1e-6)
    assert meta.shape == x.shape and meta.device.type == "meta"


@needs_extension
def test_fused_op_rejects_bad_input_clearly():
    x, shift, scale = random_inputs(4, 8, 0)
    with pytest.raises(RuntimeError, match="shift and scale must have the shape of x"):
        torch.ops.uva_kit.adaln_modulate(x, shift[:, :4], scale, 1e-6)
    with pytest.raises(RuntimeError, match="must be float32"):
        torch.ops.uva_kit.adaln_modulate(x.double(), shift.double(), scale.double(), 1e-6)
    with pytest.raises(RuntimeError, match=r"shift and scale must have the dtype of x \(Float\), got Double and Float"):
        torch.ops.uva_kit.adaln_modulate(x, shift.double(), scale, 1e-6)



@needs_extension
def test_fake_impl_matches_the_real_op_on_strided_and_bad_inputs():
    x, shift, scale = (t.view(2, 4, 8).transpose(0, 1) for t in random_inputs(4, 16, 2))  # non-contiguous
    real = torch.ops.uva_kit.adaln_modulate(x, shift, scale, 1e-6)
    assert torch.allclose(real, adaln_modulate_reference(x, shift, scale, 1e-6), atol=1e-5)
    meta = torch.ops.uva_kit.adaln_modulate(*(t.to("meta") for t in (x, shift, scale)), 1e-6)
    assert (meta.shape, meta.stride(), meta.dtype) == (real.shape, real.stride(), real.dtype)
    with pytest.raises(RuntimeError, match="must be float32"):
        torch.ops.uva_kit.adaln_modulate(*(t.double().to("meta") for t in (x, shift, scale)), 1e-6)
    with pytest.raises(RuntimeError, match="shift and scale must have the shape of x"):
        torch.ops.uva_kit.adaln_modulate(x.to("meta"), shift[..., :4].to("meta"), scale.to("meta"), 1e-6)


@needs_extension
def test_wrapper_falls_back_to_the_reference_where_the_op_cannot_run():
    x, shift, scale = random_inputs(0, 8, 0)
    assert adaln_modulate(x, shift, scale).shape == (0, 8)  # no rows: the op runs
    x, shift, scale = random_inputs(3, 8, 0)
    for args in [(x, shift.double(), scale), (x[:, :0], shift[:, :0], scale[:, :0])]:  # mixed dtypes, zero width
        torch.testing.assert_close(adaln_modulate(*args), adaln_modulate_reference(*args))


@needs_extension
def test_a_gradient_through_the_op_raises_instead_of_being_silently_unset():
    x, shift, scale = random_inputs(3, 8, 0)
    out = torch.ops.uva_kit.adaln_modulate(x.requires_grad_(True), shift, scale, 1e-6)
    with pytest.raises(RuntimeError, match="derivative for uva_kit::adaln_modulate is not implemented"):
        out.sum().backward()

def test_reference_path_when_the_extension_is_disabled():
    result = run_cli("info", env_extra={"UVA_KIT_DISABLE_EXTENSION": "1"})
    assert result.returncode == 0, result.stderr
    assert "fused ops    PyTorch reference - disabled by UVA_KIT_DISABLE_EXTENSION=1" in result.stdout


def test_info_reports_the_active_path():
    result = run_cli("info")
    assert result.returncode == 0, result.stderr
    expected = "fused ops    C++ extension (adaln_modulate, adaln_sample, pack_linear_panels)" if fused_available() else "fused ops    PyTorch reference"
    assert expected in result.stdout
    attention_line = next(line for line in result.stdout.splitlines() if line.startswith("attention"))
    assert "math" in attention_line and "sdpa" in attention_line
    if fused_available() and torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512"):
        capability = torch.backends.cpu.get_cpu_capability()
        expected_kernels = "panel kernel (16 and 32 rows)" if capability == "AVX512" else "hand-written kernels need AVX512"
        assert f"cpu kernels  {capability}: " in result.stdout and expected_kernels in result.stdout
        held_to_avx2 = run_cli("info", env_extra={"ATEN_CPU_CAPABILITY": "avx2"}).stdout
        assert "cpu kernels  AVX2: sampler GEMMs on oneDNN (the hand-written kernels need AVX512)" in held_to_avx2


@needs_extension
@pytest.mark.skipif(not (sys.platform.startswith("linux") and torch._C.has_openmp), reason="OpenMP builds are Linux's")
def test_extension_is_built_with_openmp_so_its_kernels_use_torchs_threads():
    """at::parallel_for is inline: the extension's kernels split work across torch's threads only when it
    is compiled with -fopenmp (setup.py), and run serially otherwise."""
    import uva_kit._C

    assert b"GOMP_parallel" in Path(uva_kit._C.__file__).read_bytes()


def test_setup_skips_the_extension_without_a_compiler():
    env = {**os.environ, "CXX": "no-such-compiler"}
    result = subprocess.run([sys.executable, "setup.py", "--name"], cwd=REPO_ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "uva_kit"
    assert "not building the C++ extension (no C++ compiler found)" in result.stderr
