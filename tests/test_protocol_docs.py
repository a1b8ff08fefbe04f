"""What docs/protocol.md and README.md say, checked against a real server.

Third-party clients are written from those two files alone; each test here is one statement of
them that an independent client relied on and found the server did not keep (or that the docs
did not make), checked on a real server process with real WebSocket clients.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
from eventlet.green import socket as green_socket
from eventlet.websocket import RFC6455WebSocket
from server_process import ROOT, ServerProcess
from test_server_e2e import closed_with, hello, run, wait_until
from websockets.asyncio.client import ClientConnection, connect

from gameserver import codec
from gameserver.codec import ErrorCode
from gameserver.config import Config
from gameserver.messages import Error, Goodbye, Hello, Ping, Pong, Snapshot, Welcome
from gameserver.replication import Mirror
from gameserver.room import CONTROL_LIMIT, Room
from gameserver.server import GameServer
from gameserver.world import SCHEMA, Rules, World

PROTOCOL_MD = (ROOT / "docs" / "protocol.md").read_text()
README_MD = (ROOT / "README.md").read_text()


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    # --max-lag: these clients do not all acknowledge snapshots, and need not for a few seconds
    with ServerProcess("--tick", "30", "--max-lag", "60") as s:
        yield s


async def read_until(ws: ClientConnection, done: Any, timeout: float, what: str) -> list[Any]:
    """Decode what the server sends until done(messages so far) holds; fail after `timeout`."""
    msgs: list[Any] = []
    try:
        async with asyncio.timeout(timeout):
            while not done(msgs):
                msgs.append(codec.decode_server(await ws.recv()))
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout:g} s waiting for {what}; got {msgs[-3:]}") from None
    return msgs


def pongs(msgs: list[Any]) -> list[Pong]:
    return [m for m in msgs if isinstance(m, Pong)]


# --- PING and PONG ----------------------------------------------------------------------------


def test_back_to_back_pings_each_get_their_pong(server: ServerProcess) -> None:
    """100 PINGs in a row, within the rate limit (bursts of 120 at 30 Hz), read only once all
    are sent: 100 PONGs, in order. The same for PINGs sent right behind the HELLO."""

    async def scenario() -> None:
        async with connect(server.ws_url) as ws:
            await hello(ws, "pinger")
            for i in range(100):
                await ws.send(codec.encode_client(Ping(float(i))))
            msgs = await read_until(ws, lambda m: len(pongs(m)) >= 100, 10, "100 pongs")
            assert [p.client_time for p in pongs(msgs)] == [float(i) for i in range(100)]
            assert not [m for m in msgs if isinstance(m, Error | Goodbye)]
        async with connect(server.ws_url) as ws:
            await ws.send(codec.encode_client(Hello(1, "eager")))
            for i in range(30):  # without waiting for the WELCOME
                await ws.send(codec.encode_client(Ping(float(i))))
            msgs = await read_until(ws, lambda m: len(pongs(m)) >= 30, 10, "30 pongs")
            assert isinstance(msgs[0], Welcome)
            assert [p.client_time for p in pongs(msgs)] == [float(i) for i in range(30)]

    run(scenario())


def test_what_waits_for_a_client_that_does_not_read_is_bounded() -> None:
    """The bound docs/protocol.md states: at most CONTROL_LIMIT messages other than snapshots
    wait per client; PINGs past it get no PONG, and the closing ERROR still gets in."""
    assert f"at most {CONTROL_LIMIT} messages other than snapshots" in " ".join(PROTOCOL_MD.split())
    room = Room()
    member = room.join("sleeper")  # its WELCOME waits, and nothing is ever taken
    for i in range(100):  # within the message rate
        room.receive_bytes(member, codec.encode_client(Ping(float(i))))
    assert len(member.control) == CONTROL_LIMIT
    waiting = [codec.decode_server(b) for b in member.control]
    assert isinstance(waiting[0], Welcome)
    assert waiting[1:] == [Pong(float(i), 0) for i in range(CONTROL_LIMIT - 1)]
    member.request_close(ErrorCode.TOO_SLOW, "never reads")
    assert codec.decode_server(member.control[-1]) == Error("too_slow", "never reads")


def test_ping_echoes_any_finite_client_time(server: ServerProcess) -> None:
    """client_time is "any finite value": past 1e15, the largest float64, integers of 64 bits;
    each comes back in PONG as a float64. An infinity is invalid_message (1007)."""
    values: list[int | float] = [1e15 + 1, -1e300, 1.7976931348623157e308, 5e-324, 2**64 - 1, -(2**63)]

    async def scenario() -> None:
        async with connect(server.ws_url) as ws:
            await hello(ws, "clock")
            for value in values:
                await ws.send(msgpack.packb([3, value]))
            raw: list[Any] = []
            async with asyncio.timeout(5):
                while len(raw) < len(values):
                    v = msgpack.unpackb(await ws.recv())
                    if v[0] == 12:
                        raw.append(v[1])
            assert raw == [float(v) for v in values]
            assert all(type(t) is float for t in raw)
            await ws.send(msgpack.packb([3, math.inf]))
            code, reason, msgs = await closed_with(ws)
            assert (code, reason) == (1007, "invalid_message")
            assert isinstance(msgs[-1], Error) and msgs[-1].code == "invalid_message"

    run(scenario())


# --- refusals: which code, and ERROR or GOODBYE ----------------------------------------------

EMPTY_MAP_BIN_EXT = [
    ("empty map", b"\x80"),
    ("empty bin", b"\xc4\x00"),
    ("empty ext", b"\xc7\x00\x05"),
    ("ping of an empty map", b"\x92\x03\x80"),
    ("ping of an empty bin", b"\x92\x03\xc4\x00"),
    ("input with an empty ext", b"\x97\x02\x01\x00\x00\x00\x00\xc7\x00\x01"),
]


@pytest.mark.parametrize("after_hello", [True, False], ids=["after hello", "before hello"])
@pytest.mark.parametrize("label, data", EMPTY_MAP_BIN_EXT, ids=[e[0] for e in EMPTY_MAP_BIN_EXT])
def test_an_empty_map_bin_or_ext_is_invalid_msgpack(
    server: ServerProcess, label: str, data: bytes, after_hello: bool
) -> None:
    """The limits allow no map, no bin and no ext: an empty one is invalid_msgpack (1007)."""

    async def scenario() -> None:
        async with connect(server.ws_url) as ws:
            if after_hello:
                await hello(ws, "mapper")
            await ws.send(data)
            code, reason, msgs = await closed_with(ws)
        assert (code, reason) == (1007, "invalid_msgpack")
        assert isinstance(msgs[-1], Error) and msgs[-1].code == "invalid_msgpack"

    run(scenario())


BEFORE_HELLO = [
    ("unknown type", [42, 1]),
    ("a server type", [10, 1]),
    ("ping", [3, 1.5]),
    ("ack", [5, 3]),
    ("follow", [4, None]),
    ("input", [2, 1, 0, 0, 0, 0, None]),
    ("input with a bad field", [2, "one", 0, 0, 0, 0, None]),
]


@pytest.mark.parametrize("label, value", BEFORE_HELLO, ids=[b[0] for b in BEFORE_HELLO])
def test_any_message_before_hello_is_hello_required(server: ServerProcess, label: str, value: Any) -> None:
    """Whatever its type, known or not, and whatever its fields: ERROR hello_required, 1002."""

    async def scenario() -> None:
        async with connect(server.ws_url) as ws:
            await ws.send(msgpack.packb(value))
            code, reason, msgs = await closed_with(ws)
        assert (code, reason) == (1002, "hello_required")
        assert msgs == [Error("hello_required", "the first message must be hello")]

    run(scenario())


def test_a_refused_hello_is_an_error_not_a_goodbye() -> None:
    """server_full after the upgrade is an ERROR, as room_full is: the answer to the HELLO,
    instead of the WELCOME, and nothing else before the close frame."""

    async def scenario(url: str) -> None:
        async with connect(url) as first:
            welcome = await hello(first, "first")
            for label, msg, close in [
                ("quick play", Hello(1, "second"), (1013, "server_full")),
                ("by room id", Hello(1, "third", room=welcome.room), (4409, "room_full")),
            ]:
                async with connect(url) as refused:
                    await refused.send(codec.encode_client(msg))
                    code, reason, msgs = await closed_with(refused)
                assert (code, reason) == close, label
                assert len(msgs) == 1 and type(msgs[0]) is Error and msgs[0].code == close[1], (label, msgs)

    with ServerProcess("--max-players", "1") as s:
        run(scenario(s.ws_url))
    for claim in ("**A refused HELLO is\nalways an ERROR**", "Only four codes come as GOODBYE"):
        assert claim in PROTOCOL_MD


# --- shutdown ---------------------------------------------------------------------------------


def test_sigterm_closes_a_socket_that_never_said_hello_with_server_shutdown() -> None:
    """On SIGTERM every WebSocket gets GOODBYE server_shutdown and a close frame 1001, the one
    that has not said HELLO yet too (it belongs to no room), and the server exits 0, quickly."""
    s = ServerProcess().start()
    results: dict[str, Any] = {}

    async def scenario() -> None:
        async with connect(s.ws_url) as silent, connect(s.ws_url) as player:
            await hello(player, "player")
            await wait_until(lambda: s.health()["sockets"] == 2, 5, "the server to hold both WebSockets")
            t0 = time.monotonic()
            stopping = asyncio.get_running_loop().run_in_executor(None, s.stop)
            results["silent"] = await closed_with(silent)
            results["player"] = await closed_with(player)
            results["rc"] = await stopping
            results["took"] = time.monotonic() - t0

    run(scenario())
    for who in ("silent", "player"):
        code, reason, msgs = results[who]
        assert (code, reason) == (1001, "server_shutdown"), who
        assert isinstance(msgs[-1], Goodbye) and msgs[-1].code == "server_shutdown", who
    assert results["silent"][2] == [Goodbye("server_shutdown", "the server is shutting down")]
    assert results["rc"] == 0
    assert results["took"] < 2.0, f"took {results['took']:.2f} s"


def test_a_websocket_whose_handshake_ends_while_the_server_stops_gets_server_shutdown() -> None:
    """In process: a WebSocket the server takes over after the goodbyes went out (its handshake
    was under way) gets the same GOODBYE and close frame at once, not the hello timeout."""
    server = GameServer(Config())
    server.sockets.goodbye_unjoined(ErrorCode.SERVER_SHUTDOWN, "the server is shutting down")
    ours, theirs = green_socket.socketpair()
    try:
        server.sockets.adopt(RFC6455WebSocket(ours, {}, version=13), "late")
        theirs.settimeout(5)
        data = theirs.recv(4096)
        goodbye = codec.encode_server(Goodbye("server_shutdown", "the server is shutting down"))
        assert data == bytes([0x82, len(goodbye)]) + goodbye + b"\x88\x11\x03\xe9server_shutdown"
    finally:
        server.sockets.close()
        theirs.close()


# --- rules the docs state: lag compensation, movement, PONG's tick, the view, /healthz --------


def test_max_rewind_is_200_ms_at_every_tick_rate(server: ServerProcess) -> None:
    """Milliseconds, not ticks: 200 ms, 6 ticks at 30 Hz and 12 at 60 Hz."""

    async def rules(url: str) -> dict[str, float]:
        async with connect(url) as ws:
            return (await hello(ws, "rewinder")).rules

    at_30 = run(rules(server.ws_url))
    with ServerProcess("--tick", "60") as fast:
        at_60 = run(rules(fast.ws_url))
    assert at_30["max_rewind_ms"] == at_60["max_rewind_ms"] == 200
    assert at_30["max_rewind_ticks"] == 6 and at_60["max_rewind_ticks"] == 12
    assert math.isclose(at_30["dt"], 1 / 30) and math.isclose(at_60["dt"], 1 / 60)
    assert (
        "never more than `max_rewind_ms` (200 ms) back at every tick rate: `max_rewind_ticks` ticks"
        in " ".join(PROTOCOL_MD.split())
    )


def welcome_table_fields() -> list[str]:
    """The field names of docs/protocol.md's WELCOME table, in order."""
    section = PROTOCOL_MD.split("### WELCOME = 10", 1)[1].split("\n###", 1)[0]
    rows = [line.split("|") for line in section.splitlines() if line.startswith("| ") and "---" not in line]
    return [cells[2].strip() for cells in rows[1:]]  # after the header row


def test_the_readme_lists_every_element_of_welcome(server: ServerProcess) -> None:
    """README's one-screen WELCOME has as many elements as the server's, with protocol.md's names."""
    one_screen = " ".join(README_MD.split())
    found = re.search(r"`WELCOME \[([^\]]*)\]`: (\d+) elements, the type and (\d+) fields", one_screen)
    assert found is not None
    names = found.group(1).split(", ")

    async def raw_welcome() -> list[Any]:
        async with connect(server.ws_url) as ws:
            await ws.send(codec.encode_client(Hello(1, "reader")))
            value: list[Any] = msgpack.unpackb(await asyncio.wait_for(ws.recv(), 5))
            return value

    raw = run(raw_welcome())
    assert raw[0] == 10 and names[0] == "10"
    assert len(raw) == len(names) == int(found.group(2)) == 11
    assert len(raw) - 1 == int(found.group(3)) == len(welcome_table_fields())
    assert names[1:] == welcome_table_fields()


class Walker:
    """One player that moves on request and keeps what it is sent, message by message."""

    def __init__(self, ws: ClientConnection, welcome: Welcome) -> None:
        self.ws = ws
        self.me = welcome.entity_id
        self.mirror = Mirror(SCHEMA)
        self.seq = 0
        self.log: list[Any] = []  # every message, in order

    async def read_one(self) -> Any:
        msg = codec.decode_server(await asyncio.wait_for(self.ws.recv(), 5))
        if isinstance(msg, Snapshot):
            self.mirror.apply(msg)
        self.log.append(msg)
        return msg

    def position(self, entity_id: int | None = None) -> tuple[int, int]:
        row = self.mirror.rows[self.me if entity_id is None else entity_id]
        return row[0], row[1]

    async def send_moves(self, moves: list[tuple[float, float]]) -> int:
        for mx, my in moves:
            self.seq += 1
            await self.ws.send(codec.encode_input(self.seq, mx, my, 0.0, 0, self.mirror.tick))
        return self.seq

    async def step(self, *moves: tuple[float, float]) -> tuple[int, int]:
        """Send these inputs (at most 3: one tick's burst), then read until a snapshot says all
        were applied (one that changes nothing is acknowledged by the next snapshot, within a
        second); our position, in quanta."""
        assert len(moves) <= 3
        seq = await self.send_moves(list(moves))
        while True:
            msg = await self.read_one()
            if isinstance(msg, Snapshot) and msg.last_seq is not None and msg.last_seq >= seq:
                return self.position()


def seed_spawning_near_the_left_edge() -> tuple[int, float, float]:
    """A --seed whose first player, on the empty world, appears less than 40 units from x = 0."""
    for seed in range(100_000):
        e = World(rules=Rules(), dt=1 / 30, seed=seed).spawn_player("x")
        if e.x < 40 and 100 < e.y < 1900:
            return seed, e.x, e.y
    raise AssertionError("no such seed")


def test_movement_rounds_to_the_nearest_eighth_and_clamps_the_centre_to_the_world() -> None:
    """On the empty world at 30 Hz (speed * dt = 5): each input's move rounded to the 1/8 grid,
    to the nearest point; a vector longer than 1 scaled to 1; the centre clamped to x >= 0."""
    seed, x0, y0 = seed_spawning_near_the_left_edge()

    async def scenario(url: str) -> None:
        async with connect(url) as ws:
            w = Walker(ws, await hello(ws, "walker"))
            while w.mirror.tick is None:
                await w.read_one()
            qx, qy = w.position()
            assert (qx, qy) == (x0 * 8, y0 * 8)
            # 0.012 * 5 = 0.06 units, under half a quantum (0.0625): nothing; 0.013: one quantum
            assert await w.step((0.012, 0.0), (0.013, 0.0)) == (qx + 1, qy)
            assert await w.step((-0.013, 0.0)) == (qx, qy)
            assert await w.step((-0.012, 0.0), (0.5, 0.0)) == (qx + 20, qy)  # 2.5 units
            # (1, 1) is scaled to length 1: 5 / sqrt(2) = 3.54 units an axis, 28.28 quanta -> 28
            assert await w.step((1.0, 1.0)) == (qx + 48, qy + 28)
            xs = [qx + 48]
            while xs[-1] > 0:  # full steps left (40 quanta) until the edge stops the centre at 0
                xs.append((await w.step((-1.0, 0.0)))[0])
                assert xs[-1] == max(0, xs[-2] - 40), xs
            # at the edge: x stays 0 (clamped, not below -3 units), y still moves 4 units
            assert await w.step((-0.6, 0.8)) == (0, qy + 28 + 32)

    with ServerProcess("--seed", str(seed), "--max-lag", "60") as s:
        run(scenario(s.ws_url))


def test_pong_carries_the_rooms_tick() -> None:
    """PONG's tick is the room's clock (WELCOME's and SNAPSHOT's), not the process's: a room
    opened after the process has run a while starts from 0. It lies between the ticks of the
    snapshots around the PONG."""

    async def scenario(s: ServerProcess) -> None:
        await wait_until(lambda: s.health()["ticks"] >= 60, 10, "the process to run 60 ticks")
        async with connect(s.ws_url) as ws:
            welcome = await hello(ws, "timer")
            process_ticks = s.health()["ticks"]
            assert welcome.tick <= 1 < 60 <= process_ticks  # the room opened with this HELLO
            w = Walker(ws, welcome)
            while w.mirror.tick is None:
                await w.read_one()
            pace = 1.0
            for i in range(20):  # a move each snapshot, so that one comes every tick
                x, _ = w.position()
                pace = -1.0 if x > 1500 * 8 else 1.0 if x < 500 * 8 else pace
                await w.send_moves([(pace, 0.0)])
                await ws.send(codec.encode_client(Ping(float(i))))
                while not (isinstance(w.log[-1], Snapshot) and len(pongs(w.log)) > i):
                    await w.read_one()
        checked = 0
        for k, msg in enumerate(w.log):
            if isinstance(msg, Pong):
                before = [m.tick for m in w.log[:k] if isinstance(m, Snapshot)]
                after = [m.tick for m in w.log[k:] if isinstance(m, Snapshot)]
                assert before[-1] <= msg.tick <= after[0], (before[-1], msg, after[0])
                assert msg.tick < process_ticks
                checked += 1
        assert checked == 20

    with ServerProcess("--max-lag", "60") as s:
        run(scenario(s))


def corridor_map(path: Path) -> Path:
    """A map of open floor 1280 x 192 units with one spawn point, at (100, 96), and a view of
    64 x 64: an entity is spawned within 32 + 128 = 160 units and removed past 160 + 96 = 256."""
    cols, rows = 40, 6
    doc = {
        "type": "map",
        "version": "1.10",
        "orientation": "orthogonal",
        "renderorder": "right-down",
        "infinite": False,
        "width": cols,
        "height": rows,
        "tilewidth": 32,
        "tileheight": 32,
        "nextlayerid": 3,
        "nextobjectid": 2,
        "layers": [
            {"id": 1, "name": "walls", "type": "tilelayer", "width": cols, "height": rows,
             "data": [0] * (cols * rows), "opacity": 1, "visible": True, "x": 0, "y": 0},
            {"id": 2, "name": "spawns", "type": "objectgroup", "draworder": "topdown", "opacity": 1,
             "visible": True, "x": 0, "y": 0,
             "objects": [{"id": 1, "name": "", "point": True, "rotation": 0, "type": "",
                          "visible": True, "width": 0, "height": 0, "x": 100, "y": 96}]},
        ],
        "properties": [
            {"name": "view_width", "type": "int", "value": 64},
            {"name": "view_height", "type": "int", "value": 64},
        ],
        "tilesets": [],
    }  # fmt: skip
    target = path / "corridor.tmj"
    target.write_text(json.dumps(doc))
    return target


def test_the_view_spawns_within_the_margin_and_removes_past_the_hysteresis_band(tmp_path: Path) -> None:
    """A watches, B walks away along x and back. A holds B while B is within 256 units (the
    view's half width 32, the margin 128, the band 96), loses it past 256, and gets it back
    only within 160."""
    inner, outer = 32 + 128, 32 + 128 + 96
    assert "within `view_width / 2 + 128` units" in " ".join(PROTOCOL_MD.split())
    assert "farther than `view_width / 2 + 224` in x" in " ".join(PROTOCOL_MD.split())

    async def scenario(url: str) -> None:
        async with connect(url) as wa, connect(url) as wb:
            a = Walker(wa, await hello(wa, "watcher"))
            b = Walker(wb, await hello(wb, "walker"))
            seen: list[tuple[int, tuple[int, int] | None]] = []  # A's snapshots: tick, B as held

            async def watch() -> None:
                while True:
                    msg = await a.read_one()
                    if isinstance(msg, Snapshot):
                        held = b.me in a.mirror.rows
                        seen.append((msg.tick, a.position(b.me) if held else None))

            watching = asyncio.get_running_loop().create_task(watch())
            own: dict[int, int] = {}  # B's x, in quanta, by the tick of B's snapshots
            phase = 1.0
            try:
                async with asyncio.timeout(20):
                    while True:
                        msg = await b.read_one()
                        if not isinstance(msg, Snapshot):
                            continue
                        x, y = b.position()
                        own[msg.tick] = x
                        if phase > 0 and x >= (100 + outer + 20) * 8:
                            phase = -1.0  # well out: come back
                        elif phase < 0 and x <= (100 + inner - 60) * 8:
                            break  # well in again
                        await b.send_moves([(phase, 0.0)])
                    await wait_until(lambda: bool(seen) and seen[-1][1] is not None, 5, "A to hold B again")
            finally:
                watching.cancel()
        dx = {t: x / 8 - 100 for t, x in own.items()}
        held = [(t, p[0] / 8 - 100) for t, p in seen if p is not None]
        removed_at = next(t for t, p in seen if p is None and any(h < t for h, _ in held))
        back_at, back_dx = next((t, d) for t, d in held if t > removed_at)
        last_held = max(d for t, d in held if t < removed_at)
        assert inner < last_held <= outer, "held in the band on the way out"
        assert dx[removed_at] > outer, "removed only past the band"
        assert back_dx <= inner, "spawned again only within the margin"
        assert all(abs(d - dx[t]) < 1e-9 for t, d in held if t in dx), "A sees B where B is"

    with ServerProcess("--max-lag", "60", map_name=str(corridor_map(tmp_path))) as s:
        run(scenario(s.ws_url))


def healthz_table_keys() -> list[str]:
    section = PROTOCOL_MD.split("### HTTP: /healthz", 1)[1].split("\n#", 1)[0]
    return re.findall(r"^\| `([a-z_0-9]+)` \|", section, flags=re.M)


def test_healthz_has_the_documented_keys_with_their_meanings() -> None:
    """Every key docs/protocol.md lists, and no other; and what the counts count, with a player,
    a spectator, a WebSocket that has not said HELLO and a reserved seat."""

    async def scenario(s: ServerProcess) -> None:
        async with connect(s.ws_url) as p, connect(s.ws_url) as spectator, connect(s.ws_url):
            await hello(p, "player")
            await spectator.send(codec.encode_client(Hello(1, "fan", spectate=True)))
            assert isinstance(codec.decode_server(await asyncio.wait_for(spectator.recv(), 5)), Welcome)
            request = urllib.request.Request(s.http + "/matchmake/quick", data=b"{}", method="POST")
            with urllib.request.urlopen(request, timeout=5) as r:
                assert json.loads(r.read())["seat"]
            await wait_until(lambda: s.health()["sockets"] == 3, 5, "three WebSockets")
            h = s.health()
            assert sorted(h) == sorted(healthz_table_keys())
            assert (h["status"], h["tick_rate"], h["ticks"]) == ("ok", 30, h["tick"])
            assert h["build"] in ("interpreted", "compiled")
            assert h["players"] == h["connections"] == 1 and h["players_away"] == 0
            assert (h["spectators"], h["rooms"], h["seats_reserved"]) == (1, 1, 1)
            assert (h["rooms_created"], h["rooms_disposed"], h["rooms_failed"], h["resumed"]) == (1, 0, 0, 0)
            assert h["bytes_out"] > 0 and h["io_passes"] > 0 and h["io_events"] > 0
            assert h["uptime_s"] > 0 and h["interval_ms_p99"] >= 0  # 0 until two ticks have run
            assert 0 <= h["tick_ms_p50"] <= h["tick_ms_p99"] <= h["tick_ms_max"]
            p.transport.abort()  # a drop, with no close frame: the player is kept for a resume
            await wait_until(lambda: s.health()["players_away"] == 1, 5, "the player to be kept away")
            h = s.health()
            assert h["players"] == h["connections"] == 1 and h["sockets"] == 2

    with ServerProcess("--max-lag", "60") as s:
        run(scenario(s))
