"""Scripted experts that generate demonstrations (see :class:`PushExpert`)."""

from uva_kit.envs.experts.expert import PushExpert
from uva_kit.envs.experts.planner import PushSettings

__all__ = ["PushExpert", "PushSettings"]
