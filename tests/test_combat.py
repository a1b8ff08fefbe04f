"""Shots, hits, death and respawn, and lag compensation."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gameserver import codec
from gameserver.combat import FIRE, PointIndex, PositionHistory, ray_box, ray_hit, rewind_tick
from gameserver.messages import Input
from gameserver.world import Entity, Rules, World

DT = 1 / 30


def _cmd(
    seq: int,
    mx: float = 0.0,
    my: float = 0.0,
    aim: float = 0.0,
    fire: bool = False,
    render: int | None = None,
) -> Input:
    return Input(seq, mx, my, aim, FIRE if fire else 0, None, render)


def _duel(rules: Rules | None = None) -> tuple[World, Entity, Entity]:
    w = World(rules or Rules(), DT)
    shooter, target = w.spawn_player("shooter"), w.spawn_player("target")
    shooter.x, shooter.y = 500.0, 500.0
    target.x, target.y = 800.0, 500.0  # 300 units to the right
    return w, shooter, target


def test_ray_hits_the_nearest_circle_within_range() -> None:
    targets = [(1, 100.0, 0.0), (2, 50.0, 5.0), (3, 30.0, 40.0)]
    assert ray_hit(0, 0, 0.0, 1000, 16, targets) == (2, 50.0 - math.sqrt(16**2 - 5**2))
    assert ray_hit(0, 0, math.pi, 1000, 16, targets) is None
    assert ray_hit(0, 0, 0.0, 20, 16, targets) is None  # out of reach


def test_a_shot_damages_then_kills_and_scores_and_the_dead_respawn() -> None:
    rules = Rules()
    w, shooter, target = _duel(rules)
    seq = 0
    while target.alive:
        seq += 1
        w.step({shooter.id: [_cmd(seq, fire=True)]})
        assert seq < 100
    assert shooter.shots == rules.max_hp // rules.damage and shooter.score == 1 and target.deaths == 1
    dead_at = w.tick
    where = (target.x, target.y)
    for i in range(rules.respawn_ticks - 1):
        w.step({target.id: [_cmd(1000 + i, mx=1.0)]})
        assert not target.alive and (target.x, target.y) == where  # the dead do not move
    w.step({})
    assert w.tick == dead_at + rules.respawn_ticks and target.hp == rules.max_hp


def test_fire_rate_is_enforced_whatever_the_client_sends() -> None:
    rules = Rules()
    w, shooter, target = _duel(rules)
    for seq in range(1, 31):
        w.step({shooter.id: [_cmd(seq, aim=math.pi, fire=True)]})  # aiming away: misses
    assert shooter.shots == 30 // rules.fire_interval_ticks


def test_lag_compensation_hits_where_the_target_was_when_seen() -> None:
    """The shooter saw the target at tick T; the target has moved since; the shot still hits."""
    w, shooter, target = _duel()
    for _ in range(5):
        w.step({})
    seen_at = w.tick  # the shooter renders this tick: target at (800, 500)
    for seq in range(1, 5):  # the target walks 20 units down, out of the line of fire
        w.step({target.id: [_cmd(seq, my=1.0)]})
    assert target.y == 520.0
    w.step({shooter.id: [_cmd(1, aim=0.0, fire=True, render=seen_at)]})
    assert target.hp < 100, "the rewound shot must hit"
    assert w.shots_fired == [(shooter.id, target.id)]


def test_without_rewind_the_same_shot_misses() -> None:
    w, shooter, target = _duel()
    for seq in range(1, 5):
        w.step({target.id: [_cmd(seq, my=1.0)]})
    w.step({shooter.id: [_cmd(1, aim=0.0, fire=True, render=w.tick + 1)]})  # "now"
    assert target.hp == 100 and w.shots_fired == [(shooter.id, None)]


def test_a_rewind_beyond_the_limit_does_not_hit() -> None:
    rules = Rules()
    w, shooter, target = _duel(rules)
    w.step({})
    seen_at = w.tick
    for seq in range(1, rules.max_rewind_ticks(DT) + 4):  # the target left long ago
        w.step({target.id: [_cmd(seq, my=1.0)]})
    w.step({shooter.id: [_cmd(1, aim=0.0, fire=True, render=seen_at)]})
    assert target.hp == 100, "a shot may not be judged further back than max_rewind_ms"
    assert rewind_tick(100, 10, 6) == 94 and rewind_tick(100, 97, 6) == 97 and rewind_tick(100, 200, 6) == 100


@pytest.mark.parametrize(("tick_rate", "ticks"), [(30, 6), (60, 12), (20, 4)])
def test_the_rewind_bound_is_the_same_time_at_every_tick_rate(tick_rate: int, ticks: int) -> None:
    """max_rewind_ms (200) in ticks of this rate: a shot judged exactly that far back hits, one
    tick further is judged at the bound, where the target no longer is."""
    rules = Rules()
    dt = 1 / tick_rate
    assert rules.max_rewind_ms == 200.0 and rules.max_rewind_ticks(dt) == ticks
    assert rules.to_wire(dt)["max_rewind_ticks"] == ticks and rules.to_wire(dt)["max_rewind_ms"] == 200.0

    def shot_seen(back: int) -> bool:
        w = World(rules, dt)
        shooter, target = w.spawn_player("shooter"), w.spawn_player("target")
        shooter.x, shooter.y = 500.0, 500.0
        target.x, target.y = 800.0, 500.0  # in the line of fire...
        w.step({})
        seen_at = w.tick
        target.y = 900.0  # ...and gone at once, after the tick the shooter saw
        for _ in range(back - 1):
            w.step({})
        w.step({shooter.id: [_cmd(1, aim=0.0, fire=True, render=seen_at)]})  # now - seen_at == back
        return target.hp < 100

    assert shot_seen(ticks), f"{ticks} ticks ({1000 * ticks * dt:.0f} ms) back is within the bound"
    assert not shot_seen(ticks + 1), f"{ticks + 1} ticks back is beyond it"


def test_shots_judged_now_in_a_crowd_hit_what_a_scan_of_everyone_would() -> None:
    """Without render_tick a shot is judged at the current tick, from the same cells as a
    rewound one: the hits are those of ray_hit() over every living entity, shot by shot."""
    rng = random.Random(7)
    rules = Rules()
    w = World(rules, DT, seed=7)
    players = [w.spawn_player(f"p{i}") for i in range(300)]
    for e in players:  # a crowd: about 10 players within a shot's range of each
        e.x, e.y = rng.randrange(400, 1600 * 8) / 8, rng.randrange(400, 1600 * 8) / 8
    w.step({})
    shooters = players[::6]
    aims = {e.id: rng.uniform(-math.pi, math.pi) for e in shooters}
    hp = {e.id: e.hp for e in players}
    expected = []
    for e in shooters:  # entity order, as the step fires them
        targets = [(t.id, t.x, t.y) for t in players if t is not e and hp[t.id] > 0]
        hit = ray_hit(e.x, e.y, aims[e.id], rules.weapon_range, rules.player_radius, targets)
        expected.append((e.id, None if hit is None else hit[0]))
        if hit is not None:
            hp[hit[0]] = max(0, hp[hit[0]] - rules.damage)
    w.step({e.id: [_cmd(1, aim=aims[e.id], fire=True)] for e in shooters})
    assert w.shots_fired == expected
    assert sum(hit is not None for _, hit in expected) >= 10  # the crowd is dense enough to tell
    assert all(e.hp == hp[e.id] for e in players)


def test_history_keeps_a_bounded_window() -> None:
    h = PositionHistory(3)
    for t in range(1, 6):
        h.record(t, {1: (float(t), 0.0)})
    assert h.at(2) is None and h.at(3) == {1: (3.0, 0.0)} and h.at(5) == {1: (5.0, 0.0)}


def test_render_tick_travels_in_the_input() -> None:
    msg = Input(9, 0.0, 0.0, 1.0, FIRE, 40, 37)
    assert codec.decode_client(codec.encode_client(msg)) == msg
    old = Input(9, 0.0, 0.0, 1.0, 0, 40)
    assert len(codec.encode_client(old)) < len(codec.encode_client(msg))
    again = codec.decode_client(codec.encode_client(old))
    assert isinstance(again, Input) and again.render_tick is None


@given(
    st.lists(st.tuples(st.floats(-500, 500), st.floats(-500, 500)), max_size=40),
    st.floats(-math.pi, math.pi),
    st.floats(0, 600),
    st.floats(1, 40),
)
@settings(max_examples=500, deadline=None)
def test_targets_outside_the_ray_box_can_never_be_hit(
    points: list[tuple[float, float]], aim: float, reach: float, radius: float
) -> None:
    """World._shoot tests only the targets in ray_box(); that must never change the result."""
    targets = [(i, x, y) for i, (x, y) in enumerate(points)]
    x0, y0, x1, y1 = ray_box(0.0, 0.0, aim, reach, radius)
    boxed = [(i, x, y) for i, x, y in targets if x0 <= x <= x1 and y0 <= y <= y1]
    assert ray_hit(0.0, 0.0, aim, reach, radius, boxed) == ray_hit(0.0, 0.0, aim, reach, radius, targets)


@given(
    st.lists(st.tuples(st.integers(-3000, 3000), st.integers(-3000, 3000)), max_size=60),
    st.tuples(st.floats(-3500, 3500), st.floats(-3500, 3500), st.floats(0, 2500), st.floats(0, 2500)),
    st.integers(1, 4000),
)
@settings(max_examples=500, deadline=None)
def test_a_point_index_finds_what_a_scan_of_every_point_finds(
    points: list[tuple[int, int]], box: tuple[float, float, float, float], cell: int
) -> None:
    """World._shoot takes a shot's targets from a PointIndex of the tick it judges at: the same
    points as a scan of all of them, in the same order (ray_hit keeps the first of equals)."""
    positions = {100 + i: (x, y, 0, 100) for i, (x, y) in enumerate(points)}
    x0, y0, w, h = box
    x1, y1 = x0 + w, y0 + h
    scan = [(eid, p[0], p[1]) for eid, p in positions.items() if x0 <= p[0] <= x1 and y0 <= p[1] <= y1]
    assert PointIndex.of(positions, cell).in_box(x0, y0, x1, y1) == scan
