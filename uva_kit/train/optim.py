"""AdamW without weight decay on 1-D parameters and biases, and the warm-up + cosine LR schedule."""

from __future__ import annotations

import math

import torch

from uva_kit.spec.training import TrainingSpec


def parameter_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Decay for matrices and tables; none for 1-D parameters (norms) and biases, as in MAR/UVA."""
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        (no_decay if parameter.ndim <= 1 or name.endswith(".bias") else decay).append(parameter)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def build_optimizer(model: torch.nn.Module, spec: TrainingSpec) -> torch.optim.AdamW:
    return torch.optim.AdamW(parameter_groups(model, spec.weight_decay), lr=spec.lr, betas=tuple(spec.betas))


def lr_multiplier(step: int, spec: TrainingSpec) -> float:
    """The multiplier of step ``step`` (from 0), as diffusers' ``cosine`` schedule the original uses: linear
    warm-up from 0 (the first step trains at lr 0), then cosine decay to 0 at ``spec.steps`` (or constant)."""
    if step < spec.warmup_steps:
        return step / spec.warmup_steps
    if spec.lr_schedule == "constant":
        return 1.0
    progress = (step - spec.warmup_steps) / max(1, spec.steps - spec.warmup_steps)
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress))))


def build_scheduler(optimizer: torch.optim.Optimizer, spec: TrainingSpec) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_multiplier(step, spec))
