"""The restructured sampling loop (pure PyTorch): everything that does not depend on x leaves the loop.

Before the loop, for an AdaLN-MLP denoiser (``uva_kit.head.denoiser.AdaLNDenoiser``):

* the time-embedding table of the respaced steps, cached per denoiser and step count;
* the condition embedding, once per call;
* every block's and every step's AdaLN modulations in one batched matmul, with the blocks'
  LayerNorm affine folded into the (cached) modulation weights (on the CPU in fp32: one GEMM on
  weights pre-packed for oneDNN, see ``uva_kit.ops.packed_linear``, whose output the loop reads in
  place through a permuted view);
* the schedule coefficients as one (S, 7) table on the device, in loop order.

Inside the loop only the x path runs (input Linear, per block LN * multiplier + shift -> MLP ->
gated residual, final layer, update): no host-to-device copy and no host sync, so it can be
captured in a CUDA graph. ``prepare_sampling``'s result is also what the fused op consumes; on the
CPU it carries the hidden weights pre-packed (for oneDNN, or in panels at 16 and 32 rows), which the
fused op's GEMMs use.
Caches are keyed on the parameters' versions, so training or loading weights invalidates them.
"""

from __future__ import annotations

import weakref
from typing import NamedTuple

import torch
import torch.nn.functional as F

from uva_kit.diffusion.schedule import DiffusionSchedule
from uva_kit.head.denoiser import LN_EPS, AdaLNDenoiser
from uva_kit.ops.packed_linear import (
    hidden_packing,
    pack_panels,
    pack_weight,
    packed_linear,
    packed_linear_available,
)
from uva_kit.sampler.update import denoise_update

_caches: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class PreparedSampling(NamedTuple):
    """Everything the loop reads. ``modulations`` (depth + 1, S, N, 3 * width): see ``folded_modulation_weights``."""

    modulations: torch.Tensor
    coefficients: torch.Tensor  # (S, 7), loop order
    input_weight: torch.Tensor
    input_bias: torch.Tensor
    hidden_weights: tuple[torch.Tensor, ...]  # W1_0, W2_0, W1_1, ...
    hidden_biases: tuple[torch.Tensor, ...]
    output_weight: torch.Tensor
    output_bias: torch.Tensor
    packed_hidden_weights: tuple[torch.Tensor, ...] = ()  # hidden_weights packed (CPU fp32), else empty


def _cached(owner, key: tuple, version, build):
    """``build()`` cached on ``owner`` under ``key`` while ``version`` is unchanged."""
    store = _caches.setdefault(owner, {})
    hit = store.get(key)
    if hit is None or hit[0] != version:
        hit = store[key] = (version, build())
    return hit[1]


def _weights_version(module: torch.nn.Module) -> tuple:
    return tuple((p._version, p.data_ptr()) for p in module.parameters())


def time_table(denoiser: AdaLNDenoiser, schedule: DiffusionSchedule, device, dtype) -> torch.Tensor:
    """(S, width) time embeddings of the respaced steps in loop order (last step first); cached."""
    timesteps = tuple(reversed(schedule.timestep_map.tolist()))

    def build():
        return denoiser.time_embedding(torch.tensor(timesteps, device=device)).to(dtype)

    return _cached(denoiser, ("time", timesteps, str(device), dtype), _weights_version(denoiser.time_embed), build)


def loop_coefficients(sampler, schedule: DiffusionSchedule, device, dtype) -> torch.Tensor:
    """(S, 7) coefficient table in loop order on ``device``; cached per sampler and schedule."""

    def build():
        return sampler.coefficients(schedule.tables("cpu", torch.float64)).flip(0).to(device=device, dtype=dtype)

    return _cached(sampler, ("coefficients", schedule.num_steps, str(device), dtype), None, build)


def _packed_modulation(denoiser: AdaLNDenoiser):
    """The folded modulation weights packed for oneDNN as one Linear (all blocks' 3 * width outputs side by
    side), with its bias; cached."""

    def build():
        weight, bias = denoiser.folded_modulation_weights()
        stacked = weight.transpose(1, 2).reshape(-1, weight.shape[1])  # ((depth + 1) * 3 * width, width)
        return pack_weight(stacked), bias.reshape(-1).contiguous()

    return _cached(denoiser, ("packed", "modulation"), _weights_version(denoiser), build)


def _packed_hidden(denoiser: AdaLNDenoiser, hidden_weights: tuple[torch.Tensor, ...], packing: str):
    """The hidden weights packed for oneDNN or in panels (``uva_kit.ops.packed_linear.hidden_packing``); cached."""
    pack = pack_panels if packing == "panels" else pack_weight
    return _cached(denoiser, ("packed", packing), _weights_version(denoiser),
                   lambda: tuple(pack(w) for w in hidden_weights))


def prepare_sampling(sampler, denoiser: AdaLNDenoiser, condition: torch.Tensor, schedule: DiffusionSchedule) -> PreparedSampling:
    """The hoisted tensors for one call on conditions (N, cond_dim)."""
    device, dtype = condition.device, condition.dtype
    hidden = tuple(layer.weight for block in denoiser.res_blocks for layer in (block.mlp[0], block.mlp[2]))
    times = time_table(denoiser, schedule, device, dtype)
    y = F.silu(times[:, None] + denoiser.condition_embedding(condition)[None])  # (S, N, width)
    steps, rows, width = y.shape
    blocks = len(denoiser.res_blocks) + 1
    packed_hidden: tuple[torch.Tensor, ...] = ()
    if packed_linear_available(device, dtype):
        packed_modulation, packed_bias = _packed_modulation(denoiser)
        packed_hidden = _packed_hidden(denoiser, hidden, hidden_packing(rows, width))
        flat = packed_linear(y.reshape(steps * rows, width), packed_modulation, packed_bias)
        modulations = flat.view(steps, rows, blocks, 3 * width).permute(2, 0, 1, 3)
    else:
        weight, bias = _cached(
            denoiser, ("modulation", str(device), dtype), _weights_version(denoiser),
            lambda: tuple(t.to(device, dtype) for t in denoiser.folded_modulation_weights()),
        )
        modulations = torch.baddbmm(bias, y.reshape(1, steps * rows, width).expand(blocks, -1, -1), weight)
    return PreparedSampling(
        modulations=modulations.view(blocks, steps, rows, 3 * width),
        coefficients=loop_coefficients(sampler, schedule, device, dtype),
        input_weight=denoiser.input_proj.weight, input_bias=denoiser.input_proj.bias,
        hidden_weights=hidden,
        hidden_biases=tuple(layer.bias for block in denoiser.res_blocks for layer in (block.mlp[0], block.mlp[2])),
        output_weight=denoiser.final_layer.linear.weight, output_bias=denoiser.final_layer.linear.bias,
        packed_hidden_weights=packed_hidden,
    )


def restructured_sample(
    prepared: PreparedSampling, noise: torch.Tensor, *, clamp_x0: bool, learned_variance: bool, noise_scale: float
) -> torch.Tensor:
    """Rows (N, C) from ``noise`` (S + 1, N, C): noise[0] is x_T, noise[k + 1] the noise of loop iteration k."""
    p = prepared
    width = p.input_weight.shape[0]
    depth = len(p.hidden_weights) // 2
    steps = p.coefficients.shape[0]
    x = noise[0]
    for k in range(steps):
        h = F.linear(x, p.input_weight, p.input_bias)
        for j in range(depth):
            multiplier, shift, gate = p.modulations[j, k].split(width, dim=-1)
            modulated = torch.addcmul(shift, F.layer_norm(h, (width,), eps=LN_EPS), multiplier)
            inner = F.silu(F.linear(modulated, p.hidden_weights[2 * j], p.hidden_biases[2 * j]))
            h = torch.addcmul(h, gate, F.linear(inner, p.hidden_weights[2 * j + 1], p.hidden_biases[2 * j + 1]))
        multiplier, shift, _ = p.modulations[depth, k].split(width, dim=-1)
        out = F.linear(torch.addcmul(shift, F.layer_norm(h, (width,), eps=LN_EPS), multiplier), p.output_weight, p.output_bias)
        eps, variance_logits = out.chunk(2, dim=-1)
        x = denoise_update(
            x, eps, variance_logits, p.coefficients[k].unbind(0), learned_variance=learned_variance,
            noise_scale=noise_scale, clamp_x0=clamp_x0, noise=noise[k + 1] if k < steps - 1 else None,
        )
    return x
