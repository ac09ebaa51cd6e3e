"""Plan one push: screen hundreds of candidate pushes in a twin simulator, then check the best with a full approach.

A candidate push touches a block at one of its outline contacts, moves along the inward normal (or rotated
by +-25 degrees) for a given length, then settles for one step. Screening starts the agent at rest on the
candidate's pre-contact point; the full check plans a collision-free approach from the agent's real position
and simulates approach + push. The plan with the lowest final cost wins, or (``diverse``) a random one among
the plans that reach at least 75% of the best improvement.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs
import numpy as np
from shapely.geometry import Polygon

from uva_kit.envs.experts.geometry import (
    ApproachPlanner,
    in_workspace,
    outline_contacts,
    resample,
    rotation,
    to_world,
)
from uva_kit.envs.experts.simulator import SceneState, TwinSimulator
from uva_kit.envs.physics import AGENT_RADIUS, WORKSPACE


@attrs.frozen
class PushSettings:
    """Knobs of the pushing expert (defaults: the measured configuration in docs/datasets-and-environments.md)."""

    contact_spacing: float = 10.0  # px between candidate contacts along an edge
    contact_gap: float = 6.0  # px between the disc and the edge at the pre-contact point
    push_angles_deg: tuple[float, ...] = (-25.0, 0.0, 25.0)
    push_lengths: tuple[float, ...] = (4.0, 10.0, 25.0, 50.0, 90.0)
    push_step: float = 10.0  # px the target advances per env step while pushing
    approach_step: float = 25.0  # px per env step along the approach path
    min_checked: int = 6  # full checks per plan, at least ...
    max_checked: int = 60  # ... and at most, while none improves on the current cost
    diverse_fraction: float = 0.75  # diverse: keep plans with >= this fraction of the best improvement


@attrs.frozen
class Plan:
    actions: list[np.ndarray]
    predicted_cost: float


@attrs.frozen
class _Candidate:
    pre_contact: np.ndarray
    push: list[np.ndarray]


class PushPlanner:
    """Plans pushes of one block at a time among several; ``cost(block_poses) -> float`` scores a scene."""

    def __init__(
        self,
        simulator: TwinSimulator,
        outlines: list[Polygon],
        cost: Callable[[np.ndarray], float],
        settings: PushSettings,
        rng: np.random.Generator,
        diverse: bool = True,
    ):
        self.simulator = simulator
        self.outlines = outlines
        self.cost = cost
        self.settings = settings
        self.rng = rng
        self.diverse = diverse
        standoff = AGENT_RADIUS + settings.contact_gap
        self.contacts = [outline_contacts(o, settings.contact_spacing, standoff, clearance=17.5) for o in outlines]

    def _candidates(self, pose, block: int) -> list[_Candidate]:
        s = self.settings
        points, normals = self.contacts[block]
        world_points = to_world(points, pose)
        world_normals = normals @ rotation(pose[2]).T
        candidates = []
        for point, normal in zip(world_points, world_normals):
            pre_contact = point + normal * (AGENT_RADIUS + s.contact_gap)
            if not in_workspace(pre_contact):
                continue
            for angle in s.push_angles_deg:
                direction = rotation(np.deg2rad(angle)) @ -normal
                for length in s.push_lengths:
                    travel = s.contact_gap + length
                    steps = int(np.ceil(travel / s.push_step))
                    push = [
                        np.clip(pre_contact + direction * min(s.push_step * k, travel), 0, WORKSPACE)
                        for k in range(1, steps + 1)
                    ]
                    candidates.append(_Candidate(pre_contact, push + [push[-1]]))
        return candidates

    def plan(self, state: SceneState, block: int) -> Plan | None:
        """The next push of ``block`` from ``state``, or None when the block offers no reachable contact."""
        candidates = self._candidates(state.block_poses[block], block)
        if not candidates:
            return None
        screened = []
        for candidate in candidates:
            start = attrs.evolve(state, agent_position=candidate.pre_contact)
            poses = self.simulator.rollout(start, candidate.push, at_rest=True)
            screened.append(self.cost(poses))
        order = np.argsort(screened, kind="stable")

        current_cost = self.cost(state.block_poses)
        world_outlines = [_placed(o, pose) for o, pose in zip(self.outlines, state.block_poses)]
        approach = ApproachPlanner(world_outlines)
        plans = []
        for rank, index in enumerate(order[: self.settings.max_checked]):
            candidate = candidates[index]
            path = approach.path(state.agent_position, candidate.pre_contact)
            actions = resample(state.agent_position, path, self.settings.approach_step) + candidate.push
            plans.append(Plan(actions, self.cost(self.simulator.rollout(state, actions))))
            if rank + 1 >= self.settings.min_checked and min(p.predicted_cost for p in plans) < current_cost:
                break
        return self._choose(plans, current_cost)

    def _choose(self, plans: list[Plan], current_cost: float) -> Plan:
        best = min(plans, key=lambda p: p.predicted_cost)
        best_improvement = current_cost - best.predicted_cost
        if not self.diverse or best_improvement <= 0:
            return best
        good = [p for p in plans if current_cost - p.predicted_cost >= self.settings.diverse_fraction * best_improvement]
        return good[self.rng.integers(len(good))]


def _placed(outline: Polygon, pose) -> Polygon:
    return Polygon(to_world(np.asarray(outline.exterior.coords), pose))
