"""Players against walls: a circle moving through a grid of solid square tiles.

Invariants:
- A move never ends with the circle overlapping a solid tile, and never passes through one on
  the way, whatever its length: the circle is swept along x, then along y, and each axis stops
  at its first contact. Nothing is sub-stepped, so there is no tunnelling to tune away.
- Everything outside the grid counts as solid, so a player stays inside the map.
- Resolving one axis at a time is what makes a player slide: the blocked axis stops at the
  wall and the other keeps its full step.
- Overlap is strict: a circle that touches a tile (distance == radius) is free, so a player can
  slide along a wall in contact with it.
- Results sit on the 1/QUANTA grid of gameserver.grid. A blocked axis stops on the last grid
  point before the contact, never past it: the square root only proposes the stop, and an exact
  check (+ - * on grid values, no rounding for maps of sane size) has the last word.
- Pure and deterministic. Only + - * / floor ceil min max sqrt on doubles are used, which
  JavaScript computes bit for bit the same way (Math.sqrt is correctly rounded, as is
  math.sqrt), so a browser twin written line for line predicts exactly what the server decides.
  The start of a move must be free; a start that overlaps a wall can still move away from it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import attr

from gameserver.grid import QUANTA, snap


@attr.s(auto_attribs=True, frozen=True, slots=True)
class WallGrid:
    """Which tiles are solid: `cols` x `rows` square tiles of `tile` world units, row-major."""

    cols: int
    rows: int
    tile: int  # edge of a tile in world units (one Tiled pixel = one unit)
    solid: bytes = attr.ib(repr=False)  # cols * rows bytes, 1 = wall, 0 = floor

    @solid.validator
    def _check(self, attribute: attr.Attribute, value: bytes) -> None:  # type: ignore[type-arg]
        if self.cols < 1 or self.rows < 1 or self.tile < 1:
            raise ValueError(f"a wall grid needs positive sizes, got {self.cols}x{self.rows} of {self.tile}")
        if len(value) != self.cols * self.rows:
            need = self.cols * self.rows
            raise ValueError(f"{self.cols}x{self.rows} tiles need {need} bytes, got {len(value)}")

    @classmethod
    def from_rows(cls, rows: Sequence[str], tile: int) -> WallGrid:
        """A grid drawn as text, one string a row: '#' is a wall, anything else floor."""
        cols = len(rows[0]) if rows else 0
        if any(len(row) != cols for row in rows):
            raise ValueError("every row needs the same length")
        solid = bytes(1 if ch == "#" else 0 for row in rows for ch in row)
        return cls(cols=cols, rows=len(rows), tile=tile, solid=solid)

    @property
    def width(self) -> int:
        return self.cols * self.tile

    @property
    def height(self) -> int:
        return self.rows * self.tile

    def is_solid(self, col: int, row: int) -> bool:
        if col < 0 or row < 0 or col >= self.cols or row >= self.rows:
            return True
        return self.solid[row * self.cols + col] != 0


def overlaps_wall(grid: WallGrid, x: float, y: float, radius: float) -> bool:
    """Whether a circle at (x, y) overlaps a solid tile (or the outside of the map)."""
    t = grid.tile
    rr = radius * radius
    for row in range(math.floor((y - radius) / t), math.floor((y + radius) / t) + 1):
        top = row * t
        gap_y = max(top - y, 0.0, y - (top + t))
        for col in range(math.floor((x - radius) / t), math.floor((x + radius) / t) + 1):
            if grid.is_solid(col, row):
                left = col * t
                gap_x = max(left - x, 0.0, x - (left + t))
                if gap_x * gap_x + gap_y * gap_y < rr:
                    return True
    return False


def _sweep(grid: WallGrid, a: float, b: float, target: float, radius: float, horizontal: bool) -> float:
    """Move the circle along one axis from `a` toward `target` (the other coordinate `b` fixed).

    Returns `target`, or the last grid point before the first solid tile in the way. Only tiles
    wholly ahead of the centre are considered: for a free start they are the only ones the move
    can reach, and a start stuck in a wall is not held there by the wall it is in.
    """
    if target == a:
        return a
    t = grid.tile
    n_along, n_across = (grid.cols, grid.rows) if horizontal else (grid.rows, grid.cols)
    rr = radius * radius
    # Tiles across the path that the circle can touch; beyond -1 and n the outside is solid
    # anyway and the nearest outside line is the one that blocks.
    k_first = max(math.floor((b - radius) / t), -1)
    k_last = min(math.floor((b + radius) / t), n_across)
    forward = target > a
    if forward:  # tiles whose near face (left or top) is at or ahead of the centre
        i_first = max(math.ceil(a / t), -1)
        i_last = min(math.floor((target + radius) / t), n_along)
        indices = range(i_first, i_last + 1)
    else:  # tiles whose near face (right or bottom) is at or behind the centre
        i_first = min(math.floor(a / t) - 1, n_along)
        i_last = max(math.floor((target - radius) / t), -1)
        indices = range(i_first, i_last - 1, -1)
    limit = target
    contacts: list[tuple[float, float]] = []  # (near face, squared distance across)
    for i in indices:
        near = i * t if forward else (i + 1) * t
        for k in range(k_first, k_last + 1):
            if not (grid.is_solid(i, k) if horizontal else grid.is_solid(k, i)):
                continue
            lo = k * t
            gap = max(lo - b, 0.0, b - (lo + t))
            gap2 = gap * gap
            if gap2 >= rr:
                continue
            contacts.append((near, gap2))
            reach = math.sqrt(rr - gap2)
            limit = min(limit, near - reach) if forward else max(limit, near + reach)
    if not contacts:
        return target
    if forward:
        stop = target if limit >= target else max(math.floor(limit * QUANTA) / QUANTA, a)
    else:
        stop = target if limit <= target else min(math.ceil(limit * QUANTA) / QUANTA, a)
    back = -1 / QUANTA if forward else 1 / QUANTA
    while stop != a and _touches(stop, contacts, rr, forward):
        # the square root rounded past the contact: one grid point nearer, never behind the start
        stop = max(stop + back, a) if forward else min(stop + back, a)
    return stop


def _touches(stop: float, contacts: list[tuple[float, float]], rr: float, forward: bool) -> bool:
    for near, gap2 in contacts:
        gap = near - stop if forward else stop - near
        if gap < 0 or gap * gap + gap2 < rr:
            return True
    return False


def move_with_walls(
    grid: WallGrid, x: float, y: float, dx: float, dy: float, radius: float
) -> tuple[float, float]:
    """Move a circle of `radius` from the free point (x, y) by (dx, dy): x first, then y.

    Each axis goes to its snapped target, or stops at the last grid point before a wall.
    """
    x = _sweep(grid, x, y, snap(x + dx), radius, horizontal=True)
    y = _sweep(grid, y, x, snap(y + dy), radius, horizontal=False)
    return x, y


def step_with_walls(
    grid: WallGrid, x: float, y: float, move_x: float, move_y: float, step: float, radius: float
) -> tuple[float, float]:
    """gameserver.world.step_position among walls: one input's movement, `step` = speed * dt.

    The move vector is clamped to length 1 as step_position does; the map's edges bound the
    player (its whole circle stays inside), so no separate clamp to the world size is needed.
    """
    n2 = move_x * move_x + move_y * move_y
    if n2 > 1.0:
        n = math.sqrt(n2)
        move_x /= n
        move_y /= n
    return move_with_walls(grid, x, y, move_x * step, move_y * step, radius)
