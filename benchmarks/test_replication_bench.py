"""Replication and the room's tick: the server's per-tick work without sockets."""

from __future__ import annotations

import math
import random

import pytest

from benchmarks.micro import feed_inputs, make_room, play_tick, world_of
from gameserver import codec
from gameserver.messages import Input, Snapshot
from gameserver.replication import Mirror, Replicator, delta_body
from gameserver.world import SCHEMA

SIZES = [100, 400, 800]


@pytest.mark.parametrize("players", SIZES)
def test_room_tick(benchmark, players: int) -> None:  # type: ignore[no-untyped-def]
    """A whole tick with everyone moving and everyone seeing everyone, snapshots taken by every
    member (as the sender does): the pure part of the server's cost per tick."""
    room, members = make_room(players)
    rng = random.Random(3)
    play_tick(room, members, rng)
    benchmark(play_tick, room, members, rng)


@pytest.mark.parametrize("players", SIZES)
def test_room_tick_without_inputs(benchmark, players: int) -> None:  # type: ignore[no-untyped-def]
    """Room.tick alone, inputs already queued: step, capture, shared body, per-member headers."""
    room, members = make_room(players)
    rng = random.Random(4)
    play_tick(room, members, rng)

    def setup():  # type: ignore[no-untyped-def]
        feed_inputs(room, members, rng)
        return (), {}

    def tick_and_take() -> None:
        for m in room.tick():
            m.take_outgoing()

    benchmark.pedantic(tick_and_take, setup=setup, rounds=200)


@pytest.mark.parametrize("players", SIZES)
def test_delta_body(benchmark, players: int) -> None:  # type: ignore[no-untyped-def]
    room, members = make_room(players)
    rng = random.Random(6)
    play_tick(room, members, rng)
    base = room.replicator.current
    play_tick(room, members, rng)
    cur = room.replicator.current
    benchmark(delta_body, base, cur, SCHEMA.codecs)


@pytest.mark.parametrize("players", SIZES)
def test_mirror_apply(benchmark, players: int) -> None:  # type: ignore[no-untyped-def]
    room, members = make_room(players)
    rng = random.Random(7)
    full = play_tick(room, members, rng)[-1]
    delta = play_tick(room, members, rng)[-1]
    snap_full, snap_delta = codec.decode_server(full), codec.decode_server(delta)
    assert isinstance(snap_full, Snapshot) and isinstance(snap_delta, Snapshot)

    def setup():  # type: ignore[no-untyped-def]
        m = Mirror(SCHEMA)
        m.apply(snap_full)
        return (m,), {}

    benchmark.pedantic(lambda m: m.apply(snap_delta), setup=setup, rounds=200)


def test_replicator_capture_and_body_for(benchmark) -> None:  # type: ignore[no-untyped-def]
    room, members = make_room(400)
    rng = random.Random(8)
    play_tick(room, members, rng)
    world = world_of(room)
    rep = Replicator(schema=SCHEMA)
    rep.capture(world.tick, world.rows)

    def step() -> None:
        """Everyone holds the previous snapshot: one shared delta body a tick."""
        inputs = {}
        for m in members:
            a = rng.uniform(0, 2 * math.pi)
            inputs[m.entity_id] = [Input(0, math.cos(a), math.sin(a), a, 0, None)]
        world.step(inputs)
        assert rep.current is not None
        base = rep.current.tick
        rep.capture(world.tick, world.rows)
        rep.body_for(base)

    benchmark(step)
