"""The latency proxy the browser tests put between the page and the server (tests/latency_proxy.py).

DelaySchedule's rule is checked exactly (no sockets, no clock); the proxy itself with real
sockets on 127.0.0.1: every byte arrives, in order, never before its schedule allows, and nothing
is delivered during a stall. Only lower bounds are asserted on times: a loaded machine can make a
byte later, never earlier.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest
from latency_proxy import DelaySchedule, LatencyProxy

DEADLINE = 10.0


def test_a_fixed_delay_delays_every_chunk_by_that_much() -> None:
    s = DelaySchedule(0.05)
    assert [s.due(t) for t in (1.0, 1.01, 1.5)] == [1.05, 1.06, 1.55]


def test_jitter_spreads_the_delays_within_its_bounds_and_keeps_the_order() -> None:
    s = DelaySchedule(0.05, 0.02, seed=7)
    arrivals = [i * 0.001 for i in range(2000)]  # a chunk each ms: jitter reorders nothing
    dues = [s.due(t) for t in arrivals]
    assert dues == sorted(dues), "a chunk is never released before the one read before it"
    delays = [d - t for d, t in zip(dues, arrivals, strict=True)]
    assert min(delays) >= 0.05 - 0.02 - 1e-9
    # held back by a slower chunk before it, a chunk waits longer than its own draw
    assert max(delays) > 0.05 + 0.019
    assert max(delays) <= 0.05 + 0.02 + 1e-9
    spaced = DelaySchedule(0.05, 0.02, seed=7)  # chunks far apart: each takes its own draw
    own = [spaced.due(i * 1.0) - i * 1.0 for i in range(500)]
    assert min(own) < 0.05 - 0.015 and max(own) > 0.05 + 0.015
    assert abs(sum(own) / len(own) - 0.05) < 0.003  # uniform around the base delay


def test_the_same_seed_gives_the_same_delays_and_another_seed_others() -> None:
    def run(seed: int | str) -> list[float]:
        s = DelaySchedule(0.1, 0.04, seed=seed)
        return [s.due(i * 0.2) for i in range(50)]

    assert run("1:1:up") == run("1:1:up")
    assert run("1:1:up") != run("1:1:down")


def test_a_delay_shorter_than_the_jitter_never_releases_before_arrival() -> None:
    s = DelaySchedule(0.005, 0.05, seed=3)
    assert all(s.due(i * 1.0) >= i * 1.0 for i in range(500))


def test_nothing_is_released_during_a_stall_and_what_fell_due_goes_at_its_end() -> None:
    s = DelaySchedule(0.02, stall_every=1.0, stall_for=0.3, start=10.0)
    assert s.stall_at(10.1) is None  # the first stall is stall_every after the start
    assert s.stall_at(11.1) == (11.0, 11.3)
    assert s.stall_at(11.3) is None
    assert s.stall_at(12.05) == (12.0, 12.3)
    dues = [s.due(10.9 + i * 0.01) for i in range(50)]  # 10.90 .. 11.39
    # due 10.92 .. 10.99: before the stall; due 11.00 .. 11.29: all at 11.3; then 11.30 on
    assert dues[:8] == pytest.approx([10.92 + i * 0.01 for i in range(8)])
    assert dues[8:38] == [11.3] * 30
    assert dues[38:] == pytest.approx([11.30 + i * 0.01 for i in range(12)])
    with pytest.raises(ValueError):
        DelaySchedule(0.02, stall_every=0.2, stall_for=0.3)


class _Sink:
    """An upstream server on 127.0.0.1 that notes when each byte arrived (time.monotonic())."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.received = bytearray()
        self.times: list[float] = []  # the arrival time of each byte of `received`
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            while data := conn.recv(65536):
                now = time.monotonic()
                with self.cond:
                    self.received += data
                    self.times += [now] * len(data)
                    self.cond.notify_all()

    def wait_for(self, n: int) -> None:
        deadline = time.monotonic() + DEADLINE
        with self.cond:
            while len(self.received) < n:
                left = deadline - time.monotonic()
                assert left > 0, f"{len(self.received)} of {n} bytes arrived"
                self.cond.wait(left)

    def close(self) -> None:
        self.listener.close()


def test_the_proxy_delays_jitters_and_stalls_real_bytes_in_order() -> None:
    delay, jitter, every, stall = 0.03, 0.01, 0.4, 0.2
    sink = _Sink()
    proxy = LatencyProxy(sink.port, delay, jitter=jitter, stall_every=every, stall_for=stall, seed=5)
    try:
        client = socket.create_connection(("127.0.0.1", proxy.port))
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sent: list[float] = []  # when byte i was sent
        until = proxy.started + every + stall + 0.1  # past the first stall
        with client:
            while sent[-1:] < [until] and len(sent) < 250:  # a byte about every 10 ms
                sent.append(time.monotonic())
                client.sendall(bytes([len(sent) - 1]))
                time.sleep(0.01)  # pacing the sender, not waiting for a result
            messages = len(sent)
            sink.wait_for(messages)
    finally:
        proxy.close()
        sink.close()
    assert bytes(sink.received) == bytes(range(messages)), "every byte, in order"
    first_stall = (proxy.started + every, proxy.started + every + stall)
    held = 0
    for i, (s, r) in enumerate(zip(sent, sink.times, strict=True)):
        earliest = s + delay - jitter
        assert r >= earliest, f"byte {i} arrived {1000 * (r - s):.1f} ms after it was sent"
        if first_stall[0] <= earliest < first_stall[1]:
            held += 1
            assert r >= first_stall[1], f"byte {i} was delivered during the stall"
    assert held >= 3, "the bytes sent into the stall were held back"
