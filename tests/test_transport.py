"""The eventlet edge in-process, on a green socket pair: what a blocked send does."""

from __future__ import annotations

import socket
import time

import eventlet
from eventlet.green import socket as green_socket
from eventlet.websocket import RFC6455WebSocket

from gameserver.config import Config
from gameserver.server import GameServer
from gameserver.transport import Connection, harden


def test_a_send_that_blocks_is_cut_and_other_green_threads_keep_running() -> None:
    server = GameServer(Config(send_timeout=0.3, max_lag=600))
    ours, theirs = green_socket.socketpair()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    theirs.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    conn = Connection(server, RFC6455WebSocket(ours, {}, version=13))
    member = server.room.join("stuck")
    conn.member = member
    conn.writer = eventlet.spawn(conn._write)

    beats: list[float] = []

    def heartbeat() -> None:  # stands in for the tick: it must keep its pace
        while True:
            beats.append(time.monotonic())
            eventlet.sleep(0.01)

    beat = eventlet.spawn(heartbeat)
    member.pending = (1, b"x" * 1_000_000)  # far more than the socket buffers hold
    started = time.monotonic()
    conn.notify()
    deadline = started + 5
    while not conn.writer.dead and time.monotonic() < deadline:
        eventlet.sleep(0.01)
    cut = time.monotonic()
    beat.kill()
    theirs.close()

    assert conn.writer.dead, "the writer never gave up"
    assert member.close_request == (1008, "too_slow")
    assert ours.fileno() == -1  # the TCP socket was cut, not left half-written
    during = [b for b in beats if started <= b <= cut]
    assert len(during) >= 10, f"only {len(during)} heartbeats while the send was blocked"


def _pair(send_timeout: float) -> tuple[GameServer, Connection, object]:
    server = GameServer(Config(send_timeout=send_timeout, max_lag=600))
    ours, theirs = green_socket.socketpair()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    theirs.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    conn = Connection(server, RFC6455WebSocket(ours, {}, version=13))
    harden(conn.ws, 512)
    conn.member = server.room.join("p")
    conn.member.control.clear()
    conn.writer = eventlet.spawn(conn._write)
    return server, conn, theirs


def test_what_the_socket_does_not_take_at_once_the_writer_finishes_in_order() -> None:
    server, conn, theirs = _pair(send_timeout=5)
    received = bytearray()

    def read() -> None:
        while len(received) < 2 * (10 + 150_000):
            data = theirs.recv(65536)  # type: ignore[attr-defined]
            if not data:
                return
            received.extend(data)

    reader = eventlet.spawn(read)
    assert conn.member is not None
    first, second = b"a" * 150_000, b"b" * 150_000
    conn.member.pending = (1, first)
    conn.send_now()
    assert conn.remainder is not None  # far more than a 4 KiB buffer takes at once
    conn.member.pending = (2, second)
    conn.send_now()  # the writer holds the lock: this one is queued behind the remainder
    with eventlet.Timeout(5):
        reader.wait()
    assert conn.remainder is None and not conn.ws._sendlock.locked()
    frame_head = bytes([0x82, 127]) + (150_000).to_bytes(8, "big")
    assert bytes(received) == frame_head + first + frame_head + second
    assert conn.member.held_tick == 2
    theirs.close()  # type: ignore[attr-defined]


def test_a_remainder_that_never_drains_is_cut() -> None:
    server, conn, theirs = _pair(send_timeout=0.3)
    assert conn.member is not None
    conn.member.pending = (1, b"x" * 1_000_000)
    conn.send_now()
    with eventlet.Timeout(5):
        conn.writer.wait()
    assert conn.member.close_request == (1008, "too_slow")
    assert conn.ws.socket.fileno() == -1
    theirs.close()  # type: ignore[attr-defined]


def test_hardened_connections_send_small_frames_at_once() -> None:
    """Snapshots are small and latency-bound: Nagle's algorithm is off on every connection."""
    listener = green_socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    client = green_socket.create_connection(listener.getsockname())
    accepted, _ = listener.accept()
    assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
    ws = RFC6455WebSocket(accepted, {}, version=13)
    harden(ws, 512)
    assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    for s in (client, accepted, listener):
        s.close()
