"""End to end: a real server process on 127.0.0.1 and real WebSocket clients."""

from __future__ import annotations

import asyncio
import math
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import msgpack
import pytest
import websockets
from server_process import ROOT, ServerProcess, wait_for
from websockets.asyncio.client import ClientConnection, connect

from gameserver import codec
from gameserver.messages import Error, Goodbye, Hello, Input, Ping, Pong, Snapshot, Welcome
from gameserver.replication import Mirror
from gameserver.world import SCHEMA

# --- helpers -------------------------------------------------------------------------------


class Player:
    """A well-behaved client: reads every snapshot, mirrors it, acknowledges it."""

    def __init__(self, ws: ClientConnection, welcome: Welcome) -> None:
        self.ws = ws
        self.welcome = welcome
        self.mirror = Mirror(SCHEMA)
        self.ticks: list[int] = []
        self.arrivals: list[float] = []
        self.seq = 0
        self.move: tuple[float, float] | None = None  # None: pace back and forth
        self.pace = 1.0
        self.other: list[Any] = []
        self.task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        async for data in self.ws:
            msg = codec.decode_server(data)
            if isinstance(msg, Snapshot):
                self.mirror.apply(msg)
                self.ticks.append(msg.tick)
                self.arrivals.append(time.monotonic())
                self.seq += 1
                move = self.move if self.move is not None else self._pacing()
                await self.ws.send(codec.encode_client(Input(self.seq, *move, 0.0, 0, msg.tick)))
            else:
                self.other.append(msg)

    def _pacing(self) -> tuple[float, float]:
        """Walk to and fro around the middle: something always moves, so a snapshot goes out
        every tick (the server sends none while nothing changes, but one a second)."""
        me = self.mirror.rows.get(self.welcome.entity_id)
        if me is not None:
            if me[0] > 1100 * 8:
                self.pace = -1.0
            elif me[0] < 900 * 8:
                self.pace = 1.0
        return (self.pace, 0.0)

    def start(self) -> Player:
        self.task = asyncio.get_running_loop().create_task(self.run())
        return self

    def position_of(self, entity_id: int) -> tuple[int, int] | None:
        row = self.mirror.rows.get(entity_id)
        return None if row is None else (row[0], row[1])

    def gaps(self) -> list[int]:
        return [b - a for a, b in zip(self.ticks, self.ticks[1:], strict=False) if b - a != 1]


async def hello(ws: ClientConnection, name: str) -> Welcome:
    await ws.send(codec.encode_client(Hello(1, name)))
    msg = codec.decode_server(await asyncio.wait_for(ws.recv(), 5))
    assert isinstance(msg, Welcome), msg
    return msg


@asynccontextmanager
async def player(url: str, name: str) -> AsyncIterator[Player]:
    async with connect(url) as ws:
        p = Player(ws, await hello(ws, name)).start()
        try:
            yield p
        finally:
            assert p.task is not None
            p.task.cancel()


async def wait_until(pred: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.01)


async def closed_with(ws: ClientConnection, timeout: float = 5.0) -> tuple[int | None, str, list[Any]]:
    """Read until the server closes; return (close code, reason, messages received)."""
    msgs: list[Any] = []
    try:
        async with asyncio.timeout(timeout):
            async for data in ws:
                msgs.append(codec.decode_server(data) if isinstance(data, bytes) else data)
    except TimeoutError:
        raise AssertionError(f"server did not close within {timeout} s; got {msgs[-3:]}") from None
    except websockets.ConnectionClosed:
        pass
    rcvd = ws.protocol.close_rcvd
    assert rcvd is not None, "no close frame from the server"
    return rcvd.code, rcvd.reason, msgs


def run(coro: Any) -> Any:
    return asyncio.run(coro)


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with ServerProcess("--tick", "30", "--max-lag", "1.0", "--hello-timeout", "1.0") as s:
        yield s


# --- the game -----------------------------------------------------------------------------


def test_two_players_one_moves_the_other_sees_it(server: ServerProcess) -> None:
    async def scenario() -> None:
        async with player(server.ws_url, "alice") as a, player(server.ws_url, "bob") as b:
            a_id = a.welcome.entity_id
            await wait_until(lambda: b.position_of(a_id) is not None, 5, "bob to see alice")
            start = b.position_of(a_id)
            assert start is not None
            # move towards the centre so that the world's edge can't stop us
            a.move = (1.0 if start[0] < 8000 else -1.0, 0.0)
            await wait_until(
                lambda: abs(b.position_of(a_id)[0] - start[0]) >= 8 * 40,  # type: ignore[index]
                5,
                "alice to move 40 units in bob's view",
            )
            assert b.position_of(a_id)[1] == start[1]  # type: ignore[index]
            # alice's own view agrees with the server's acknowledgement of her inputs
            assert a.mirror.tick is not None and a.seq > 0

    run(scenario())


def test_snapshots_arrive_at_the_tick_rate(server: ServerProcess) -> None:
    async def scenario() -> None:
        async with player(server.ws_url, "counter") as p:
            await wait_until(lambda: len(p.ticks) >= 2, 5, "the first snapshots")
            t0, n0 = time.monotonic(), len(p.ticks)
            await asyncio.sleep(2.0)  # a measurement window, not a wait for a condition
            rate = (len(p.ticks) - n0) / (time.monotonic() - t0)
            assert 20 <= rate <= 40, f"{rate:.1f} snapshots/s at 30 Hz"

    run(scenario())


def test_welcome_states_the_rules_and_ping_gets_pong(server: ServerProcess) -> None:
    async def scenario() -> None:
        async with connect(server.ws_url) as ws:
            w = await hello(ws, "pinger")
            assert w.tick_rate == 30 and w.snapshot_rate == 30 and w.entity_id > 0
            assert w.rules["speed"] == 150.0 and math.isclose(w.rules["dt"], 1 / 30)
            await ws.send(codec.encode_client(Ping(123.25)))
            async with asyncio.timeout(5):
                async for data in ws:
                    msg = codec.decode_server(data)
                    if isinstance(msg, Pong):
                        assert msg.client_time == 123.25 and msg.tick > 0
                        break

    run(scenario())


# --- bad input: each gets its code, and nobody else notices ----------------------------------

BAD_MESSAGES = [
    ("text frame", "hello", 1003, "text_frame"),
    ("invalid msgpack", b"\xc1\xc1", 1007, "invalid_msgpack"),
    ("wrong type", msgpack.packb([2, "one", 0, 0, 0, 0, None]), 1007, "invalid_message"),
    ("out of range", msgpack.packb([2, 1, 9.0, 0, 0, 0, None]), 1007, "invalid_message"),
    ("NaN", msgpack.packb([2, 1, math.nan, 0, 0, 0, None]), 1007, "invalid_message"),
    ("unknown type", msgpack.packb([42, 1]), 1003, "unknown_type"),
    ("second hello", codec.encode_client(Hello(1, "again")), 1002, "unexpected_hello"),
    ("oversized", msgpack.packb([2, "x" * 4000]), 1009, "message_too_big"),
]


@pytest.mark.parametrize(
    "label, data, close_code, error_code", BAD_MESSAGES, ids=[b[0] for b in BAD_MESSAGES]
)
def test_bad_message_after_hello(
    server: ServerProcess, label: str, data: Any, close_code: int, error_code: str
) -> None:
    async def scenario() -> None:
        async with player(server.ws_url, "witness") as witness:
            await wait_until(lambda: len(witness.ticks) >= 3, 5, "the witness's snapshots")
            async with connect(server.ws_url, max_size=None) as bad:
                await hello(bad, "villain")
                await bad.send(data)
                code, reason, msgs = await closed_with(bad)
            assert code == close_code and reason == error_code
            if close_code != 1009:  # a too-big message is refused while it is still arriving
                errors = [m for m in msgs if isinstance(m, Error)]
                assert errors and errors[-1].code == error_code
            n = len(witness.ticks)
            await wait_until(lambda: len(witness.ticks) >= n + 5, 5, "the witness to keep receiving")
            assert witness.gaps() == [], "the witness missed snapshots"

    run(scenario())


@pytest.mark.parametrize(
    "data, close_code, error_code",
    [
        (codec.encode_client(Input(1, 0, 0, 0, 0, None)), 1002, "hello_required"),
        (msgpack.packb([1, 99, "future", None, None]), 1002, "unsupported_version"),
        (msgpack.packb([1, 1, "", None, None]), 1007, "invalid_message"),
        ("text", 1003, "text_frame"),
    ],
)
def test_bad_first_message(server: ServerProcess, data: Any, close_code: int, error_code: str) -> None:
    async def scenario() -> None:
        async with connect(server.ws_url) as ws:
            await ws.send(data)
            code, reason, msgs = await closed_with(ws)
        assert (code, reason) == (close_code, error_code)
        assert isinstance(msgs[-1], Error) and msgs[-1].code == error_code

    run(scenario())


async def misbehave(url: str, name: str, abuse: Any, expected: tuple[int, str]) -> None:
    """A client says hello, then `abuse(ws)`; it must be closed with `expected` while a
    well-behaved witness keeps receiving snapshots."""
    async with player(url, "witness") as witness, connect(url) as bad:
        await hello(bad, name)
        try:
            await abuse(bad)
        except websockets.ConnectionClosed:
            pass
        code, reason, _ = await closed_with(bad)
        assert (code, reason) == expected
        n = len(witness.ticks)
        await wait_until(lambda: len(witness.ticks) >= n + 5, 5, "the witness to keep receiving")


def test_oversized_message_in_small_fragments_is_refused(server: ServerProcess) -> None:
    """eventlet caps frames, not messages; the server caps the message."""

    async def fragments(ws: ClientConnection) -> None:
        await ws.send(b"\x00" * 200 for _ in range(50))  # 10 kB in 200-byte frames

    run(misbehave(server.ws_url, "fragmenter", fragments, (1009, "message_too_big")))


def test_silent_connection_gets_hello_timeout(server: ServerProcess) -> None:
    async def scenario() -> None:
        async with connect(server.ws_url) as ws:
            code, reason, msgs = await closed_with(ws, timeout=5)
        assert (code, reason) == (1008, "hello_timeout")

    run(scenario())


def test_flooding_client_is_rate_limited_and_others_keep_their_rate(server: ServerProcess) -> None:
    async def flood(ws: ClientConnection) -> None:
        ping = codec.encode_client(Ping(0.0))
        for _ in range(2000):
            await ws.send(ping)

    run(misbehave(server.ws_url, "flooder", flood, (1008, "rate_limited")))


def test_an_input_flood_is_rate_limited_too(server: ServerProcess) -> None:
    """Inputs wait for the tick undecoded, 8 at most; the rest are taken at once, and charged."""

    async def flood(ws: ClientConnection) -> None:
        for seq in range(1, 2001):
            await ws.send(codec.encode_client(Input(seq, 1.0, 0.0, 0.0, 0, None)))

    run(misbehave(server.ws_url, "flooder", flood, (1008, "rate_limited")))


def test_client_that_never_reads_is_dropped_without_slowing_the_tick(server: ServerProcess) -> None:
    """A raw client with a tiny receive buffer says hello and then never reads again."""

    async def scenario() -> None:
        async with player(server.ws_url, "witness") as witness:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
            sock.connect(("127.0.0.1", server.port))
            sock.sendall(
                b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
            reply = b""
            while b"\r\n\r\n" not in reply:
                reply += sock.recv(1)  # the 101 response, to the last byte; then never again
            assert reply.startswith(b"HTTP/1.1 101")
            sock.sendall(masked_frame(codec.encode_client(Hello(1, "sleeper"))))
            await wait_until(lambda: server.health()["players"] == 2, 5, "the sleeper to join")
            t0, n0 = time.monotonic(), len(witness.ticks)
            # its connection is cut (too_slow); its player is kept for a resume (--reconnect-grace)
            await wait_until(lambda: server.health()["players_away"] == 1, 5, "the sleeper to be dropped")
            await wait_until(lambda: len(witness.ticks) >= n0 + 10, 5, "more snapshots")
            rate = (len(witness.ticks) - n0) / (time.monotonic() - t0)
            assert rate >= 20, f"the witness got {rate:.1f} snapshots/s while the sleeper was connected"
            assert witness.gaps() == []
            assert sock.recv(65536)  # snapshots were waiting in the buffers all along
            sock.close()

    run(scenario())


def masked_frame(payload: bytes, opcode: int = 2) -> bytes:
    assert len(payload) < 126
    mask = b"\x01\x02\x03\x04"
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + body


# --- HTTP, handshake and process ----------------------------------------------------------


def test_legacy_hixie_handshake_is_refused(server: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(
            b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n"
            b"Origin: http://example\r\nSec-WebSocket-Key1: 4 @1  46546xW%0l 1 5\r\n"
            b"Sec-WebSocket-Key2: 12998 5 Y3 1  .P00\r\n\r\n^n:ds[4U"
        )
        reply = s.recv(4096)
    assert reply.startswith(b"HTTP/1.1 426")
    assert b"unsupported_websocket_version" in reply


def test_permessage_deflate_is_declined_by_default(server: ServerProcess) -> None:
    async def scenario() -> list[Any]:
        async with connect(server.ws_url) as ws:  # websockets offers deflate, as browsers do
            return list(ws.protocol.extensions)

    assert run(scenario()) == []


def test_healthz_static_files_and_no_traversal(server: ServerProcess) -> None:
    h = server.health()
    assert h["status"] == "ok" and h["tick_rate"] == 30 and h["ticks"] > 0
    # `dev.py --compiled test` runs the compiled build, and this says that it really does
    assert h["build"] == os.environ.get("GAMESERVER_BUILD", "interpreted")
    with urllib.request.urlopen(server.http + "/", timeout=5) as r:
        assert r.headers["Content-Type"].startswith("text/html")
        assert b"<html" in r.read().lower()
    for path in ["/../pyproject.toml", "/%2e%2e/pyproject.toml", "/nope.js"]:
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(server.http + path, timeout=5)
        assert info.value.code == 404
        info.value.close()
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(server.http + "/ws", timeout=5)
    assert info.value.code == 400
    assert b"websocket_required" in info.value.read()
    info.value.close()


def test_server_full_is_refused_with_try_again_later() -> None:
    async def scenario(url: str) -> None:
        async with player(url, "one"), player(url, "two"), connect(url) as third:
            await third.send(codec.encode_client(Hello(1, "three")))
            code, reason, msgs = await closed_with(third)
            assert (code, reason) == (1013, "server_full")

    with ServerProcess("--max-players", "2") as s:
        run(scenario(s.ws_url))


def test_websockets_past_the_connection_cap_are_refused_and_the_server_goes_on() -> None:
    """--max-players 1 and --max-spectators 0 hold 65 WebSockets (players, spectators, plus 64
    for handshakes and refusals); the next handshake is answered 503 server_full, and a place
    that frees up is taken."""

    async def scenario(url: str) -> None:
        held = [await connect(url) for _ in range(65)]
        with pytest.raises(websockets.InvalidStatus) as info:
            await connect(url)
        assert info.value.response.status_code == 503
        assert info.value.response.body is not None and b"server_full" in info.value.response.body
        await held.pop().close()
        wait_for(lambda: s.health()["sockets"] == 64, 5, "the server to forget the closed one")
        async with player(url, "latecomer") as p:
            await wait_until(lambda: len(p.ticks) >= 3, 5, "the latecomer's snapshots")
        for ws in held:
            await ws.close()

    with ServerProcess("--max-players", "1", "--max-spectators", "0") as s:
        run(scenario(s.ws_url))


def test_sigterm_says_goodbye_and_exits_zero_quickly() -> None:
    s = ServerProcess().start()
    results: dict[str, Any] = {}

    async def scenario() -> None:
        async with connect(s.ws_url) as ws:
            await hello(ws, "leaver")
            t0 = time.monotonic()
            stopping = asyncio.get_running_loop().run_in_executor(None, s.stop)
            code, reason, msgs = await closed_with(ws)
            results["rc"] = await stopping
            results["took"] = time.monotonic() - t0
            results["close"] = (code, reason)
            results["last"] = msgs[-1]

    run(scenario())
    assert results["close"] == (1001, "server_shutdown")
    assert isinstance(results["last"], Goodbye) and results["last"].code == "server_shutdown"
    assert results["rc"] == 0
    assert results["took"] < 2.0, f"took {results['took']:.2f} s"


@pytest.mark.parametrize(
    "args",
    [
        ["--tick", "0"],
        ["--tick", "1000"],
        ["--snapshot-rate", "7"],
        ["--port", "-1"],
        ["--log-level", "loud"],
    ],
)
def test_bad_flags_exit_2_with_a_message(args: list[str]) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "gameserver", *args], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert r.returncode == 2
    assert "error:" in r.stderr and r.stdout == ""


def test_help_lists_the_flags() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "gameserver", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert r.returncode == 0
    for flag in [
        "--host",
        "--port",
        "--tick",
        "--snapshot-rate",
        "--max-players",
        "--log-level",
        "--permessage-deflate",
    ]:
        assert flag in r.stdout


def test_unmasking_matches_eventlet() -> None:
    import random

    from eventlet.websocket import RFC6455WebSocket

    from gameserver.transport import apply_mask

    rng = random.Random(3)
    for n in [0, 1, 3, 4, 5, 100, 1000]:
        data = bytes(rng.randrange(256) for _ in range(n))
        mask = tuple(rng.randrange(256) for _ in range(4))
        for offset in range(4):
            assert apply_mask(data, mask, n, offset) == RFC6455WebSocket._apply_mask(data, mask, n, offset)


def test_wait_for_helper_fails_loudly() -> None:
    with pytest.raises(AssertionError, match="never"):
        wait_for(lambda: False, 0.05, "never")
