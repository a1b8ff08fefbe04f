"""Many server processes, one directory in Redis: real processes on 127.0.0.1, a real
redis-server, real HTTP and WebSocket clients; a process killed -9 mid-game."""

from __future__ import annotations

import asyncio
import collections
import http.client
import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from redis_server import RedisServer, require_redis
from server_process import ROOT, ServerProcess, first_answer, wait_for
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from client_demo.bots import run_bots
from gameserver import codec
from gameserver.messages import Hello, Input, Snapshot, Welcome

TTL = "2"  # --cluster-ttl: a killed process leaves the listing within 2 s


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


def cluster(redis_server: RedisServer, *args: str) -> ServerProcess:
    return ServerProcess("--redis", redis_server.url, "--cluster-ttl", TTL, *args)


def post(server: ServerProcess, path: str, obj: Any = None) -> tuple[int, dict[str, Any]]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("POST", path, body=json.dumps(obj or {}).encode())
        r = conn.getresponse()
        answer: dict[str, Any] = json.loads(r.read())
        return r.status, answer
    finally:
        conn.close()


def rooms(server: ServerProcess) -> list[dict[str, Any]]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("GET", "/rooms")
        listing: list[dict[str, Any]] = json.loads(conn.getresponse().read())["rooms"]
        return listing
    finally:
        conn.close()


def test_matchmaking_on_one_process_seats_players_on_another_and_the_seat_works_there_only(
    redis_server: RedisServer,
) -> None:
    with cluster(redis_server, "--room-size", "2") as a, cluster(redis_server, "--room-size", "2") as b:
        offers = [post(a, "/matchmake/quick")[1] for _ in range(3)]
        assert [o["url"] for o in offers] == [a.ws_url, a.ws_url, b.ws_url]  # a's room is full
        assert offers[0]["room"] == offers[1]["room"] != offers[2]["room"]
        listing = {r["id"]: r for r in rooms(b)}
        assert listing[offers[2]["room"]]["url"] == b.ws_url and listing[offers[0]["room"]]["reserved"] == 2

        async def play() -> None:
            # the seat on b, taken to a: refused there; taken to b: b opens the room it was
            # given and seats the player
            seat = offers[2]
            hello = Hello(1, "cleo", None, None, seat["seat"])
            _, refused = await first_answer(a.ws_url, hello)
            assert refused == (4403, "invalid_seat")
            welcome, _ = await first_answer(b.ws_url, hello)
            assert isinstance(welcome, Welcome) and welcome.room == seat["room"]
            # a HELLO with no seat is refused: a cluster's rooms are reached through matchmaking
            _, refused = await first_answer(b.ws_url, Hello(1, "dan"))
            assert refused == (4403, "invalid_seat")

        asyncio.run(play())
        # b wrote its player: the room lists 1 player and no seat (the seat became the player)
        wait_for(
            lambda: (
                [(r["players"], r["reserved"]) for r in rooms(a) if r["id"] == offers[2]["room"]] == [(0, 0)]
            ),
            5,
            "the player's leave to be listed",
        )
        assert b.health()["cluster"]["beat_failures"] == 0


def test_concurrent_quick_plays_on_two_processes_fill_rooms_exactly(redis_server: RedisServer) -> None:
    with cluster(redis_server, "--room-size", "4") as a, cluster(redis_server, "--room-size", "4") as b:
        servers = [a, b]
        with ThreadPoolExecutor(max_workers=16) as pool:
            answers = list(pool.map(lambda i: post(servers[i % 2], "/matchmake/quick"), range(80)))
        assert {status for status, _ in answers} == {200}
        per_room = collections.Counter(o["room"] for _, o in answers)
        assert len(per_room) == 20 and set(per_room.values()) == {4}
        on = collections.Counter(o["url"] for _, o in answers)
        assert set(on) == {a.ws_url, b.ws_url}  # rooms on both processes
        listing = rooms(a)
        assert sorted(r["reserved"] for r in listing) == [4] * 20


def test_a_process_killed_mid_game_leaves_the_directory_and_the_others_play_on(
    redis_server: RedisServer,
) -> None:
    with cluster(redis_server, "--room-size", "2") as a, cluster(redis_server, "--room-size", "2") as b:
        for_a = post(a, "/matchmake/quick")[1]
        post(a, "/matchmake/quick")  # a's room is full: the next is on b
        for_b = post(a, "/matchmake/quick")[1]
        assert (for_a["url"], for_b["url"]) == (a.ws_url, b.ws_url)

        async def play() -> float:
            async with connect(for_a["url"]) as on_a, connect(for_b["url"]) as on_b:
                await on_a.send(codec.encode_client(Hello(1, "ann", None, None, for_a["seat"])))
                await on_b.send(codec.encode_client(Hello(1, "bob", None, None, for_b["seat"])))
                for ws in (on_a, on_b):
                    assert isinstance(codec.decode_server(await asyncio.wait_for(ws.recv(), 5)), Welcome)
                assert b.proc is not None
                b.proc.send_signal(signal.SIGKILL)  # mid-game: no goodbye, no leave
                killed = time.monotonic()
                loop = asyncio.get_running_loop()
                await loop.run_in_executor(
                    None,
                    lambda: wait_for(
                        lambda: not any(r["url"] == b.ws_url for r in rooms(a)), 10, "b's rooms to leave"
                    ),
                )
                gone_after = time.monotonic() - killed
                # ann, on a, plays on: snapshots keep coming
                ticks: set[int] = set()
                while len(ticks) < 5:
                    msg = codec.decode_server(await asyncio.wait_for(on_a.recv(), 5))
                    if isinstance(msg, Snapshot):
                        ticks.add(msg.tick)
                return gone_after

        gone_after = asyncio.run(play())
        assert gone_after < float(TTL) + 1.0, gone_after
        # new players go to a alone, and the beat of a removes every key of b's
        assert post(a, "/matchmake/quick")[1]["url"] == a.ws_url
        b_id = [k.decode() for k in redis_server.client().scan_iter("gameserver:proc:*")]
        assert len(b_id) == 1  # a's registration alone
        wait_for(
            lambda: (
                not any(for_b["room"] in k.decode() for k in redis_server.client().scan_iter("gameserver:*"))
            ),
            float(TTL),
            "b's room's keys to go",
        )


def test_a_process_that_cannot_reach_redis_exits_with_a_clear_error() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "gameserver", "--port", "0", "--redis", "redis://127.0.0.1:1/0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert "cannot join the cluster at redis://127.0.0.1:1/0" in proc.stderr


def test_the_local_cluster_command_starts_processes_and_redis_and_ctrl_c_stops_them_all() -> None:
    require_redis()
    tool = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gameserver.localcluster",
            "--processes",
            "2",
            "--port",
            "0",
            "--",
            "--map",
            "none",
        ]
        + ["--room-size", "2"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert tool.stdout is not None
        lines = [tool.stdout.readline() for _ in range(3)]
        assert lines[2].startswith("cluster ready: 2 processes on redis://127.0.0.1:"), lines
        redis_port = int(lines[2].split("redis://127.0.0.1:")[1].split("/")[0])
        ports = [int(line.rsplit(":", 1)[1].strip().rstrip("/")) for line in lines[:2]]
        a, b = (ServerProcess() for _ in ports)
        a.port, b.port = ports
        urls = [post(a, "/matchmake/quick")[1]["url"] for _ in range(3)]
        assert urls == [a.ws_url, a.ws_url, b.ws_url]  # one directory for both
        tool.send_signal(signal.SIGINT)
        assert tool.wait(20) == 0
        for port in (*ports, redis_port):  # nothing it started is left listening
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
    finally:
        if tool.poll() is None:
            tool.kill()
            tool.wait()
        if tool.stdout is not None:
            tool.stdout.close()


def test_sigterm_drains_a_process_the_directory_sends_no_one_there_and_it_stops_when_its_last_player_leaves(
    redis_server: RedisServer,
) -> None:
    with (
        cluster(redis_server, "--room-size", "4") as a,
        cluster(redis_server, "--room-size", "4", "--drain-timeout", "30") as b,
    ):
        on_b = post(b, "/matchmake/quick")[1]  # both empty: the process asked opens the room
        assert on_b["url"] == b.ws_url

        def while_draining() -> None:
            assert b.proc is not None
            b.proc.send_signal(signal.SIGTERM)
            wait_for(lambda: b.health()["status"] == "draining", 5, "b to drain")
            # at once: b's room has three free places, yet no one is sent there
            wait_for(
                lambda: [r["draining"] for r in rooms(a) if r["id"] == on_b["room"]] == [True],
                2,
                "b to be listed as draining",
            )
            offers = [post(a, "/matchmake/quick")[1] for _ in range(3)]
            assert {o["url"] for o in offers} == {a.ws_url}
            assert post(a, "/matchmake/join", {"room": on_b["room"]})[1]["error"] == "room_not_found"
            status, offer = post(b, "/matchmake/quick")  # b still answers, for the others
            assert status == 200 and offer["url"] == a.ws_url

        async def play() -> int:
            async with connect(b.ws_url) as ws:
                await ws.send(codec.encode_client(Hello(1, "bea", None, None, on_b["seat"])))
                assert isinstance(codec.decode_server(await asyncio.wait_for(ws.recv(), 5)), Welcome)
                drained = asyncio.get_running_loop().run_in_executor(None, while_draining)
                # bea plays on while b drains: she acknowledges every snapshot
                ticks: set[int] = set()
                while not drained.done() or len(ticks) < 10:
                    msg = codec.decode_server(await asyncio.wait_for(ws.recv(), 5))
                    if isinstance(msg, Snapshot):
                        ticks.add(msg.tick)
                        await ws.send(codec.encode_client(Input(len(ticks), 0.0, 0.0, 0.0, 0, msg.tick)))
                await drained
                assert b.proc is not None and b.proc.poll() is None
                return len(ticks)
            # bea left: b has no player and stops, long before its drain timeout

        assert asyncio.run(play()) >= 10
        assert b.proc is not None
        started = time.monotonic()
        assert b.proc.wait(10) == 0
        assert time.monotonic() - started < 5
        assert not any(r["url"] == b.ws_url for r in rooms(a))


def test_a_drain_refuses_newcomers_and_says_goodbye_when_its_timeout_ends() -> None:
    with ServerProcess("--drain-timeout", "1.5") as s:

        async def play() -> tuple[Any, tuple[int, str | None] | None, Any]:
            async with connect(s.ws_url) as ws:
                await ws.send(codec.encode_client(Hello(1, "stays")))
                assert isinstance(codec.decode_server(await asyncio.wait_for(ws.recv(), 5)), Welcome)
                assert s.proc is not None
                s.proc.send_signal(signal.SIGTERM)
                loop = asyncio.get_running_loop()
                await loop.run_in_executor(
                    None, lambda: wait_for(lambda: s.health()["status"] == "draining", 5, "the drain")
                )
                refused = await first_answer(s.ws_url, Hello(1, "late"))
                last = None
                try:
                    while True:
                        last = codec.decode_server(await asyncio.wait_for(ws.recv(), 5))
                except ConnectionClosed:
                    pass
                return refused[0], refused[1], (last, ws.close_code)

        first, close, (last, code) = asyncio.run(play())
        assert (first.code, close) == ("server_shutdown", (1001, "server_shutdown"))
        assert "shutting down" in first.message
        assert getattr(last, "code", None) == "server_shutdown" and code == 1001
        assert s.proc is not None and s.proc.wait(5) == 0


def test_a_session_token_leads_back_to_the_process_that_holds_the_room(redis_server: RedisServer) -> None:
    with cluster(redis_server, "--room-size", "1") as a, cluster(redis_server, "--room-size", "1") as b:
        post(a, "/matchmake/quick")  # a's room is full: the next room is on b
        seat = post(a, "/matchmake/quick")[1]
        assert seat["url"] == b.ws_url

        async def play() -> None:
            ws = await connect(b.ws_url)
            await ws.send(codec.encode_client(Hello(1, "dee", None, None, seat["seat"])))
            welcome = codec.decode_server(await asyncio.wait_for(ws.recv(), 5))
            assert isinstance(welcome, Welcome) and welcome.session_token is not None
            ws.transport.abort()  # dropped: no close frame; kept for --reconnect-grace
            token = welcome.session_token
            loop = asyncio.get_running_loop()
            # any process says where the session is; the wrong one refuses its HELLO and says so
            status, where = await loop.run_in_executor(
                None, lambda: post(a, "/matchmake/reconnect", {"session": token})
            )
            assert (status, where) == (200, {"url": b.ws_url})
            refused = await first_answer(a.ws_url, Hello(1, "dee", token))
            assert refused[1] == (4421, "wrong_process") and "/matchmake/reconnect" in refused[0].message
            back, _ = await first_answer(where["url"], Hello(1, "dee", token))
            assert isinstance(back, Welcome)
            assert (back.entity_id, back.room) == (welcome.entity_id, welcome.room)

        asyncio.run(play())
        status, answer = post(a, "/matchmake/reconnect", {"session": "0123456789abcdef.x"})
        assert (status, answer["error"]) == (401, "session_expired")


def test_bots_join_through_the_matchmaker_and_spread_over_the_processes(redis_server: RedisServer) -> None:
    with cluster(redis_server, "--room-size", "5") as a, cluster(redis_server, "--room-size", "5") as b:
        report = run_bots(
            a.ws_url, 20, 2.0, behaviour="wander,drop", verify=2, matchmake=True, drop_every=(0.5, 1.0)
        )
        assert report["errors"] == 0 and report["connected"] == 20, report["error_samples"]
        assert report["resumes"] >= 1 and report["failed_resumes"] == 0
        assert report["rooms"]["count"] == 4 and report["isolation_violations"] == 0
        assert a.health()["rooms"] >= 1 and b.health()["rooms"] >= 1  # rooms on both processes


def test_a_stalled_redis_costs_matchmaking_a_503_and_the_tick_nothing(redis_server: RedisServer) -> None:
    """Redis is stopped (SIGSTOP) mid-game: matchmaking answers 503 directory_unavailable after
    its timeout, while the player in the game keeps every snapshot and /healthz answers at once:
    Redis calls wait in their own green threads (redis-py on eventlet's sockets), never the tick."""
    with cluster(redis_server) as s:
        seat = post(s, "/matchmake/quick")[1]
        redis = redis_server.proc
        assert redis is not None

        async def play() -> tuple[int, float, int]:
            async with connect(seat["url"]) as ws:
                await ws.send(codec.encode_client(Hello(1, "ivy", None, None, seat["seat"])))
                assert isinstance(codec.decode_server(await asyncio.wait_for(ws.recv(), 5)), Welcome)
                redis.send_signal(signal.SIGSTOP)
                try:
                    loop = asyncio.get_running_loop()
                    asked = time.monotonic()
                    answer = loop.run_in_executor(None, lambda: post(s, "/matchmake/quick"))
                    ticks: set[int] = set()
                    started = time.monotonic()
                    while time.monotonic() - started < 1.5:  # the snapshots of 1.5 s of play
                        msg = codec.decode_server(await asyncio.wait_for(ws.recv(), 1))
                        if isinstance(msg, Snapshot):
                            ticks.add(msg.tick)
                            # moving, so that every tick has a change to send
                            move = 1.0 if len(ticks) // 15 % 2 else -1.0
                            await ws.send(codec.encode_client(Input(len(ticks), move, 0.0, 0.0, 0, msg.tick)))
                    health = await loop.run_in_executor(None, s.health)
                    status, body = await answer
                    assert (status, body["error"]) == (503, "directory_unavailable")
                    return len(ticks), time.monotonic() - asked, health["players"]
                finally:
                    redis.send_signal(signal.SIGCONT)

        ticks, waited, players = asyncio.run(play())
        assert ticks >= 40 and players == 1  # 45 snapshots in 1.5 s at 30 Hz, none held up
        assert waited < 5
        # Redis back: matchmaking answers again, and the failed beats were counted
        wait_for(lambda: post(s, "/matchmake/quick")[0] == 200, 10, "matchmaking to answer again")
        assert s.health()["cluster"]["beat_failures"] >= 1


def test_a_cluster_keeps_its_per_address_limits_and_refuses_forged_seats(redis_server: RedisServer) -> None:
    with cluster(
        redis_server, "--unlimited-addresses", "", "--seats-per-address", "3", "--creates-per-minute", "1"
    ) as s:
        statuses = [post(s, "/matchmake/quick")[0] for _ in range(3)]
        status, body = post(s, "/matchmake/quick")
        assert statuses == [200, 200, 200] and (status, body["error"]) == (429, "rate_limited")
        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10, source_address=("127.0.0.2", 0))
        conn.request("POST", "/matchmake/create", body=b"{}")
        assert conn.getresponse().status == 200  # another address has its own count
        conn.close()
        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10, source_address=("127.0.0.2", 0))
        conn.request("POST", "/matchmake/create", body=b"{}")
        answer = conn.getresponse()
        assert (answer.status, json.loads(answer.read())["error"]) == (429, "rate_limited")  # one a minute
        conn.close()

        async def forge() -> list[tuple[int, str | None] | None]:
            tokens = ["A" * 43, "0" * 43, "x", seat_of_another_cluster()]
            return [(await first_answer(s.ws_url, Hello(1, "eve", None, None, t)))[1] for t in tokens]

        assert asyncio.run(forge()) == [(4403, "invalid_seat")] * 4


def seat_of_another_cluster() -> str:
    from gameserver.cluster import Claim, SeatSigner

    claim = Claim("0a0b0c0d0e0f", "r-00112233aabb", "deadbeef", int(time.time()) + 60, "none", False)
    return SeatSigner(b"another cluster's secret".ljust(32, b"!"), ["arena", "none", "yard"]).sign(claim)
