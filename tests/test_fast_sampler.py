"""Sampling paths (reference loop, restructured PyTorch, fused C++ op) agree, hoist what they claim,
and the fused op keeps its contract."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from cli_support import REPO_ROOT
from test_ops import fused_available

import uva_kit
from uva_kit.errors import UvaKitError
from uva_kit.head.denoiser import AdaLNDenoiser
from uva_kit.ops import extension_status
from uva_kit.ops.counting import OpCounter, per_step_ops
from uva_kit.ops.packed_linear import packed_linear_available
from uva_kit.sampler.fused import fused_sample
from uva_kit.sampler.restructured import PreparedSampling, prepare_sampling

FUSED = fused_available() and "adaln_sample" in extension_status().ops
needs_fused = pytest.mark.skipif(not FUSED, reason="the C++ extension with the fused sampler is not built")
COND_DIM = 12


def random_denoiser(channels=3, width=32, depth=2, seed=0) -> AdaLNDenoiser:
    """Fresh random weights everywhere (the default init zeroes the modulations, which would hide bugs)."""
    torch.manual_seed(seed)
    denoiser = AdaLNDenoiser(channels, width, depth, COND_DIM).eval()
    with torch.no_grad():
        for name, parameter in denoiser.named_parameters():
            parameter.copy_(torch.randn_like(parameter) * (0.3 if "ln" in name else 1.5 / parameter.shape[-1] ** 0.5))
            if "in_ln.weight" in name:
                parameter.add_(1.0)
    return denoiser


def make_sampler(kind: str, steps: int, **options):
    component = uva_kit.registry.get("sampler", kind)
    return component.build(component.spec_class(type=kind, steps=steps, **options))


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


def fast_paths() -> list[str]:
    return ["restructured", "fused"] if FUSED else ["restructured"]


SAMPLERS = [("ddpm", {}), ("ddpm", {"temperature": 1.0}), ("ddim", {}), ("ddim", {"eta": 0.7})]


@pytest.mark.parametrize("kind,options", SAMPLERS, ids=lambda v: str(v))
@pytest.mark.parametrize("rows,steps,clamp", [(1, 3, True), (5, 7, False), (16, 16, True)])
def test_fast_paths_match_the_reference_loop(kind, options, rows, steps, clamp):
    sampler = make_sampler(kind, steps, **options)
    for seed in range(2):
        denoiser = random_denoiser(seed=seed)
        condition = torch.randn(rows, COND_DIM, generator=torch.Generator().manual_seed(seed))
        noise = sampler.draw_noise(rows, 3, generator=torch.Generator().manual_seed(10 + seed))
        reference = sampler.sample(denoiser, condition, 3, clamp_x0=clamp, noise=noise, path="reference")
        assert torch.isfinite(reference).all() and reference.abs().max() > 0.05
        for path in fast_paths():
            out = sampler.sample(denoiser, condition, 3, clamp_x0=clamp, noise=noise, path=path)
            assert relative_error(out, reference) <= 1e-5, (path, relative_error(out, reference))


@pytest.mark.parametrize("kind,options", SAMPLERS[::2], ids=lambda v: str(v))
def test_fp32_paths_match_a_float64_copy_of_the_reference(kind, options):
    """A float64 copy of the denoiser runs the reference loop (the CUDA parity test's oracle), and the fp32
    paths agree with it to 1e-5."""
    sampler = make_sampler(kind, 16, **options)
    denoiser = random_denoiser(width=256, depth=6)
    condition = torch.randn(16, COND_DIM, generator=torch.Generator().manual_seed(0))
    noise = sampler.draw_noise(16, 3, generator=torch.Generator().manual_seed(1))
    oracle = sampler.sample(copy.deepcopy(denoiser).double(), condition.double(), 3, clamp_x0=True,
                            noise=noise.double(), path="reference")
    assert oracle.dtype == torch.float64
    for path in ["reference", *fast_paths()]:
        out = sampler.sample(denoiser, condition, 3, clamp_x0=True, noise=noise, path=path)
        assert relative_error(out, oracle.float()) <= 1e-5, path


def test_auto_path_is_the_fastest_available_and_same_generator_gives_same_samples(monkeypatch):
    sampler = make_sampler("ddpm", 5)
    denoiser, condition = random_denoiser(), torch.randn(4, COND_DIM)
    expected = "fused" if FUSED else "restructured"
    assert sampler.choose_path(denoiser, condition) == expected
    samples = {path: sampler.sample(denoiser, condition, 3, generator=torch.Generator().manual_seed(3), path=path)
               for path in ("auto", "restructured", "reference")}
    for path in ("auto", "restructured"):
        assert relative_error(samples[path], samples["reference"]) <= 1e-5
    monkeypatch.setattr("uva_kit.sampler.fused.has_op", lambda name: False)
    assert sampler.choose_path(denoiser, condition) == "restructured"
    with pytest.raises(UvaKitError, match="fused sampling path cannot run: the C\\+\\+ extension"):
        sampler.sample(denoiser, condition, 3, path="fused")


def test_sampling_rejects_bad_noise_and_unknown_paths():
    sampler = make_sampler("ddpm", 4)
    denoiser, condition = random_denoiser(), torch.randn(2, COND_DIM)
    with pytest.raises(ValueError, match=r"noise must be \(steps \+ 1, rows, channels\) = \(5, 2, 3\)"):
        sampler.sample(denoiser, condition, 3, noise=torch.zeros(4, 2, 3))
    with pytest.raises(UvaKitError, match="unknown sampling path 'fast'"):
        sampler.sample(denoiser, condition, 3, path="fast")


def test_restructured_loop_has_no_host_transfers_and_fewer_ops_than_the_reference():
    sampler = make_sampler("ddpm", 8)
    denoiser, condition = random_denoiser(depth=6), torch.randn(16, COND_DIM)

    def run(path):
        return lambda steps: sampler.sample(denoiser, condition, 3, steps=steps, path=path,
                                            generator=torch.Generator().manual_seed(0))

    reference_ops, reference_transfers = per_step_ops(run("reference"), (4, 8))
    restructured_ops, restructured_transfers = per_step_ops(run("restructured"), (4, 8))
    assert reference_transfers >= 8  # the counter sees the reference's per-step table uploads
    assert restructured_transfers == 0
    assert restructured_ops < 0.75 * reference_ops, (restructured_ops, reference_ops)


@needs_fused
def test_fused_path_issues_no_ops_per_step():
    sampler = make_sampler("ddpm", 8)
    denoiser, condition = random_denoiser(depth=6), torch.randn(16, COND_DIM)
    ops, transfers = per_step_ops(lambda steps: sampler.sample(denoiser, condition, 3, steps=steps, path="fused"), (4, 16))
    assert ops == 0 and transfers == 0
    with OpCounter() as counter:
        sampler.sample(denoiser, condition, 3, steps=16, path="fused")
    assert counter.counts["adaln_sample"] == 1 and counter.total <= 40, counter.counts


@needs_fused
def test_fused_op_draws_its_noise_like_torch_randn():
    sampler = make_sampler("ddpm", 6)
    denoiser, condition = random_denoiser(), torch.randn(3, COND_DIM)
    prepared = prepare_sampling(sampler, denoiser, condition, sampler.schedule())
    options = dict(clamp_x0=True, learned_variance=True, noise_scale=0.95)
    drawn = fused_sample(prepared, None, generator=torch.Generator().manual_seed(4), **options)
    given = fused_sample(prepared, sampler.draw_noise(3, 3, generator=torch.Generator().manual_seed(4)), **options)
    assert torch.equal(drawn, given)


@needs_fused
def test_fused_path_runs_in_fp32_under_autocast():
    """The fused op takes fp32 only; under autocast (as a bf16 policy would call it) its hoisted tensors are
    still made in fp32, so it samples as it does outside autocast (a CUDA autocast would otherwise hand it
    bf16 modulations)."""
    sampler = make_sampler("ddpm", 8)
    denoiser, condition = random_denoiser(), torch.randn(16, COND_DIM, generator=torch.Generator().manual_seed(0))
    noise = sampler.draw_noise(16, 3, generator=torch.Generator().manual_seed(1))
    fp32 = sampler.sample(denoiser, condition, 3, noise=noise, path="fused")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        autocast = sampler.sample(denoiser, condition, 3, noise=noise, path="fused")
        assert torch.is_autocast_enabled("cpu")  # left as it was
    assert relative_error(autocast, fp32) <= 1e-5


@needs_fused
def test_fused_op_checks_its_inputs_and_has_a_fake_impl():
    from torch._subclasses.fake_tensor import FakeTensorMode

    sampler = make_sampler("ddpm", 4)
    denoiser, condition = random_denoiser(), torch.randn(2, COND_DIM)
    prepared = prepare_sampling(sampler, denoiser, condition, sampler.schedule())
    options = dict(clamp_x0=True, learned_variance=True, noise_scale=1.0)
    with pytest.raises(RuntimeError, match=r"noise must be \(S \+ 1, N, C\)"):
        fused_sample(prepared, torch.zeros(4, 2, 3), **options)
    with pytest.raises(RuntimeError, match="coefficients must be"):
        fused_sample(prepared._replace(coefficients=prepared.coefficients[:3]), None, **options)
    with FakeTensorMode(allow_non_fake_inputs=True) as mode:
        fake = prepared._replace(modulations=mode.from_tensor(prepared.modulations))
        assert fused_sample(fake, None, **options).shape == (2, 3)



@needs_fused
def test_fused_op_fake_impl_on_meta_tensors_matches_the_real_op_and_its_checks():
    sampler = make_sampler("ddpm", 4)
    prepared = prepare_sampling(sampler, random_denoiser(), torch.randn(2, COND_DIM), sampler.schedule())
    options = dict(clamp_x0=True, learned_variance=True, noise_scale=1.0)
    meta = PreparedSampling(*(
        t.to("meta") if isinstance(t, torch.Tensor) else tuple(w.to("meta") for w in t)
        for t in prepared._replace(packed_hidden_weights=())
    ))
    real, fake = fused_sample(prepared, None, **options), fused_sample(meta, None, **options)
    assert (fake.shape, fake.dtype, fake.device.type) == (real.shape, real.dtype, "meta")
    for message, bad in [
        (r"coefficients must be \(4, 7\)", meta._replace(coefficients=meta.coefficients[:3])),
        ("must be float32", meta._replace(modulations=meta.modulations.double())),
        (r"modulations must be \(depth \+ 1, S, N, 3 \* width\)", meta._replace(modulations=meta.modulations[..., :48])),
    ]:
        with pytest.raises(RuntimeError, match=message):
            fused_sample(bad, None, **options)
    with pytest.raises(RuntimeError, match=r"noise must be \(S \+ 1, N, C\) = \(5, 2, 3\)"):
        fused_sample(meta, torch.zeros(4, 2, 3, device="meta"), **options)


@needs_fused
def test_a_gradient_through_the_fused_op_raises_instead_of_being_silently_unset():
    sampler = make_sampler("ddpm", 4)
    prepared = prepare_sampling(sampler, random_denoiser(), torch.randn(2, COND_DIM), sampler.schedule())
    assert prepared.input_weight.requires_grad  # a parameter: outside no_grad the output needs a gradient
    out = fused_sample(prepared, None, clamp_x0=True, learned_variance=True, noise_scale=1.0)
    with pytest.raises(RuntimeError, match="derivative for uva_kit::adaln_sample is not implemented"):
        out.sum().backward()


@needs_fused
@pytest.mark.parametrize("rows", [1, 5, 16])  # the small-batch kernel, oneDNN, the panel kernel (on AVX-512)
def test_fused_op_rejects_misshapen_weights_and_biases_by_name(rows):
    sampler = make_sampler("ddpm", 4)
    prepared = prepare_sampling(sampler, random_denoiser(), torch.randn(rows, COND_DIM), sampler.schedule())
    options = dict(clamp_x0=True, learned_variance=True, noise_scale=1.0)
    biases = prepared.hidden_biases
    bad = {
        r"hidden bias 0 must be \(32\), got \[16\]": dict(hidden_biases=(biases[0][:16].clone(), *biases[1:])),
        r"hidden bias 0 must be \(32\), got \[64\]": dict(hidden_biases=(biases[0].repeat(2), *biases[1:])),
        r"hidden bias 1 must be \(32\), got \[32, 1\]": dict(hidden_biases=(biases[0], biases[1][:, None], *biases[2:])),
        r"the input bias must be \(32\), got \[1, 32\]": dict(input_bias=prepared.input_bias[None]),
        r"the output bias must be \(6\), got \[6, 1\]": dict(output_bias=prepared.output_bias[:, None]),
        r"the input weight must be \(width, C\), got \[3\]": dict(input_weight=prepared.input_weight[0]),
        r"hidden weight 0 must be \(32, 32\), got \[32\]": dict(
            hidden_weights=(prepared.hidden_weights[0][0], *prepared.hidden_weights[1:])),
    }
    for message, replaced in bad.items():
        with pytest.raises(RuntimeError, match=message):
            fused_sample(prepared._replace(**replaced), None, **options)

PACKED = packed_linear_available("cpu", torch.float32)
AVX512 = torch.backends.cpu.get_cpu_capability() == "AVX512"  # the hand-written CPU kernels run only there


def same_at_another_thread_count(run) -> bool:
    """Whether ``run()`` gives bitwise the same tensor on 1 and 2 threads (kernels that split outputs do)."""
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = run()
        torch.set_num_threads(2)
        return torch.equal(run(), one)
    finally:
        torch.set_num_threads(threads)


@needs_fused
@pytest.mark.skipif(not PACKED, reason="PyTorch was built without oneDNN")
@torch.no_grad()
@pytest.mark.parametrize("rows,panel_rows", [(16, True), (32, True), (8, False), (48, False)])
def test_fused_op_runs_its_hidden_gemms_on_the_packed_weights(rows, panel_rows):
    """At 16 and 32 rows (on AVX-512) the hidden weights come in 16-output panels (csrc/panel_linear.cpp),
    otherwise from 4 rows up packed for oneDNN; the op computes with the packs it is given."""
    packing = "panels" if panel_rows and AVX512 else "onednn"
    sampler = make_sampler("ddpm", 8)
    denoiser, other = random_denoiser(depth=3), random_denoiser(depth=3, seed=1)
    condition = torch.randn(rows, COND_DIM, generator=torch.Generator().manual_seed(0))
    noise = sampler.draw_noise(rows, 3, generator=torch.Generator().manual_seed(1))
    options = dict(clamp_x0=True, learned_variance=sampler.learned_variance, noise_scale=sampler.noise_scale)
    prepared = prepare_sampling(sampler, denoiser, condition, sampler.schedule())
    assert not prepared.modulations.is_contiguous()  # a view of the modulation GEMM's output, read in place
    assert len(prepared.packed_hidden_weights) == 6
    layouts = {w.layout for w in prepared.packed_hidden_weights}
    assert layouts == ({torch.strided} if packing == "panels" else {torch._mkldnn})
    reference = sampler.sample(denoiser, condition, 3, clamp_x0=True, noise=noise, path="reference")
    fused = fused_sample(prepared, noise, **options)
    assert relative_error(fused, reference) <= 1e-5
    assert relative_error(fused_sample(prepared._replace(packed_hidden_weights=()), noise, **options), reference) <= 1e-5
    foreign = prepare_sampling(sampler, other, condition, sampler.schedule()).packed_hidden_weights
    assert relative_error(fused_sample(prepared._replace(packed_hidden_weights=foreign), noise, **options), reference) > 0.01
    with pytest.raises(RuntimeError, match="packed_hidden_weights must be empty or hold all 6"):
        fused_sample(prepared._replace(packed_hidden_weights=foreign[:2]), noise, **options)
    if packing == "panels":
        assert same_at_another_thread_count(lambda: fused_sample(prepared, noise, **options))


@needs_fused
@pytest.mark.skipif(not AVX512, reason="the panel kernel is AVX-512 code")
@torch.no_grad()
@pytest.mark.parametrize("rows", [5, 20])
def test_panel_kernel_pads_partial_row_blocks_and_checks_its_panels(rows):
    """Given panels, the op runs them at any row count (the last block of 16 rows zero-padded); panels of
    the wrong shape are refused with what they should be."""
    sampler = make_sampler("ddim", 6)
    denoiser = random_denoiser(width=48, depth=2)
    condition = torch.randn(rows, COND_DIM, generator=torch.Generator().manual_seed(0))
    noise = sampler.draw_noise(rows, 3, generator=torch.Generator().manual_seed(1))
    options = dict(clamp_x0=False, learned_variance=False, noise_scale=1.0)
    prepared = prepare_sampling(sampler, denoiser, condition, sampler.schedule())
    panels = tuple(torch.ops.uva_kit.pack_linear_panels(w) for w in prepared.hidden_weights)
    assert panels[0].shape == (3, 48, 16) and torch.equal(panels[0][1, :, 2], prepared.hidden_weights[0][18])
    reference = sampler.sample(denoiser, condition, 3, noise=noise, path="reference")
    assert relative_error(fused_sample(prepared._replace(packed_hidden_weights=panels), noise, **options), reference) <= 1e-5
    wrong = tuple(p.transpose(1, 2).contiguous() for p in panels)
    with pytest.raises(RuntimeError, match=r"\(width / 16, width, 16\) float32 panels from uva_kit::pack_linear_panels"):
        fused_sample(prepared._replace(packed_hidden_weights=wrong), noise, **options)


@needs_fused
@pytest.mark.skipif(not PACKED, reason="PyTorch was built without oneDNN")
@torch.no_grad()
@pytest.mark.parametrize("rows,width,small_batch_kernel", [(1, 32, True), (2, 48, True), (3, 1024, True),
                                                          (4, 32, False), (1, 40, False)])
def test_fused_op_runs_few_row_hidden_gemms_on_the_small_batch_kernel(rows, width, small_batch_kernel):
    """Up to 3 rows (widths a multiple of 16, on AVX-512) the hidden layers stream the plain weights, ignoring
    the packed ones; threads split the outputs, so the samples do not depend on the thread count."""
    small_batch_kernel = small_batch_kernel and AVX512
    sampler = make_sampler("ddpm", 5)
    denoiser, other = random_denoiser(width=width), random_denoiser(width=width, seed=1)
    condition = torch.randn(rows, COND_DIM, generator=torch.Generator().manual_seed(0))
    noise = sampler.draw_noise(rows, 3, generator=torch.Generator().manual_seed(1))
    options = dict(clamp_x0=False, learned_variance=sampler.learned_variance, noise_scale=sampler.noise_scale)
    prepared = prepare_sampling(sampler, denoiser, condition, sampler.schedule())
    reference = sampler.sample(denoiser, condition, 3, clamp_x0=False, noise=noise, path="reference")
    assert relative_error(fused_sample(prepared, noise, **options), reference) <= 1e-5
    if small_batch_kernel:
        assert same_at_another_thread_count(lambda: fused_sample(prepared, noise, **options))
    foreign = prepare_sampling(sampler, other, condition, sampler.schedule()).packed_hidden_weights
    with_foreign_packed = fused_sample(prepared._replace(packed_hidden_weights=foreign), noise, **options)
    assert (relative_error(with_foreign_packed, reference) <= 1e-5) == small_batch_kernel


BELOW_AVX512 = """
import torch
from test_fast_sampler import COND_DIM, make_sampler, random_denoiser, relative_error
from uva_kit.sampler.fused import fused_sample
from uva_kit.sampler.restructured import prepare_sampling

assert torch.backends.cpu.get_cpu_capability() == "AVX2"
sampler = make_sampler("ddpm", 4)
denoiser, other = random_denoiser(), random_denoiser(seed=1)
options = dict(clamp_x0=False, learned_variance=sampler.learned_variance, noise_scale=sampler.noise_scale)
torch.set_grad_enabled(False)
for rows in (1, 16):
    condition = torch.randn(rows, COND_DIM)
    noise = sampler.draw_noise(rows, 3, generator=torch.Generator().manual_seed(0))
    prepared = prepare_sampling(sampler, denoiser, condition, sampler.schedule())
    assert {w.layout for w in prepared.packed_hidden_weights} == {torch._mkldnn}, rows
    reference = sampler.sample(denoiser, condition, 3, noise=noise, path="reference")
    assert relative_error(fused_sample(prepared, noise, **options), reference) <= 1e-5
    foreign = prepare_sampling(sampler, other, condition, sampler.schedule()).packed_hidden_weights
    assert relative_error(fused_sample(prepared._replace(packed_hidden_weights=foreign), noise, **options), reference) > 0.01
panels = tuple(torch.ops.uva_kit.pack_linear_panels(w) for w in prepared.hidden_weights)
try:
    fused_sample(prepared._replace(packed_hidden_weights=panels), noise, **options)
    raise AssertionError("panels ran below AVX-512")
except RuntimeError as error:
    assert "hidden weights in panels run on AVX-512, and this process runs ATen's AVX2 kernels" in str(error)
print("ok")
"""


@needs_fused
@pytest.mark.skipif(not PACKED, reason="PyTorch was built without oneDNN")
@pytest.mark.skipif(torch.backends.cpu.get_cpu_capability() not in ("AVX2", "AVX512"), reason="not an x86-64 CPU")
def test_hand_written_kernels_step_aside_below_avx512():
    """The small-batch and panel kernels are AVX-512 code: with ATen held to AVX2 (ATEN_CPU_CAPABILITY, as
    on an AVX2-only CPU) 1 and 16 rows run on oneDNN packs, and panels passed anyway are refused."""
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "avx2", "PYTHONPATH": os.pathsep.join(
        [str(Path(__file__).parent), str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-c", BELOW_AVX512], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-3000:]


def test_modulations_without_onednn_match_the_reference_loop(monkeypatch):
    """Where PyTorch has no oneDNN (or off the CPU) the modulations come from one baddbmm instead."""
    monkeypatch.setattr("uva_kit.sampler.restructured.packed_linear_available", lambda device, dtype: False)
    sampler = make_sampler("ddpm", 6)
    denoiser, condition = random_denoiser(), torch.randn(4, COND_DIM, generator=torch.Generator().manual_seed(2))
    noise = sampler.draw_noise(4, 3, generator=torch.Generator().manual_seed(3))
    assert prepare_sampling(sampler, denoiser, condition, sampler.schedule()).packed_hidden_weights == ()
    fast = sampler.sample(denoiser, condition, 3, clamp_x0=True, noise=noise, path="restructured")
    reference = sampler.sample(denoiser, condition, 3, clamp_x0=True, noise=noise, path="reference")
    assert relative_error(fast, reference) <= 1e-5


def test_caches_follow_weight_updates():
    sampler = make_sampler("ddpm", 4)
    denoiser, condition = random_denoiser(), torch.randn(3, COND_DIM)
    noise = sampler.draw_noise(3, 3, generator=torch.Generator().manual_seed(0))
    before = sampler.sample(denoiser, condition, 3, noise=noise, path="restructured")
    with torch.no_grad():
        denoiser.time_embed.mlp[0].weight.mul_(3.0)  # in place, like an optimizer step
        denoiser.res_blocks[0].in_ln.weight.add_(0.5)
    after = sampler.sample(denoiser, condition, 3, noise=noise, path="restructured")
    reference = sampler.sample(denoiser, condition, 3, noise=noise, path="reference")
    assert relative_error(after, before) > 1e-3 and relative_error(after, reference) <= 1e-5


def test_ddim_coefficients_are_the_ddim_update():
    sampler = make_sampler("ddim", 10, eta=0.5)
    tables = sampler.schedule().tables("cpu", torch.float64)
    table = sampler.coefficients(tables)
    x, x0 = torch.randn(10, 1, dtype=torch.float64), torch.randn(10, 1, dtype=torch.float64)
    a, b = tables["sqrt_recip_alphas_cumprod"][:, None], tables["sqrt_recipm1_alphas_cumprod"][:, None]
    alpha_bar, alpha_bar_prev = tables["alphas_cumprod"][:, None], tables["alphas_cumprod_prev"][:, None]
    sigma = 0.5 * ((1 - alpha_bar_prev) / (1 - alpha_bar)).sqrt() * (1 - alpha_bar / alpha_bar_prev).sqrt()
    eps = (a * x - x0) / b
    expected = x0 * alpha_bar_prev.sqrt() + (1 - alpha_bar_prev - sigma**2).clamp(min=0).sqrt() * eps
    torch.testing.assert_close(table[:, 2:3] * x0 + table[:, 3:4] * x, expected)
    torch.testing.assert_close(table[:, 6:7], sigma)


def cuda_fused() -> bool:
    return torch.cuda.is_available() and FUSED and torch._C._dispatch_has_kernel_for_dispatch_key(
        "uva_kit::adaln_sample", "CUDA")


@pytest.mark.gpu
@pytest.mark.skipif(not cuda_fused(), reason="needs a CUDA device and the extension built with CUDA")
@pytest.mark.parametrize("kind,options", SAMPLERS, ids=lambda v: str(v))
@pytest.mark.parametrize("rows,width,depth,steps", [(1, 64, 2, 5), (16, 1024, 6, 16), (7, 96, 3, 100)])
def test_cuda_fused_op_matches_the_reference(kind, options, rows, width, depth, steps):
    sampler = make_sampler(kind, steps, **options)
    denoiser = random_denoiser(width=width, depth=depth).cuda()
    condition = torch.randn(rows, COND_DIM, device="cuda")
    noise = sampler.draw_noise(rows, 3, device="cuda", generator=torch.Generator("cuda").manual_seed(0))
    reference = sampler.sample(denoiser.double(), condition.double(), 3, clamp_x0=True, noise=noise.double(),
                               path="reference").float()  # fp64 oracle
    denoiser.float()
    torch.empty(64 << 20, device="cuda").fill_(float("nan"))  # poison the allocator's cache: unwritten outputs show
    fused = sampler.sample(denoiser, condition, 3, clamp_x0=True, noise=noise, path="fused")
    assert torch.isfinite(fused).all()
    assert relative_error(fused, reference) <= 1e-5
    restructured = sampler.sample(denoiser, condition, 3, clamp_x0=True, noise=noise, path="restructured")
    assert relative_error(fused, restructured) <= 1e-5


@pytest.mark.gpu
@pytest.mark.skipif(not cuda_fused(), reason="needs a CUDA device and the extension built with CUDA")
def test_cuda_fused_sampling_replays_in_a_cuda_graph():
    sampler = make_sampler("ddpm", 16)
    denoiser = random_denoiser(width=256, depth=6).cuda()
    condition = torch.randn(16, COND_DIM, device="cuda")
    noise = sampler.draw_noise(16, 3, device="cuda")
    expected = sampler.sample(denoiser, condition, 3, clamp_x0=True, noise=noise, path="fused")
    from uva_kit.model.cuda_graphs import CapturedCall

    captured = CapturedCall(lambda c, z: sampler.sample(denoiser, c, 3, clamp_x0=True, noise=z, path="fused"))
    torch.testing.assert_close(captured(condition, noise), expected, rtol=1e-6, atol=1e-6)
    other = sampler.draw_noise(16, 3, device="cuda")
    torch.testing.assert_close(captured(condition, other),
                               sampler.sample(denoiser, condition, 3, clamp_x0=True, noise=other, path="fused"))
