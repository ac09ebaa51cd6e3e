"""The agent's controller, shared by every env here and by the experts' forward model.

gym-pusht runs each 10 Hz env step as 10 pymunk substeps of 0.01 s with a PD controller (kp 100, kv 20)
driving the kinematic agent disc toward the action. The same arithmetic is used for the two-block env and for
the experts' simulated rollouts, so a rollout in a twin space reproduces the real env.
"""

from __future__ import annotations

SUBSTEPS = 10
SUBSTEP_SECONDS = 0.01
KP = 100
KV = 20
AGENT_RADIUS = 15
WORKSPACE = 512


def drive_agent(space, agent, target) -> None:
    """Run one env step: PD-drive the agent body toward ``target`` (x, y) for all substeps."""
    target_x, target_y = float(target[0]), float(target[1])
    for _ in range(SUBSTEPS):
        x, y = agent.position
        vx, vy = agent.velocity
        ax = KP * (target_x - x) + KV * (0.0 - vx)
        ay = KP * (target_y - y) + KV * (0.0 - vy)
        agent.velocity = (vx + ax * SUBSTEP_SECONDS, vy + ay * SUBSTEP_SECONDS)
        space.step(SUBSTEP_SECONDS)
