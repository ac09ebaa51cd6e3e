"""``action``: the action chunk (layout.action_chunk x layout.action_dim, key "actions") and the action head."""

from __future__ import annotations

import attrs

from uva_kit.modality.base import ModalityContext
from uva_kit.modality.chunk import ChunkModality
from uva_kit.spec import ComponentSpec, slot


@attrs.frozen
class ActionModalitySpec(ComponentSpec):
    """``head`` decodes actions; ``predict = false`` builds no head (actions only as an input: video stage 1)."""

    head: ComponentSpec = slot("head", "chunk")
    predict: bool = True


def build_action_modality(spec: ActionModalitySpec, *, context: ModalityContext) -> ChunkModality:
    layout = context.layout
    return ChunkModality(
        spec.type, data_key="actions", dim=layout.action_dim, length=layout.action_chunk,
        head_spec=spec.head if spec.predict else None, context=context,
    )
