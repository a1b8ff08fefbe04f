"""The least a CPython WebSocket server does per player and tick: a floor for the benchmark.

    python -m benchmarks.floor_server --port 8130 --entities 800

No game and no eventlet hub (of gameserver.transport it takes only the read pacing and the
frame header): after the handshake and HELLO (answered with a WELCOME), it reads whatever
arrives, in epoll passes paced as the real server's (one every READ_BATCH while inputs keep
coming, one TICK_LEAD before each tick), and throws it away unparsed. Each tick it sends
every player a snapshot frame: the tick's shared head, a per-player last_seq and one body of
`--entities` move records, built once at start-up, joined behind the frame header (as the
real server does) and sent with one non-blocking send. Wander bots without --verify read only
a snapshot's tick, so they play against it as against the real server.

What it measures: the CPU a player-tick costs in the kernel (loopback TCP both ways, epoll) and
in the fewest Python operations that can carry one input in and one snapshot out. The real
server's figure minus this one is what parsing, the game, replication and eventlet's hub cost.
It is a measuring tool, not a server: one room, no input checks, no limits, loopback only.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import random
import select
import socket
import time

from gameserver import codec
from gameserver.messages import PROTOCOL_VERSION, Welcome
from gameserver.transport import READ_BATCH, TICK_LEAD, binary_header
from gameserver.world import Rules

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TICK_RATE = 30


def body_of(entities: int, seed: int = 1) -> bytes:
    """A snapshot body where every entity moved: what the reference scenario sends."""
    rng = random.Random(seed)
    flat: list[int] = []
    for eid in range(1, entities + 1):
        flat += [eid, 3, rng.choice((-40, -28, 0, 28, 40)), rng.choice((-40, -28, 0, 28, 40))]
    return codec.encode_snapshot_body([], flat, [])


class Player:
    __slots__ = ("sock", "fd", "state", "buf", "seq")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.state = "http"  # then "hello", then "playing"
        self.buf = b""
        self.seq = 0


def whole_small_frame(buf: bytes) -> bool:
    """Whether `buf` starts with a whole masked frame of at most 125 bytes (the HELLO)."""
    return len(buf) >= 6 and buf[1] & 0x7F <= 125 and len(buf) >= 6 + (buf[1] & 0x7F)


def serve(port: int, entities: int, seconds: float) -> None:
    rules = Rules().to_wire(1 / TICK_RATE)
    body = body_of(entities) + codec.NO_SHOTS
    listener = socket.create_server(("127.0.0.1", port), backlog=1024)
    listener.setblocking(False)
    print(f"floor server on 127.0.0.1:{listener.getsockname()[1]}", flush=True)
    ep = select.epoll()
    ep.register(listener.fileno(), select.EPOLLIN)
    players: dict[int, Player] = {}
    playing: list[Player] = []
    lost: list[Player] = []
    tick = 0
    period = 1.0 / TICK_RATE
    next_tick = time.monotonic() + period
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        timeout = max(0.0, next_tick - time.monotonic())
        events = ep.poll(timeout)
        for fd, _ in events:
            if fd == listener.fileno():
                while True:
                    try:
                        s, _ = listener.accept()
                    except BlockingIOError:
                        break
                    s.setblocking(False)
                    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    p = Player(s)
                    players[p.fd] = p
                    ep.register(p.fd, select.EPOLLIN)
                continue
            p = players[fd]
            try:
                data = p.sock.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                ep.unregister(fd)
                p.sock.close()
                del players[fd]
                if p in playing:
                    playing.remove(p)
                continue
            if p.state == "playing":
                continue  # inputs, acknowledgements, pings: read and dropped
            p.buf += data
            if p.state == "http" and b"\r\n\r\n" in p.buf:
                head, _, p.buf = p.buf.partition(b"\r\n\r\n")
                key = next(
                    line.split(b":", 1)[1].strip()
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"sec-websocket-key:")
                )
                accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
                p.sock.send(
                    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                    b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
                )
                p.state = "hello"
            if p.state == "hello" and whole_small_frame(p.buf):
                p.buf = b""
                welcome = Welcome(
                    version=PROTOCOL_VERSION,
                    entity_id=fd,
                    tick_rate=TICK_RATE,
                    snapshot_rate=TICK_RATE,
                    session_token="-",
                    room="floor",
                    tick=tick,
                    rules=rules,
                )
                msg = codec.encode_server(welcome)
                p.sock.send(binary_header(len(msg)) + msg)
                p.state = "playing"
                playing.append(p)
        now = time.monotonic()
        if now < next_tick:
            if events:  # as the real server: while inputs keep coming, a pass every READ_BATCH,
                # and one TICK_LEAD before the tick
                time.sleep(max(0.0, min(READ_BATCH, next_tick - TICK_LEAD - now)))
            continue
        next_tick += period
        if next_tick < now:
            next_tick = now + period
        tick += 1
        head = codec.encode_snapshot_head(tick, tick - 1 if tick > 1 else None)
        for p in playing:
            p.seq += 1
            seq = codec.pack_optional_int(p.seq)
            header = binary_header(len(head) + len(seq) + len(body))
            data = b"".join((header, head, seq, body))
            try:
                sent = p.sock.send(data)
            except OSError:
                sent = 0
            if sent < len(data):  # the floor never queues: a player that cannot keep up is cut
                lost.append(p)
        for p in lost:
            ep.unregister(p.fd)
            p.sock.close()
            players.pop(p.fd, None)
            playing.remove(p)
        lost.clear()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, default=8130, help="0: any free port (printed)")
    p.add_argument("--entities", type=int, default=800, help="move records in every snapshot")
    p.add_argument("--seconds", type=float, default=120.0, help="then exit")
    opts = p.parse_args()
    serve(opts.port, opts.entities, opts.seconds)


if __name__ == "__main__":
    main()
