"""What the microbenchmarks (benchmarks/test_*_bench.py, pytest-benchmark) share: a room of N
players, one input each, and one tick of the room as the server runs it."""

from __future__ import annotations

import math
import random

from gameserver.games.arena import Arena
from gameserver.messages import Input
from gameserver.room import Member, Room
from gameserver.world import World


def make_room(players: int, seed: int = 1) -> tuple[Room, list[Member]]:
    room = Room(tick_rate=30, snapshot_rate=30, max_players=players + 1, seed=seed)
    members = [room.join(f"p{i}") for i in range(players)]
    for m in members:
        m.take_outgoing()
    return room, members


def feed_inputs(room: Room, members: list[Member], rng: random.Random, still: float = 0.0) -> None:
    """One input per member, each moving at full speed in a random direction and aiming along
    it (or, with chance `still`, standing still and aiming at angle 0), acking its baseline."""
    for m in members:
        seq = (m.last_received_seq or 0) + 1
        if still and rng.random() < still:
            room.receive(m, Input(seq, 0.0, 0.0, 0.0, 0, m.held_tick))
            continue
        a = rng.uniform(0, 2 * math.pi)
        room.receive(m, Input(seq, math.cos(a), math.sin(a), a, 0, m.held_tick))


def play_tick(room: Room, members: list[Member], rng: random.Random) -> list[bytes]:
    """One tick of the room as the server runs it: inputs in, tick, every snapshot taken."""
    feed_inputs(room, members, rng)
    out: list[bytes] = []
    for m in room.tick():
        out.extend(m.take_outgoing())
    return out


def world_of(room: Room) -> World:
    """The World of a room that plays the arena (every room these benchmarks make)."""
    game = room.game
    assert isinstance(game, Arena), game
    return game.world
