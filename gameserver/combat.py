"""Hitscan shots with lag compensation (pure).

Invariants:
- A shot is checked against the world as its shooter saw it: the positions recorded at the
  server tick the shooter was rendering (Input.render_tick), clamped to at most
  `Rules.max_rewind_ms` in the past (in ticks: Rules.max_rewind_ticks(dt)), so a laggy or
  lying client cannot shoot into the far past.
- The history holds the positions after each of the last `Rules.history_ticks` ticks and no more.
- The nearest target whose circle the ray crosses within range is hit; nothing else is.
  Walls stop the ray (wall_distance).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from typing import Any

import attr

from gameserver.collision import WallGrid

FIRE = 1  # Input.buttons bit: the trigger is held

# Per entity, its position after a tick, first in the tuple: the world records its rows
# (Entity.row(): x and y in quanta, then the rest).
Positions = dict[int, tuple[Any, ...]]


@attr.s(auto_attribs=True, slots=True, eq=False)
class PositionHistory:
    """Where every entity was after each recent tick."""

    length: int
    _frames: deque[tuple[int, Positions]] = attr.ib(init=False, factory=deque)

    def record(self, tick: int, positions: Positions) -> None:
        self._frames.append((tick, positions))
        while len(self._frames) > self.length:
            self._frames.popleft()

    def at(self, tick: int) -> Positions | None:
        """The positions after `tick`, if still kept. The world records every tick, in order."""
        if not self._frames:
            return None
        index = tick - self._frames[0][0]
        if 0 <= index < len(self._frames):
            recorded, positions = self._frames[index]
            if recorded == tick:
                return positions
        return None


@attr.s(auto_attribs=True, slots=True, eq=False)
class PointIndex:
    """The positions of one tick in square cells, so that the points inside a box (a shot's
    ray_box()) are found among those of the few cells it covers, not among every entity's."""

    cell: int
    cells: dict[tuple[int, int], list[tuple[int, int, Any, Any]]]  # (order, id, x, y) per cell

    @classmethod
    def of(cls, positions: Positions, cell: int) -> PointIndex:
        cells: dict[tuple[int, int], list[tuple[int, int, Any, Any]]] = {}
        for order, (eid, pos) in enumerate(positions.items()):
            x, y = pos[0], pos[1]
            key = (x // cell, y // cell)
            bucket = cells.get(key)
            if bucket is None:
                cells[key] = [(order, eid, x, y)]
            else:
                bucket.append((order, eid, x, y))
        return cls(cell, cells)

    def in_box(self, x0: float, y0: float, x1: float, y1: float) -> list[tuple[int, Any, Any]]:
        """(id, x, y) of every point with x0 <= x <= x1 and y0 <= y <= y1, in the order of the
        positions the index was made from (ray_hit() keeps the first of equally near targets)."""
        c, cells = self.cell, self.cells
        found: list[tuple[int, int, Any, Any]] = []
        for cx in range(math.floor(x0 / c), math.floor(x1 / c) + 1):
            for cy in range(math.floor(y0 / c), math.floor(y1 / c) + 1):
                bucket = cells.get((cx, cy))
                if bucket:
                    found.extend(p for p in bucket if x0 <= p[2] <= x1 and y0 <= p[3] <= y1)
        found.sort()  # by order, which is unique
        return [(eid, x, y) for _, eid, x, y in found]


def rewind_tick(now: int, render_tick: int | None, max_rewind: int) -> int:
    """The tick a shot is judged at: what the shooter saw, but never more than max_rewind ago."""
    if render_tick is None or render_tick > now:
        return now
    return max(render_tick, now - max_rewind)


def ray_box(
    sx: float, sy: float, aim: float, reach: float, radius: float
) -> tuple[float, float, float, float]:
    """A box (x0, y0, x1, y1) holding the centre of every circle of `radius` that ray_hit() can
    hit: the segment from (sx, sy) to `reach` along `aim`, grown by 2 * radius (the circle may
    start a radius behind the muzzle or end a radius past the reach, and lie a radius aside)."""
    ex, ey = sx + math.cos(aim) * reach, sy + math.sin(aim) * reach
    pad = 2 * radius
    return min(sx, ex) - pad, min(sy, ey) - pad, max(sx, ex) + pad, max(sy, ey) + pad


def ray_hit(
    sx: float,
    sy: float,
    aim: float,
    reach: float,
    radius: float,
    targets: Iterable[tuple[int, float, float]],
) -> tuple[int, float] | None:
    """The nearest target (id, distance) whose circle the ray from (sx, sy) crosses within reach."""
    dx, dy = math.cos(aim), math.sin(aim)
    r2 = radius * radius
    best: tuple[int, float] | None = None
    for tid, tx, ty in targets:
        ox, oy = tx - sx, ty - sy
        along = ox * dx + oy * dy
        if along < -radius or along > reach + radius:
            continue
        miss2 = ox * ox + oy * oy - along * along
        if miss2 > r2:
            continue
        dist = along - math.sqrt(r2 - miss2)
        if dist < 0.0:
            dist = 0.0  # the muzzle is inside the target
        if dist <= reach and (best is None or dist < best[1]):
            best = (tid, dist)
    return best


def wall_distance(walls: WallGrid, sx: float, sy: float, aim: float, reach: float) -> float:
    """How far the ray from (sx, sy) along `aim` travels before it enters a wall tile, at most
    `reach`. Walks the tiles the ray crosses in order (a grid DDA): at most about
    2 * reach / tile steps, whatever the map."""
    dx, dy = math.cos(aim), math.sin(aim)
    size = walls.tile
    col, row = math.floor(sx / size), math.floor(sy / size)
    if walls.is_solid(col, row):
        return 0.0
    step_c = 1 if dx > 0 else -1
    step_r = 1 if dy > 0 else -1
    next_x = ((col + (1 if dx > 0 else 0)) * size - sx) / dx if dx != 0 else math.inf
    next_y = ((row + (1 if dy > 0 else 0)) * size - sy) / dy if dy != 0 else math.inf
    per_x = size / abs(dx) if dx != 0 else math.inf
    per_y = size / abs(dy) if dy != 0 else math.inf
    while True:
        if next_x < next_y:
            dist = next_x
            col += step_c
            next_x += per_x
        else:
            dist = next_y
            row += step_r
            next_y += per_y
        if dist >= reach:
            return reach
        if walls.is_solid(col, row):
            return dist
