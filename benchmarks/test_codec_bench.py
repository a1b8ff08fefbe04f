"""The wire format: what one input and one snapshot cost to encode and decode."""

from __future__ import annotations

import random

import pytest

from benchmarks.micro import make_room, play_tick
from gameserver import codec
from gameserver.messages import Input

INPUT = Input(123456, 0.70710678, -0.70710678, 5.4977871, 0, 123450)


def test_decode_input(benchmark) -> None:  # type: ignore[no-untyped-def]
    data = codec.encode_client(INPUT)
    assert benchmark(codec.decode_client, data) == INPUT


def test_encode_input(benchmark) -> None:  # type: ignore[no-untyped-def]
    benchmark(codec.encode_client, INPUT)


@pytest.mark.parametrize("players", [100, 400, 800])
def test_decode_delta_snapshot(benchmark, players: int) -> None:  # type: ignore[no-untyped-def]
    """What a verifying client pays per snapshot: every entity moved since the baseline."""
    room, members = make_room(players)
    rng = random.Random(2)
    play_tick(room, members, rng)
    data = play_tick(room, members, rng)[-1]
    snap = benchmark(codec.decode_server, data)
    assert snap.baseline is not None and len(snap.changes) == players
