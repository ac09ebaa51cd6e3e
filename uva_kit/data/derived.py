"""Per-step signals computed from stored ones, so that a dataset and an environment give the same values.

``pusht_state`` (6,): [agent_x, agent_y, block_x, block_y, cos(block_angle), sin(block_angle)], from
``environment_state`` ([agent_x, agent_y, block_x, block_y, block_angle], as ``PushTEnv.state_vector``
and Diffusion Policy's replay buffers store it). It is PushT's full state with the T's angle as a point on
the circle, so that it has no jump where the angle wraps from 2 pi to 0. ``PushTEnv`` observations carry
it under the same key.
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


DERIVED_SIGNALS = {"pusht_state": ("environment_state", pusht_state)}  # key -> (stored signal it needs, function)


def derive_signal(key: str, extras: dict[str, np.ndarray], source: str) -> np.ndarray:
    """The derived per-step signal ``key`` of a dataset whose stored per-step signals are ``extras``."""
    if key not in DERIVED_SIGNALS:
        raise DataError(f"{source}: no per-step signal '{key}' (stored: {', '.join(extras) or 'none'}; "
                        f"computed: {', '.join(DERIVED_SIGNALS)})")
    needed, compute = DERIVED_SIGNALS[key]
    if needed not in extras:
        raise DataError(f"{source}: '{key}' is computed from '{needed}', which this dataset does not store "
                        f"(it has: {', '.join(extras) or 'none'}); PushT datasets from `uva-kit collect` store it")
    return compute(extras[needed])
