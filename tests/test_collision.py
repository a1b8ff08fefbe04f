"""Players against walls: never inside one, never through one, sliding along them, on the grid."""

from __future__ import annotations

import functools
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from gameserver.collision import WallGrid, move_with_walls, overlaps_wall, step_with_walls
from gameserver.maps import GameMap, load_map
from gameserver.world import QUANTA, snap

ARENA = Path(__file__).resolve().parent.parent / "assets" / "maps" / "arena.tmj"

T = 32
R = 16.0
FULL_SPEED = 150 / 30  # units per tick at 30 Hz
Q = 1 / QUANTA


def on_grid(v: float) -> bool:
    return v * QUANTA == math.floor(v * QUANTA)


def grid_points(a: float, b: float) -> list[float]:
    """Every 1/QUANTA point from a to b inclusive, in order (a and b on the grid)."""
    n = round(abs(b - a) * QUANTA)
    sign = 1 if b >= a else -1
    return [a + sign * i * Q for i in range(n + 1)]


def assert_path_clear(grid: WallGrid, x0: float, y0: float, x1: float, y1: float, r: float) -> None:
    """The move is x first, then y: every grid point on both legs is clear of walls.

    Walls are at least a tile wide and positions 1/8 apart, so a circle cannot skip over one
    between two consecutive points."""
    for x in grid_points(x0, x1):
        assert not overlaps_wall(grid, x, y0, r), (x, y0)
    for y in grid_points(y0, y1):
        assert not overlaps_wall(grid, x1, y, r), (x1, y)


@st.composite
def grids(draw: st.DrawFn) -> WallGrid:
    cols = draw(st.integers(3, 9))
    rows = draw(st.integers(3, 9))
    density = draw(st.sampled_from([0.0, 0.1, 0.25, 0.4]))
    solid = draw(st.lists(st.floats(0, 1), min_size=cols * rows, max_size=cols * rows))
    return WallGrid(cols=cols, rows=rows, tile=T, solid=bytes(1 if v < density else 0 for v in solid))


@st.composite
def free_starts(draw: st.DrawFn) -> tuple[WallGrid, float, float, float]:
    grid = draw(grids())
    r = draw(st.sampled_from([4.0, 8.0, 12.5, 16.0, 16.0, 20.0]))
    x = draw(st.integers(0, grid.width * QUANTA)) / QUANTA
    y = draw(st.integers(0, grid.height * QUANTA)) / QUANTA
    assume(not overlaps_wall(grid, x, y, r))
    return grid, x, y, r


steps = st.floats(-2 * T, 2 * T, allow_nan=False)


# About three drawn starts in four lie in a wall and are thrown away (941 invalid for 300 valid
# in one run), and each start draws up to 81 floats. Twice in full test runs this test failed
# where it never did alone (110 runs, some with both cores busy); hypothesis's health checks on
# generation (too many filtered, too slow) are the likely cause. They judge the strategy's
# speed, not the property, so they are off here.
@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)
@given(free_starts(), steps, steps)
def test_a_move_ends_clear_of_walls_on_the_grid_and_never_crosses_one(
    start: tuple[WallGrid, float, float, float], dx: float, dy: float
) -> None:
    grid, x0, y0, r = start
    x1, y1 = move_with_walls(grid, x0, y0, dx, dy, r)
    assert on_grid(x1) and on_grid(y1)
    assert not overlaps_wall(grid, x1, y1, r)
    assert r <= x1 <= grid.width - r and r <= y1 <= grid.height - r
    assert_path_clear(grid, x0, y0, x1, y1, r)
    # never past the target, and never short of it unless the next grid point is in a wall
    tx, ty = snap(x0 + dx), snap(y0 + dy)
    assert min(x0, tx) <= x1 <= max(x0, tx)
    assert min(y0, ty) <= y1 <= max(y0, ty)
    if x1 != tx:
        assert overlaps_wall(grid, x1 + math.copysign(Q, tx - x1), y0, r)
    if y1 != ty:
        assert overlaps_wall(grid, x1, y1 + math.copysign(Q, ty - y1), r)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 40),
    st.integers(0, 16 * 8 * QUANTA),
    st.floats(0, 2 * math.pi),
    st.floats(1, 400),
)
def test_a_thin_wall_is_never_crossed_at_any_speed(start: int, y8: int, angle: float, speed: float) -> None:
    # a one-tile wall right across the map between x = 160 and 192
    grid = WallGrid.from_rows(["....." + "#" + "....."] * 16, T)
    r = R
    x, y = start / QUANTA + r, y8 / QUANTA
    x = min(x, 160 - r)
    y = min(max(y, r), grid.height - r)
    for _ in range(20):
        x, y = move_with_walls(grid, x, y, speed * math.cos(angle), speed * math.sin(angle), r)
        assert x <= 160 - r
        assert not overlaps_wall(grid, x, y, r)


@functools.cache
def arena() -> GameMap:
    return load_map(ARENA)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_players_running_round_the_arena_stay_out_of_walls(data: st.DataObject) -> None:
    grid = arena().walls
    spawn = data.draw(st.sampled_from(arena().spawns))
    x, y = spawn
    for _ in range(40):
        mx = data.draw(st.floats(-1.5, 1.5))
        my = data.draw(st.floats(-1.5, 1.5))
        speed = data.draw(st.sampled_from([FULL_SPEED, FULL_SPEED, 3 * FULL_SPEED, 2 * T]))
        nx, ny = step_with_walls(grid, x, y, mx, my, speed, R)
        assert not overlaps_wall(grid, nx, ny, R)
        assert_path_clear(grid, x, y, nx, ny, R)
        # at most one step long, give or take half a quantum of snapping on each axis
        assert math.hypot(nx - x, ny - y) <= speed + Q
        x, y = nx, ny


def test_sliding_along_a_wall_keeps_the_parallel_part_of_the_move() -> None:
    grid = WallGrid.from_rows(["...#"] * 6, T)  # a wall from x = 96 to the map's edge
    # touching the wall: the push into it is refused, the move along it is whole
    assert move_with_walls(grid, 80.0, 50.0, 5.0, 3.25, R) == (80.0, 53.25)
    assert move_with_walls(grid, 80.0, 50.0, 5.0, -3.25, R) == (80.0, 46.75)
    # two units away: it closes the gap and keeps sliding
    assert move_with_walls(grid, 78.0, 50.0, 3.5, 4.0, R) == (80.0, 54.0)
    # a floor above: the same along y
    grid = WallGrid.from_rows(["....", "....", "....", "####"], T)
    assert move_with_walls(grid, 40.0, 78.0, -4.5, 5.0, R) == (35.5, 80.0)


def test_a_rounded_corner_stops_on_the_last_free_grid_point() -> None:
    grid = WallGrid.from_rows(["....", "....", "..#.", "...."], T)  # a block at 64..96 x 64..96
    # passing 5 units above the block's top edge: the contact is sqrt(16^2 - 5^2) short of x = 64
    y = 64 - 5.0
    x, _ = move_with_walls(grid, 20.0, y, 40.0, 0.0, R)
    exact = 64 - math.sqrt(R * R - 5.0 * 5.0)
    assert x == math.floor(exact * QUANTA) / QUANTA
    assert not overlaps_wall(grid, x, y, R)
    assert overlaps_wall(grid, x + Q, y, R)
    # level with the face the contact is a grid point itself, and touching is allowed
    assert move_with_walls(grid, 20.0, 80.0, 40.0, 0.0, R) == (48.0, 80.0)
    # 16 units above the top edge the circle only grazes it, and passes
    assert move_with_walls(grid, 20.0, 48.0, 100.0, 0.0, R) == (112.0, 48.0)


def test_the_edges_of_the_map_are_walls() -> None:
    grid = WallGrid.from_rows(["...."] * 4, T)
    assert move_with_walls(grid, 20.0, 20.0, -100.0, -100.0, R) == (R, R)
    assert move_with_walls(grid, 100.0, 100.0, 100.0, 100.0, R) == (128 - R, 128 - R)
    assert overlaps_wall(grid, 15.875, 64.0, R) and not overlaps_wall(grid, 16.0, 64.0, R)


def test_a_player_stuck_in_a_wall_can_walk_out_but_not_further_in() -> None:
    grid = WallGrid.from_rows(["....", ".#..", "....", "...."], T)  # a block at 32..64
    assert overlaps_wall(grid, 40.0, 40.0, R)
    assert move_with_walls(grid, 70.0, 40.0, -5.0, 0.0, R) == (70.0, 40.0)  # 6 units in: held
    x, y = move_with_walls(grid, 70.0, 40.0, 5.0, 0.0, R)
    assert (x, y) == (75.0, 40.0)
    for _ in range(3):
        x, y = move_with_walls(grid, x, y, 5.0, 0.0, R)
    assert not overlaps_wall(grid, x, y, R)


def test_moves_are_deterministic_and_match_recorded_values() -> None:
    # Recorded results: a browser twin of move_with_walls must give these exact numbers.
    grid = WallGrid.from_rows(["......", "......", "..##..", "......", "......", "......"], T)
    cases = [
        ((20.0, 20.0, 5.0, 5.0), (25.0, 25.0)),
        ((40.0, 50.0, 30.0, 0.0), (56.25, 50.0)),  # a corner: 64 - sqrt(60), floored
        ((30.0, 58.0, 40.0, 0.0), (49.125, 58.0)),  # 64 - sqrt(220), floored
        ((100.0, 30.0, -3.3, 40.0), (96.75, 48.0)),
        ((150.0, 150.0, -60.0, -60.0), (90.0, 112.0)),  # x passes below, y stops
        ((176.0, 100.0, 64.0, 0.1), (176.0, 100.125)),  # the map's edge
    ]
    for (x, y, dx, dy), expected in cases:
        assert move_with_walls(grid, x, y, dx, dy, R) == expected
        assert move_with_walls(grid, x, y, dx, dy, R) == move_with_walls(grid, x, y, dx, dy, R)


def test_step_with_walls_clamps_the_move_vector_as_step_position_does() -> None:
    grid = WallGrid.from_rows(["." * 10] * 10, T)
    assert step_with_walls(grid, 100.0, 100.0, 3.0, 4.0, 5.0, R) == (103.0, 104.0)
    assert step_with_walls(grid, 100.0, 100.0, 0.3, 0.4, 5.0, R) == (101.5, 102.0)


def test_a_wall_grid_checks_its_sizes() -> None:
    with pytest.raises(ValueError, match="need 4 bytes"):
        WallGrid(cols=2, rows=2, tile=T, solid=b"\0")
    with pytest.raises(ValueError, match="positive"):
        WallGrid(cols=0, rows=2, tile=T, solid=b"")
    grid = WallGrid.from_rows(["#.", ".#"], T)
    assert [grid.is_solid(c, r) for r in range(-1, 3) for c in (0, 1)] == [
        True, True, True, False, False, True, True, True,
    ]  # fmt: skip
    assert (grid.width, grid.height) == (64, 64)
