"""Training settings. Defaults follow the original UVA recipe (docs/training.md lists them)."""

from __future__ import annotations

from typing import Literal

import attrs

from uva_kit.spec.validators import fraction_below_one, non_negative, positive, probability


@attrs.frozen
class TrainingSpec:
    """Optimizer, schedule, EMA, precision, batching, logging and checkpointing.

    ``batch_size`` is the global batch per optimizer step; it is split into
    ``world_size * grad_accumulation`` micro-batches, each with its own seed, so a run gives the
    same result on one process with accumulation as on several processes (up to float
    summation order). ``precision="auto"`` is bf16 autocast on GPUs that support it and fp32
    elsewhere (the original used fp16 with a grad scaler; ``fp16`` is available on CUDA).
    ``parallelism`` says how ``torchrun`` processes share the model: ``"ddp"`` replicates it on
    every rank, ``"fsdp"`` shards weights, gradients, optimizer state and EMA over the ranks
    (FSDP2; see docs/training.md). It has no effect on one process.
    """

    steps: int = attrs.field(default=100_000, validator=positive)
    batch_size: int = attrs.field(default=32, validator=positive)
    grad_accumulation: int = attrs.field(default=1, validator=positive)
    lr: float = attrs.field(default=1e-4, validator=positive)
    betas: tuple[float, float] = (0.9, 0.95)
    weight_decay: float = attrs.field(default=0.02, validator=non_negative)
    warmup_steps: int = attrs.field(default=1000, validator=non_negative)
    lr_schedule: Literal["cosine", "constant"] = "cosine"
    grad_clip: float | None = attrs.field(default=None, validator=attrs.validators.optional(positive))  # None: off
    ema_power: float = attrs.field(default=0.75, validator=positive)
    ema_max_decay: float = attrs.field(default=0.9999, validator=probability)
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    seed: int = 42
    num_workers: int = attrs.field(default=0, validator=non_negative)
    val_ratio: float = attrs.field(default=0.02, validator=fraction_below_one)  # >= 1 training episode
    val_every: int = attrs.field(default=1000, validator=positive)
    val_batches: int = attrs.field(default=4, validator=positive)
    log_every: int = attrs.field(default=10, validator=positive)
    checkpoint_every: int = attrs.field(default=5000, validator=positive)
    keep_last: int = attrs.field(default=2, validator=positive)
    eval_every: int | None = None
    keep_top_k: int = attrs.field(default=1, validator=positive)
    video_data_ratio: float = attrs.field(default=0.0, validator=probability)
    parallelism: Literal["ddp", "fsdp"] = "ddp"
