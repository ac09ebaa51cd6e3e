"""``pusht_state`` (6,): [agent_x, agent_y, block_x, block_y, cos(block_angle), sin(block_angle)].

It is PushT's full state (``PushTEnv.state_vector``, as Diffusion Policy's replay buffers and our datasets'
``environment_state`` store it: [agent_x, agent_y, block_x, block_y, block_angle]) with the T's angle as a
point on the circle, so that it has no jump where the angle wraps from 2 pi to 0. ``PushTEnv`` observations
carry it; datasets compute it from ``environment_state`` (:mod:`uva_kit.data.derived`). Kept apart from
both so that importing either stays light.
"""

from __future__ import annotations

import numpy as np

from uva_kit.errors import DataError


def pusht_state(environment_state: np.ndarray) -> np.ndarray:
    """(..., 5) PushT states -> (..., 6) float32 with the angle as (cos, sin)."""
    state = np.asarray(environment_state, dtype=np.float64)
    if state.shape[-1] != 5:
        raise DataError(f"a PushT environment_state has 5 values per step, got shape {state.shape}")
    angle = state[..., 4:]
    return np.concatenate([state[..., :4], np.cos(angle), np.sin(angle)], axis=-1).astype(np.float32)
