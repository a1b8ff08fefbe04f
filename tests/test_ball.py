"""The second game, ball, on the public game API: tick by tick with no sockets (gameserver.testing),
and served by `python -m gameserver --game ball` to real WebSocket clients."""

from __future__ import annotations

import asyncio
import json
import math
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from server_process import ServerProcess
from websockets.asyncio.client import connect

from gameserver import codec
from gameserver.directory import Directory
from gameserver.game import Game, GameFault, Input, Row, Setup
from gameserver.games import BUILTIN, GameNotFound, load_game
from gameserver.games.ball import BALL, BLUE, GOAL, PLAYER, RED, Ball
from gameserver.messages import Hello, Snapshot, Welcome
from gameserver.replication import Mirror
from gameserver.room import Room
from gameserver.schema import Schema
from gameserver.testing import Match, Player
from gameserver.world import SCHEMA as SCHEMA_OF_ARENA

QUANTA = 8


def kinds(p: Player) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for eid, row in p.mirror.rows.items():
        out.setdefault(row[2], []).append(eid)
    return out


def test_players_join_alternate_teams_and_every_client_holds_the_game_rows() -> None:
    match = Match(Ball, seed=3)
    ann, bo, cy = match.join("ann"), match.join("bo"), match.join("cy")
    match.tick(3)
    assert [p.values()["team"] for p in (ann, bo, cy)] == [RED, BLUE, RED]
    assert ann.welcome is not None and Schema.from_wire(ann.welcome.schema) == Ball.schema
    assert ann.welcome.rules["goal_width"] == 260.0
    for p in (ann, bo, cy):
        assert p.mirror.as_rows() == match.game.rows  # no view: everyone holds everything
        held = kinds(p)
        assert len(held[BALL]) == 1 and len(held[GOAL]) == 2 and len(held[PLAYER]) == 3
    ball = ann.values(kinds(ann)[BALL][0])
    assert (ball["x"], ball["y"]) == (800 * QUANTA, 450 * QUANTA)  # on the centre spot
    # a player stays in its own half at first
    assert all(p.values()["x"] < 800 * QUANTA for p in (ann, cy)) and bo.values()["x"] > 800 * QUANTA


def dribble_and_shoot(match: Match, p: Player, goal_x: float, ticks: int) -> bool:
    """Run at the ball and kick it at the goal at goal_x; True when a goal was scored."""
    ball_id = kinds(p)[BALL][0]
    for _ in range(ticks):
        me, ball = p.values(), p.values(ball_id)
        bx, by = ball["x"] / QUANTA, ball["y"] / QUANTA
        x, y = me["x"] / QUANTA, me["y"] / QUANTA
        aim = math.atan2(450 - by, goal_x - bx)
        # come at the ball from behind it, as seen from the goal
        tx, ty = bx - math.cos(aim) * 30, by - math.sin(aim) * 30
        dx, dy = tx - x, ty - y
        n = math.hypot(dx, dy) or 1.0
        near = math.hypot(bx - x, by - y) < 45
        p.input(dx / n if n > 4 else 0.0, dy / n if n > 4 else 0.0, aim, 1 if near else 0)
        before = match.game.scores_version()
        match.tick()
        if match.game.scores_version() != before:
            return True
    return False


def test_a_player_kicks_the_ball_into_the_other_goal_and_everyone_sees_the_score() -> None:
    match = Match(Ball, seed=1)
    ann, bo = match.join("ann"), match.join("bo")
    match.tick()
    assert dribble_and_shoot(match, ann, 1600 + 40, ticks=30 * 30), "no goal in 30 s"
    match.tick(31)  # the scoreboard goes out at most once a second
    for p in (ann, bo):
        goals = {p.values(g)["team"]: p.values(g)["score"] for g in kinds(p)[GOAL]}
        assert goals == {RED: 1, BLUE: 0}
        ball = p.values(kinds(p)[BALL][0])
        assert p.scoreboard is not None and p.scoreboard.lines[0].name == "ann"
        assert (p.scoreboard.lines[0].score, p.scoreboard.lines[0].deaths) == (1, 0)
        assert ball["toucher"] in (0, ann.entity_id)
    # the goal went out as an event: (the goal scored in, the scorer), in SNAPSHOT's shots
    shots = [s for m in ann.messages if isinstance(m, Snapshot) for s in m.shots]
    blue_goal = next(g for g in kinds(ann)[GOAL] if ann.values(g)["team"] == BLUE)
    assert [(s.shooter, s.hit) for s in shots] == [(blue_goal, ann.entity_id)]


def test_the_same_seed_and_inputs_give_the_same_match_bit_for_bit() -> None:
    def play() -> list[str]:
        match = Match(Ball, seed=9)
        ps = [match.join(n) for n in ("a", "b", "c", "d")]
        hashes = []
        for t in range(200):
            for i, p in enumerate(ps):
                a = (t * 0.05 + i) % (2 * math.pi)
                p.input(math.cos(a), math.sin(a), a, t % 7 == 0)
            match.tick()
            hashes.append(match.game.state_hash())
        return hashes

    first, second = play(), play()
    assert first == second and len(set(first)) > 100


class Broken(Ball):
    name = "broken"
    fault = ""
    kept: dict[int, Row]

    def step(self, inputs: Mapping[int, Sequence[Input]]) -> None:
        super().step(inputs)
        if self.fault == "raise" and self.tick == 5:
            raise ZeroDivisionError("no goal keeper")
        if self.fault == "team" and self.tick == 5:
            eid = next(iter(self.players))
            self.players[eid].team = 7  # a team the schema does not allow
            self.rows = self._rows(self.rows)
        if self.fault == "rename" and self.tick == 5:
            self.players[next(iter(self.players))].name = "bob"
            self.rows = self._rows(self.rows)
        if self.fault == "same rows":
            if self.tick == 5:
                self.rows = self.kept  # the dict of the step before, changed in place
            self.kept = self.rows

    def join(self, name: str) -> int:
        if name == "nobody":
            return 0
        return super().join(name)


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("raise", "broken.step raised ZeroDivisionError: no goal keeper"),
        ("team", r"broken: entity 4: player.team must be an integer in 0..1, not 7"),
        ("rename", r"broken: entity 4: player.name must be unchanged: text is sent at spawn only, not 'bob'"),
        ("same rows", r"broken.step left rows the same dict: make a new one each step"),
    ],
)
def test_a_game_fault_is_raised_from_the_tick_naming_the_hook(fault: str, message: str) -> None:
    Broken.fault = fault
    try:
        match = Match(Broken)
        match.join("ann")
        match.tick(4)
        with pytest.raises(GameFault, match=message):
            match.tick()
    finally:
        Broken.fault = ""


def test_a_join_that_returns_no_entity_id_is_a_game_fault() -> None:
    match = Match(Broken)
    with pytest.raises(GameFault, match=r"broken.join returned 0, not a new positive entity id"):
        match.join("nobody")


def test_a_failing_game_closes_its_room_alone() -> None:
    """The directory contains a game's fault as any room's: its players are told internal_error,
    the room is disposed, and the other rooms go on."""
    Broken.fault = "raise"
    try:
        d = Directory(
            maps={"none": None},
            default_map="none",
            make_room=lambda room_id, map_name, game_map, size: Room(
                room_id=room_id, game_type=Broken, max_players=size
            ),
            room_size=1,
        )
        room_a, a = d.join(Hello(1, "ann"), 0.0)
        for _ in range(3):
            d.tick(0.0)
        room_b, b = d.join(Hello(1, "bo"), 0.0)  # a new room: its game is at tick 0
        for _ in range(3):
            d.tick(0.0)
        assert room_a.room_id not in d.rooms and a.close_request == (1011, "internal_error")
        assert room_b.room_id in d.rooms and b.close_request is None
    finally:
        Broken.fault = ""


def test_games_are_found_by_name_by_path_and_refused_clearly() -> None:
    assert load_game("ball") is Ball and load_game("gameserver.games.ball:Ball") is Ball
    assert set(BUILTIN) == {"arena", "ball"}
    for spec, why in [
        ("chess", "no game 'chess'"),
        ("gameserver.nothing:Game", "cannot import gameserver.nothing"),
        ("gameserver.games.ball:math", "not a subclass of gameserver.game.Game"),
    ]:
        with pytest.raises(GameNotFound, match=why):
            load_game(spec)


def test_the_game_base_class_states_what_a_game_must_fill_in() -> None:
    class Empty(Game):
        name = "empty"
        schema = Ball.schema

    game = Empty(Setup())
    assert game.rules() == {"dt": 1 / 30, "quanta": 8, "angle_steps": 256} and game.view() is None
    with pytest.raises(NotImplementedError):
        game.join("a")


def test_the_server_plays_ball_for_websocket_clients() -> None:
    """`python -m gameserver --game ball`: a client decodes the game from the WELCOME's schema
    alone, and sees another client's player move."""

    async def play(url: str) -> tuple[Welcome, Mirror, int]:
        async with connect(url) as a, connect(url) as b:
            welcomes = []
            for ws, name in ((a, "ann"), (b, "bo")):
                await ws.send(codec.encode_client(Hello(1, name)))
                while True:
                    msg = codec.decode_server(await asyncio.wait_for(ws.recv(), 5))
                    if isinstance(msg, Welcome):
                        welcomes.append(msg)
                        break
            assert welcomes[0].schema is not None
            mirror = Mirror(Schema.from_wire(welcomes[0].schema))
            start: Any = None
            seq = 0
            for _ in range(400):
                msg = codec.decode_server(await asyncio.wait_for(a.recv(), 5))
                if not isinstance(msg, Snapshot):
                    continue
                mirror.apply(msg)
                bo = welcomes[1].entity_id
                if bo in mirror.rows and start is None:
                    start = mirror.values(bo)["x"]
                seq += 1
                await b.send(codec.encode_client(Input(seq, -1.0, 0.0, 0.0, 0, msg.tick)))
                await a.send(codec.encode_client(Input(seq, 0.0, 0.0, 0.0, 0, msg.tick)))
                if start is not None and mirror.values(bo)["x"] < start - 50 * QUANTA:
                    return welcomes[0], mirror, bo
            raise AssertionError("bo never moved 50 units to the left")

    with ServerProcess("--game", "ball") as server:
        assert server.health()["game"] == "ball"
        welcome, mirror, bo = asyncio.run(play(server.ws_url))
        with urllib.request.urlopen(server.http + "/rooms", timeout=5) as r:
            listing = json.load(r)
        assert [room["max_players"] for room in listing["rooms"]] == [10]  # Ball.room_size: five a side
        with urllib.request.urlopen(server.http + "/", timeout=5) as r:
            assert b"js/ball/" in r.read()  # the game's own page
    assert welcome.rules["world_width"] == 1600.0 and welcome.map is None
    assert mirror.values(bo)["team"] == BLUE and len(mirror.rows) == 5  # ball, 2 goals, 2 players


def test_the_server_refuses_an_unknown_game_or_a_map_for_a_game_without_maps() -> None:
    import subprocess
    import sys

    for args, why in [
        (["--game", "chess"], "no game 'chess'"),
        (["--game", "ball", "--map", "arena"], "the game ball uses no maps"),
    ]:
        done = subprocess.run(
            [sys.executable, "-m", "gameserver", "--port", "0", *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2 and why in done.stderr


def test_the_ball_bots_behaviour_scores_goals() -> None:
    """Two of the bots' ball players against one: run behind the ball, kick it at the other goal.
    Played tick by tick on the mirrors each client holds, as a bot plays on its Tracker."""
    from client_demo.bots.ball import Layout, ball_move

    layout = Layout.of(Ball.schema)
    assert layout is not None and Layout.of(SCHEMA_OF_ARENA) is None
    match = Match(Ball, seed=2)
    players = [match.join(n) for n in ("a", "b", "c")]
    match.tick()
    for _ in range(30 * 60):
        for p in players:
            rows = {eid: list(row) for eid, row in p.mirror.rows.items()}
            mx, my, aim, buttons = ball_move(rows, p.entity_id, layout)
            p.input(mx, my, aim, buttons)
        match.tick()
        if sum(match.game.scores) >= 1:  # type: ignore[attr-defined]
            break
    assert sum(match.game.scores) >= 1, match.game.scores  # type: ignore[attr-defined]


def test_bots_play_ball_on_the_server() -> None:
    from client_demo.bots import run_bots

    with ServerProcess("--game", "ball") as server:
        report = run_bots(server.ws_url, count=4, duration=2.0, behaviour="ball", verify=1, join_timeout=20)
    assert report["errors"] == 0, report["error_samples"]
    assert report["connected"] == 4 and report["verified_snapshots"] > 0 and report["mirrored_snapshots"] > 0
