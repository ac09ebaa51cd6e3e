"""Per-stage latency of the policy call (frame encoding, backbone, action head, full ``predict_actions``),
on the reference path and the fast path, for ``uva-kit bench`` and ``benchmarks/``.

* reference: eager fp32, the naive sampling loop (``sampler.path = "reference"``);
* fast: the fastest sampling path available (fused C++/CUDA op, else restructured); on CUDA every
  stage is also captured as a CUDA graph, with the encoder and backbone under bf16 autocast.

Times are medians over repeats after warm-up (CUDA: timed with CUDA events).
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable

import torch

from uva_kit.errors import InputError

PATHS = ("reference", "fast")


def median_seconds(fn: Callable[[], object], device: torch.device, repeats: int = 7, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            samples.append(start.elapsed_time(end) / 1000)
        else:
            began = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - began)
    return statistics.median(samples)


def _instruction(model) -> str | None:
    """An instruction for a model that reads one: its text encoder's first listed instruction, else a made-up one."""
    if model.prefix_modality is None:
        return None
    listed = getattr(model.prefix_modality.text_encoder, "instructions", ())
    return listed[0] if listed else "put the red block on the plate"


def policy_stages(model, path: str, batch: int = 1, steps: tuple[int, ...] = (16, 100), seed: int = 0) -> dict[str, Callable]:
    """Stage name -> a zero-argument call running that stage of the policy on ``model``'s device."""
    if path not in PATHS:
        raise InputError(f"path must be one of {PATHS}, got {path!r}")
    device = model.device
    size = model.spec.layout.image_size
    graphs = device.type == "cuda" and path == "fast"
    instruction = _instruction(model)
    if graphs and instruction is not None:  # encoded once, outside the graphs, as Policy.compile() does
        instruction = model.instruction_tokens(instruction, batch)
    generator = torch.Generator().manual_seed(seed)
    frames = torch.rand(batch, model.grid.frames, 3, size, size, generator=generator).to(device)
    inputs = {name: torch.rand(batch, model.grid.frames, model.modalities[name].dim, generator=generator).to(device)
              for name in model.policy_observations}  # e.g. proprio, when the policy is given it
    latents = model.encode_frames(frames)
    z = model.policy_latents(history_latents=latents, inputs=inputs, instruction=instruction)
    model.sampler.path = "reference" if path == "reference" else "auto"

    def autocast():
        return torch.autocast("cuda", dtype=torch.bfloat16) if graphs else contextlib.nullcontext()

    def encode(f):
        with autocast():
            return model.encode_frames(f).float()

    def backbone(lat):
        with autocast():
            return model.policy_latents(history_latents=lat, inputs=inputs, instruction=instruction).float()

    def head(count):
        return lambda latent_z, noise: model.sample_actions(latent_z, noise=noise, steps=count)

    def full(count):
        return lambda f, noise: head(count)(backbone(encode(f)), noise)

    def captured(fn):
        if not graphs:
            return fn
        from uva_kit.model.cuda_graphs import CapturedCall

        return CapturedCall(fn)

    # full() calls the uncaptured encode and backbone: its stage is one graph, not graphs replayed inside one
    encode_run, backbone_run = captured(encode), captured(backbone)
    stages = {"frame encoding": lambda: encode_run(frames), "backbone": lambda: backbone_run(latents)}
    for count in steps:
        noise, run = model.action_noise(batch, steps=count), captured(head(count))
        stages[f"action head, {count} steps"] = lambda run=run, noise=noise: run(z, noise)
    for count in steps:
        noise, run = model.action_noise(batch, steps=count), captured(full(count))
        stages[f"predict_actions, {count} steps"] = lambda run=run, noise=noise: run(frames, noise)
    return stages


def stage_table(model, batch: int = 1, steps: tuple[int, ...] = (16, 100), repeats: int = 7) -> dict[str, dict[str, float]]:
    """Stage -> {path: median seconds} for both paths (the sampler's path is restored afterwards)."""
    table: dict[str, dict[str, float]] = {}
    with model.sampler.path_set_to(None):  # policy_stages sets the path; it is restored afterwards
        for path in PATHS:
            for name, fn in policy_stages(model, path, batch, steps).items():
                table.setdefault(name, {})[path] = median_seconds(fn, model.device, repeats)
    return table
