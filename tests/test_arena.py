"""The world on a Tiled map: walls stop players and bullets, spawns come from the map, and the
server loads the map (or refuses a bad one) before it listens."""

from __future__ import annotations

import asyncio
import json
import math
import subprocess
import sys
import urllib.request
from pathlib import Path

from server_process import ROOT, ServerProcess
from websockets.asyncio.client import connect

from gameserver import codec
from gameserver.collision import WallGrid
from gameserver.combat import FIRE, wall_distance
from gameserver.config import Config
from gameserver.maps import GameMap, load_map
from gameserver.messages import Hello, Input, Welcome
from gameserver.world import Rules, World

DT = 1 / 30
ARENA = ROOT / "assets" / "maps" / "arena.tmj"


def _world_on(walls: WallGrid, spawns: tuple[tuple[float, float], ...]) -> World:
    game_map = GameMap(
        name="test", walls=walls, spawns=spawns, view_width=0.0, view_height=0.0, properties={}
    )
    rules = Rules(world_width=float(walls.width), world_height=float(walls.height))
    return World(rules, DT, game_map=game_map)


# A 10 x 5 room of 32-unit tiles with a wall column at x = 160..192.
ROOM = WallGrid.from_rows(
    [
        "##########",
        "#....#...#",
        "#....#...#",
        "#........#",
        "##########",
    ],
    32,
)


def test_players_spawn_at_the_maps_spawn_points() -> None:
    w = _world_on(ROOM, ((64.0, 64.0), (240.0, 64.0)))
    for i in range(10):
        e = w.spawn_player(f"p{i}")
        assert (e.x, e.y) in {(64.0, 64.0), (240.0, 64.0)}


def test_running_into_a_wall_stops_at_it_every_tick() -> None:
    w = _world_on(ROOM, ((64.0, 64.0),))
    e = w.spawn_player("runner")
    for seq in range(60):
        w.step({e.id: [Input(seq, 1.0, 0.0, 0.0, 0, None)]})
        assert e.x + w.rules.player_radius <= 160.0  # never inside the wall column
    assert e.x == 160.0 - w.rules.player_radius  # and pressed right against it


def test_walls_stop_bullets() -> None:
    w = _world_on(ROOM, ((64.0, 64.0),))
    shooter, target = w.spawn_player("shooter"), w.spawn_player("target")
    target.x, target.y = 240.0, 64.0  # behind the wall column
    w.step({shooter.id: [Input(1, 0.0, 0.0, 0.0, FIRE, None)]})
    assert w.shots_fired == [(shooter.id, None)] and target.hp == 100
    shooter.y = target.y = 112.0  # the gap at row 3 (y 96..128): a clear line
    shooter.next_fire_tick = 0
    w.step({shooter.id: [Input(2, 0.0, 0.0, 0.0, FIRE, None)]})
    assert w.shots_fired == [(shooter.id, target.id)] and target.hp < 100


def test_wall_distance_walks_the_tiles_the_ray_crosses() -> None:
    assert wall_distance(ROOM, 64.0, 64.0, 0.0, 900.0) == 160.0 - 64.0
    assert wall_distance(ROOM, 64.0, 112.0, 0.0, 900.0) == 288.0 - 64.0  # through the gap
    assert wall_distance(ROOM, 64.0, 64.0, math.pi / 2, 900.0) == 128.0 - 64.0
    assert wall_distance(ROOM, 64.0, 64.0, 0.0, 50.0) == 50.0  # out of reach first
    diagonal = wall_distance(ROOM, 48.0, 48.0, -3 * math.pi / 4, 900.0)
    assert math.isclose(diagonal, 16.0 * math.sqrt(2))


def test_the_default_server_quick_plays_the_yard_and_creates_arenas_with_a_view() -> None:
    async def welcome(url: str, hello: Hello) -> Welcome:
        async with connect(url) as ws:
            await ws.send(codec.encode_client(hello))
            msg = codec.decode_server(await asyncio.wait_for(ws.recv(), 5))
            assert isinstance(msg, Welcome)
            return msg

    arena, yard = load_map(ARENA), load_map(ROOT / "assets" / "maps" / "yard.tmj")
    with ServerProcess(map_name=Config().map) as s:
        quick = asyncio.run(welcome(s.ws_url, Hello(1, "scout")))
        request = urllib.request.Request(
            s.http + "/matchmake/create", data=b'{"map": "arena"}', method="POST"
        )
        with urllib.request.urlopen(request, timeout=5) as r:
            seat = json.loads(r.read())
        created = asyncio.run(welcome(s.ws_url, Hello(1, "scout", None, seat["room"], seat["seat"])))
    assert quick.map == "yard" and quick.room != created.room
    assert quick.rules["world_width"] == yard.width and quick.rules["view_width"] == 0
    assert created.map == "arena" and created.room == seat["room"]
    assert created.rules["world_width"] == arena.width == 4000.0
    assert (created.rules["view_width"], created.rules["view_height"]) == (
        arena.view_width,
        arena.view_height,
    )


def test_a_bad_map_is_refused_before_listening(tmp_path: Path) -> None:
    broken = tmp_path / "broken.tmj"
    doc = json.loads(ARENA.read_text())
    doc["layers"] = [layer for layer in doc["layers"] if layer.get("name") != "walls"]
    broken.write_text(json.dumps(doc))
    for arg, named in [(str(broken), "broken.tmj"), ("no-such-map", "no-such-map")]:
        r = subprocess.run(
            [sys.executable, "-m", "gameserver", "--port", "0", "--map", arg],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert r.returncode == 2
        assert named in r.stderr and "error:" in r.stderr
        assert "gameserver on http" not in r.stdout  # it never listened


def test_a_recorded_match_replays_to_the_same_state_hash_every_tick() -> None:
    """Inputs recorded once (moves, aims, shots, a late join and a leave) replayed on a fresh
    arena world give the same state hash at every tick."""
    import random

    arena = load_map(ARENA)
    rules = Rules(world_width=arena.width, world_height=arena.height)
    rng = random.Random(11)
    script: list[dict[int, list[Input]]] = []
    for t in range(300):
        script.append(
            {
                eid: [
                    Input(
                        t,
                        rng.uniform(-1, 1),
                        rng.uniform(-1, 1),
                        rng.uniform(-3, 3),
                        FIRE if rng.random() < 0.5 else 0,
                        None,
                        max(0, t - rng.randrange(8)),
                    )
                ]
                for eid in range(1, 9)
            }
        )

    def play() -> list[str]:
        w = World(rules, DT, seed=5, game_map=arena)
        for i in range(6):
            w.spawn_player(f"p{i}")
        hashes = []
        for t, inputs in enumerate(script):
            if t == 100:
                w.spawn_player("late")
                w.spawn_player("later")
            if t == 200:
                w.remove(3)
            w.step({eid: cmds for eid, cmds in inputs.items() if eid in w.entities})
            hashes.append(w.state_hash())
        assert sum(e.deaths for e in w.entities.values()) + sum(e.shots for e in w.entities.values()) > 0
        return hashes

    assert play() == play()
