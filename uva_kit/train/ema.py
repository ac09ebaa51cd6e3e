"""An exponential moving average of the weights with the power-law warm-up of Diffusion Policy's EMAModel."""

from __future__ import annotations

import copy

import torch


class EMA:
    """``decay = 1 - (1 + n)^-power`` clamped to [0, max_decay], n = updates so far - 2: the first two updates
    copy the weights, as in Diffusion Policy's EMAModel (its ``get_decay(step)`` uses n = step - 1, step from 0)."""

    def __init__(self, model: torch.nn.Module, power: float = 0.75, max_decay: float = 0.9999):
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.power = power
        self.max_decay = max_decay
        self.updates = 0

    def decay(self) -> float:
        step = self.updates - 2
        if step <= 0:
            return 0.0
        return min(self.max_decay, max(0.0, 1.0 - (1.0 + step) ** -self.power))

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        self.updates += 1
        decay = self.decay()
        for average, current in zip(self.model.parameters(), model.parameters()):
            if current.requires_grad:
                average.mul_(decay).add_(current.detach(), alpha=1.0 - decay)
            else:
                average.copy_(current)
        for average, current in zip(self.model.buffers(), model.buffers()):
            average.copy_(current)
