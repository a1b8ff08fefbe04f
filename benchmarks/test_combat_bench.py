"""Shots on the arena map: a world step in which some players fire, judged at a rewound tick.

.venv/bin/python -m pytest benchmarks/test_combat_bench.py --benchmark-columns=min,median,ops
"""

from __future__ import annotations

import math
import random

import attrs
import pytest

from gameserver.combat import FIRE
from gameserver.config import PROJECT_DIR
from gameserver.maps import load_map
from gameserver.messages import Input
from gameserver.world import Rules, World

REWIND = 3  # ticks: what a client 100 ms behind at 30 Hz asks for


def arena_world(players: int, seed: int = 1) -> tuple[World, random.Random]:
    game_map = load_map(PROJECT_DIR / "assets" / "maps" / "arena.tmj")
    rules = attrs.evolve(Rules(), world_width=game_map.width, world_height=game_map.height)
    world = World(rules, 1 / 30, game_map=game_map, seed=seed)
    for i in range(players):
        world.spawn_player(f"p{i}")
    rng = random.Random(seed)
    for _ in range(10):  # spread out, and a history to rewind into
        step(world, rng, 0)
    return world, rng


def step(world: World, rng: random.Random, shooters: int) -> None:
    """Everyone walks in a random direction; the first `shooters` also fire, aiming anywhere."""
    inputs = {}
    for k, eid in enumerate(world.entities):
        a = rng.uniform(0, 2 * math.pi)
        fire = FIRE if k < shooters else 0
        inputs[eid] = [Input(world.tick + 1, math.cos(a), math.sin(a), a, fire, None, world.tick - REWIND)]
        world.entities[eid].next_fire_tick = 0  # every shooter may fire every tick
    world.step(inputs)


@pytest.mark.parametrize("players", [500, 1000])
@pytest.mark.parametrize("shooters", [10, 40])
def test_step_with_shots(benchmark, players: int, shooters: int) -> None:  # type: ignore[no-untyped-def]
    """One step with `shooters` shots judged at the tick REWIND back (as fighting bots send)."""
    world, rng = arena_world(players)
    benchmark(step, world, rng, shooters)
