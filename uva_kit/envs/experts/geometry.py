"""Plane geometry for the pushing expert: block outlines, reachable contacts, collision-free approach paths."""

from __future__ import annotations

import heapq

import numpy as np
import shapely
from shapely.geometry import LineString, Point, Polygon
from shapely.ops import nearest_points, unary_union
from shapely.prepared import prep

from uva_kit.envs.physics import AGENT_RADIUS, WORKSPACE


def rotation(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s], [s, c]])


def to_world(points: np.ndarray, pose) -> np.ndarray:
    """Body-frame points (N, 2) placed at ``pose`` = (x, y, angle) of the body origin."""
    return points @ rotation(pose[2]).T + np.asarray(pose[:2])


def body_outline(body) -> Polygon:
    """The union of a pymunk body's polygon shapes, in the body frame (the T's 8-vertex outline)."""
    outline = unary_union([Polygon([tuple(v) for v in shape.get_vertices()]) for shape in body.shapes])
    return shapely.normalize(outline).simplify(0)


def outline_contacts(outline: Polygon, spacing: float, standoff: float, clearance: float):
    """Points every ~``spacing`` px along the outline edges with their outward normals, body frame.

    Keeps only points the agent disc can touch (its centre one radius out clears the whole outline) and
    whose pre-contact point ``standoff`` px out (counting the radius) is at least ``clearance`` px clear.
    Returns (points (K, 2), normals (K, 2)).
    """
    ring = np.asarray(outline.exterior.coords)
    if not outline.exterior.is_ccw:
        ring = ring[::-1]
    points, normals = [], []
    for a, b in zip(ring[:-1], ring[1:]):
        edge = b - a
        length = float(np.linalg.norm(edge))
        normal = np.array([edge[1], -edge[0]]) / length  # outward for a counter-clockwise ring
        count = max(1, round(length / spacing))
        for k in range(count):
            p = a + edge * (k + 0.5) / count
            touches = outline.distance(Point(p + normal * AGENT_RADIUS)) >= AGENT_RADIUS - 1e-6
            approachable = outline.distance(Point(p + normal * standoff)) >= clearance
            if touches and approachable:
                points.append(p)
                normals.append(normal)
    return np.array(points), np.array(normals)


def in_workspace(point, margin: float = AGENT_RADIUS) -> bool:
    return bool(np.all(point >= margin) and np.all(point <= WORKSPACE - margin))


class ApproachPlanner:
    """Shortest collision-free agent paths around the blocks (Dijkstra over a visibility graph).

    Obstacles are the block polygons grown by ``obstacle_margin``; waypoints are the corners of the polygons
    grown (mitred) by ``waypoint_margin``. A path that would start inside an obstacle first retreats
    straight away from the nearest block to ``retreat_distance``.
    """

    def __init__(self, blocks: list[Polygon], obstacle_margin=17.0, waypoint_margin=27.0, retreat_distance=29.0):
        self.blocks = unary_union(blocks)
        self.obstacle = prep(self.blocks.buffer(obstacle_margin))
        self.retreat_distance = retreat_distance
        grown = self.blocks.buffer(waypoint_margin, join_style="mitre")
        rings = [grown] if isinstance(grown, Polygon) else list(grown.geoms)
        self.waypoints = [
            np.asarray(c) for ring in rings for c in np.asarray(ring.exterior.coords)[:-1] if in_workspace(np.asarray(c))
        ]
        self._visible = {
            (i, j): self.clear(self.waypoints[i], self.waypoints[j])
            for i in range(len(self.waypoints))
            for j in range(i + 1, len(self.waypoints))
        }

    def clear(self, a, b) -> bool:
        return not self.obstacle.intersects(LineString([a, b]))

    def path(self, start, goal) -> list[np.ndarray]:
        """Points from ``start`` (excluded) to ``goal``; a straight line when no clear path exists."""
        start, goal = np.asarray(start, dtype=float), np.asarray(goal, dtype=float)
        prefix = []
        distance = self.blocks.distance(Point(start))
        if distance < self.retreat_distance:
            nearest = np.asarray(nearest_points(self.blocks, Point(start))[0].coords[0])
            away = start - nearest
            norm = np.linalg.norm(away)
            if norm > 1e-9:
                start = nearest + away / norm * self.retreat_distance
                prefix = [start]
        route = self._dijkstra(start, goal)
        return prefix + (route if route is not None else [goal])

    def _dijkstra(self, start, goal):
        nodes = [start, goal, *self.waypoints]
        n = len(nodes)

        def visible(i, j):
            if i >= 2 and j >= 2:
                return self._visible[(min(i, j) - 2, max(i, j) - 2)]
            return self.clear(nodes[i], nodes[j])

        best = {0: 0.0}
        previous = {}
        queue = [(0.0, 0)]
        done = set()
        while queue:
            cost, i = heapq.heappop(queue)
            if i in done:
                continue
            done.add(i)
            if i == 1:
                route = []
                while i != 0:  # walk back to the start, which is not part of the path
                    route.append(nodes[i])
                    i = previous[i]
                return route[::-1]
            for j in range(1, n):
                if j in done or not visible(i, j):
                    continue
                new_cost = cost + float(np.linalg.norm(nodes[i] - nodes[j]))
                if new_cost < best.get(j, np.inf):
                    best[j] = new_cost
                    previous[j] = i
                    heapq.heappush(queue, (new_cost, j))
        return None


def resample(start, points: list[np.ndarray], step: float) -> list[np.ndarray]:
    """Targets every ``step`` px along the polyline start -> points, ending exactly at the last point."""
    targets = []
    current = np.asarray(start, dtype=float)
    for point in points:
        segment = point - current
        length = float(np.linalg.norm(segment))
        count = int(np.ceil(length / step))
        targets += [current + segment * (k / count) for k in range(1, count + 1)]
        current = point
    return targets
