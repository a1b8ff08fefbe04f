"""The eventlet edge in-process, on a green socket pair: what a blocked send does."""

from __future__ import annotations

import socket
import time

import eventlet
from eventlet.green import socket as green_socket
from eventlet.websocket import RFC6455WebSocket

from gameserver.config import Config
from gameserver.server import GameServer
from gameserver.transport import Connection


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
