"""Builds the rooms' directory, the tick loop and the web app, and runs them under eventlet.

Invariants:
- The tick green thread runs every room's tick (Directory.tick) on a fixed timestep and then
  only wakes the sender green thread: it never touches a socket and never waits on a client.
- Garbage collection is steered: objects alive after start-up are frozen out of the collector,
  and collections run after a tick's snapshots are sent, in the time before the next tick, so a
  full collection (milliseconds with a big heap) never lands inside a tick or before a snapshot.
- stop() says goodbye to every client with a reason and returns within about two seconds.
"""

from __future__ import annotations

import errno
import gc
import json
import logging
import os
import resource
import signal
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import eventlet
import eventlet.queue
import eventlet.tpool
import eventlet.wsgi
from eventlet.hubs import trampoline

from gameserver import transport
from gameserver.agones import AgonesAdapter, AgonesUnavailable
from gameserver.agones import public_url as agones_public_url
from gameserver.cluster import (
    BEATS_PER_TTL,
    ClusterAgent,
    ClusterMatchmaker,
    ClusterSeats,
    DirectoryUnavailable,
    Registry,
)
from gameserver.codec import ErrorCode
from gameserver.config import Config
from gameserver.directory import Directory
from gameserver.game import Game
from gameserver.games import load_game
from gameserver.maps import GameMap
from gameserver.metrics import Metrics
from gameserver.recording import Recorder, game_spec
from gameserver.room import Member, Room
from gameserver.tick import TickScheduler
from gameserver.transport import SocketLoop
from gameserver.webapp import WebApp
from gameserver.wsframes import unmask_frame

log = logging.getLogger(__name__)

# "compiled" when the hot modules are C extensions built by mypyc (dev.py --compiled)
BUILD = "interpreted" if transport.__file__.endswith(".py") else "compiled"

# HTTP requests and WebSocket handshakes in progress at once. eventlet's accept loop takes
# queued connections without yielding until the pool is full, and their handshakes then run
# back to back: with many slots a flood of connections holds the tick up for as long as those
# handshakes take; 128 keeps that short (docs/benchmarks.md, "Under attack").
HTTP_SLOTS = 128
SPARE_FILES = 64  # the listener, the epolls, logs, map files
RECORD_FLUSH = 1.0  # seconds between writes of the recordings (--record)
AGONES_ADDRESS_WAIT = 30.0  # seconds --public-url agones waits for the sidecar's address
CLUSTER_COALESCE = 0.05  # seconds a beat waits after a change, to carry the changes after it too


class _Detached:
    """Stands in for a socket the game took over, so that eventlet's HTTP clean-up leaves it open."""

    def shutdown(self, *args: Any) -> None:
        pass

    def close(self) -> None:
        pass


DETACHED = _Detached()


class ListenError(Exception):
    """The server could not start: the listening socket could not be made, or the cluster's
    directory could not be joined (python -m gameserver exits with code 2)."""


class GcSteering:
    """Run the collector between ticks instead of whenever allocations trip it."""

    def __init__(self, full_every: float = 60.0) -> None:
        self.full_every = full_every
        self.last_full = time.monotonic()
        self.collections = 0

    def start(self) -> None:
        gc.collect()
        gc.freeze()  # start-up objects are never scanned again
        gc.disable()

    def after_tick(self, slack: float) -> None:
        count0, count1, _ = gc.get_count()
        now = time.monotonic()
        if now - self.last_full > self.full_every and slack > 0.015:
            gc.collect(2)
            self.last_full = now
        elif count1 > 20:
            gc.collect(1)
        elif count0 > 5000:
            gc.collect(0)
        else:
            return
        self.collections += 1

    def stop(self) -> None:
        gc.enable()
        gc.unfreeze()


class GameServer:
    def __init__(
        self,
        config: Config,
        maps: dict[str, GameMap | None] | None = None,
        default_map: str | None = None,
        game_type: type[Game] | None = None,
    ) -> None:
        """`maps`: the maps rooms may be created on, by name (cli.load_maps); by default only
        the empty world, `none`, which is then the default map. `game_type`: the game of every
        room; by default the one `config.game` names."""
        self.config = config
        self.game_type = game_type if game_type is not None else load_game(config.game)
        if maps is None:
            maps, default_map = {"none": None}, "none"
        self.directory = Directory(
            maps=maps,
            default_map=default_map or config.map,
            make_room=self._make_room,
            max_players=config.max_players,
            max_rooms=config.max_rooms,
            room_size=config.room_size or self.game_type.room_size,
            seat_ttl=config.seat_ttl,
            room_idle=config.room_idle,
            creates_per_minute=config.creates_per_minute,
            seats_per_address=config.seats_per_address,
            unlimited_addresses=frozenset(config.unlimited_addresses),
            away_per_address=config.connections_per_address,
            grace=config.reconnect_grace,
            spectators_per_room=config.spectators_per_room,
            max_spectators=config.max_spectators,
        )
        self.scheduler = TickScheduler(period=1.0 / config.tick_rate, step=self._tick, clock=time.monotonic)
        self.sockets = SocketLoop(config, self.directory, self.scheduler)
        self.gc = GcSteering()
        self.metrics = Metrics(self, BUILD)  # GET /metrics: reads the above when scraped
        self.started = time.monotonic()
        self.listener: Any = None
        self._threads: list[Any] = []
        self._due: list[Member] = []  # members the last ticks left something to send
        self._send_wake: eventlet.queue.LightQueue = eventlet.queue.LightQueue(maxsize=1)
        self._running = False
        self.cluster: ClusterAgent | None = None  # with --redis (start())
        self.matchmaker: ClusterMatchmaker | None = None
        self.agones: AgonesAdapter | None = None  # with --agones (start())
        self._cluster_wake: eventlet.queue.LightQueue = eventlet.queue.LightQueue(maxsize=1)
        # --record: each recorded room, and its file, until its last bytes are written
        self._recordings: dict[str, tuple[Room, Path]] = {}

    def _make_room(self, room_id: str, map_name: str, game_map: GameMap | None, max_players: int) -> Room:
        config = self.config
        room = Room(
            game_type=self.game_type,
            game_map=game_map,
            tick_rate=config.tick_rate,
            snapshot_rate=config.effective_snapshot_rate,
            checksum_every=config.checksum_every_ticks,
            max_players=max_players,
            max_lag_seconds=config.max_lag,
            seed=config.seed,
            room_id=room_id,
            unwrap=unmask_frame,  # the transport hands inputs over as their WebSocket frames
        )
        if config.record is not None:
            started = time.time()
            header = {
                "game": game_spec(self.game_type),
                "seed": config.seed,
                "tick_rate": config.tick_rate,
                "snapshot_rate": config.effective_snapshot_rate,
                "map": game_map.name if game_map is not None else None,
                "options": dict(room.options),
                "room": room_id,
                "started": started,
            }
            room.recorder = Recorder(header, max_bytes=int(config.record_max_mb * (1 << 20)))
            path = config.record / f"{room_id}.{int(started)}.gsrec"
            self._recordings[room_id] = (room, path)
        return room

    def _join_cluster(self) -> None:
        """Register with the cluster's directory in Redis (--redis): from now on a player's
        seat is the cluster's, and matchmaking decides for every process."""
        config = self.config
        assert config.redis is not None
        url = config.public_url
        if url == "agones":
            url = self._agones_public_url()
        if not url:
            host, port = self.address
            if host in ("0.0.0.0", "::"):
                raise ListenError("--public-url is needed with --redis when listening on every address")
            url = f"ws://[{host}]:{port}/ws" if ":" in host else f"ws://{host}:{port}/ws"
        client, errors = green_redis(config.redis, timeout=max(0.5, config.cluster_ttl / BEATS_PER_TTL))
        directory = self.directory
        registry = Registry(
            client,
            prefix=config.redis_prefix,
            url=url,
            game=self.game_type.name,
            maps=sorted(directory.maps),
            max_players=config.max_players,
            max_rooms=config.max_rooms,
            ttl=config.cluster_ttl,
            seat_ttl=config.seat_ttl,
            errors=errors,
        )
        try:
            signer = registry.register()
            self.cluster = ClusterAgent(registry, directory)
            self.cluster.beat()  # listed before the first client can be sent here
        except (DirectoryUnavailable, ValueError) as exc:
            raise ListenError(f"cannot join the cluster at {config.redis}: {exc}") from None
        directory.claims = ClusterSeats(signer, registry.process_id)
        directory.process_id = registry.process_id
        directory.notify = self._cluster_changed
        self.matchmaker = ClusterMatchmaker(registry, directory, time.monotonic)
        log.info("process %s of the cluster at %s, reached at %s", registry.process_id, config.redis, url)

    def _record_loop(self) -> None:
        """Every RECORD_FLUSH seconds, what the rooms recorded goes to their files, written by
        a thread of eventlet's pool: no file write waits in a green thread."""
        while self._running:
            eventlet.sleep(RECORD_FLUSH)
            self.write_recordings()

    def write_recordings(self) -> None:
        """Append what each recorded room recorded to its file; forget the rooms disposed."""
        for room_id, (room, path) in list(self._recordings.items()):
            recorder = room.recorder
            data = recorder.take() if recorder is not None else b""
            if data:
                try:
                    eventlet.tpool.execute(_append, path, data)
                except OSError as exc:
                    log.warning("room %s: recording stopped: %s", room_id, exc)
                    room.recorder = None
            if recorder is not None and recorder.full and room.recorder is recorder:
                log.warning("room %s: its recording reached --record-max-mb and stopped", room_id)
                room.recorder = None
            hosted = self.directory.rooms.get(room_id)
            if hosted is None or hosted.room is not room or room.recorder is None:
                del self._recordings[room_id]

    def _agones_loop(self, agones: AgonesAdapter) -> None:
        """Ready (until taken), then Health and the counters, every --agones-health seconds."""
        failing = False
        while self._running:
            try:
                agones.beat(len(self.directory.rooms), self.directory.players)
                failing = False
            except AgonesUnavailable as exc:
                if not failing:
                    log.warning("agones: the SDK sidecar did not answer (%s); trying again", exc)
                failing = True
            eventlet.sleep(self.config.agones_health)

    def _agones_public_url(self) -> str:
        """--public-url agones: the address and port Agones gave this GameServer."""
        call = green_json_call(self.config.agones_port, timeout=1.0)
        deadline = time.monotonic() + AGONES_ADDRESS_WAIT
        while True:
            try:
                url = agones_public_url(call)
            except AgonesUnavailable:
                url = None
            if url is not None:
                return url
            if time.monotonic() > deadline:
                raise ListenError(
                    f"--public-url agones: the SDK sidecar gave no address within {AGONES_ADDRESS_WAIT:g} s"
                )
            eventlet.sleep(0.5)

    def _cluster_changed(self) -> None:
        try:
            self._cluster_wake.put_nowait(None)
        except eventlet.queue.Full:
            pass

    def _cluster_loop(self, agent: ClusterAgent) -> None:
        """Beat BEATS_PER_TTL times per --cluster-ttl, and soon after a room's players change
        (at most every CLUSTER_COALESCE seconds): the directory then counts a used seat as the
        player it became. Redis answers off the tick: this green thread waits, no other."""
        interval = self.config.cluster_ttl / BEATS_PER_TTL
        failing = False
        while self._running:
            try:
                agent.beat()
                if failing:
                    log.warning("the cluster's directory answers again")
                failing = False
            except DirectoryUnavailable as exc:
                if not failing:
                    log.warning("%s; this process leaves the listing until it answers", exc)
                failing = True
            except Exception:
                log.exception("the cluster's beat failed")
            try:
                self._cluster_wake.get(timeout=interval)
            except eventlet.queue.Empty:
                continue
            eventlet.sleep(CLUSTER_COALESCE)  # the changes of a burst of joins in one beat

    @property
    def bytes_out(self) -> int:
        """Bytes sent on the WebSockets after their handshakes."""
        return self.sockets.bytes_out

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.listener.getsockname()[:2]
        return host, port

    def _tick(self) -> None:
        self._due.extend(self.directory.tick(time.monotonic()))
        try:
            self._send_wake.put_nowait(None)
        except eventlet.queue.Full:
            pass

    def _send_loop(self) -> None:
        """Hand each tick's output to the sockets, outside the tick green thread; then the
        connections' deadlines (hello, a blocked send, a close the peer never answers)."""
        while self._running:
            self._send_wake.get()
            self.send_due()
            now = time.monotonic()
            self.sockets.expire(now)
            # Collect after the snapshots are out, so a collection delays no one's snapshot.
            next_tick = self.scheduler.next_deadline
            self.gc.after_tick(next_tick - now if next_tick is not None else 0.0)

    def send_due(self) -> None:
        """Hand what the ticks left to each member's connection: one non-blocking send each."""
        due, self._due = self._due, []
        now = time.monotonic()
        for member in due:
            conn = member.link  # None once the connection is gone
            if conn is not None:
                try:
                    conn.flush(now)
                except Exception:  # one connection's fault stops no one else's snapshot
                    conn.fail(now)

    def _tick_loop(self) -> None:
        sched = self.scheduler
        while self._running:
            eventlet.sleep(sched.run_due())

    def health(self) -> dict[str, Any]:
        return {
            "status": ("draining" if self.directory.draining else "ok") if self._running else "stopping",
            "tick": self.scheduler.ticks,
            "tick_rate": self.config.tick_rate,
            "build": BUILD,
            "game": self.game_type.name,
            "players": self.directory.players,
            "connections": self.directory.players,  # joined players; each links to its Connection
            "rooms": len(self.directory.rooms),
            "seats_reserved": self.directory.reserved,
            "rooms_created": self.directory.created_total,
            "rooms_disposed": self.directory.disposed_total,
            "rooms_failed": self.directory.failed_total,
            "players_away": sum(len(h.room.away) for h in self.directory),
            "resumed": self.directory.resumed_total,
            "spectators": self.directory.spectators,
            "sockets": len(self.sockets.conns),
            "io_passes": self.sockets.passes,
            "io_events": self.sockets.events,
            "uptime_s": round(time.monotonic() - self.started, 3),
            "bytes_out": self.bytes_out,
            "bytes_in": self.sockets.bytes_in,
            "gc_collections": self.gc.collections,
            "cluster": None
            if self.cluster is None
            else {
                "process": self.cluster.registry.process_id,
                "url": self.cluster.registry.url,
                "beats": self.cluster.beats,
                "beat_failures": self.cluster.failures,
            },
            **{k: round(v, 3) if isinstance(v, float) else v for k, v in self.scheduler.stats().items()},
        }

    def start(self) -> None:
        # Every socket is a file: WebSockets, HTTP requests in progress, and a few of our own.
        # eventlet's accept loop ends for good when accept() finds no free descriptor, so the
        # WebSocket cap is kept within what the open-file limit leaves.
        wanted = self.config.connection_cap + HTTP_SLOTS + SPARE_FILES
        limit = raise_open_file_limit(wanted)
        self.sockets.cap = min(self.config.connection_cap, limit - HTTP_SLOTS - SPARE_FILES)
        if self.sockets.cap < self.config.connection_cap:
            log.warning(
                "the open-file limit (%d) allows %d WebSockets, not %d: more are refused with server_full",
                limit,
                self.sockets.cap,
                self.config.connection_cap,
            )
        host, port = self.config.host, self.config.port
        try:
            # Not SO_REUSEPORT, which eventlet sets by default: with it a second server on a port
            # in use would start and take every other connection of the first one's.
            self.listener = eventlet.listen((host, port), backlog=1024, reuse_port=False)
        except OSError as exc:  # the port is in use, or the host is not an address of this machine
            reason = "the port is in use" if exc.errno == errno.EADDRINUSE else exc.strerror or str(exc)
            where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            raise ListenError(f"cannot listen on {where}: {reason}") from None
        if self.config.redis is not None:
            self._join_cluster()
        self._running = True
        app = WebApp(
            self.config,
            self.directory,
            self.sockets,
            index_page=self.game_type.page,
            health=self.health,
            exposition=self.metrics.exposition,
            address=lambda: self.address,
            cluster=self.matchmaker,
        )
        self._threads.append(
            eventlet.spawn(
                eventlet.wsgi.server,
                self.listener,
                app,
                debug=False,  # no tracebacks to clients
                max_size=HTTP_SLOTS,  # a WebSocket leaves the pool after its handshake
                # each read or write; a whole request has --http-timeout (_LeanHttpProtocol)
                socket_timeout=self.config.http_timeout,
                log_output=False,
                log=_WsgiLog(),
                protocol=_LeanHttpProtocol,
            )
        )
        self.gc.start()
        self._threads.append(eventlet.spawn(self.sockets.run))
        self._threads.append(eventlet.spawn(self._send_loop))
        self._threads.append(eventlet.spawn(self._tick_loop))
        if self.cluster is not None:
            self._threads.append(eventlet.spawn(self._cluster_loop, self.cluster))
        if self.config.record is not None:
            self.config.record.mkdir(parents=True, exist_ok=True)
            self._threads.append(eventlet.spawn(self._record_loop))
        if self.config.agones:
            self.agones = AgonesAdapter(
                green_json_call(self.config.agones_port, timeout=1.0),
                max_rooms=self.config.max_rooms,
                max_players=self.config.max_players,
            )
            self._threads.append(eventlet.spawn(self._agones_loop, self.agones))
        host, port = self.address
        log.info(
            "serving on http://%s:%d/ (WebSocket at /ws), %d Hz, %s build",
            host,
            port,
            self.config.tick_rate,
            BUILD,
        )

    def drain(self) -> None:
        """Stop taking players (a cluster's directory stops sending them here at its next beat,
        within CLUSTER_COALESCE): the matches play on until their players leave or stop()."""
        if not self.directory.draining:
            log.info("draining: no new room or player; %d players play on", self.directory.players)
            self.directory.drain()

    def stop(self, deadline: float = 1.5) -> None:
        """Goodbye to every client, then close; returns within `deadline` plus a little."""
        if not self._running:
            return
        log.info("stopping: saying goodbye to %d connections", len(self.sockets.conns))
        why = "the server is shutting down"
        now = time.monotonic()
        for member in self.directory.close_all(ErrorCode.SERVER_SHUTDOWN, why):
            if member.link is not None:
                member.link.flush(now)
        # and to the WebSockets that have not said HELLO yet, which belong to no room
        self.sockets.goodbye_unjoined(ErrorCode.SERVER_SHUTDOWN, why)
        # Until every peer has answered its close frame (or the deadline): a player kept away
        # for a resume has no connection to wait for.
        end = time.monotonic() + deadline
        while self.sockets.conns and time.monotonic() < end:
            eventlet.sleep(0.01)
        self._running = False
        for t in self._threads:
            t.kill()
        if self.cluster is not None:
            try:  # out of the directory at once, not when the registration expires
                with eventlet.Timeout(1.0):
                    self.cluster.registry.leave()
            except (DirectoryUnavailable, eventlet.Timeout):
                log.warning("could not leave the cluster's directory: its entries expire by themselves")
        self.sockets.close()
        if self._recordings:
            self.write_recordings()
        if self.agones is not None:
            try:  # the goodbyes are said: Agones may remove this GameServer
                with eventlet.Timeout(1.0):
                    self.agones.shutdown()
            except (AgonesUnavailable, eventlet.Timeout):
                log.warning("agones: Shutdown was not taken")
        try:
            self.listener.close()
        except OSError:
            pass
        self.gc.stop()


class _LeanHttpProtocol(eventlet.wsgi.HttpProtocol):  # type: ignore[misc]
    """eventlet's HTTP handler, with small buffers and a way to hand a socket over.

    After a WebSocket handshake the SocketLoop takes the socket and the handler returns, so a
    WebSocket costs no green thread. eventlet's clean-up after the handler shuts down and closes
    the socket (its finish() and the server's link callback); detach() gives both a stand-in.
    The buffers are only used for HTTP requests, which are small.
    """

    rbufsize = 1024
    wbufsize = 1024

    def get_environ(self) -> dict[str, Any]:
        env: dict[str, Any] = super().get_environ()
        env["gameserver.detach"] = self.detach
        return env

    def detach(self) -> None:
        self.connection = DETACHED
        self.conn_state[1] = DETACHED

    def handle(self) -> None:
        """Serve one HTTP connection, if its client address holds fewer than
        --http-per-address of them: a client cannot take every HTTP slot."""
        app: WebApp = self.server.app
        address = str(self.client_address[0]) if self.client_address else "?"
        if not app.http_by_address.allows(address):
            self.close_connection = 1
            body = f"too_many_connections: {app.http_by_address.cap} HTTP connections from one address\n"
            try:
                self.wfile.write(
                    b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 5\r\nConnection: close\r\n"
                    b"Content-Type: text/plain; charset=utf-8\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n{body}".encode()
                )
                self.wfile.flush()
            except OSError:
                pass
            return
        app.http_by_address.add(address)
        try:
            super().handle()
        finally:
            app.http_by_address.release(address)

    def handle_one_request(self) -> None:
        """One request, from the wait for its first byte to the end of its answer, within
        --http-timeout: a client that sends a header line now and then, or that keeps its
        connection alive and idle, gives the slot back (eventlet's own timeout is per read)."""
        deadline = eventlet.Timeout(self.server.app.config.http_timeout)
        try:
            super().handle_one_request()
        except eventlet.Timeout as expired:
            if expired is not deadline:
                raise
            self.close_connection = 1
        finally:
            deadline.cancel()
            # The environ holds our detach() and eventlet's set_idle(), both bound to this
            # handler: a reference cycle that only the full collection would free, with the
            # handler's buffers and socket objects, after every request and every handshake.
            self.environ = None


class _WsgiLog:
    """eventlet.wsgi writes its messages to a file-like object; send them to logging."""

    def write(self, message: str) -> None:
        log.debug("wsgi: %s", message.rstrip())


def _drain(server: GameServer, timeout: float, stop_requested: list[int], wake_r: int) -> None:
    """SIGTERM with --drain-timeout: take no one new, and wait until every player has left or
    `timeout` seconds have passed, or another signal comes."""
    server.drain()
    end = time.monotonic() + timeout
    while len(stop_requested) == 1 and server.directory.players > 0:
        left = end - time.monotonic()
        if left <= 0:
            log.info("drained for %g s; %d players are told goodbye", timeout, server.directory.players)
            return
        try:
            with eventlet.Timeout(min(left, 0.25)):
                trampoline(wake_r, read=True)
            os.read(wake_r, 64)
        except (eventlet.Timeout, BlockingIOError):
            pass
    log.info("drained: no player left" if len(stop_requested) == 1 else "a second signal: stopping now")


def _append(path: Path, data: bytes) -> None:
    with path.open("ab") as f:
        f.write(data)


def green_json_call(port: int, timeout: float) -> Callable[[str, str, dict[str, Any]], tuple[int, Any]]:
    """An HTTP call to 127.0.0.1:port with a JSON body, whose socket is eventlet's: (status,
    decoded JSON answer or None). AgonesUnavailable when nothing answers."""
    from eventlet.green.http import client as http_client

    def call(method: str, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        conn = http_client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        try:
            conn.request(method, path, body=json.dumps(body), headers={"Content-Type": "application/json"})
            answer = conn.getresponse()
            data = answer.read()
            return answer.status, json.loads(data) if data.strip() else None
        except (OSError, ValueError, http_client.HTTPException) as exc:
            raise AgonesUnavailable(f"127.0.0.1:{port}: {exc!r}") from None
        finally:
            conn.close()

    return call


def green_redis(url: str, timeout: float) -> tuple[Any, tuple[type[BaseException], ...]]:
    """A redis-py client whose sockets are eventlet's (a call waits in its green thread alone),
    and the exceptions that mean Redis did not answer. redis-py is imported patched, as its
    own copy: its exceptions are that copy's."""
    redis = eventlet.import_patched("redis")
    # One retry at once (a pooled connection Redis closed), not redis-py's default of three
    # with backoff: a Redis that is down answers matchmaking 503 within `timeout`, or two.
    retry = redis.retry.Retry(redis.backoff.NoBackoff(), 1)
    client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=retry)
    return client, (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


def raise_open_file_limit(wanted: int) -> int:
    """Raise the soft open-file limit towards `wanted` (up to the hard limit); the new limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= wanted:
        return soft
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError) as exc:
        log.warning("could not raise the open-file limit to %d: %s", wanted, exc)
        return soft
    if target < wanted:
        log.warning("the open-file limit is %d (the hard limit); %d wanted", target, wanted)
    return target


def serve(
    config: Config,
    maps: dict[str, GameMap | None] | None = None,
    default_map: str | None = None,
    game_type: type[Game] | None = None,
) -> int:
    server = GameServer(config, maps, default_map, game_type)
    server.start()
    host, port = server.address
    print(
        f"gameserver on http://{host}:{port}/  (WebSocket ws://{host}:{port}/ws, Ctrl-C to stop)", flush=True
    )
    stop_requested: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop_requested.append(signum)  # acted on by the main green thread below

    # The main green thread sleeps until a signal comes: Python writes each signal's number to
    # the wake-up pipe, which the hub watches. (Polling for one 20 times a second cost an idle
    # server much of its CPU: on a VM each wake-up of a process is costly.)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    previous_fd = signal.set_wakeup_fd(wake_w)
    try:
        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        while not stop_requested:
            trampoline(wake_r, read=True)
            try:
                os.read(wake_r, 64)
            except BlockingIOError:
                pass
        if stop_requested == [signal.SIGTERM] and config.drain_timeout > 0:
            _drain(server, config.drain_timeout, stop_requested, wake_r)
    finally:
        signal.set_wakeup_fd(previous_fd)
        os.close(wake_r)
        os.close(wake_w)
    server.stop()
    log.info("stopped")
    return 0
