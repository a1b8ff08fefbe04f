"""A TCP proxy on 127.0.0.1 that delays every byte in each direction: by a fixed time, or with
jitter and stalls.

Used by the browser tests to put a real network's round trip between the page and the server:
with `delay=0.05` a WebSocket round trip takes 100 ms more. With `jitter=0.01` each chunk read
(one recv()) is delayed by delay +- up to 10 ms, uniformly, from a random.Random seeded by `seed`,
the connection's number and the direction, so a run is repeatable (as far as the chunks are: the
operating system decides how the bytes come in). Order is kept per direction, as TCP keeps it: a
chunk is never released before the one read before it, so a long delay holds back the chunks
behind it. With `stall_every=5.0, stall_for=0.3` nothing is delivered, either way, for 300 ms
every 5 s (from `stall_every` after the proxy started); what fell due meanwhile goes at the
stall's end, all at once (a burst). DelaySchedule is that rule, on its own. The bandwidth is not
limited. cut() breaks the connections open now, as a failing network does
(no WebSocket close frame either way), and keeps accepting new ones. Threads only; close() ends
everything it started.
"""

from __future__ import annotations

import contextlib
import queue
import random
import socket
import struct
import threading
import time

_EOF = b""


class DelaySchedule:
    """When the chunks of one direction are released: `due(arrival)` for each chunk in order.

    due = max(the previous chunk's due, arrival + delay + uniform(-jitter, +jitter), arrival),
    then, when that falls in a stall [start + k * stall_every, + stall_for) for k >= 1, the
    stall's end. Times in seconds on one clock (time.monotonic() in the proxy)."""

    def __init__(
        self,
        delay: float,
        jitter: float = 0.0,
        *,
        stall_every: float = 0.0,
        stall_for: float = 0.0,
        start: float = 0.0,
        seed: int | str = 0,
    ) -> None:
        if delay < 0 or jitter < 0 or stall_for < 0 or stall_every < 0:
            raise ValueError("delays, jitter and stalls are >= 0")
        if stall_for and stall_for >= stall_every:
            raise ValueError("a stall must be shorter than the time between stalls")
        self.delay, self.jitter = delay, jitter
        self.stall_every, self.stall_for, self.start = stall_every, stall_for, start
        self._rng = random.Random(seed)
        self._last = float("-inf")

    def stall_at(self, t: float) -> tuple[float, float] | None:
        """The stall (start, end) that `t` falls in, or None."""
        if not self.stall_for or t < self.start + self.stall_every:
            return None
        k = (t - self.start) // self.stall_every
        begin = self.start + k * self.stall_every
        return (begin, begin + self.stall_for) if t < begin + self.stall_for else None

    def due(self, arrival: float) -> float:
        d = self.delay + (self._rng.uniform(-self.jitter, self.jitter) if self.jitter else 0.0)
        at = max(self._last, arrival + max(0.0, d))
        stall = self.stall_at(at)
        if stall is not None:
            at = stall[1]
        self._last = at
        return at


class LatencyProxy:
    def __init__(
        self,
        upstream_port: int,
        delay: float,
        upstream_host: str = "127.0.0.1",
        *,
        jitter: float = 0.0,
        stall_every: float = 0.0,
        stall_for: float = 0.0,
        seed: int = 0,
    ) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.delay, self.jitter = delay, jitter
        self.stall_every, self.stall_for, self.seed = stall_every, stall_for, seed
        self.started = time.monotonic()  # the stalls' clock starts here
        DelaySchedule(delay, jitter, stall_every=stall_every, stall_for=stall_for)  # checks the figures
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port: int = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self.connections = 0
        self._spawn(self._accept_loop)

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _spawn(self, target: object, *args: object) -> None:
        t = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        with self._lock:
            self._threads.append(t)
        t.start()

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            for s in (client, server):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                s.settimeout(None)
            with self._lock:
                self._sockets += [client, server]
                self.connections += 1
                n = self.connections
            self._pipe(client, server, self._schedule(f"{self.seed}:{n}:up"))
            self._pipe(server, client, self._schedule(f"{self.seed}:{n}:down"))

    def _schedule(self, seed: str) -> DelaySchedule:
        return DelaySchedule(
            self.delay,
            self.jitter,
            stall_every=self.stall_every,
            stall_for=self.stall_for,
            start=self.started,
            seed=seed,
        )

    def _pipe(self, src: socket.socket, dst: socket.socket, schedule: DelaySchedule) -> None:
        """Bytes read from src are written to dst when `schedule` says, in order."""
        q: queue.Queue[tuple[float, bytes]] = queue.Queue()

        def read() -> None:
            while True:
                try:
                    data = src.recv(65536)
                except OSError:
                    data = _EOF
                q.put((schedule.due(time.monotonic()), data))
                if not data:
                    return

        def write() -> None:
            while True:
                due, data = q.get()
                wait = due - time.monotonic()
                if wait > 0 and self._closed.wait(wait):
                    return
                if not data:
                    with contextlib.suppress(OSError):
                        dst.shutdown(socket.SHUT_WR)
                    return
                try:
                    dst.sendall(data)
                except OSError:
                    return

        self._spawn(read)
        self._spawn(write)

    def cut(self) -> int:
        """End every connection open now, at both ends, abruptly (a FIN, then a reset) and with no
        WebSocket close frame: to the page and to the server it is a dropped connection. New
        connections are proxied as before. Returns how many connections were cut."""
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for s in sockets:
            with contextlib.suppress(OSError):
                # a zero linger makes the close below send a reset: the peer's next read fails
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            with contextlib.suppress(OSError):
                # wakes the reader blocked in recv() on it; a close alone would not
                s.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                s.close()
        return len(sockets) // 2

    def close(self, timeout: float = 2.0) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            sockets, threads = list(self._sockets), list(self._threads)
        for s in sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                s.close()
        deadline = time.monotonic() + timeout
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> LatencyProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
