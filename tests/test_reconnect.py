"""A drop is not a leave: a real server on 127.0.0.1, real WebSocket clients that drop and resume."""

from __future__ import annotations

import asyncio
import http.client
import json
import time
from typing import Any

from arena_records import value
from server_process import ServerProcess
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from gameserver import codec
from gameserver.messages import Error, Goodbye, Hello, Input, Scoreboard, Snapshot, Welcome


async def recv(ws: ClientConnection, timeout: float = 5.0) -> Any:
    return codec.decode_server(await asyncio.wait_for(ws.recv(), timeout))


async def welcomed(ws: ClientConnection, hello: Hello) -> Welcome:
    await ws.send(codec.encode_client(hello))
    msg = await recv(ws)
    assert isinstance(msg, Welcome), msg
    return msg


async def until(ws: ClientConnection, want: Any, timeout: float = 5.0) -> Any:
    """Read until a message for which `want` is true; acknowledge snapshots meanwhile."""
    deadline = time.monotonic() + timeout
    seq = 10_000
    while True:
        msg = await recv(ws, max(0.01, deadline - time.monotonic()))
        if want(msg):
            return msg
        if isinstance(msg, Snapshot):
            seq += 1
            await ws.send(codec.encode_client(Input(seq, 0.0, 0.0, 0.0, 0, msg.tick)))


async def wait_health(server: ServerProcess, key: str, value: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while server.health()[key] != value:
        assert time.monotonic() < deadline, f"{key} never became {value}: {server.health()}"
        await asyncio.sleep(0.02)


def drop(ws: ClientConnection) -> None:
    """The connection ends with no close frame (as when a phone loses its network)."""
    ws.transport.abort()


def test_a_dropped_player_resumes_as_the_same_entity_and_moves_again() -> None:
    with ServerProcess("--room-size", "4") as s:

        async def scenario() -> None:
            async with connect(s.ws_url) as witness:
                w = await welcomed(witness, Hello(1, "witness"))
                ann = await connect(s.ws_url)
                first = await welcomed(ann, Hello(1, "ann"))
                assert first.room == w.room
                start = await until(ann, lambda m: isinstance(m, Snapshot))
                for seq in range(1, 31):  # a second of moving right
                    await ann.send(codec.encode_client(Input(seq, 1.0, 0.0, 0.0, 0, start.tick)))
                await until(ann, lambda m: isinstance(m, Snapshot) and m.last_seq == 30)
                drop(ann)
                await wait_health(s, "players_away", 1)
                # the others see it away on the scoreboard, still in the world
                board = await until(
                    witness, lambda m: isinstance(m, Scoreboard) and any(ln.away for ln in m.lines)
                )
                assert {(ln.id, ln.away) for ln in board.lines} == {
                    (w.entity_id, False),
                    (first.entity_id, True),
                }
                assert s.health()["players"] == 2

                async with connect(s.ws_url) as back:
                    again = await welcomed(back, Hello(1, "ann", first.session_token))
                    assert (again.entity_id, again.room) == (first.entity_id, first.room)
                    assert again.session_token != first.session_token
                    full = await until(back, lambda m: isinstance(m, Snapshot))
                    assert full.baseline is None  # a full snapshot: the client holds nothing
                    mine = next(sp for sp in full.spawns if sp.id == first.entity_id)
                    assert value(mine, "x") > 0  # type: ignore[operator]
                    # its input counter starts again from 1
                    for seq in range(1, 16):
                        await back.send(codec.encode_client(Input(seq, -1.0, 0.0, 0.0, 0, full.tick)))
                    moved = await until(back, lambda m: isinstance(m, Snapshot) and m.last_seq == 15)
                    assert any(c.id == first.entity_id for c in moved.changes)
                    assert s.health()["players_away"] == 0 and s.health()["resumed"] == 1
                    board = await until(
                        witness, lambda m: isinstance(m, Scoreboard) and not any(ln.away for ln in m.lines)
                    )
                    assert len(board.lines) == 2  # the same player, no duplicate

        asyncio.run(scenario())
        log = "".join(s.stderr_lines)
    assert "kept for a resume" in log


def test_a_close_frame_leaves_at_once_and_its_token_is_then_refused() -> None:
    with ServerProcess() as s:

        async def scenario() -> None:
            async with connect(s.ws_url) as ws:
                w = await welcomed(ws, Hello(1, "ann"))
            await wait_health(s, "players", 0)  # a close frame with 1000: gone at once
            async with connect(s.ws_url) as ws:
                await ws.send(codec.encode_client(Hello(1, "ann", w.session_token)))
                err = await recv(ws)
                assert isinstance(err, Error) and err.code == "session_expired"
                try:
                    await recv(ws)
                except ConnectionClosed:
                    pass
                assert (ws.close_code, ws.close_reason) == (4401, "session_expired")
            # joining afresh, without the token, works
            async with connect(s.ws_url) as ws:
                assert (await welcomed(ws, Hello(1, "ann"))).entity_id != w.entity_id

        asyncio.run(scenario())


def test_past_the_grace_window_the_player_is_gone() -> None:
    with ServerProcess("--reconnect-grace", "0.5") as s:

        async def scenario() -> None:
            ws = await connect(s.ws_url)
            w = await welcomed(ws, Hello(1, "ann"))
            drop(ws)
            await wait_health(s, "players_away", 1)
            await wait_health(s, "players", 0)  # within 0.5 s and a sweep
            async with connect(s.ws_url) as again:
                await again.send(codec.encode_client(Hello(1, "ann", w.session_token)))
                err = await recv(again)
                assert isinstance(err, Error) and err.code == "session_expired"

        asyncio.run(scenario())


def test_a_second_connection_with_the_token_takes_over_and_the_first_hears_why() -> None:
    with ServerProcess() as s:

        async def scenario() -> None:
            async with connect(s.ws_url) as first, connect(s.ws_url) as second:
                w = await welcomed(first, Hello(1, "ann"))
                again = await welcomed(second, Hello(1, "ann", w.session_token))
                assert again.entity_id == w.entity_id
                bye = await until(first, lambda m: isinstance(m, Goodbye))
                assert bye.code == "session_replaced"
                try:
                    await recv(first)
                except ConnectionClosed:
                    pass
                assert (first.close_code, first.close_reason) == (4001, "session_replaced")
                assert isinstance(await until(second, lambda m: isinstance(m, Snapshot)), Snapshot)
                assert s.health()["players"] == 1

        asyncio.run(scenario())


def test_tokens_are_never_logged() -> None:
    with ServerProcess("--log-level", "debug") as s:

        async def scenario() -> list[str]:
            tokens = []
            ws = await connect(s.ws_url)
            w = await welcomed(ws, Hello(1, "ann"))
            tokens.append(w.session_token)
            drop(ws)
            await wait_health(s, "players_away", 1)
            async with connect(s.ws_url) as back:
                tokens.append((await welcomed(back, Hello(1, "ann", w.session_token))).session_token)
            return tokens

        tokens = asyncio.run(scenario())
        log = "".join(s.stderr_lines)
    for token in tokens:
        for part in token.split("."):
            assert part not in log


def test_matchmaking_says_which_url_a_session_resumes_at() -> None:
    def reconnect(port: int, body: bytes) -> tuple[int, dict[str, Any]]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.request("POST", "/matchmake/reconnect", body=body)
            r = conn.getresponse()
            answer: dict[str, Any] = json.loads(r.read())
            return r.status, answer
        finally:
            conn.close()

    with ServerProcess() as s:

        async def token() -> str:
            async with connect(s.ws_url) as ws:
                welcome = await welcomed(ws, Hello(1, "una"))
                assert welcome.session_token is not None
                ws.transport.abort()  # dropped: the session is kept for --reconnect-grace
                return welcome.session_token

        held = asyncio.run(token())
        assert reconnect(s.port, json.dumps({"session": held}).encode()) == (200, {"url": s.ws_url})
        status, answer = reconnect(s.port, b'{"session": "0123456789abcdef.unknown"}')
        assert (status, answer["error"]) == (401, "session_expired")
        status, answer = reconnect(s.port, b"{}")
        assert (status, answer["error"]) == (400, "invalid_request")
