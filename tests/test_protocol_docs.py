"""What docs/protocol.md and README.md say, checked against a real server.

Third-party clients are written from those two files alone; each test here is one statement of
them that an independent client relied on and found the server did not keep (or that the docs
did not make), checked on a real server process with real WebSocket clients.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from server_process import ROOT, ServerProcess
from test_server_e2e import hello, run
from websockets.asyncio.client import ClientConnection, connect

from gameserver import codec
from gameserver.messages import Error, Goodbye, Hello, Ping, Pong, Welcome
from gameserver.room import CONTROL_LIMIT, Room

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
                msgs.append(codec.decode_server(await ws.recv()))  # type: ignore[arg-type]
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
    member.request_close(codec.ErrorCode.TOO_SLOW, "never reads")
    assert codec.decode_server(member.control[-1]) == Error("too_slow", "never reads")
