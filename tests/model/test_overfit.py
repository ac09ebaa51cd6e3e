"""Every mode's loss falls when the tiny model overfits one batch (same t and noise before and after)."""

from __future__ import annotations

import pytest
import torch

MODES = ["policy", "video", "forward_dynamics", "inverse_dynamics", "joint"]


@pytest.mark.parametrize("mode", MODES)
def test_loss_falls_when_overfitting_one_batch(tiny_model, tiny_batch, mode):
    torch.manual_seed(0)

    def evaluation_loss() -> float:
        return tiny_model.compute_loss(tiny_batch, mode=mode, generator=torch.Generator().manual_seed(123))[1]["loss"]

    before = evaluation_loss()
    optimizer = torch.optim.AdamW(tiny_model.parameters(), lr=3e-3)
    for _ in range(50):
        loss, _ = tiny_model.compute_loss(tiny_batch, mode=mode)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = evaluation_loss()
    assert after < 0.75 * before, f"{mode}: loss {before:.3f} -> {after:.3f}"
