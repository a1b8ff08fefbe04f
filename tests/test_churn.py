"""Connections that come and go free themselves: nothing of them waits for the full collector,
which the server runs rarely (and at high tick rates or under load, never)."""

from __future__ import annotations

import base64
import collections
import fcntl
import gc
import os
import sys
import termios
import time
from collections.abc import Iterator

import eventlet
import pytest
from eventlet.green import socket

from gameserver import codec
from gameserver.config import Config
from gameserver.games.arena import Arena
from gameserver.messages import Hello
from gameserver.server import GameServer
from gameserver.transport import CLOSED

# What one connection or request is made of, on our side and eventlet's.
OURS = {
    "Connection",
    "Member",
    "Entity",
    "RFC6455WebSocket",
    "_LeanHttpProtocol",
    "SocketIO",
    "GreenSocket",
    "socket",
    "HTTPMessage",
    "generator",
}


@pytest.fixture
def server() -> Iterator[GameServer]:
    s = GameServer(Config(port=0, hello_timeout=0.3, send_timeout=0.3, reconnect_grace=0.0))
    s.start()
    yield s
    s.stop()


def wait_for(pred: object, what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        eventlet.sleep(0.01)


def websocket(server: GameServer) -> socket.socket:
    host, port = server.address[:2]
    s = socket.create_connection((host, port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(
        (
            f"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += s.recv(4096)
    assert answer.startswith(b"HTTP/1.1 101")
    return s


def send(s: socket.socket, payload: bytes, opcode: int = 2) -> None:
    s.sendall(bytes([0x80 | opcode, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)


def http(server: GameServer, request: bytes) -> bytes:
    host, port = server.address[:2]
    s = socket.create_connection((host, port))
    s.sendall(request)
    out = b""
    while chunk := s.recv(4096):
        out += chunk
    s.close()
    return out


def test_closed_connections_and_requests_leave_no_garbage_for_the_collector(server: GameServer) -> None:
    hello = codec.encode_client(Hello(1, "p"))
    # The server collects the young generations between ticks, which would free these young
    # cycles here; in a long-running server the connections are old and only the full
    # collection would. No collection at all, then, until the end.
    server.gc.after_tick = lambda slack: None  # type: ignore[method-assign]
    gc.collect()
    for i in range(20):
        s = websocket(server)
        how = i % 4
        if how != 3:  # the fourth never says hello and is cut by --hello-timeout
            send(s, hello)
            wait_for(lambda: server.directory.players == 1, "the player to join")
        if how == 0:
            send(s, b"\x03\xe8", opcode=8)  # a close frame: 1000
        elif how == 1:
            send(s, b"\xc1")  # not msgpack: refused with an error
        elif how == 2:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")  # a reset
        if how == 3:
            wait_for(lambda: len(server.sockets.conns) == 0, "the silent one to be cut")
        s.close()
        wait_for(lambda: len(server.sockets.conns) == 0 and server.directory.players == 0, "the leave")
    for _ in range(10):
        assert b" 200 " in http(server, b"GET /rooms HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        quick = b"POST /matchmake/quick HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        quick += b"Content-Length: 2\r\n\r\n{}"
        assert b" 200 " in http(server, quick)
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        left = collections.Counter(type(o).__name__ for o in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert not {k: n for k, n in left.items() if k in OURS}, left.most_common(20)


def send_queue(sock: object) -> int:
    """Bytes the kernel holds for a socket, sent or not, not yet acknowledged by the peer."""
    out = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")  # type: ignore[attr-defined]
    return int.from_bytes(out, sys.byteorder)


def test_a_client_that_stops_reading_holds_a_bounded_send_queue_and_is_cut() -> None:
    """It keeps acknowledging the newest tick, as if it read everything: the kernel's queue for
    it stays within the send buffer (not the megabytes Linux would grow it to), and the send
    deadline cuts it once the buffer stays full."""
    config = Config(port=0, tick_rate=60, max_lag=600, send_timeout=0.5, send_buffer=32768)
    server = GameServer(config)
    server.start()
    try:
        now = time.monotonic()
        movers = [server.directory.join(Hello(1, f"m{i}"), now) for i in range(300)]  # no sockets
        room = movers[0][0]
        arena = room.game
        assert isinstance(arena, Arena)

        def move() -> None:  # every entity moves every tick: big deltas for the reader
            while True:
                for e in arena.world.entities.values():
                    e.x = 100.0 + (e.x + 7.0) % 1500.0
                eventlet.sleep(1 / 120)

        mover = eventlet.spawn(move)
        s = websocket(server)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        send(s, codec.encode_client(Hello(1, "reader")))
        wait_for(lambda: len(server.sockets.conns) == 1 and server.directory.players == 301, "the join")
        (conn,) = server.sockets.conns.values()
        peak, seq = 0, 0
        deadline = time.monotonic() + 20
        while conn.state != CLOSED:
            assert time.monotonic() < deadline, f"not cut; send queue {send_queue(conn.sock)}"
            seq += 1
            send(s, codec.encode_input(seq, 0.0, 0.0, 0.0, 0, room.tick_no))  # "I hold it all"
            peak = max(peak, send_queue(conn.sock))
            eventlet.sleep(0.01)
        assert conn.member is not None and conn.member.close_request == (1008, "too_slow")
        # Linux doubles SO_SNDBUF for its bookkeeping and lets the send that finds room in it
        # queue one snapshot whole; without the fixed buffer it grew past 1.8 MB, and no cut
        assert 32768 <= peak <= 4 * 32768, peak
        mover.kill()
        s.close()
    finally:
        server.stop()
