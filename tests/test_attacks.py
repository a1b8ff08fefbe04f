"""Attacks from one client address (127.0.0.2) against a live server while a player from another
(127.0.0.1) plays: each is bounded by its documented limit, and the player, new joins and
/healthz are unaffected."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, closing
from typing import Any

import pytest
import websockets
from server_process import ServerProcess
from test_server_e2e import Player, hello, wait_until
from websockets.asyncio.client import connect

from gameserver.messages import Welcome

ATTACKER = "127.0.0.2"


def raw(server: ServerProcess, source: str = ATTACKER) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", server.port), timeout=10, source_address=(source, 0))
    return s


def handshake(server: ServerProcess, source: str = ATTACKER, **headers: str) -> tuple[socket.socket, bytes]:
    """A WebSocket opening handshake over a raw socket: the socket and the answer's head."""
    s = raw(server, source)
    fields = {
        "Host": f"127.0.0.1:{server.port}",
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
        "Sec-WebSocket-Version": "13",
        **{k.replace("_", "-"): v for k, v in headers.items()},
    }
    s.sendall(
        ("GET /ws HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items()) + "\r\n").encode()
    )
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = s.recv(4096)
        if not chunk:
            break
        answer += chunk
    return s, answer


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def healthz(server: ServerProcess) -> dict[str, Any]:
    with urllib.request.urlopen(server.http + "/healthz", timeout=5) as r:
        return json.loads(r.read())  # type: ignore[no-any-return]


@asynccontextmanager
async def witness(server: ServerProcess) -> AsyncIterator[Player]:
    """A player from 127.0.0.1 that keeps reading snapshots and acknowledging them."""
    async with connect(server.ws_url) as ws:
        p = Player(ws, await hello(ws, "witness")).start()
        try:
            yield p
        finally:
            assert p.task is not None
            p.task.cancel()


async def still_playing(p: Player, server: ServerProcess) -> None:
    """The witness keeps its snapshot rate, a new player joins, /healthz answers."""
    n, t0 = len(p.ticks), time.monotonic()
    await wait_until(lambda: len(p.ticks) >= n + 15, 3, "the witness's snapshots")
    assert len(p.ticks) - n >= 0.6 * 30 * (time.monotonic() - t0) - 2
    async with connect(server.ws_url) as ws:
        assert isinstance(await hello(ws, "newcomer"), Welcome)
    assert healthz(server)["status"] == "ok"


@pytest.fixture
def server() -> Iterator[ServerProcess]:
    with ServerProcess("--http-timeout", "1.5", "--hello-timeout", "3", "--max-lag", "5") as s:
        yield s


def test_slowloris_holds_at_most_its_share_of_http_slots_and_each_for_one_deadline(
    server: ServerProcess,
) -> None:
    async def scenario() -> None:
        async with witness(server) as p:
            held: list[socket.socket] = []
            refused = 0
            for _ in range(40):  # far more than --http-per-address (16)
                s = raw(server)
                s.sendall(b"GET /rooms HTTP/1.1\r\nHost: x\r\n")  # and never the end of the head
                held.append(s)
            t0 = time.monotonic()
            for s in held:  # past the cap, an answer at once: 429 and the connection closed
                s.settimeout(0.5)
                try:
                    data = s.recv(4096)
                except TimeoutError:
                    continue
                if data.startswith(b"HTTP/1.1 429"):
                    refused += 1
            assert refused == 40 - 16
            await still_playing(p, server)
            # the 16 that were let in are cut by --http-timeout (1.5 s) though they keep talking
            for s in held:
                s.settimeout(0.2)
            open_ = list(held)
            while open_:
                assert time.monotonic() - t0 < 1.5 + 2.0, f"{len(open_)} still open"
                for s in list(open_):
                    try:
                        s.sendall(b"X-Slow: 1\r\n")
                        if s.recv(4096) == b"":
                            open_.remove(s)
                    except TimeoutError:
                        pass
                    except OSError:
                        open_.remove(s)
            for s in held:
                s.close()

    asyncio.run(scenario())


def test_a_kept_alive_idle_http_connection_is_closed_after_the_deadline(server: ServerProcess) -> None:
    with closing(raw(server)) as s:
        s.sendall(b"GET /rooms HTTP/1.1\r\nHost: x\r\n\r\n")
        s.settimeout(5)
        t0 = time.monotonic()
        data = b""
        while chunk := s.recv(4096):  # the answer, then the close once idle past the deadline
            data += chunk
        assert data.startswith(b"HTTP/1.1 200") and 1.0 < time.monotonic() - t0 < 4.0


def test_handshakes_that_never_say_hello_are_bounded_per_address(server: ServerProcess) -> None:
    async def scenario() -> None:
        async with witness(server) as p:
            answers = [handshake(server) for _ in range(12)]  # --hellos-per-address is 8
            statuses = [status_of(a) for _, a in answers]
            assert statuses.count(101) == 8 and statuses.count(429) == 4, statuses
            refusal = next(a for _, a in answers if status_of(a) == 429)
            assert b"Retry-After: 5" in refusal and b"too_many_connections" in refusal
            await still_playing(p, server)
            # another address is not held back by this one's
            s, other = handshake(server, source="127.0.0.3")
            assert status_of(other) == 101
            s.close()
            for s, _ in answers:
                s.close()

    asyncio.run(scenario())


def test_connections_are_bounded_per_address(server: ServerProcess) -> None:
    async def scenario() -> None:
        async with witness(server) as p:
            joined: list[Any] = []
            refused = 0
            try:
                for i in range(36):  # --connections-per-address is 32
                    try:
                        ws = await connect(server.ws_url, local_addr=(ATTACKER, 0))
                    except websockets.InvalidStatus as exc:
                        assert exc.response.status_code == 429
                        refused += 1
                        continue
                    await hello(ws, f"a{i}")
                    joined.append(ws)
                assert (len(joined), refused) == (32, 4)
                await still_playing(p, server)
                await joined.pop().close()  # one place freed: the address may take it again
                # 31 of the address's players and the witness (the newcomer has left too)
                await wait_until(lambda: healthz(server)["players"] == 31 + 1, 5, "the leave")
                joined.append(await connect(server.ws_url, local_addr=(ATTACKER, 0)))
            finally:
                for ws in joined:
                    await ws.close()

    asyncio.run(scenario())


@pytest.mark.parametrize(
    "origin, allowed",
    [
        (None, True),  # no Origin: not a browser (bots, native clients)
        ("http://127.0.0.1:{port}", True),  # the server's own pages
        ("http://evil.example", False),
        ("http://127.0.0.1:1", False),
        ("null", False),
    ],
)
def test_only_the_servers_own_pages_open_websockets_by_default(
    server: ServerProcess, origin: str | None, allowed: bool
) -> None:
    headers = {} if origin is None else {"Origin": origin.format(port=server.port)}
    s, answer = handshake(server, source="127.0.0.1", **headers)
    s.close()
    if allowed:
        assert status_of(answer) == 101
    else:
        assert status_of(answer) == 403 and b"origin_not_allowed" in answer


def test_allowed_origins_lists_the_sites_whose_pages_may_connect() -> None:
    with ServerProcess("--allowed-origins", "https://game.example.com, http://localhost:8080/") as s:
        for origin, status in [
            ("https://game.example.com", 101),
            ("http://localhost:8080", 101),
            (f"http://127.0.0.1:{s.port}", 403),  # its own pages are not listed
            ("https://evil.example", 403),
        ]:
            sock, answer = handshake(s, source="127.0.0.1", Origin=origin)
            sock.close()
            assert status_of(answer) == status, (origin, answer[:60])


def test_websocket_drafts_other_than_13_are_refused(server: ServerProcess) -> None:
    s, answer = handshake(server, source="127.0.0.1", Sec_WebSocket_Version="8")
    s.close()
    assert status_of(answer) == 426 and b"sec-websocket-version: 13" in answer.lower()


@pytest.mark.parametrize(
    "path, status",
    [
        ("/", 200),
        ("/js/main.js", 200),
        ("/vendor/msgpack/dist.esm/index.mjs", 200),
        ("/assets/maps/yard.tmj", 200),
        ("/assets/tiles/tileset.png", 200),
        ("/bench.py", 404),  # the Python beside the page is not served
        ("/bots/runner.py", 404),
        ("/vendor/msgpack/README.md", 404),
        ("/%00", 404),
        ("/js/%00main.js", 404),
        ("/" + "a" * 300, 404),
        ("/js/" + "b" * 256 + ".js", 404),
        ("/../gameserver/server.py", 404),
    ],
)
def test_static_files_are_the_demos_and_odd_paths_are_not_found(
    server: ServerProcess, path: str, status: int
) -> None:
    with closing(raw(server, source="127.0.0.1")) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    assert status_of(data) == status, data[:200]
