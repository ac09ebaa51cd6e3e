"""A mode says, for one training batch or one inference call:

* ``future_video``: the future-frame stream is ``masked`` (the masking strategy hides some
  positions), ``absent`` (the mask vector everywhere) or ``given`` (all real latents);
* ``history_video``: the history-frame stream is ``given`` or ``absent``;
* ``given``: the other stream modalities fed with real data (absent otherwise), e.g. ``["action"]``;
* ``losses``: the modalities whose diffusion head is trained (``video`` on the hidden future tokens).

No build context. A plugin modality joins a mode by name, e.g. a forward-dynamics mode with
``given = ["action", "force"]`` or a policy with ``losses = ["action", "force"]``.
"""

from __future__ import annotations

from typing import Literal

import attrs

from uva_kit.errors import InputError
from uva_kit.spec import ComponentSpec

VIDEO = "video"
HISTORY = "history"


@attrs.frozen
class ModeSpec(ComponentSpec):
    future_video: Literal["masked", "absent", "given"] = "masked"
    history_video: Literal["given", "absent"] = "given"
    given: tuple[str, ...] = ()
    losses: tuple[str, ...] = (VIDEO,)

    def __attrs_post_init__(self):
        if not self.losses:
            raise InputError("a mode needs at least one loss")
        if VIDEO in self.given:
            raise InputError("'video' is set by future_video, not listed in 'given'")
        if VIDEO in self.losses and self.future_video == "given":
            raise InputError("a mode cannot train the video loss while the future frames are given")
        overlap = set(self.given) & set(self.losses)
        if overlap:
            raise InputError(f"{sorted(overlap)} cannot be both given and predicted")


class Mode:
    """The runtime view of a ``ModeSpec``: the state of each stream and the data it needs."""

    def __init__(self, spec: ModeSpec):
        self.spec = spec
        self.name = spec.type

    def stream_state(self, stream: str) -> str:
        """'given', 'absent' or 'masked' for a stream name ('video', 'history', or a modality name)."""
        if stream == VIDEO:
            return self.spec.future_video
        if stream == HISTORY:
            return self.spec.history_video
        return "given" if stream in self.spec.given else "absent"

    @property
    def losses(self) -> tuple[str, ...]:
        return self.spec.losses

    def needs(self, modality: str) -> bool:
        """Whether a batch must carry this modality's data for the mode."""
        return modality in self.spec.given or modality in self.spec.losses

    def __repr__(self) -> str:
        return f"Mode({self.name!r})"
