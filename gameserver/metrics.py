"""GET /metrics: the server's state and counters for Prometheus, read when a scrape asks.

Invariants:
- Nothing here runs on the tick or on a message's path: the collector reads, at scrape time,
  what the server keeps anyway (the directory's sizes and totals, the scheduler's counts and
  its tick-duration buckets, the SocketLoop's byte, close and refusal tables).
- A scrape never yields to another green thread while it reads, so the figures of one scrape
  are of one moment.
- Every metric is named `gameserver_...`, with its unit in the name; docs/metrics.md lists
  them all. The client library's process collector is left out: it lists /proc/self/fd on
  every scrape, which grows with the sockets open, and the tick would wait for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

from gameserver.config import Config
from gameserver.directory import Directory
from gameserver.tick import TICK_BUCKETS, TickScheduler
from gameserver.transport import SocketLoop


class Collections(Protocol):
    @property
    def collections(self) -> int: ...


class Observed(Protocol):
    """What the metrics read of a running server (gameserver.server.GameServer is one)."""

    @property
    def config(self) -> Config: ...
    @property
    def directory(self) -> Directory: ...
    @property
    def sockets(self) -> SocketLoop: ...
    @property
    def scheduler(self) -> TickScheduler: ...
    @property
    def gc(self) -> Collections: ...
    @property
    def bytes_out(self) -> int: ...


PREFIX = "gameserver_"
# close codes in labels: 0 when the connection ended with no close, -1 for a peer's other codes
CLOSE_CODE_LABELS = {0: "none", -1: "other"}


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(PREFIX + name, doc, value=value)


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(PREFIX + name, doc, value=value)


class GameServerCollector(Collector):
    """Every `gameserver_` metric, from the server's state at the moment of the scrape."""

    def __init__(self, server: Observed, build: str) -> None:
        self.server = server
        self.build = build

    def collect(self) -> Iterator[Metric]:
        server = self.server
        directory = server.directory
        sockets = server.sockets
        scheduler = server.scheduler

        info = GaugeMetricFamily(
            PREFIX + "build_info",
            "The build that answers: interpreted, or compiled by mypyc",
            labels=["build"],
        )
        info.add_metric([self.build], 1)
        yield info
        yield _gauge("tick_rate_hertz", "Simulation ticks per second (--tick)", server.config.tick_rate)

        # players and rooms
        yield _gauge(
            "players",
            "Players in every room: those connected and those kept for a resume after a drop",
            directory.players,
        )
        yield _gauge(
            "players_away",
            "Players whose connection dropped, kept for --reconnect-grace seconds for a resume",
            sum(len(hosted.room.away) for hosted in directory),
        )
        yield _gauge("spectators", "Spectators watching a room", directory.spectators)
        yield _gauge("rooms", "Rooms open, empty ones too", len(directory.rooms))
        yield _gauge(
            "seats_reserved", "Seats reserved by matchmaking, waiting for their HELLO", directory.reserved
        )
        yield _counter("rooms_created", "Rooms opened", directory.created_total)
        yield _counter("rooms_disposed", "Rooms disposed: left empty, or failed", directory.disposed_total)
        yield _counter("rooms_failed", "Rooms closed because their tick raised", directory.failed_total)
        yield _counter("resumes", "Sessions resumed with a session token", directory.resumed_total)
        yield _counter(
            "resyncs",
            "RESYNCs taken: a client's copy disagreed with a snapshot's checksum, a full snapshot followed",
            directory.resyncs_total,
        )

        # the tick
        yield _counter("ticks", "Ticks run", scheduler.ticks)
        counts = list(scheduler.bucket_counts)  # copied first: one tick's counts, all together
        cumulative = 0
        buckets: list[tuple[str, float]] = []
        for bound, count in zip(TICK_BUCKETS, counts, strict=False):
            cumulative += count
            buckets.append((repr(bound), cumulative))
        buckets.append(("+Inf", cumulative + counts[-1]))
        yield HistogramMetricFamily(
            PREFIX + "tick_duration_seconds",
            "Time one tick of every room took",
            buckets=buckets,
            sum_value=scheduler.duration_sum,
        )
        yield _counter("tick_overruns", "Ticks that took longer than one tick period", scheduler.overruns)
        yield _counter(
            "ticks_skipped",
            "Ticks dropped after a stall, past the catch-up of 3 (never replayed)",
            scheduler.skipped,
        )
        yield _counter(
            "gc_collections", "Garbage collections the server ran between ticks", server.gc.collections
        )

        # the WebSockets
        yield _gauge(
            "websockets_open",
            "WebSockets open: waiting for HELLO, joined (players and spectators) or closing",
            len(sockets.conns),
        )
        yield _counter(
            "websocket_sent_bytes", "Bytes sent on the WebSockets after their handshakes", server.bytes_out
        )
        yield _counter(
            "websocket_received_bytes",
            "Bytes read from the WebSockets after their handshakes",
            sockets.bytes_in,
        )
        yield _counter(
            "socket_loop_passes", "Passes of the socket loop over its ready sockets", sockets.passes
        )
        yield _counter("socket_loop_events", "Socket events the socket loop served", sockets.events)
        closes = CounterMetricFamily(
            PREFIX + "websocket_closes",
            "WebSockets ended, by close code (none: no close, other: a peer's unusual code) and reason "
            "(our error code; peer: the peer's close frame; else why the TCP connection ended)",
            labels=["code", "reason"],
        )
        for (code, reason), n in sorted(sockets.closes.items()):
            closes.add_metric([CLOSE_CODE_LABELS.get(code) or str(code), reason], n)
        yield closes
        refusals = CounterMetricFamily(
            PREFIX + "refusals",
            "Refusals, by stage (handshake: GET /ws; matchmaking: /rooms and /matchmake; hello: a "
            "WebSocket closed before it joined), status (HTTP status, or close code) and error code",
            labels=["stage", "status", "code"],
        )
        for (stage, status, error), n in sorted(sockets.refusals.items()):
            refusals.add_metric([stage, str(status), error], n)
        yield refusals


class Metrics:
    """The server's registry, which holds its collector."""

    def __init__(self, server: Observed, build: str) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(GameServerCollector(server, build))

    def exposition(self, accept: str) -> tuple[bytes, str]:
        """Every metric in the format the Accept header asks for (Prometheus' text format by
        default, OpenMetrics if asked), and its content type."""
        encode, content_type = choose_encoder(accept)
        return encode(self.registry), content_type
