"""The token grid the backbone works on: frames x (height x width) latent positions."""

from __future__ import annotations

import attrs


@attrs.frozen
class TokenGrid:
    """``frames`` future frames (aligned with as many history frames), each ``height x width`` tokens of ``channels``."""

    frames: int
    height: int
    width: int
    channels: int

    @property
    def tokens_per_frame(self) -> int:
        return self.height * self.width

    @property
    def length(self) -> int:
        """Positions in the fused sequence (frames x tokens per frame): 4 x 256 = 1024 at paper scale."""
        return self.frames * self.tokens_per_frame
