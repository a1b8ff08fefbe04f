"""Fixtures for the browser client's Node tests (tests/js/), generated from the Python server.

    python tests/js_fixtures.py      rewrite tests/js/fixtures/*.json

tests/test_js_logic.py checks that the committed files still equal what this module generates,
so the JavaScript twin of the movement rule and the snapshot decoder are always tested against
what the server computes today.
"""

from __future__ import annotations

import base64
import json
import math
import random
import sys
from pathlib import Path
from typing import Any

import attr

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "js" / "fixtures"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from gameserver import codec  # noqa: E402
from gameserver.collision import WallGrid, move_with_walls, overlaps_wall, step_with_walls  # noqa: E402
from gameserver.game import Setup  # noqa: E402
from gameserver.games.ball import Ball  # noqa: E402
from gameserver.maps import load_map  # noqa: E402
from gameserver.messages import Hello, Input, Snapshot, Welcome  # noqa: E402
from gameserver.replication import Frame, Mirror, delta_body  # noqa: E402
from gameserver.room import Room  # noqa: E402
from gameserver.schema import ANGLE, POSITION, TEXT, Kind, Schema, angle, integer, position, text  # noqa: E402
from gameserver.world import QUANTA, SCHEMA, Rules, quantize_angle, step_position  # noqa: E402


def step_cases() -> dict[str, Any]:
    """step_position and quantize_angle on edge cases and on seeded random inputs."""
    rng = random.Random(20240601)
    w, h = 2000.0, 2000.0
    steps = [150.0 * (1.0 / 30), 150.0 * (1.0 / 60), 150.0 * (1.0 / 20), 123.4 * (1.0 / 33), 5.0]
    moves = [
        (0.0, 0.0),
        (1.0, 0.0),
        (-1.0, 0.0),
        (0.0, 1.0),
        (1.0, 1.0),
        (-1.0, -1.0),
        (1.0, -1.0),
        (0.3, -0.7),
        (0.7071067811865476, 0.7071067811865476),  # length just over 1
        (0.7071067811865475, 0.7071067811865475),  # just under
        (0.6, 0.8),  # exactly 1 in decimals, not in binary
        (1e-9, -1e-9),
        (-0.5, 0.25),
    ]
    points = [
        (1000.0, 1000.0),
        (0.0, 0.0),
        (2.0, 1999.0),
        (2000.0, 2000.0),
        (0.0625, 7.9375),
        (1234.5, 17.125),
    ]
    cases: list[list[float]] = []
    for step in steps:
        for mx, my in moves:
            for x, y in points:
                cases.append([x, y, mx, my, step, w, h, *step_position(x, y, mx, my, step, w, h)])
    for _ in range(400):
        x = rng.choice([rng.uniform(0, w), round(rng.uniform(0, w) * QUANTA) / QUANTA])
        y = rng.choice([rng.uniform(0, h), round(rng.uniform(0, h) * QUANTA) / QUANTA])
        mx, my = rng.uniform(-1, 1), rng.uniform(-1, 1)
        step = rng.choice(steps)
        ww, hh = rng.choice([(w, h), (640.0, 480.0), (100.5, 33.25)])
        x, y = min(x, ww), min(y, hh)
        cases.append([x, y, mx, my, step, ww, hh, *step_position(x, y, mx, my, step, ww, hh)])
    # A long walk: errors would add up, so the two must agree at every step.
    walk: list[list[float]] = []
    x, y = 1000.0, 1000.0
    step = 150.0 * (1.0 / 30)
    for _ in range(300):
        mx, my = (
            rng.choice([-1.0, 0.0, 1.0, rng.uniform(-1, 1)]),
            rng.choice([-1.0, 0.0, 1.0, rng.uniform(-1, 1)]),
        )
        x, y = step_position(x, y, mx, my, step, w, h)
        walk.append([mx, my, x, y])
    angles = [
        [a, quantize_angle(a)]
        for a in [0.0, math.pi, -math.pi, math.pi / 2, -math.pi / 2, 2 * math.pi, -2 * math.pi, 0.01, -0.01]
        + [rng.uniform(-2 * math.pi, 2 * math.pi) for _ in range(100)]
    ]
    names = ["a", "Alice", "x" * 24, "x" * 25, "", " a", "a ", "a b", "Zoë 3", "名前", "a\tb", "a\u200bb"]
    names += ["a\u00a0b", "\u2028", "e\u0301", "\U0001f600 smile", "tab\u0009", "nbsp\u00a0"]
    return {
        "quanta": QUANTA,
        "names": [[n, _name_ok(n)] for n in names],
        "columns": ["x", "y", "move_x", "move_y", "step", "width", "height", "out_x", "out_y"],
        "cases": cases,
        "walk": {"start": [1000.0, 1000.0], "step": step, "width": w, "height": h, "moves": walk},
        "angles": angles,
    }


# Small grids drawn by hand: a pillar, a corridor one tile wider than a player, an L-shaped
# corner, a diagonal of blocks that leaves only corner-to-corner gaps, and an open room.
SMALL_GRIDS = {
    "pillar": ["......", "......", "..##..", "......", "......", "......"],
    "corridor": ["#########", "#.......#", "#.......#", "###.#####", "###.#####", "#.......#", "#########"],
    "corner": ["........", "........", "..####..", "..#.....", "..#.....", "........"],
    "diagonal": ["#......", ".#.....", "..#....", "...#...", "....#..", ".....#."],
    "open": ["....", "....", "...."],
}
ARENA_MAP = ROOT / "assets" / "maps" / "arena.tmj"


def _free_point(rng: random.Random, grid: WallGrid, radius: float, near_walls: bool) -> tuple[float, float]:
    """A random point on the 1/QUANTA grid where a circle of `radius` overlaps no wall; with
    `near_walls`, within two tiles of a wall tile, where moves are stopped and slide."""
    t = grid.tile
    walls = [i for i, v in enumerate(grid.solid) if v]
    while True:
        if near_walls and walls:
            i = rng.choice(walls)
            cx, cy = (i % grid.cols + 0.5) * t, (i // grid.cols + 0.5) * t
            x = math.floor((cx + rng.uniform(-2.5 * t, 2.5 * t)) * QUANTA) / QUANTA
            y = math.floor((cy + rng.uniform(-2.5 * t, 2.5 * t)) * QUANTA) / QUANTA
        else:
            x = rng.randint(0, grid.width * QUANTA) / QUANTA
            y = rng.randint(0, grid.height * QUANTA) / QUANTA
        if rng.random() < 0.2:  # off the grid now and then: a move still ends on it
            x += rng.uniform(0, 1 / QUANTA)
        if 0 <= x <= grid.width and 0 <= y <= grid.height and not overlaps_wall(grid, x, y, radius):
            return x, y


def collision_cases() -> dict[str, Any]:
    """move_with_walls and step_with_walls on the arena and on small grids: random moves
    near walls (stops, slides, rounded corners), moves straight along and into walls, and
    long walks where every step starts where the last one stopped."""
    rng = random.Random(20261127)
    arena = load_map(ARENA_MAP).walls
    grids: dict[str, WallGrid] = {"arena": arena}
    grids.update({name: WallGrid.from_rows(rows, 32) for name, rows in SMALL_GRIDS.items()})
    full = 150.0 * (1.0 / 30)
    axis = [(ax, ay) for ax in (-1.0, 0.0, 1.0) for ay in (-1.0, 0.0, 1.0) if ax or ay]
    moves: list[list[Any]] = []  # [grid, x, y, dx, dy, radius, out_x, out_y]
    steps: list[list[Any]] = []  # [grid, x, y, move_x, move_y, step, radius, out_x, out_y]
    walks: list[dict[str, Any]] = []
    for name, grid in grids.items():
        n = 800 if name == "arena" else 200
        for k in range(n):
            radius = 16.0 if rng.random() < 0.7 else rng.choice([4.0, 8.0, 12.5, 15.875, 20.0])
            x, y = _free_point(rng, grid, radius, near_walls=k % 4 != 0)
            kind = rng.random()
            if kind < 0.3:
                dx, dy = rng.uniform(-70, 70), rng.uniform(-70, 70)
            elif kind < 0.6:
                ax, ay = rng.choice(axis)
                length = rng.choice([full, 2 * full, 17.0, 33.0, 64.0, rng.uniform(0, 100)])
                dx, dy = ax * length, ay * length
            else:
                dx, dy = rng.uniform(-full, full), rng.uniform(-full, full)
            moves.append([name, x, y, dx, dy, radius, *move_with_walls(grid, x, y, dx, dy, radius)])
        for _ in range(n // 2):
            x, y = _free_point(rng, grid, 16.0, near_walls=True)
            mx, my = rng.choice([*axis, (rng.uniform(-1, 1), rng.uniform(-1, 1)), (0.6, 0.8), (0.3, -0.4)])
            step = rng.choice([full, 150.0 * (1.0 / 60), 150.0 * (1.0 / 20)])
            steps.append([name, x, y, mx, my, step, 16.0, *step_with_walls(grid, x, y, mx, my, step, 16.0)])
        for _ in range(4 if name == "arena" else 2):
            x, y = _free_point(rng, grid, 16.0, near_walls=True)
            start = [x, y]
            path: list[list[float]] = []
            mx, my = rng.choice(axis)
            for i in range(300):
                if i % 25 == 0:  # hold a key for a while, so the walk reaches walls and slides
                    mx, my = rng.choice([*axis, (rng.uniform(-1, 1), rng.uniform(-1, 1))])
                x, y = step_with_walls(grid, x, y, mx, my, full, 16.0)
                path.append([mx, my, x, y])
            walks.append({"grid": name, "start": start, "step": full, "radius": 16.0, "moves": path})
    return {
        "quanta": QUANTA,
        "arena": str(ARENA_MAP.relative_to(ROOT)),
        "arena_walls": sum(arena.solid),
        "grids": {name: {"rows": rows, "tile": 32} for name, rows in SMALL_GRIDS.items()},
        "moves": moves,
        "steps": steps,
        "walks": walks,
    }


def _name_ok(name: str) -> bool:
    try:
        codec.decode_client(codec.encode_client(Hello(1, name)))
    except codec.ProtocolError:
        return False
    return True


class _Player:
    def __init__(self, room: Room, name: str) -> None:
        self.member = room.join(name)
        self.room = room
        self.mirror = Mirror(SCHEMA)
        self.seq = 0

    def send(self, mx: float, my: float, aim: float = 0.0, buttons: int = 0) -> None:
        self.seq += 1
        self.room.receive(self.member, Input(self.seq, mx, my, aim, buttons, self.mirror.tick))

    def read(self) -> list[bytes]:
        out = self.member.take_outgoing()
        for data in out:
            msg = codec.decode_server(data)
            if isinstance(msg, Snapshot):
                self.mirror.apply(msg)
        return out


def _record(rules: Rules, script: str) -> dict[str, Any]:
    """Drive a room tick by tick; record the bytes one player receives and the mirror after each."""
    room = Room(options={"rules": rules}, seed=7)
    rng = random.Random(script)
    me = _Player(room, "me")
    others = [_Player(room, "ann"), _Player(room, "bob")]
    messages: list[dict[str, Any]] = []

    def read_me() -> None:
        for data in me.read():
            entry: dict[str, Any] = {"bytes": base64.b64encode(data).decode()}
            msg = codec.decode_server(data)
            if isinstance(msg, Snapshot):
                entry["rows"] = {str(k): list(v) for k, v in sorted(me.mirror.as_rows().items())}
                entry["tick"] = me.mirror.tick
                entry["last_seq"] = msg.last_seq
            messages.append(entry)

    for t in range(1, 121):
        me.send(rng.choice([-1.0, 0.0, 1.0]), rng.choice([-1.0, 0.0, 1.0]), rng.uniform(-3, 3))
        for i, o in enumerate(others):
            # The others walk to and fro (with a view they leave it and come back), and shoot.
            direction = (1.0 if i == 0 else -1.0) * (1.0 if (t // 50) % 2 == 0 else -1.0)
            o.send(direction, direction * 0.5, rng.uniform(-3, 3), 1 if t % 9 == 0 else 0)
        if t == 40:
            room.leave(others[1].member)
            others.pop()
        if t == 60:
            others.append(_Player(room, "cy"))
        room.tick()
        for o in others:
            o.read()
        if t % 5 != 3:  # now and then the client reads late: the next delta skips a snapshot
            read_me()
    return {"script": script, "entity_id": me.member.entity_id, "quanta": QUANTA, "messages": messages}


def snapshot_streams() -> dict[str, Any]:
    return {
        "everyone": _record(Rules(), "everyone"),
        "view": _record(
            Rules(
                world_width=1000.0,
                world_height=1000.0,
                view_width=200.0,
                view_height=200.0,
                view_margin=40.0,
                view_hysteresis=30.0,
            ),
            "view",
        ),
    }


# Games other than the arena, for the schema-driven decoder: a player laid out as the arena's
# was when WELCOME carried no schema (what the browser falls back on: ARENA_SCHEMA in schema.js;
# its own, so that the arena may grow), that player with a field a later version appends (team),
# and a second kind (a ball) beside it.
BASE_PLAYER = Kind(
    1, "player", (text("name", 24), position("x"), position("y"), angle("angle"), integer("hp", 0, 2**16))
)
BASE_SCHEMA = Schema((BASE_PLAYER,), SCHEMA.inputs)
TEAM_PLAYER = Kind(BASE_PLAYER.id, BASE_PLAYER.name, (*BASE_PLAYER.fields, integer("team", 0, 3)))
BALL = Kind(2, "ball", (position("x"), position("y"), integer("spin", -100, 100)))
SCHEMA_GAMES = {
    "team": Schema((TEAM_PLAYER,), SCHEMA.inputs),
    "ball": Schema((BASE_PLAYER, BALL), SCHEMA.inputs),
}


def _synthetic_row(schema: Schema, rng: random.Random, kind: Kind, n: int) -> tuple[Any, ...]:
    values: dict[str, Any] = {}
    for f in kind.fields:
        if f.type == TEXT:
            values[f.name] = f"{kind.name}{n}"
        elif f.type == POSITION:
            values[f.name] = rng.randint(0, 1000 * QUANTA)
        elif f.type == ANGLE:
            values[f.name] = rng.randint(0, 255)
        else:
            values[f.name] = rng.randint(f.min, f.max)
    row = kind.row(values)
    assert schema.check_row(row) is None, schema.check_row(row)
    return row


def _synthetic_step(schema: Schema, rng: random.Random, row: tuple[Any, ...]) -> tuple[Any, ...]:
    """The row a tick later: it moves most of the time, and now and then its other fields change."""
    kind = schema.kind(row[2])
    out = list(row)
    for f in kind.changing:
        at = kind.index(f.name)
        if f.type == POSITION:
            if rng.random() < 0.8:
                out[at] = row[at] + rng.randint(-40, 40)
        elif rng.random() < 0.15:
            out[at] = rng.randint(0, 255) if f.type == ANGLE else rng.randint(f.min, f.max)
    new = tuple(out)
    assert schema.check_row(new) is None, schema.check_row(new)
    return row if new == row else new


def _synthetic_stream(game: str) -> dict[str, Any]:
    """A game of `game`'s schema, driven by hand (no room: its world is the arena's) and sent
    through the replicator's encoder: a WELCOME carrying the schema, then snapshots, some full,
    most deltas, with entities spawned and removed. After each, the rows of a Python mirror of
    that schema and, where it can follow, of one that knows the arena's schema only (a client
    older than the game's fields)."""
    schema = SCHEMA_GAMES[game]
    rng = random.Random(f"schema-{game}")
    welcome = Welcome(1, 1, 30, 30, "tok", "r-schema", 0, {"quanta": QUANTA}, None, schema.to_wire())
    messages: list[dict[str, Any]] = [{"bytes": base64.b64encode(codec.encode_server(welcome)).decode()}]
    mirror = Mirror(schema=schema)
    older = Mirror(schema=BASE_SCHEMA) if game == "team" else None
    kinds = list(schema.kinds)
    next_id = 1
    rows: dict[int, tuple[Any, ...]] = {}
    for _ in range(4):
        rows[next_id] = _synthetic_row(schema, rng, kinds[next_id % len(kinds)], next_id)
        next_id += 1
    frames: dict[int, Frame] = {}
    held: int | None = None  # the tick the client holds
    for tick in range(1, 61):
        rows = {eid: _synthetic_step(schema, rng, row) for eid, row in rows.items()}
        if tick % 7 == 0:  # one leaves, one comes
            del rows[rng.choice(sorted(rows))]
        if tick % 5 == 0:
            rows[next_id] = _synthetic_row(schema, rng, kinds[next_id % len(kinds)], next_id)
            next_id += 1
        frames[tick] = Frame(tick, dict(rows))
        if tick % 6 == 4:
            continue  # the client reads late: the next delta skips this snapshot
        baseline = None if held is None or tick % 20 == 0 else held
        body = delta_body(frames[baseline] if baseline is not None else None, frames[tick], schema.codecs)
        data = codec.encode_snapshot_header(tick, baseline, None) + body + codec.encode_shots([])
        if tick % 3 == 0:  # the checksum of what the client then holds, as the room computes it
            checksum = sum(codec.entity_checksum(schema.codecs.spawn_record(e, r)) for e, r in rows.items())
            data = codec.with_checksum_head(data) + codec.encode_items([checksum % 2**32])
        msg = codec.decode_server(data)
        assert isinstance(msg, Snapshot)
        mirror.apply(msg)  # raises ChecksumMismatch if it differs
        assert mirror.as_rows() == rows
        entry: dict[str, Any] = {
            "bytes": base64.b64encode(data).decode(),
            "tick": tick,
            "rows": {str(k): list(v) for k, v in sorted(mirror.as_rows().items())},
        }
        if older is not None:  # a client too old for the game's fields sums fewer: not checked
            older.apply(attr.evolve(msg, checksum=None))
            entry["older_rows"] = {str(k): list(v) for k, v in sorted(older.as_rows().items())}
        messages.append(entry)
        held = tick
    return {"game": game, "schema": schema.to_wire(), "arena_schema": SCHEMA.to_wire(), "messages": messages}


def schema_streams() -> dict[str, Any]:
    return {game: _synthetic_stream(game) for game in SCHEMA_GAMES}


# The ball game's fields for its movement twin (client_demo/js/ball/rules.js): its defaults at
# three tick rates, a small field, and one whose size is off the position grid.
BALL_SETUPS = [
    (30, {}),
    (60, {}),
    (20, {"width": 400.0, "height": 300.0, "goal_width": 100.0}),
    (33, {"width": 100.5, "height": 80.25}),
]


def ball_step_cases() -> dict[str, Any]:
    """A player of a Python Ball stepped by one input from chosen spots (edges included), and
    walks where every tick applies zero to three inputs, so the twin must stay on the server's
    path; with math.hypot on moves, which normalises those longer than 1."""
    rng = random.Random(20260314)
    keys = [(float(ax), float(ay)) for ax in (-1, 0, 1) for ay in (-1, 0, 1)]
    odd = [(0.7071067811865476, 0.7071067811865476), (0.6, 0.8), (0.3, -0.4), (1e-9, -1e-9), (-0.5, 0.999)]
    hypots = [[x, y, math.hypot(x, y)] for x, y in keys + odd]
    for _ in range(2000):
        x, y = rng.uniform(-1, 1), rng.uniform(-1, 1)
        hypots.append([x, y, math.hypot(x, y)])
    for x, y in [(3e-320, 1e-321), (1e300, 3e299), (5.0, 12.0), (0.0, -0.0), (-7.25, 0.0)]:
        hypots.append([x, y, math.hypot(x, y)])
    setups: list[dict[str, Any]] = []
    for n, (tick_rate, options) in enumerate(BALL_SETUPS):
        game = Ball(Setup(tick_rate=tick_rate, seed=n, options=options))
        me = game.join("me")
        game.join("other")  # stepped too, idle: a player moves by its own inputs alone
        rules = game.rules()
        w, h, r = game.width, game.height, game.player_radius
        xs = [r, r + 0.125, w / 2, w - r - 0.125, w - r, snap_q(rng.uniform(r, w - r))]
        ys = [r, r + 1.0, h / 2, h - r - 2.5, h - r, snap_q(rng.uniform(r, h - r))]
        moves = keys + odd + [(rng.uniform(-1, 1), rng.uniform(-1, 1)) for _ in range(6)]
        cases: list[list[float]] = []
        seq = 0
        for x in xs:
            for y in ys:
                for mx, my in moves:
                    game.players[me].x, game.players[me].y = x, y  # a chosen spot on the grid
                    seq += 1
                    game.step({me: [Input(seq, mx, my, 0.0, 0, None)]})
                    row = game.rows[me]
                    cases.append([x, y, mx, my, row[0] / QUANTA, row[1] / QUANTA])
        game = Ball(Setup(tick_rate=tick_rate, seed=100 + n, options=options))
        me = game.join("me")
        start = [game.rows[me][0] / QUANTA, game.rows[me][1] / QUANTA]
        walk: list[list[Any]] = []
        mx, my = rng.choice(keys)
        for t in range(400):
            if t % 75 == 0:  # hold a key a while: the walk reaches the edges and slides along them
                mx, my = rng.choice([*keys, (rng.uniform(-1, 1), rng.uniform(-1, 1))])
            count = rng.choice([1, 1, 1, 1, 0, 2, 3])
            inputs = []
            for _ in range(count):
                seq += 1
                jx, jy = (mx, my) if rng.random() < 0.8 else (rng.uniform(-1, 1), rng.uniform(-1, 1))
                inputs.append(Input(seq, jx, jy, 0.0, 0, None))
            game.step({me: inputs} if inputs else {})
            row = game.rows[me]
            walk.append([[[i.move_x, i.move_y] for i in inputs], row[0] / QUANTA, row[1] / QUANTA])
        setups.append({"rules": rules, "cases": cases, "walk": {"start": start, "ticks": walk}})
    return {"hypot": hypots, "setups": setups}


def snap_q(v: float) -> float:
    """A spot on the position grid."""
    return round(v * QUANTA) / QUANTA


def generate() -> dict[str, str]:
    """File name -> JSON text."""
    return {
        "step_cases.json": json.dumps(step_cases(), indent=None, separators=(",", ":")) + "\n",
        "snapshots.json": json.dumps(snapshot_streams(), indent=None, separators=(",", ":")) + "\n",
        "collision_cases.json": json.dumps(collision_cases(), indent=None, separators=(",", ":")) + "\n",
        "schema_streams.json": json.dumps(schema_streams(), indent=None, separators=(",", ":")) + "\n",
        "ball_step_cases.json": json.dumps(ball_step_cases(), indent=None, separators=(",", ":")) + "\n",
    }


def main() -> None:
    FIXTURES.mkdir(parents=True, exist_ok=True)
    for name, body in generate().items():
        (FIXTURES / name).write_text(body)
        print(f"wrote {FIXTURES / name} ({len(body)} bytes)")


if __name__ == "__main__":
    main()
