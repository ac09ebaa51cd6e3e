"""The five modes of the original (facts table 2.2), as ``ModeSpec`` defaults.

| mode             | future video | history | actions | losses         |
|------------------|--------------|---------|---------|----------------|
| policy           | absent       | given   | absent  | action         |
| video            | masked       | given   | absent  | video          |
| forward_dynamics | masked       | given   | given   | video          |
| inverse_dynamics | given        | absent  | absent  | action         |
| joint            | masked       | given   | absent  | video + action |
"""

from __future__ import annotations

from typing import Literal

import attrs

from uva_kit.mode.base import ModeSpec


@attrs.frozen
class PolicySpec(ModeSpec):
    future_video: Literal["masked", "absent", "given"] = "absent"
    losses: tuple[str, ...] = ("action",)


@attrs.frozen
class VideoSpec(ModeSpec):
    """Video prediction: the defaults of ``ModeSpec``."""


@attrs.frozen
class ForwardDynamicsSpec(ModeSpec):
    given: tuple[str, ...] = ("action",)


@attrs.frozen
class InverseDynamicsSpec(ModeSpec):
    future_video: Literal["masked", "absent", "given"] = "given"
    history_video: Literal["given", "absent"] = "absent"
    losses: tuple[str, ...] = ("action",)


@attrs.frozen
class JointSpec(ModeSpec):
    losses: tuple[str, ...] = ("video", "action")
