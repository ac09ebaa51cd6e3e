"""Measure the impulse the agent disc applies to the blocks (the signal a force plugin learns from)."""

from __future__ import annotations

import numpy as np


class ContactImpulseMeter:
    """Sums, over the physics substeps of one env step, the impulse the agent applies to any block.

    Call :meth:`record` from a pymunk ``post_solve`` collision callback and :meth:`take` once per env step.
    The result is a world-frame 2-vector in pymunk impulse units (mass x px / s); zero without contact.
    """

    def __init__(self, agent_body, block_bodies):
        self.agent_body = agent_body
        self.block_bodies = tuple(block_bodies)
        self._total = np.zeros(2)

    def record(self, arbiter) -> None:
        first, second = (shape.body for shape in arbiter.shapes)
        # pymunk reports the impulse applied to the first shape of the pair.
        if first is self.agent_body and second in self.block_bodies:
            self._total -= np.asarray(arbiter.total_impulse)
        elif second is self.agent_body and first in self.block_bodies:
            self._total += np.asarray(arbiter.total_impulse)

    def take(self) -> np.ndarray:
        """The impulse summed since the last call, as float32; resets the sum."""
        total, self._total = self._total.astype(np.float32), np.zeros(2)
        return total
