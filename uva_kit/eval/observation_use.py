"""Does the policy look at its frames? Its action loss with each window's own history frames against
the same loss with another window's frames (same actions, timesteps and noise).

A policy that uses what it sees has a clearly lower loss with the true frames; equal losses mean the
action head gets the same condition whatever the observation (it has learned only the average action).
"""

from __future__ import annotations

import torch

from uva_kit.errors import InputError
from uva_kit.eval.video_eval import window_indices


@torch.no_grad()
def observation_use(model, dataset, *, samples: int = 64, draws: int = 4, seed: int = 0) -> dict[str, float]:
    """Mean policy-mode action loss on ``samples`` spread windows with their own and with shifted history frames."""
    indices = window_indices(len(dataset), samples)
    if len(indices) < 2:
        raise InputError("observation_use needs at least 2 windows to swap their frames")
    batch = torch.utils.data.default_collate([dataset[i] for i in indices])
    swapped = {**batch, "history_frames": batch["history_frames"].roll(1, dims=0)}
    was_training = model.training
    model.eval()
    try:
        def mean_loss(inputs: dict) -> float:
            losses = [model.compute_loss(inputs, mode="policy", generator=torch.Generator(model.device).manual_seed(seed + k))[0]
                      for k in range(draws)]
            return float(torch.stack(losses).mean())

        return {"action_loss": mean_loss(batch), "action_loss_other_frames": mean_loss(swapped), "windows": len(indices)}
    finally:
        model.train(was_training)
