"""Interest management on the arena map: each player's view and its records, without sockets.

    .venv/bin/python -m pytest benchmarks/test_view_bench.py --benchmark-columns=min,median,ops

Each figure is for all players at once: divide by the player count for a per-player cost.
"""

from __future__ import annotations

import random

import attrs
import pytest

from benchmarks.micro import feed_inputs, world_of
from gameserver.config import PROJECT_DIR
from gameserver.maps import load_map
from gameserver.room import Member, Room
from gameserver.world import Rules

SIZES = [500, 1000]


def arena_room(players: int, still: float, seed: int = 1) -> tuple[Room, list[Member], random.Random]:
    """An arena room after 40 ticks of play: each tick, a player stands still with chance
    `still` and otherwise walks in a random direction."""
    game_map = load_map(PROJECT_DIR / "assets" / "maps" / "arena.tmj")
    rules = attrs.evolve(
        Rules(),
        world_width=game_map.width,
        world_height=game_map.height,
        view_width=game_map.view_width,
        view_height=game_map.view_height,
    )
    room = Room(options={"rules": rules}, game_map=game_map, max_players=players + 1, seed=seed)
    members = [room.join(f"p{i}") for i in range(players)]
    rng = random.Random(seed)
    for _ in range(40):
        arena_tick(room, members, rng, still)
    return room, members, rng


def arena_tick(room: Room, members: list[Member], rng: random.Random, still: float) -> None:
    feed_inputs(room, members, rng, still)
    for m in room.tick():
        m.take_outgoing()


@pytest.mark.parametrize("players", SIZES)
@pytest.mark.parametrize("still", [0.0, 0.85])
def test_arena_tick(benchmark, players: int, still: float) -> None:  # type: ignore[no-untyped-def]
    """A whole arena tick: walls, views, per-player records, snapshots taken."""
    room, members, rng = arena_room(players, still)
    benchmark(arena_tick, room, members, rng, still)


@pytest.mark.parametrize("players", SIZES)
def test_view_visible(benchmark, players: int) -> None:  # type: ignore[no-untyped-def]
    """View.visible for every player: the strips' bisections and the edge strips' checks."""
    room, members, _ = arena_room(players, 0.0)
    view, grid, frame = room.view, room.grid, room.replicator.current
    assert view is not None and grid is not None and frame is not None
    cases = [(m.entity_id, m.held_view) for m in members]

    def all_views() -> None:
        for eid, held in cases:
            view.visible(frame, grid, eid, held)

    benchmark(all_views)


@pytest.mark.parametrize("players", SIZES)
@pytest.mark.parametrize("still", [0.0, 0.85])
def test_view_body_for(benchmark, players: int, still: float) -> None:  # type: ignore[no-untyped-def]
    """Replicator.view_body_for for every player holding the previous snapshot: spawns,
    change records picked out of the shared ones, removals."""
    room, members, rng = arena_room(players, still)
    feed_inputs(room, members, rng, still)  # one more step, captured, but no snapshot taken yet
    world = world_of(room)
    world.step({m.entity_id: list(m.inbox) for m in members})
    rep = room.replicator
    rep.capture(world.tick, world.rows)
    view, grid, frame = room.view, room.grid, rep.current
    assert view is not None and grid is not None and frame is not None
    grid.rebuild(frame)
    cases = [(m.held_tick, m.held_view, view.visible(frame, grid, m.entity_id, m.held_view)) for m in members]
    assert all(held_tick == rep._previous for held_tick, _, _ in cases)

    def all_bodies() -> None:
        for held_tick, held, seen in cases:
            rep.view_body_for(held_tick, held, seen)

    benchmark(all_bodies)
