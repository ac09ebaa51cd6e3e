"""``proprio``: the robot's proprioception at each history frame (PushT: the agent position) as an input stream.

The original UVA has this slot on UMI (a projected state repeated over the positions of its frame);
its PushT model is vision-only. It is a ``ChunkModality`` with one step per history frame: each
frame's (dim,) value is min/max normalized (range from the dataset statistics of ``data_key``, saved
with the model), projected to the backbone width and repeated over that frame's tokens. No head:
proprioception is observed, never predicted. ``uva_kit.Policy`` reads it from ``obs[data_key]`` at
every step.
"""

from __future__ import annotations

import attrs

from uva_kit.modality.base import ModalityContext
from uva_kit.modality.chunk import ChunkModality
from uva_kit.spec import ComponentSpec
from uva_kit.spec.validators import positive


@attrs.frozen
class ProprioSpec(ComponentSpec):
    """``data_key``: the per-frame batch and observation key; ``dim``: its size (2 for PushT's agent_pos).

    Besides ``agent_pos``, ``data_key`` may name any per-step signal of the dataset, stored or computed
    (``pusht_state``: agent position and T pose, see :mod:`uva_kit.data.derived`).
    """

    data_key: str = "agent_pos"
    dim: int = attrs.field(default=2, validator=positive)


def build_proprio_modality(spec: ProprioSpec, *, context: ModalityContext) -> ChunkModality:
    return ChunkModality(spec.type, data_key=spec.data_key, dim=spec.dim, length=context.grid.frames, head_spec=None,
                         context=context)


def proprio_keys(spec) -> tuple[str, ...]:
    """The per-frame dataset keys that the ``proprio`` modalities of model spec ``spec`` read."""
    return tuple(modality.data_key for modality in spec.modalities if isinstance(modality, ProprioSpec))
