"""`python -m benchmarks.attack KIND --port P --duration S`: one attack on a server, with a report.

The attackers of the benchmark under attack (benchmarks/bench_attack.py, docs/benchmarks.md,
"Under attack"). Each kind is one async function of a Target and a deadline that returns what
it did and what the server did to it:

- slowloris: HTTP connections that send a header line every second and never end the head;
- silent: WebSocket handshakes that never say HELLO;
- churn: connect, handshake, HELLO, WELCOME, close frame (1000), at a steady rate;
- drop-churn: the same, but the connection ends with a reset instead of a close frame;
- stall: players that stop reading (a small receive buffer) but keep sending inputs that
  acknowledge the newest tick;
- slow-read: players that read a few KiB a second, each behind the stream at a tick of its own;
- flood-early: empty continuation frames before HELLO;
- flood: empty continuation frames after HELLO;
- ping-flood: empty WebSocket pings after HELLO.

Besides an attack: a witness (a player from 127.0.0.1 that reads everything, walks, and times the
gaps between its snapshots) and a probe (once a second, a newcomer's join and a /healthz, timed).

Bounds: every loop stops at its deadline; an attack holds at most its `count` connections at
once and opens at most MAX_CONNECTIONS in all; every socket it opened is closed before it
returns. The attacks bind their sockets to client addresses other than 127.0.0.1 (by default
127.0.0.2-127.0.0.20), since the server leaves 127.0.0.1 and ::1 uncapped
(--unlimited-addresses); only targets and sources in 127.0.0.0/8 are accepted. Plain sockets on
asyncio and msgpack: nothing here imports the server, so it runs against any tree of it.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import functools
import ipaddress
import json
import os
import random
import resource
import socket
import struct
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import msgpack

MAX_CONNECTIONS = 100_000  # connections one attack opens at most, whatever its rate and length
MAX_TICK = 2**31 - 1  # the largest ack_tick the protocol takes; the server caps it to what it sent
OP_CONT, OP_BINARY, OP_CLOSE, OP_PING = 0x0, 0x2, 0x8, 0x9
HELLO, INPUT = 1, 2
WELCOME, SNAPSHOT, ERROR = 10, 11, 13
DEFAULT_SOURCES = tuple(f"127.0.0.{i}" for i in range(2, 21))
LOOPBACK = ipaddress.ip_network("127.0.0.0/8")


class Target:
    """The server under attack, and the client addresses the attack comes from."""

    def __init__(
        self, port: int, host: str = "127.0.0.1", sources: tuple[str, ...] = DEFAULT_SOURCES
    ) -> None:
        for a in (host, *sources):
            if ipaddress.ip_address(a) not in LOOPBACK:
                raise ValueError(f"{a} is not in 127.0.0.0/8: attacks stay on this machine")
        if not sources:
            raise ValueError("no source address")
        self.host, self.port, self.sources = host, port, sources
        self.opened = 0  # connections opened by everything sharing this target

    def source(self, i: int) -> str:
        return self.sources[i % len(self.sources)]


class Closed(Exception):
    """The server closed the connection, or refused it: `why` says how."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def _now() -> float:
    return time.monotonic()


def summary(values: list[float], scale: float = 1.0) -> dict[str, Any]:
    """Count, p50 and max of `values` (times `scale`), rounded; None when there are none."""
    if not values:
        return {"n": 0, "p50": None, "max": None}
    ordered = sorted(values)
    return {
        "n": len(ordered),
        "p50": round(ordered[len(ordered) // 2] * scale, 3),
        "max": round(ordered[-1] * scale, 3),
    }


# --- wire ------------------------------------------------------------------------------------


def frame(opcode: int, payload: bytes = b"", fin: bool = True) -> bytes:
    """One client frame, masked with the key 0 (a valid mask that leaves the payload as it is)."""
    n = len(payload)
    b0 = (0x80 if fin else 0) | opcode
    if n < 126:
        return bytes((b0, 0x80 | n)) + b"\0\0\0\0" + payload
    return bytes((b0, 0x80 | 126)) + struct.pack("!H", n) + b"\0\0\0\0" + payload


def hello_frame(name: str) -> bytes:
    return frame(OP_BINARY, msgpack.packb([HELLO, 1, name, None, None]))


def input_frame(seq: int, move_x: int = 0, ack: int | None = MAX_TICK) -> bytes:
    """An INPUT acknowledging `ack` (by default the largest tick: the server caps the claim to
    the newest snapshot it handed this connection's socket)."""
    return frame(OP_BINARY, msgpack.packb([INPUT, seq, move_x, 0, 0, 0, ack]))


CLOSE_1000 = frame(OP_CLOSE, struct.pack("!H", 1000))


class Conn:
    """One raw non-blocking socket bound to a source address, and the server frames read from it."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""
        self.loop = asyncio.get_running_loop()

    @classmethod
    async def open(cls, target: Target, source: str, timeout: float, rcvbuf: int = 0) -> Conn:
        if target.opened >= MAX_CONNECTIONS:
            raise Closed("connection budget spent")
        target.opened += 1
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.setblocking(False)
            if rcvbuf:  # before connecting: it sets the window the client offers
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            s.bind((source, 0))
            await asyncio.wait_for(
                asyncio.get_running_loop().sock_connect(s, (target.host, target.port)), timeout
            )
        except (OSError, TimeoutError):
            s.close()
            raise
        return cls(s)

    def close(self, reset: bool = False) -> None:
        if reset:
            try:  # SO_LINGER 0: the close sends a reset, as a dropped client's does
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        self.sock.close()

    async def send(self, data: bytes) -> None:
        await self.loop.sock_sendall(self.sock, data)

    async def recv(self, timeout: float) -> bytes:
        """What arrived within `timeout` (b"" when the server closed); TimeoutError otherwise."""
        return await asyncio.wait_for(self.loop.sock_recv(self.sock, 65536), timeout)

    def recv_now(self, n: int = 65536) -> bytes | None:
        """What already arrived (at most `n` bytes), without waiting: None when nothing did."""
        try:
            return self.sock.recv(n)
        except BlockingIOError:
            return None

    async def handshake(self, target: Target, timeout: float) -> int:
        """The WebSocket opening handshake: the answer's status (0 when the connection ended)."""
        key = base64.b64encode(os.urandom(16)).decode()
        await self.send(
            (
                f"GET /ws HTTP/1.1\r\nHost: {target.host}:{target.port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        deadline = _now() + timeout
        while b"\r\n\r\n" not in self.buf:
            chunk = await self.recv(max(0.001, deadline - _now()))
            if not chunk:
                return 0
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        try:
            return int(head.split(b" ", 2)[1])
        except (IndexError, ValueError):
            return 0

    def frames(self) -> list[tuple[int, bytes]]:
        """The whole server frames in the buffer, taken out of it: (opcode, payload)."""
        out, self.buf = parse_frames(self.buf)
        return out

    async def next_message(self, timeout: float) -> tuple[int, bytes]:
        """The next server frame; Closed at the end of the connection."""
        deadline = _now() + timeout
        while True:
            got, rest = parse_frames(self.buf, limit=1)
            if got:
                self.buf = rest
                return got[0]
            chunk = await self.recv(max(0.001, deadline - _now()))
            if not chunk:
                raise Closed("closed")
            self.buf += chunk

    def refused(self, data: bytes) -> str | None:
        """Take `data` (what a recv returned): why the server closed, or None while it has not
        (b"": the connection ended)."""
        if not data:
            return "closed"
        self.buf += data
        for op, payload in self.frames():
            why = refusal(op, payload)
            if why is not None or op == OP_CLOSE:
                return why or "closed"
        return None

    async def join(self, target: Target, name: str, timeout: float) -> None:
        """Handshake and HELLO until the WELCOME; Closed with the refusal otherwise."""
        status = await self.handshake(target, timeout)
        if status != 101:
            raise Closed(f"http {status}" if status else "closed before the answer")
        await self.send(hello_frame(name))
        deadline = _now() + timeout
        while True:
            op, payload = await self.next_message(max(0.001, deadline - _now()))
            why = refusal(op, payload)
            if why is not None:
                raise Closed(why)
            if op == OP_BINARY and len(payload) > 1 and payload[1] == WELCOME:
                return


def parse_frames(buf: bytes, limit: int = 1 << 30) -> tuple[list[tuple[int, bytes]], bytes]:
    """The whole server frames at the start of `buf` (at most `limit`) as (opcode, payload),
    and the bytes after them. Server frames are unmasked."""
    out: list[tuple[int, bytes]] = []
    pos = 0
    while len(buf) - pos >= 2 and len(out) < limit:
        n, start = buf[pos + 1] & 127, pos + 2
        if n == 126:
            if len(buf) - pos < 4:
                break
            n, start = int.from_bytes(buf[pos + 2 : pos + 4], "big"), pos + 4
        elif n == 127:
            if len(buf) - pos < 10:
                break
            n, start = int.from_bytes(buf[pos + 2 : pos + 10], "big"), pos + 10
        if start + n > len(buf):
            break
        out.append((buf[pos] & 15, buf[start : start + n]))
        pos = start + n
    return out, buf[pos:]


def refusal(opcode: int, payload: bytes) -> str | None:
    """The error code of an ERROR or GOODBYE message, or the reason of a close frame; None for
    any other frame."""
    if opcode == OP_CLOSE:
        code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
        return payload[2:].decode(errors="replace") or f"close {code}"
    if opcode == OP_BINARY and len(payload) > 1 and payload[1] in (ERROR, 14):
        try:
            return str(msgpack.unpackb(payload)[1])
        except Exception:
            return "error"
    return None


class Tally:
    """What an attack did: counters, durations, and the connections it holds now and at most."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.counts: Counter[str] = Counter()
        self.outcomes: Counter[str] = Counter()  # how its connections ended or were refused
        self.durations: dict[str, list[float]] = {}
        self.held = 0
        self.held_peak = 0

    def hold(self, delta: int) -> None:
        self.held += delta
        self.held_peak = max(self.held_peak, self.held)

    def time(self, what: str, seconds: float) -> None:
        self.durations.setdefault(what, []).append(seconds)

    def report(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            **dict(self.counts),
            "outcomes": dict(self.outcomes.most_common()),
            "held_peak": self.held_peak,
            **{f"{k}_s": summary(v) for k, v in self.durations.items()},
        }


async def _each(count: int, task: Callable[[int], Awaitable[None]]) -> None:
    await asyncio.gather(*(task(i) for i in range(count)))


# --- the attacks -------------------------------------------------------------------------------


async def slowloris(target: Target, until: float, count: int = 256, every: float = 1.0) -> dict[str, Any]:
    """`count` HTTP connections (spread over the sources) that send a header line every `every`
    seconds and never end the request's head; each opens again when cut or refused."""
    t = Tally("slowloris")

    async def one(i: int) -> None:
        await asyncio.sleep(i * 0.002)
        while _now() < until:
            try:
                c = await Conn.open(target, target.source(i), timeout=max(0.01, until - _now()))
            except (OSError, TimeoutError, Closed):
                t.counts["connect_failed"] += 1
                await asyncio.sleep(0.2)
                continue
            t.counts["connections"] += 1
            refused = False
            t.hold(1)
            t0 = _now()
            try:
                await c.send(b"GET /rooms HTTP/1.1\r\nHost: x\r\n")
                lines = 0
                while _now() < until:
                    try:
                        data = await c.recv(min(every, max(0.001, until - _now())))
                    except TimeoutError:
                        lines += 1
                        await c.send(f"X-Slow-{lines}: 1\r\n".encode())
                        continue
                    if data.startswith(b"HTTP/1.1 429"):
                        t.outcomes["429 too_many_connections"] += 1
                        refused = True
                    elif data:
                        t.outcomes[data.split(b"\r\n", 1)[0].decode(errors="replace")] += 1
                    else:
                        t.outcomes["cut"] += 1
                        t.time("cut_after", _now() - t0)
                    break
            except OSError:
                t.outcomes["reset"] += 1
                t.time("cut_after", _now() - t0)
            finally:
                c.close()
                t.hold(-1)
            if refused:
                await asyncio.sleep(min(every, max(0.0, until - _now())))  # try again a little later

    await _each(count, one)
    return t.report()


async def silent(target: Target, until: float, count: int = 190) -> dict[str, Any]:
    """`count` WebSocket handshakes (spread over the sources) that never say HELLO; each opens
    again when cut or refused."""
    t = Tally("silent")

    async def one(i: int) -> None:
        await asyncio.sleep(i * 0.002)
        while _now() < until:
            try:
                c = await Conn.open(target, target.source(i), timeout=max(0.01, until - _now()))
            except (OSError, TimeoutError, Closed):
                t.counts["connect_failed"] += 1
                await asyncio.sleep(0.2)
                continue
            t.counts["connections"] += 1
            try:
                status = await c.handshake(target, timeout=max(0.01, until - _now()))
                if status != 101:
                    t.outcomes[f"http {status}"] += 1
                    c.close()
                    await asyncio.sleep(0.5)
                    continue
                t.counts["upgraded"] += 1
                t.hold(1)
                t0 = _now()
                try:
                    why = None
                    while why is None and _now() < until:
                        why = c.refused(await c.recv(max(0.001, until - _now())))
                    if why is not None:
                        t.outcomes[why] += 1
                        t.time("cut_after", _now() - t0)
                finally:
                    t.hold(-1)
            except TimeoutError:
                pass
            except OSError:
                t.outcomes["reset"] += 1
            finally:
                c.close()

    await _each(count, one)
    return t.report()


async def churn(
    target: Target,
    until: float,
    rate: float = 333.0,
    count: int = MAX_CONNECTIONS,
    reset: bool = False,
    concurrency: int = 64,
) -> dict[str, Any]:
    """Players that connect, join, and leave at once, `rate` a second (at most `count`, at most
    `concurrency` under way): with a close frame, or (`reset`) with a TCP reset, a drop."""
    t = Tally("drop-churn" if reset else "churn")
    gate = asyncio.Semaphore(concurrency)
    tasks: list[asyncio.Task[None]] = []

    async def cycle(i: int) -> None:
        t0 = _now()
        c: Conn | None = None
        try:
            c = await Conn.open(target, target.source(i), timeout=5.0)
            t.counts["connections"] += 1
            await c.join(target, f"c{i}", timeout=5.0)
            t.counts["joined"] += 1
            if reset:
                t.outcomes["dropped"] += 1
            else:
                await c.send(CLOSE_1000)
                try:  # the server's close frame answers ours
                    while True:
                        op, _ = await c.next_message(2.0)
                        if op == OP_CLOSE:
                            break
                except (Closed, TimeoutError):
                    pass
                t.outcomes["left"] += 1
            t.time("cycle", _now() - t0)
        except Closed as refused:
            t.outcomes[refused.why] += 1
        except (OSError, TimeoutError) as exc:
            t.outcomes[type(exc).__name__] += 1
        finally:
            if c is not None:
                c.close(reset=reset)
            gate.release()

    start = _now()
    i = 0
    while i < count and _now() < until:
        due = start + i / rate
        if due > _now():
            await asyncio.sleep(due - _now())
        await gate.acquire()
        if _now() >= until:
            gate.release()
            break
        tasks.append(asyncio.create_task(cycle(i)))
        i += 1
        if len(tasks) > 4 * concurrency:
            tasks = [x for x in tasks if not x.done()]
    if tasks:
        _, late = await asyncio.wait(tasks, timeout=10)
        for x in late:
            x.cancel()
    elapsed = _now() - start
    rep = t.report()
    rep["started"] = i
    rep["rate_achieved"] = round(i / elapsed, 1) if elapsed else None
    rep["rate_asked"] = rate
    return rep


async def stall(
    target: Target,
    until: float,
    count: int = 32,
    read_for: tuple[float, float] = (0.0, 3.0),
    rcvbuf: int = 4096,
    tick_rate: float = 30.0,
) -> dict[str, Any]:
    """`count` players that read for a while (`read_for` seconds, each its own), then stop reading
    with a small receive buffer and keep sending an input every tick that acknowledges the
    newest tick; each joins again when cut. The server's queue for each is sampled with ss."""
    t = Tally("stall")

    async def one(i: int) -> None:
        rng = random.Random(i)
        await asyncio.sleep(i * 0.01)
        while _now() < until:
            try:
                c = await Conn.open(target, target.source(i), timeout=5.0, rcvbuf=rcvbuf)
            except (OSError, TimeoutError, Closed):
                t.counts["connect_failed"] += 1
                await asyncio.sleep(0.5)
                continue
            t.counts["connections"] += 1
            seq = 0
            try:
                await c.join(target, f"s{i}", timeout=5.0)
                t.counts["joined"] += 1
                read_until = _now() + rng.uniform(*read_for)
                while _now() < min(read_until, until):  # a player, for now: reads all, acks
                    seq += 1
                    await c.send(input_frame(seq))
                    try:
                        if not await c.recv(1 / tick_rate):
                            raise Closed("closed")
                    except TimeoutError:
                        pass
                t.hold(1)
                t0 = _now()
                try:
                    while _now() < until:  # reads nothing from now on
                        seq += 1
                        await c.send(input_frame(seq))
                        await asyncio.sleep(1 / tick_rate)
                    t.outcomes["held to the end"] += 1
                    t.time("held", _now() - t0)
                except OSError:
                    t.outcomes["cut"] += 1
                    t.time("cut_after", _now() - t0)
                finally:
                    t.hold(-1)
            except Closed as refused:
                t.outcomes[refused.why] += 1
            except (OSError, TimeoutError) as exc:
                t.outcomes[type(exc).__name__] += 1
            finally:
                c.close()

    watcher = asyncio.create_task(send_queues(target, until, t))
    await _each(count, one)
    watcher.cancel()
    return t.report() | {"server_send_queue": watcher_result(t)}


async def slow_read(
    target: Target,
    until: float,
    count: int = 60,
    bytes_per_s: int = 16384,
    rcvbuf: int = 8192,
    tick_rate: float = 30.0,
) -> dict[str, Any]:
    """`count` players that read `bytes_per_s` a second, less than the stream: each falls behind
    at a tick of its own (they join 20 ms apart) and acknowledges the newest tick every tick."""
    t = Tally("slow-read")
    per_read = max(1, int(bytes_per_s / tick_rate))

    async def one(i: int) -> None:
        await asyncio.sleep(i * 0.02)
        while _now() < until:
            try:
                c = await Conn.open(target, target.source(i), timeout=5.0, rcvbuf=rcvbuf)
            except (OSError, TimeoutError, Closed):
                t.counts["connect_failed"] += 1
                await asyncio.sleep(0.5)
                continue
            t.counts["connections"] += 1
            seq = 0
            try:
                await c.join(target, f"r{i}", timeout=5.0)
                t.counts["joined"] += 1
                t.hold(1)
                t0 = _now()
                try:
                    while _now() < until:
                        seq += 1
                        await c.send(input_frame(seq))
                        data = c.recv_now(per_read)
                        if data == b"":
                            raise Closed("closed")
                        t.counts["bytes_read"] += len(data or b"")
                        await asyncio.sleep(1 / tick_rate)
                    t.outcomes["held to the end"] += 1
                    t.time("held", _now() - t0)
                except (OSError, Closed):
                    t.outcomes["cut"] += 1
                    t.time("cut_after", _now() - t0)
                finally:
                    t.hold(-1)
            except Closed as refused:
                t.outcomes[refused.why] += 1
            except (OSError, TimeoutError) as exc:
                t.outcomes[type(exc).__name__] += 1
            finally:
                c.close()

    watcher = asyncio.create_task(send_queues(target, until, t))
    await _each(count, one)
    watcher.cancel()
    return t.report() | {"server_send_queue": watcher_result(t)}


EMPTY_CONTINUATIONS = frame(OP_CONT, fin=False) * 682  # 4 KiB of empty continuation frames
EMPTY_PINGS = frame(OP_PING) * 682


async def flood(
    target: Target, until: float, count: int = 4, hello: bool = True, ping: bool = False
) -> dict[str, Any]:
    """`count` flooders, each on one connection at a time: (HELLO, then) empty continuation
    frames after a first fragment (or, `ping`, empty pings) as fast as the socket takes them,
    until the server closes; then again on a new connection."""
    kind = "ping-flood" if ping else "flood" if hello else "flood-early"
    t = Tally(kind)
    block = EMPTY_PINGS if ping else EMPTY_CONTINUATIONS
    frames_per_block = len(block) // 6

    async def one(i: int) -> None:
        while _now() < until:
            try:
                c = await Conn.open(target, target.source(i), timeout=5.0)
            except (OSError, TimeoutError, Closed):
                t.counts["connect_failed"] += 1
                await asyncio.sleep(0.2)
                continue
            t.counts["connections"] += 1
            try:
                if hello:
                    await c.join(target, f"f{i}", timeout=5.0)
                else:
                    status = await c.handshake(target, timeout=5.0)
                    if status != 101:
                        raise Closed(f"http {status}")
                t.hold(1)
                t0 = _now()
                sent = 0
                try:
                    if not ping:
                        await c.send(frame(OP_BINARY, fin=False))  # a message's first fragment
                    while _now() < until:
                        await asyncio.wait_for(c.send(block), max(0.001, until - _now()))
                        sent += frames_per_block
                        data = c.recv_now()  # snapshots and pongs, or the refusal
                        why = None if data is None else c.refused(data)
                        if why is not None:
                            t.outcomes[why] += 1
                            t.time("cut_after", _now() - t0)
                            break
                except (OSError, TimeoutError):
                    t.outcomes["reset" if _now() < until else "held to the end"] += 1
                    t.time("cut_after", _now() - t0)
                finally:
                    t.counts["frames_sent"] += sent
                    t.hold(-1)
            except Closed as refused:
                t.outcomes[refused.why] += 1
            except (OSError, TimeoutError) as exc:
                t.outcomes[type(exc).__name__] += 1
            finally:
                c.close()

    await _each(count, one)
    rep = t.report()
    cut = rep.get("cut_after_s", {}).get("n") or 0
    rep["frames_sent_per_connection"] = round(t.counts["frames_sent"] / cut) if cut else None
    return rep


# --- what the server queues for the attackers ------------------------------------------------


async def send_queues(target: Target, until: float, t: Tally, every: float = 0.5) -> None:
    """Sample, with `ss`, the bytes the server's kernel holds unsent or unacknowledged for each
    connection from the attack's addresses (its Send-Q): the largest for one connection and the
    largest sum, in t.counts."""
    sources = set(target.sources)
    while _now() < until:
        try:
            proc = await asyncio.create_subprocess_exec(
                "ss",
                "-Htn",
                "state",
                "established",
                f"( sport = :{target.port} )",
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
            )
            out, _ = await proc.communicate()
        except OSError:  # no ss here
            return
        total = 0
        for line in out.decode().splitlines():
            fields = line.split()
            if len(fields) >= 4 and fields[3].rsplit(":", 1)[0] in sources:
                q = int(fields[1])
                total += q
                t.counts["send_q_max"] = max(t.counts["send_q_max"], q)
        t.counts["send_q_total_max"] = max(t.counts["send_q_total_max"], total)
        t.counts["send_q_samples"] += 1
        await asyncio.sleep(every)


def watcher_result(t: Tally) -> dict[str, Any]:
    return {
        "samples": t.counts.pop("send_q_samples", 0),
        "max_bytes_one": t.counts.pop("send_q_max", 0),
        "max_bytes_all": t.counts.pop("send_q_total_max", 0),
    }


# --- a witness and a probe ---------------------------------------------------------------------


async def witness(target: Target, until: float, tick_rate: float = 30.0) -> dict[str, Any]:
    """A player from 127.0.0.1 that reads everything, walks to and fro (so that every tick has a
    snapshot for it) and acknowledges what it holds: its snapshot rate and the longest gap."""
    c = await Conn.open(Target(target.port, target.host, ("127.0.0.1",)), "127.0.0.1", timeout=10)
    gaps: list[float] = []
    snapshots = 0
    closed = None
    try:
        await c.join(target, "witness", timeout=10)
        t0 = last = _now()
        seq = 0
        next_input = t0
        while _now() < until:
            now = _now()
            if now >= next_input:
                seq += 1
                await c.send(input_frame(seq, move_x=1 if int(now - t0) % 4 < 2 else -1))
                next_input += 1 / tick_rate
            try:
                chunk = await c.recv(max(0.001, min(next_input, until) - _now()))
            except TimeoutError:
                continue
            if not chunk:
                closed = "closed"
                break
            c.buf += chunk
            for op, payload in c.frames():
                if op == OP_BINARY and len(payload) > 1 and payload[1] == SNAPSHOT:
                    now = _now()
                    snapshots += 1
                    gaps.append(now - last)
                    last = now
                elif (why := refusal(op, payload)) is not None:
                    closed = why
        seconds = _now() - t0
    except (Closed, OSError, TimeoutError) as exc:
        return {"error": getattr(exc, "why", type(exc).__name__)}
    finally:
        c.close()
    gaps = gaps[1:]
    return {
        "snapshots_per_s": round(snapshots / seconds, 2) if seconds else None,
        "gap_ms": summary(gaps, 1e3),
        "gaps_over_100ms": sum(g > 0.1 for g in gaps),
        "closed": closed,
    }


async def probe(target: Target, until: float, every: float = 1.0) -> dict[str, Any]:
    """Once every `every` seconds, from 127.0.0.1: a newcomer joins (connect to WELCOME, timed)
    and leaves with a close frame; and a GET /healthz, timed. Newcomers that fail are counted
    by why."""
    local = Target(target.port, target.host, ("127.0.0.1",))
    joins: list[float] = []
    health: list[float] = []
    failed: Counter[str] = Counter()
    loop = asyncio.get_running_loop()

    def healthz() -> float:
        t0 = _now()
        s = socket.create_connection((target.host, target.port), timeout=15)
        try:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            while s.recv(65536):
                pass
        finally:
            s.close()
        return _now() - t0

    async def newcomer(i: int) -> None:
        t0 = _now()
        c = None
        try:
            c = await Conn.open(local, "127.0.0.1", timeout=15)
            await c.join(local, f"newcomer{i}", timeout=15)
            joins.append(_now() - t0)
            await c.send(CLOSE_1000)
        except Closed as refused:
            failed[refused.why] += 1
        except (OSError, TimeoutError) as exc:
            failed[type(exc).__name__] += 1
        finally:
            if c is not None:
                c.close()

    async def health_check() -> None:
        try:
            health.append(await loop.run_in_executor(None, healthz))
        except OSError as exc:
            failed[f"healthz {type(exc).__name__}"] += 1

    tasks = []
    i = 0
    while _now() < until:
        tasks.append(asyncio.create_task(newcomer(i)))
        tasks.append(asyncio.create_task(health_check()))
        i += 1
        await asyncio.sleep(min(every, max(0.0, until - _now())))
    await asyncio.wait(tasks, timeout=20)
    return {"join_ms": summary(joins, 1e3), "healthz_ms": summary(health, 1e3), "failed": dict(failed)}


# --- running one ------------------------------------------------------------------------------

# Each kind's size by default: connections, players or flooders (count), or cycles a second (rate).
DEFAULTS: dict[str, dict[str, float]] = {
    "slowloris": {"count": 256},  # 16 from each of 16 addresses: twice the server's 128 HTTP slots
    "silent": {"count": 190},  # 10 from each of 19 addresses, 8 of which each may hold
    "churn": {"rate": 333.0},  # 20,000 a minute
    "drop-churn": {"rate": 50.0},  # --max-players (1,000) in one --reconnect-grace (20 s)
    "stall": {"count": 32},
    "slow-read": {"count": 60},
    "flood-early": {"count": 4},
    "flood": {"count": 4},
    "ping-flood": {"count": 4},
}
ATTACKS: dict[str, Callable[..., Awaitable[dict[str, Any]]]] = {
    "slowloris": slowloris,
    "silent": silent,
    "churn": churn,
    "drop-churn": functools.partial(churn, reset=True),
    "stall": stall,
    "slow-read": slow_read,
    "flood-early": functools.partial(flood, hello=False),
    "flood": flood,
    "ping-flood": functools.partial(flood, ping=True),
}


def sizes(
    kind: str, count: int | None = None, rate: float | None = None, scale: float = 1.0
) -> dict[str, Any]:
    """The keyword arguments of a kind's attack: its defaults times `scale` (at least one
    connection, half a cycle a second), then `count` and `rate` when given (a churn's count is
    the most cycles it makes)."""
    out: dict[str, Any] = {}
    for k, v in DEFAULTS[kind].items():
        out[k] = max(1, round(v * scale)) if k == "count" else max(0.5, v * scale)
    if count is not None:
        out["count"] = count
    if rate is not None:
        out["rate"] = rate
    return out


async def run(
    kind: str,
    target: Target,
    duration: float,
    *,
    count: int | None = None,
    rate: float | None = None,
    scale: float = 1.0,
    with_probe: bool = False,
    with_witness: bool = False,
    tick_rate: float = 30.0,
) -> dict[str, Any]:
    """One attack for `duration` seconds (kind "none": no attack), with the probe and the
    witness beside it when asked; the report of each, and this process's CPU."""
    until = _now() + duration
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    jobs: dict[str, Awaitable[Any]] = {}
    if with_witness:
        jobs["witness"] = witness(target, until, tick_rate)
    if kind != "none":
        jobs["attack"] = ATTACKS[kind](target, until, **sizes(kind, count, rate, scale))
    if with_probe:
        jobs["probe"] = probe(target, until)
    t0 = _now()
    results = await asyncio.gather(*jobs.values())
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    wall = _now() - t0
    used = cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime
    out: dict[str, Any] = dict(zip(jobs, results, strict=True))
    out["kind"] = kind
    out["seconds"] = round(wall, 3)
    out["attacker_cpu_per_wall"] = round(used / wall, 3) if wall else None
    return out


def parse_sources(text: str) -> tuple[str, ...]:
    """ "127.0.0.2-127.0.0.20" or "127.0.0.2,127.0.0.3": the client addresses to attack from."""
    out: list[str] = []
    for part in text.split(","):
        part = part.strip()
        if "-" in part:
            lo, hi = (ipaddress.ip_address(x.strip()) for x in part.split("-", 1))
            if int(hi) - int(lo) > 1024:
                raise ValueError("at most 1,024 source addresses")
            out += [str(ipaddress.ip_address(a)) for a in range(int(lo), int(hi) + 1)]
        elif part:
            out.append(part)
    return tuple(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.attack", description=__doc__.split("\n")[0])
    p.add_argument("kind", choices=("none", *ATTACKS))
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--host", default="127.0.0.1", help="the server's address, in 127.0.0.0/8")
    p.add_argument("--duration", type=float, default=10.0, help="seconds, at most 600 (default 10)")
    p.add_argument("--count", type=int, help="connections, players or flooders (default: the kind's)")
    p.add_argument("--rate", type=float, help="churn: cycles a second (default 333; drop-churn 50)")
    p.add_argument("--scale", type=float, default=1.0, help="times the kind's default count and rate")
    p.add_argument("--sources", default="127.0.0.2-127.0.0.20", help="client addresses to attack from")
    p.add_argument("--probe", action="store_true", help="time a newcomer's join and /healthz every second")
    p.add_argument("--witness", action="store_true", help="a player from 127.0.0.1 times its snapshots")
    p.add_argument("--tick-rate", type=float, default=30.0, help="the server's tick rate (inputs a second)")
    p.add_argument("--json", action="store_true", help="the report as JSON on the last line")
    a = p.parse_args(argv)
    if not 0 < a.duration <= 600:
        p.error("--duration must be within (0, 600]")
    try:
        target = Target(a.port, a.host, parse_sources(a.sources))
    except ValueError as exc:
        p.error(str(exc))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    report = asyncio.run(
        run(
            a.kind,
            target,
            a.duration,
            count=a.count,
            rate=a.rate,
            scale=a.scale,
            with_probe=a.probe,
            with_witness=a.witness,
            tick_rate=a.tick_rate,
        )
    )
    print(json.dumps(report) if a.json else json.dumps(report, indent=1), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
