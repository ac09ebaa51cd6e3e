"""Per-step signals computed from stored ones, so that a dataset and an environment give the same values.

``pusht_state`` (6,): agent position and T pose with the angle as (cos, sin), from ``environment_state``
(see :mod:`uva_kit.envs.pusht_state`; ``PushTEnv`` observations carry it under the same key).
"""

from __future__ import annotations

import numpy as np

from uva_kit.envs.pusht_state import pusht_state
from uva_kit.errors import DataError

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
