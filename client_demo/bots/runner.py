"""Many headless players in one process: one epoll loop, raw non-blocking sockets.

Every bot speaks protocol v1 through gameserver.codec: HELLO, one INPUT per tick carrying the
newest snapshot tick it holds as ack_tick, and a PING a second for the round trip. What differs
is how much of each snapshot a bot reads:
- a verifying bot (--verify K, and every chase bot, which needs positions) decodes every message
  with codec.decode_server and applies each snapshot to a replication.Mirror; a DesyncError or a
  ProtocolError is a counted error;
- every other bot reads only the tick out of a snapshot's first bytes (wire.snapshot_tick) and
  counts bytes and arrival times, so a bot costs far less CPU than the player it plays.

Measurement: counters run all the time, but what is reported covers one window (set by
Runner.start_window / end_window); arrival intervals and round trips are recorded only inside it.
"""

from __future__ import annotations

import errno
import heapq
import math
import random
import select
import socket
import time
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from client_demo.bots import wire
from gameserver import codec
from gameserver.codec import ProtocolError
from gameserver.messages import Error, Goodbye, Hello, Input, MsgType, Ping, Pong, Snapshot, Welcome
from gameserver.replication import DesyncError, Mirror

BEHAVIOURS = ("wander", "chase", "idle", "churn")
TURN_EVERY = 1.5  # seconds between heading changes, on average
PING_EVERY = 1.0
HIST_RES = 0.00025  # arrival-interval histogram buckets, seconds
HIST_MAX = 8000  # 2 s; longer intervals land in the last bucket
MAX_ERRORS_KEPT = 5
MAX_CONNECTING = 64  # handshakes in flight at once
TIMER_SLACK = 0.001  # seconds a timer may fire early


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100.0 * len(ordered)) - 1))]


def hist_percentile(hist: list[int], q: float) -> float | None:
    total = sum(hist)
    if not total:
        return None
    want = math.ceil(q / 100.0 * total)
    seen = 0
    for i, n in enumerate(hist):
        seen += n
        if seen >= want:
            return (i + 1) * HIST_RES
    return HIST_MAX * HIST_RES


class Stats:
    """What one bot measured inside the window."""

    __slots__ = (
        "snapshots",
        "bytes_in",
        "bytes_out",
        "rtts",
        "max_interval",
        "verified",
        "snap_bytes",
        "moving",
    )

    def __init__(self) -> None:
        self.snapshots = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.rtts: list[float] = []
        self.max_interval = 0.0
        self.verified = 0  # snapshots decoded and applied to the mirror
        self.snap_bytes = 0  # payload bytes of the verified delta snapshots
        self.moving = 0  # change records that move an entity, in those snapshots


class Bot:
    """One player: its socket, its protocol state and its behaviour."""

    def __init__(self, runner: Runner, index: int, behaviour: str, verify: bool, rng: random.Random) -> None:
        self.runner = runner
        self.index = index
        self.name = f"bot{index}"
        self.behaviour = behaviour
        self.verify = verify or behaviour == "chase"
        self.rng = rng
        self.sock: socket.socket | None = None
        self.fd = -1
        self.state = "idle"  # idle, connecting, handshake, hello, playing, closing, done
        self.generation = 0  # bumped per connection, so stale timers are ignored
        self.masker = wire.Masker()
        self.rbuf = b""
        self.accept = b""
        self.ws_request = b""
        self.mirror: Mirror | None = None
        self.entity_id: int | None = None
        self.welcome: Welcome | None = None
        self.seq = 0
        self.ack_tick: int | None = None
        self.heading = rng.uniform(0.0, 2 * math.pi)
        self.move = (0.0, 0.0)
        self.next_turn = 0.0
        self.last_snap_at = 0.0
        self.leave_at = math.inf
        self.we_closed = False
        # over the whole run
        self.connects = 0
        self.errors: Counter[str] = Counter()
        self.error_samples: list[str] = []
        self.close_codes: Counter[str] = Counter()
        self.total_snapshots = 0
        self.stats = Stats()
        self.joined_once = False
        self.connected_at_end = False

    # --- lifecycle ---------------------------------------------------------------------

    def connect(self) -> None:
        r = self.runner
        self.state = "connecting"
        self.generation += 1
        self.rbuf = b""
        self.mirror = Mirror() if self.verify else None
        self.entity_id = None
        self.ack_tick = None
        self.we_closed = False
        self.last_snap_at = 0.0
        self.leave_at = math.inf
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        err = s.connect_ex((r.host, r.port))
        if err not in (0, errno.EINPROGRESS):
            s.close()
            self.fail("connect", f"connect: {errno.errorcode.get(err, err)}")
            return
        self.sock, self.fd = s, s.fileno()
        self.ws_request, self.accept = wire.handshake_request(r.host, r.port, r.path)
        r.watch(self, select.EPOLLOUT)

    def fail(self, kind: str, detail: str) -> None:
        self.count_error(kind, detail)
        self.drop()

    def count_error(self, kind: str, detail: str) -> None:
        self.errors[kind] += 1
        if len(self.error_samples) < MAX_ERRORS_KEPT:
            self.error_samples.append(f"{kind}: {detail}")

    def drop(self) -> None:
        """Close the socket; churn bots come back after a pause, the others stay out."""
        r = self.runner
        if self.sock is not None:
            r.unwatch(self)
            self.sock.close()
            self.sock, self.fd = None, -1
        if self.state in ("connecting", "handshake"):
            r.connecting -= 1
        elif self.state in ("playing", "closing"):
            r.playing -= 1
        self.state = "done"
        if self.behaviour == "churn" and not r.stopping:
            r.schedule(time.monotonic() + self.rng.uniform(0.2, 0.6), self, "reconnect")

    # --- I/O events --------------------------------------------------------------------

    def on_writable(self) -> None:
        assert self.sock is not None
        if self.state == "connecting":
            err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                self.fail("connect", f"connect: {errno.errorcode.get(err, err)}")
                return
            self.state = "handshake"
            self.sock.send(self.ws_request)  # a few hundred bytes into an empty buffer
            self.runner.watch(self, select.EPOLLIN, modify=True)

    def on_readable(self) -> None:
        assert self.sock is not None
        r = self.runner
        try:
            # Into one shared buffer: recv(n) would allocate (and for large n, mmap) n bytes
            # per call only to shrink them again.
            n = self.sock.recv_into(r.rbuf)
        except BlockingIOError:
            return
        except OSError as exc:
            self.fail("socket", repr(exc))
            return
        if not n:
            self.on_eof()
            return
        data = r.rview[:n].tobytes()
        now = time.monotonic()
        if self.runner.measuring:
            self.stats.bytes_in += len(data)
        buf = self.rbuf + data if self.rbuf else data
        if self.state == "handshake":
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.rbuf = buf
                return
            try:
                wire.check_handshake_response(buf[:end], self.accept)
            except wire.FrameError as exc:
                self.fail("handshake", str(exc))
                return
            self.runner.connecting -= 1
            self.state = "hello"
            self.connects += 1
            self.send(codec.encode_client(Hello(codec.PROTOCOL_VERSION, self.name)))
            buf = buf[end + 4 :]
        try:
            frames, pos = wire.parse_frames(buf)
        except wire.FrameError as exc:
            self.fail("framing", str(exc))
            return
        self.rbuf = buf[pos:]
        for opcode, start, end in frames:
            if opcode == wire.OP_BINARY:
                self.on_message(buf, start, end, now)
            elif opcode == wire.OP_CLOSE:
                self.on_close_frame(buf[start:end])
            elif opcode == wire.OP_PING:
                self.send(buf[start:end], wire.OP_PONG)
            elif opcode != wire.OP_PONG:
                self.count_error("framing", f"unexpected opcode {opcode}")
            if self.sock is None:
                return

    def on_message(self, buf: bytes, start: int, end: int, now: float) -> None:
        if self.mirror is None:
            tick = wire.snapshot_tick(buf, start)
            if tick is not None:
                self.on_snapshot(tick, now)
                return
            if buf[start + 1] == MsgType.SCOREBOARD:
                return  # only verifying bots decode what they do not need
        try:
            msg = codec.decode_server(buf[start:end])
        except ProtocolError as exc:
            self.count_error("protocol", str(exc))
            return
        if isinstance(msg, Snapshot):
            self.on_snapshot(msg.tick, now)
            assert self.mirror is not None
            try:
                self.mirror.apply(msg)
                if self.entity_id is not None and self.entity_id not in self.mirror.rows:
                    raise DesyncError(f"own entity {self.entity_id} missing at tick {msg.tick}")
                if msg.last_seq is not None and msg.last_seq > self.seq:
                    raise DesyncError(f"last_seq {msg.last_seq} was never sent (sent {self.seq})")
            except DesyncError as exc:
                self.count_error("desync", str(exc))
                return
            if self.runner.measuring:
                st = self.stats
                st.verified += 1
                if msg.baseline is not None:
                    st.snap_bytes += end - start
                    st.moving += sum(1 for c in msg.changes if c.dqx is not None or c.dqy is not None)
        elif isinstance(msg, Welcome):
            self.welcome = msg
            self.joined_once = True
            self.entity_id = msg.entity_id
            self.state = "playing"
            self.runner.playing += 1
            self.runner.on_joined(self, msg)
            if self.behaviour == "churn":
                self.leave_at = now + self.rng.uniform(*self.runner.churn_stay)
        elif isinstance(msg, Pong):
            if self.runner.measuring:
                self.stats.rtts.append(now - msg.client_time)
        elif isinstance(msg, Error):
            self.count_error("server_error", f"{msg.code}: {msg.message}")
        elif isinstance(msg, Goodbye):
            self.close_codes[f"goodbye:{msg.code}"] += 1
        # Scoreboards need nothing from a bot.

    def on_snapshot(self, tick: int, now: float) -> None:
        self.ack_tick = tick
        self.total_snapshots += 1
        r = self.runner
        if r.measuring:
            self.stats.snapshots += 1
            if self.last_snap_at:
                dt = now - self.last_snap_at
                if dt > self.stats.max_interval:
                    self.stats.max_interval = dt
                i = int(dt / HIST_RES)
                r.intervals[i if i < HIST_MAX else HIST_MAX - 1] += 1
        self.last_snap_at = now

    def on_close_frame(self, payload: bytes) -> None:
        code, reason = wire.parse_close(payload)
        self.close_codes[f"{code}" + (f":{reason}" if reason else "")] += 1
        if not self.we_closed:
            # The server closed first: always an error for a bot (too_slow, a protocol error,
            # a shutdown in the middle of a run).
            self.count_error("closed", f"server closed with {code} {reason}")
            self.send(wire.close_payload(code), wire.OP_CLOSE)
        self.drop()

    def on_eof(self) -> None:
        if not self.we_closed:
            self.count_error("closed", f"connection lost in state {self.state}")
        self.drop()

    # --- sending -------------------------------------------------------------------------

    def send(self, payload: bytes, opcode: int = wire.OP_BINARY) -> None:
        if self.sock is None:
            return
        data = self.masker.frame(payload, opcode)
        try:
            sent = self.sock.send(data)
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            self.fail("socket", repr(exc))
            return
        if sent != len(data):
            # 20-byte inputs into a socket buffer that cannot take them: the server is not
            # reading at all, so this bot is being dropped anyway.
            self.fail("send_blocked", f"socket took {sent} of {len(data)} bytes")
            return
        if self.runner.measuring:
            self.stats.bytes_out += sent

    def on_tick(self, now: float) -> None:
        """Send this tick's input: the behaviour's move and the newest snapshot tick held."""
        if now >= self.leave_at:
            self.leave()
            return
        b = self.behaviour
        if b == "idle":
            mx = my = 0.0
        elif b == "chase":
            mx, my = self.chase_move()
        else:
            if now >= self.next_turn:
                self.heading = self.rng.uniform(0.0, 2 * math.pi)
                self.next_turn = now + self.rng.uniform(0.5, 2.5) * TURN_EVERY / 1.5
                self.move = (math.cos(self.heading), math.sin(self.heading))
            mx, my = self.move
        self.seq += 1
        self.send(codec.encode_client(Input(self.seq, mx, my, self.heading, 0, self.ack_tick)))

    def chase_move(self) -> tuple[float, float]:
        m = self.mirror
        if m is None or self.entity_id is None or self.entity_id not in m.rows:
            return 0.0, 0.0
        me = m.rows[self.entity_id]
        best, best_d2 = None, math.inf
        for eid, row in m.rows.items():
            if eid != self.entity_id:
                d2 = (row[0] - me[0]) ** 2 + (row[1] - me[1]) ** 2
                if d2 < best_d2:
                    best, best_d2 = row, d2
        if best is None or best_d2 < 64 * 64:  # within 8 units: stay
            return 0.0, 0.0
        d = math.sqrt(best_d2)
        self.heading = math.atan2(best[1] - me[1], best[0] - me[0]) % (2 * math.pi)
        return (best[0] - me[0]) / d, (best[1] - me[1]) / d

    def ping(self, now: float) -> None:
        self.send(codec.encode_client(Ping(now)))

    def leave(self) -> None:
        """Start the closing handshake; the bot waits for the server's close frame."""
        if self.state != "playing":
            self.drop()
            return
        self.we_closed = True
        self.state = "closing"
        self.leave_at = math.inf
        self.send(wire.close_payload(1000), wire.OP_CLOSE)

    def report(self, window: float) -> dict[str, Any]:
        st = self.stats
        return {
            "name": self.name,
            "behaviour": self.behaviour,
            "verify": self.verify,
            "connects": self.connects,
            "connected": self.connected_at_end,
            "snapshots_per_s": st.snapshots / window if window else 0.0,
            "rtt_ms_p50": _ms(percentile(st.rtts, 50)),
            "rtt_ms_p99": _ms(percentile(st.rtts, 99)),
            "bytes_in_per_s": st.bytes_in / window if window else 0.0,
            "bytes_out_per_s": st.bytes_out / window if window else 0.0,
            "max_interval_ms": st.max_interval * 1e3,
            "verified_snapshots": st.verified,
            "errors": dict(self.errors),
            "error_samples": list(self.error_samples),
            "close_codes": dict(self.close_codes),
        }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1e3


class Runner:
    """Bots `first`..`first + count - 1` of a run, on one epoll loop in this process."""

    def __init__(
        self,
        url: str,
        count: int,
        behaviour: str,
        verify: int,
        first: int = 0,
        total: int | None = None,
        seed: int = 1,
    ) -> None:
        u = urlsplit(url)
        if u.scheme != "ws" or not u.hostname:
            raise ValueError(f"expected a ws:// URL, got {url!r}")
        self.host = u.hostname
        self.port = u.port or 80
        self.path = u.path or "/"
        self.total = total if total is not None else count
        self.period = 1 / 30  # replaced by the welcome's tick rate
        self.epoll = select.epoll()
        self.by_fd: dict[int, Bot] = {}
        self.timers: list[tuple[float, int, int, int, str]] = []  # (at, seq, bot index, generation, what)
        self._timer_seq = 0
        self.bots: list[Bot] = []
        for i in range(first, first + count):
            b = behaviour
            rng = random.Random(seed * 1_000_003 + i)
            self.bots.append(Bot(self, i, b, verify=i - first < verify, rng=rng))
        self.by_index = {b.index: b for b in self.bots}
        self.to_connect = list(self.bots)
        self.connecting = 0
        self.playing = 0
        self.stopping = False
        self.measuring = False
        self.window: tuple[float, float] | None = None
        self.cpu_at_start = 0.0
        self.cpu = 0.0
        self.intervals = [0] * HIST_MAX
        self.welcome: Welcome | None = None
        self.extra_fds: dict[int, Callable[[], None]] = {}
        self.churn_stay = (1.0, 3.0)  # seconds a churn bot stays before leaving
        self.rbuf = bytearray(1 << 20)
        self.rview = memoryview(self.rbuf)

    # --- the loop's plumbing -------------------------------------------------------------

    def watch(self, bot: Bot, events: int, modify: bool = False) -> None:
        if modify:
            self.epoll.modify(bot.fd, events)
        else:
            self.epoll.register(bot.fd, events)
            self.by_fd[bot.fd] = bot

    def unwatch(self, bot: Bot) -> None:
        if self.by_fd.pop(bot.fd, None) is not None:
            try:
                self.epoll.unregister(bot.fd)
            except OSError:
                pass

    def watch_fd(self, fd: int, callback: Callable[[], None]) -> None:
        self.epoll.register(fd, select.EPOLLIN)
        self.extra_fds[fd] = callback

    def schedule(self, at: float, bot: Bot, what: str) -> None:
        self._timer_seq += 1
        heapq.heappush(self.timers, (at, self._timer_seq, bot.index, bot.generation, what))

    def on_joined(self, bot: Bot, welcome: Welcome) -> None:
        if self.welcome is None:
            self.welcome = welcome
            self.period = 1.0 / welcome.tick_rate
        now = time.monotonic()
        # Spread the bots over the tick period by their index in the whole run.
        phase = (bot.index % self.total) / self.total * self.period
        first = now - (now % self.period) + phase
        if first <= now:
            first += self.period
        self.schedule(first, bot, "tick")
        self.schedule(now + bot.rng.uniform(0.0, PING_EVERY), bot, "ping")

    # --- measurement ---------------------------------------------------------------------

    def start_window(self) -> None:
        for b in self.bots:
            b.stats = Stats()
        self.intervals = [0] * HIST_MAX
        self.cpu_at_start = time.process_time()
        self.measuring = True

    def end_window(self) -> None:
        self.measuring = False
        self.cpu = time.process_time() - self.cpu_at_start
        for b in self.bots:
            b.connected_at_end = b.state == "playing"

    # --- running ---------------------------------------------------------------------------

    def run_until(self, deadline: float, until: Callable[[], bool] | None = None) -> bool:
        """Run the loop until `deadline`, or until `until()` is true; returns until's verdict."""
        epoll = self.epoll
        by_fd = self.by_fd
        timers = self.timers
        while True:
            now = time.monotonic()
            if until is not None and until():
                return True
            if now >= deadline:
                return False
            while self.to_connect and self.connecting < MAX_CONNECTING and not self.stopping:
                self.connecting += 1
                self.to_connect.pop(0).connect()
            # Timers due within TIMER_SLACK: epoll waits in whole milliseconds anyway, and
            # one wake-up for several bots costs less than one each.
            soon = now + TIMER_SLACK
            while timers and timers[0][0] <= soon:
                at, _, idx, gen, what = heapq.heappop(timers)
                bot = self.by_index[idx]
                if what == "reconnect":
                    if bot.generation == gen and bot.state == "done" and not self.stopping:
                        self.to_connect.append(bot)
                    continue
                if bot.generation != gen or bot.state not in ("playing",):
                    continue
                if what == "tick":
                    bot.on_tick(now)
                    nxt = at + self.period
                    if nxt <= now:  # fell behind (this process is saturated): skip, don't burst
                        nxt = now + self.period - ((now - at) % self.period)
                    self._timer_seq += 1
                    heapq.heappush(timers, (nxt, self._timer_seq, idx, gen, "tick"))
                else:
                    bot.ping(now)
                    self._timer_seq += 1
                    heapq.heappush(timers, (at + PING_EVERY, self._timer_seq, idx, gen, "ping"))
            timeout = deadline - now
            if timers:
                timeout = min(timeout, timers[0][0] - now)
            if self.to_connect and self.connecting < MAX_CONNECTING:
                timeout = 0
            for fd, ev in epoll.poll(max(0.0, timeout)):
                bot = by_fd.get(fd)
                if bot is None:
                    cb = self.extra_fds.get(fd)
                    if cb is not None:
                        cb()
                    continue
                if ev & select.EPOLLOUT:
                    bot.on_writable()
                elif ev & (select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR):
                    bot.on_readable()

    def all_joined(self) -> bool:
        """Every bot has been welcomed at least once, or has given up (a failed non-churn bot)."""
        return all(b.joined_once or (b.state == "done" and b.behaviour != "churn") for b in self.bots)

    def shut_down(self, timeout: float = 3.0) -> None:
        """Close every connection with a closing handshake, bounded by `timeout`."""
        self.stopping = True
        self.to_connect.clear()
        for b in self.bots:
            if b.state == "playing":
                b.leave()
            elif b.sock is not None and b.state != "closing":
                b.we_closed = True
                b.drop()
        self.run_until(time.monotonic() + timeout, lambda: not self.by_fd)
        for b in self.bots:
            if b.sock is not None:
                b.count_error("closed", "no close frame from the server in time")
                b.drop()

    def report(self) -> dict[str, Any]:
        w = self.window[1] - self.window[0] if self.window else 0.0
        return {
            "window_s": w,
            "cpu_s": self.cpu,
            "intervals": self.intervals,
            "welcome": None
            if self.welcome is None
            else {
                "tick_rate": self.welcome.tick_rate,
                "snapshot_rate": self.welcome.snapshot_rate,
                "rules": dict(self.welcome.rules),
            },
            "bots": [b.report(w) for b in self.bots],
            "rtts": [x for b in self.bots for x in b.stats.rtts],
            "verified": {
                "snap_bytes": sum(b.stats.snap_bytes for b in self.bots),
                "moving": sum(b.stats.moving for b in self.bots),
                "snapshots": sum(b.stats.verified for b in self.bots),
            },
        }


def merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One overall report from the reports of several runners (processes)."""
    bots = [b for p in parts for b in p["bots"]]
    window = max((p["window_s"] for p in parts), default=0.0)
    hist = [sum(col) for col in zip(*(p["intervals"] for p in parts), strict=True)] if parts else []
    rtts = [x for p in parts for x in p["rtts"]]
    rates = [b["snapshots_per_s"] for b in bots if b["connects"]]
    errors: Counter[str] = Counter()
    closes: Counter[str] = Counter()
    samples: list[str] = []
    for b in bots:
        errors.update(b["errors"])
        closes.update(b["close_codes"])
        samples.extend(f"{b['name']}: {s}" for s in b["error_samples"])
    vb = sum(p["verified"]["snap_bytes"] for p in parts)
    vm = sum(p["verified"]["moving"] for p in parts)
    return {
        "bots": len(bots),
        "connected": sum(1 for b in bots if b["connected"]),
        "connects": sum(b["connects"] for b in bots),
        "window_s": window,
        "snapshots_per_s_median": percentile(rates, 50),
        "snapshots_per_s_p1": percentile(rates, 1),
        "snapshots_per_s_mean": sum(rates) / len(rates) if rates else None,
        "interval_ms_p99": _ms(hist_percentile(hist, 99)) if hist else None,
        "interval_ms_max": max((b["max_interval_ms"] for b in bots), default=None),
        "rtt_ms_p50": _ms(percentile(rtts, 50)),
        "rtt_ms_p99": _ms(percentile(rtts, 99)),
        "bytes_in_per_s": sum(b["bytes_in_per_s"] for b in bots),
        "bytes_out_per_s": sum(b["bytes_out_per_s"] for b in bots),
        "verified_snapshots": sum(b["verified_snapshots"] for b in bots),
        "bytes_per_moving_entity": vb / vm if vm else None,
        "errors": sum(errors.values()),
        "errors_by_kind": dict(errors),
        "error_samples": samples[:20],
        "close_codes": dict(closes),
        "cpu_s": sum(p["cpu_s"] for p in parts),
        "cpu_per_wall": sum(p["cpu_s"] for p in parts) / window if window else None,
        "processes": len(parts),
        "welcome": next((p["welcome"] for p in parts if p["welcome"]), None),
        "per_bot": bots,
    }
