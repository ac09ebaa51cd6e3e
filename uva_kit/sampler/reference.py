"""The original sampling loop, naively: the oracle every faster path is checked against.

It keeps the structure of MAR/UVA's ``p_sample_loop``: each step builds its timestep tensor on the
host, maps it through the respacing table, runs the time MLP once per row and the condition
embedding again, and extracts every schedule coefficient from host (numpy) tables. The math per
step is ``uva_kit.sampler.update.denoise_update``, as in every other path.
"""

from __future__ import annotations

import torch

from uva_kit.diffusion.schedule import DiffusionSchedule
from uva_kit.sampler.update import denoise_update


def reference_sample(
    sampler, denoiser, condition: torch.Tensor, schedule: DiffusionSchedule, noise: torch.Tensor, clamp_x0: bool
) -> torch.Tensor:
    """Rows (N, C) from ``noise`` (S + 1, N, C) given conditions (N, cond_dim); any denoiser with
    ``time_embedding``, ``condition_embedding`` and ``forward_embedded``."""
    device, dtype = condition.device, condition.dtype
    host_columns = sampler.coefficients(schedule.tables("cpu", torch.float64)).numpy().T
    timestep_map = schedule.timestep_map.numpy()
    x = noise[0]
    rows = x.shape[0]
    for k, index in enumerate(reversed(range(schedule.num_steps))):
        t = torch.tensor([index] * rows, device=device)
        model_t = torch.from_numpy(timestep_map).to(device)[t]
        y = denoiser.time_embedding(model_t) + denoiser.condition_embedding(condition)
        eps, variance_logits = denoiser.forward_embedded(x, y).chunk(2, dim=-1)
        coefficients = [torch.from_numpy(column).to(device)[t].to(dtype)[:, None] for column in host_columns]
        nonzero_mask = (t != 0).to(dtype)[:, None]
        x = denoise_update(
            x, eps, variance_logits, coefficients, learned_variance=sampler.learned_variance,
            noise_scale=sampler.noise_scale, clamp_x0=clamp_x0, noise=noise[k + 1] * nonzero_mask,
        )
    return x
