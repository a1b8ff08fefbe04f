"""The simulation: authoritative movement, bounds, determinism."""

from __future__ import annotations

import math
import random
from pathlib import Path

from hypothesis import assume, given
from hypothesis import strategies as st

from gameserver.messages import Input
from gameserver.world import QUANTA, SCHEMA, Entity, Rules, World, quantize_angle, snap, step_position

DT = 1 / 30


def _input(seq: int, mx: float, my: float, aim: float = 0.0) -> Input:
    return Input(seq=seq, move_x=mx, move_y=my, aim=aim, buttons=0, ack_tick=None)


def test_one_input_moves_one_tick_at_full_speed() -> None:
    w = World(Rules(), DT)
    e = w.spawn_player("a")
    x0 = e.x
    w.step({e.id: [_input(1, 1.0, 0.0)]})
    assert e.x == snap(x0 + 150 * DT)


@given(st.floats(-1, 1), st.floats(-1, 1), st.integers(1, 3))
def test_speed_is_clamped_whatever_the_input(mx: float, my: float, n: int) -> None:
    w = World(Rules(), DT)
    e = w.spawn_player("a")
    e.x, e.y = 1000.0, 1000.0
    w.step({e.id: [_input(i, mx, my) for i in range(n)]})
    moved = math.hypot(e.x - 1000.0, e.y - 1000.0)
    # each input is at most one tick of full speed; snapping adds at most half a quantum per axis
    assert moved <= n * (150 * DT + 1 / QUANTA)


@given(st.floats(-1, 1), st.floats(-1, 1), st.integers(0, 400))
def test_position_stays_in_bounds_and_on_grid(mx: float, my: float, steps: int) -> None:
    r = Rules()
    x, y = 3.0, r.world_height - 2.0
    for _ in range(min(steps, 60)):
        x, y = step_position(x, y, mx, my, r.speed * DT, r.world_width, r.world_height)
        assert 0 <= x <= r.world_width and 0 <= y <= r.world_height
        assert x * QUANTA == int(x * QUANTA) and y * QUANTA == int(y * QUANTA)


@given(
    st.floats(0, 2000),
    st.floats(0, 2000),
    st.lists(st.tuples(st.floats(-1, 1), st.floats(-1, 1), st.floats(-7, 7)), min_size=1, max_size=3),
)
def test_the_step_moves_and_turns_as_step_position_and_quantize_angle_say(
    x: float, y: float, moves: list[tuple[float, float, float]]
) -> None:
    """World.step writes both out for speed; the browser's prediction twins these two."""
    r = Rules()
    w = World(r, DT)
    e = w.spawn_player("a")
    e.x, e.y = snap(x), snap(y)
    want_x, want_y = e.x, e.y
    for mx, my, _ in moves:
        want_x, want_y = step_position(want_x, want_y, mx, my, r.speed * DT, r.world_width, r.world_height)
    w.step({e.id: [Input(i, mx, my, aim, 0, None) for i, (mx, my, aim) in enumerate(moves)]})
    assert (e.x, e.y) == (want_x, want_y)
    assert e.angle == quantize_angle(moves[-1][2])


def test_angle_quantization() -> None:
    assert quantize_angle(0.0) == 0
    assert quantize_angle(math.pi / 2) == 64
    assert quantize_angle(-math.pi / 2) == 192
    assert quantize_angle(math.pi) == 128
    assert quantize_angle(-math.pi) == 128


def _run(seed: int, script_seed: int) -> list[str]:
    w = World(Rules(), DT, seed=seed)
    rng = random.Random(script_seed)
    ids = [w.spawn_player(f"p{i}").id for i in range(5)]
    hashes = []
    for t in range(120):
        if t == 60:
            w.remove(ids.pop(0))
            ids.append(w.spawn_player("late").id)
        w.step({eid: [_input(t, rng.uniform(-1, 1), rng.uniform(-1, 1), rng.uniform(-3, 3))] for eid in ids})
        hashes.append(w.state_hash())
    return hashes


def test_same_inputs_same_state_hash_every_tick() -> None:
    assert _run(7, 1) == _run(7, 1)
    assert _run(7, 1) != _run(8, 1)
    assert _run(7, 1) != _run(7, 2)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["step", "step", "step", "join", "leave", "teleport"]),
            st.integers(0, 7),  # which player
            st.floats(-1, 1),
            st.floats(-1, 1),
            st.booleans(),  # fire
        ),
        max_size=60,
    )
)
def test_the_rows_built_by_step_are_each_entity_row(ops: list[tuple[str, int, float, float, bool]]) -> None:
    # Players close together, so that shots hit, kill and respawn them.
    w = World(
        Rules(world_width=300.0, world_height=300.0, respawn_ticks=3, damage=50, fire_interval_ticks=1), DT
    )
    players = [w.spawn_player(f"p{i}") for i in range(4)]
    seq = 0
    for op, who, mx, my, fire in ops:
        live = [p for p in players if p.id in w.entities]
        if op == "join":
            players.append(w.spawn_player("late"))
        elif op == "leave" and live:
            w.remove(live[who % len(live)].id)
        elif op == "teleport" and live:
            live[who % len(live)].x = snap(mx * 100 + 150)
        elif op == "step":
            seq += 1
            aim = math.atan2(my, mx)
            inputs = {
                p.id: [Input(seq, mx, my, aim, 1 if fire else 0, None)]
                for i, p in enumerate(live)
                if i != who % 5
            }
            before = dict(w.rows)
            w.step(inputs)
            assert w.rows == {eid: e.row() for eid, e in w.entities.items()}
            for eid, row in w.rows.items():  # an unchanged row is the same tuple (deltas skip it)
                if before.get(eid) == row:
                    assert before[eid] is row


@given(st.floats(-50, 2050), st.floats(-50, 2050), st.floats(-1, 1), st.floats(-1, 1))
def test_step_position_is_snap_then_clamp(x: float, y: float, mx: float, my: float) -> None:
    assume(mx * mx + my * my <= 1.0)  # longer moves are scaled first, the same way either way
    step = 150 * DT
    want = (min(max(snap(x + mx * step), 0.0), 2000.0), min(max(snap(y + my * step), 0.0), 2000.0))
    assert step_position(x, y, mx, my, step, 2000.0, 2000.0) == want


def test_in_a_small_match_a_new_player_does_not_spawn_on_a_living_one() -> None:
    from gameserver.maps import load_map
    from gameserver.world import SPAWN_CHECK_PLAYERS

    yard = load_map(Path(__file__).resolve().parent.parent / "assets" / "maps" / "yard.tmj")
    rules = Rules(world_width=yard.width, world_height=yard.height)
    assert len(yard.spawns) >= 8
    for seed in range(20):
        w = World(rules, 1 / 30, seed=seed, game_map=yard)
        players = [w.spawn_player(f"p{i}") for i in range(min(8, SPAWN_CHECK_PLAYERS))]
        spots = [(p.x, p.y) for p in players]
        assert len(set(spots)) == len(spots), (seed, spots)


def test_the_arena_schema_lays_out_the_rows_and_records_the_wire_always_had() -> None:
    e = Entity(id=3, kind=1, name="ann", x=10.0, y=20.5, angle=9, hp=75)
    row = e.row()
    assert row == (80, 164, 1, "ann", 9, 75) and SCHEMA.check_row(row) is None
    assert SCHEMA.codecs.spawn_record(3, row) == [3, 1, "ann", 80, 164, 9, 75]
    moved = (88, 160, 1, "ann", 10, 50)
    assert SCHEMA.codecs.change_items(3, row, moved) == [3, 1 | 2 | 4 | 8, 8, -4, 10, 50]
    assert [SCHEMA.kinds[0].bit(f) for f in ("x", "y", "angle", "hp")] == [1, 2, 4, 8]
