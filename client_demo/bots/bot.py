"""One headless player (Bot): its connections, the protocol it speaks and what it counts.

Every bot speaks protocol v1 through gameserver.codec: HELLO, one INPUT per tick carrying the
newest snapshot tick it holds as ack_tick, and a PING a second for the round trip. What differs
is how much of each snapshot a bot reads:
- a verifying bot (--verify K) decodes every message with codec.decode_server and applies each
  snapshot to a replication.Mirror; a DesyncError or a ProtocolError is a counted error;
- every other chase or fight bot, which needs the positions in its view, reads each snapshot's
  msgpack array straight into a tracker.Tracker (no message objects, no field checks; a snapshot
  that does not fit what it holds is still a counted error);
- every other bot reads only the tick out of a snapshot's first bytes (wire.snapshot_head) and
  counts bytes and arrival times, so a bot costs less CPU than the player it plays.

A Bot is one player's connections and the protocol over them: its non-blocking sockets, the
WebSocket handshake, HELLO, the messages and snapshots it reads, its resumes, its spectating and
its report. The loop that drives it is its Runner's (client_demo/bots/runner.py): one epoll loop
over every bot of a process, which calls on_writable and on_readable when a bot's socket is ready,
on_tick at the bot's phase of each tick and ping once a second. What a bot sends each tick is
its behaviour's (client_demo/bots/behaviours.py: wander, chase, idle, fight, ball); what is
measured and reported is metrics.py's (counters, percentiles, merge).

Behaviours, as a bot plays them: wander, chase, idle, ball (behaviours.py); churn (wanders,
leaves and comes back), host (a churn bot that creates a private room of its own over HTTP
before each connection and joins it with the seat: room churn), fight (behaviours.py's move and
aim, with render_tick = newest snapshot tick - the interpolation delay for lag compensation),
drop (wanders, and every --drop-every seconds cuts its connection with a TCP reset, no close
frame, and at once connects again with a HELLO carrying the session token of its newest WELCOME
and its room, to resume the same player), spectate (a spectator: HELLO with spectate true, to
its room (--rooms) or by quick spectate, sent only once the players of its process have joined;
no entity and never an INPUT: it acknowledges every snapshot with an ACK, and every
--follow-every seconds sends a FOLLOW for another player of the newest SCOREBOARD it was sent,
or nil, letting the server pick, when it knows none). A fighter counts its shots and hits from
the snapshots' shots, and its kills and deaths from SCOREBOARD.
A dropping bot counts its resumes and the failed ones (an ERROR, a WELCOME of another entity,
or a connection that ends before its WELCOME), and times each resume from the cut to the first
snapshot of the new connection, over the whole run (as the server's /healthz `resumed` counts).
A spectator keeps a Tracker (a Mirror when it verifies) of every snapshot, counts its FOLLOWs and
the FOLLOWINGs it is sent, and checks that every snapshot after a FOLLOWING holds the player it
names (an error "follow" otherwise; but the first snapshot after a FOLLOWING that names someone
else may have been made before the switch: the server sends its messages ahead of the one
snapshot waiting for the socket, so that one only counts as "late"), that its WELCOME names no
entity (0) and no session, that
its snapshots carry no last_seq, and that every FOLLOW of a player of its scoreboard is answered
with that player (a "refused" follow otherwise, counted). A quick spectate refused with
room_not_found (no player in a public room yet) is tried again, at most SPECTATE_RETRIES times.

Rooms: a bot joins by quick play (HELLO with no room), or, sent to a room (Bot.target_room, from
--rooms), with a seat it reserves over HTTP (POST /matchmake/join) before each connection, unless
it holds one already (the seat of the room's creation). The seat's request is a plain HTTP
exchange on its own non-blocking socket in the same loop. Each bot records the room of every
WELCOME and the names of every entity it is sent, per room, for the isolation check (rooms.py).

Measurement: counters run all the time, but what is reported covers one window (set by
Runner.start_window / end_window); arrival intervals and round trips are recorded only inside it.
A snapshot's arrival is measured twice, into its Runner's histograms: time.monotonic() when the
bot's loop reads it (so the interval includes the time the snapshot waited in the socket while
the loop served other bots), and, for one bot in STAMPED_EVERY and every verifying bot, the
kernel's receive timestamp of the read (SO_TIMESTAMPNS, CLOCK_REALTIME), which does not; on
loopback the latter is about when the server sent it. Only differences between two readings of
the same clock are used, and everything else (round trips, scheduling) is monotonic.
"""

from __future__ import annotations

import errno
import math
import random
import select
import socket
import struct
import time
from collections import Counter
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from client_demo.bots import rooms, wire
from client_demo.bots.behaviours import CHURNING, COME_BACK, MIRRORED, Steering
from client_demo.bots.metrics import HIST_MAX, HIST_RES, MAX_ERRORS_KEPT, Stats, percentile, to_ms
from client_demo.bots.tracker import Tracker
from client_demo.bots.wire import OP_BINARY, snapshot_head
from gameserver import codec
from gameserver.codec import ProtocolError
from gameserver.masking import xor_mask
from gameserver.messages import (
    Error,
    Follow,
    Following,
    Goodbye,
    Hello,
    MsgType,
    Ping,
    Pong,
    Resync,
    Scoreboard,
    Snapshot,
    Welcome,
)
from gameserver.replication import DesyncError, Mirror
from gameserver.schema import Schema, SchemaError
from gameserver.world import SCHEMA

if TYPE_CHECKING:  # runner.py imports this module
    from client_demo.bots.runner import Runner

# SO_LINGER on, 0 s: close() discards what is unsent and answers with a reset, no FIN
LINGER_RESET = struct.pack("ii", 1, 0)
CONNECTING = ("seating", "connecting", "handshake")  # counted in Runner.connecting
# The change records that move a player, as the arena's schema lays them out (counted per
# mirrored snapshot); a WELCOME's own schema builds the mirror.
_PLAYER = SCHEMA.kind_named("player")
MOVES = _PLAYER.bit("x") | _PLAYER.bit("y")
_SCHEMAS: dict[str, Schema] = {}  # from WELCOMEs, by their text: a schema's code is made once


def schema_of(wire: dict[str, Any] | None) -> Schema:
    """The schema a WELCOME carried (the arena's when it carried none). Raises SchemaError."""
    if wire is None:
        return SCHEMA
    key = repr(wire)
    schema = _SCHEMAS.get(key)
    if schema is None:
        if len(_SCHEMAS) > 16:
            _SCHEMAS.clear()
        schema = _SCHEMAS[key] = Schema.from_wire(wire)
    return schema


BEFORE_WELCOME = ("seating", "connecting", "handshake", "hello")
RESYNC_BYTES = codec.encode_client(Resync())
EMPTY_ARRAY = 0x90  # msgpack's empty fixarray: a snapshot with no spawns
SPECTATE_RETRIES = 40  # quick spectates refused with room_not_found before a spectator gives up
SPECTATE_RETRY_S = 0.25  # seconds before it tries again
# The kernel's receive timestamp (Linux): SCM_TIMESTAMPNS carries a struct timespec, two native
# longs. Python 3.11 has no name for it; 35 is its value in asm-generic/socket.h.
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
# One bot in STAMPED_EVERY (and every verifying bot) asks for those timestamps: at N=800 that is
# 100 bots and 3,000 kernel intervals a second for the p99. The others read with recv_into,
# which takes no ancillary data and costs their process a few percent less.
STAMPED_EVERY = 8
TIMESPEC = struct.Struct("@ll")
ANC_SIZE = socket.CMSG_SPACE(TIMESPEC.size)
NO_ANCILLARY: list[tuple[int, int, bytes]] = []


class Bot:
    """One player: its socket, its protocol state and its behaviour."""

    # Slots, those of every input and snapshot first: a bot is touched once or twice a tick,
    # and a compact object costs fewer cache misses.
    __slots__ = (
        "state",
        "sock",
        "masker",
        "runner",
        "seq",
        "behaviour",
        "steering",
        "ack_tick",
        "leave_at",
        "rbuf",
        "stamped",
        "mirror",
        "stats",
        "last_snap_at",
        "last_snap_kernel",
        "total_snapshots",
        "rng",
        "fd",
        "index",
        "name",
        "verify",
        "generation",
        "accept",
        "ws_request",
        "entity_id",
        "welcome",
        "we_closed",
        "kills",
        "deaths",
        "kills_at_start",
        "deaths_at_start",
        "total_shots",
        "total_hits",
        "connects",
        "errors",
        "error_samples",
        "close_codes",
        "joined_once",
        "connected_at_end",
        "room",
        "rooms",
        "target_room",
        "seat",
        "ws_host",
        "ws_port",
        "ws_path",
        "hello_room",
        "seat_request",
        "held",
        "foreign_names",
        "room_snapshots",
        "room_mark",
        "token",
        "drop_at",
        "dropped_at",
        "resume_entity",
        "resume_room",
        "resumes",
        "failed_resumes",
        "resume_latencies",
        "entity_ids",
        "spectator",
        "follow_at",
        "following",
        "follow_asked",
        "known_players",
        "follows",
        "followings",
        "follow_switches",
        "follows_refused",
        "followed_held",
        "followed_missing",
        "followed_late",
        "follow_fresh",
        "spectator_scoreboards",
        "spectate_retries",
        "retrying",
        "spectated_entities",
        "resyncs",
        "resync_at",
    )

    def __init__(self, runner: Runner, index: int, behaviour: str, verify: bool, rng: random.Random) -> None:
        self.runner = runner
        self.index = index
        self.name = rooms.bot_name(index)
        self.behaviour = behaviour
        self.verify = verify
        self.stamped = verify or index % STAMPED_EVERY == 0  # reads carry kernel timestamps
        self.rng = rng
        self.sock: socket.socket | None = None
        self.fd = -1
        self.state = "idle"  # idle, connecting, handshake, hello, playing, closing, done
        self.generation = 0  # bumped per connection, so stale timers are ignored
        self.masker = wire.Masker()
        self.rbuf = b""
        self.accept = b""
        self.ws_request = b""
        self.mirror: Mirror | Tracker | None = None
        self.resyncs = 0  # RESYNCs sent: the verifying mirror found a snapshot it disagrees with
        self.resync_at = -math.inf
        self.entity_id: int | None = None
        self.welcome: Welcome | None = None
        self.seq = 0
        self.ack_tick: int | None = None
        self.steering = Steering(behaviour, rng)  # what it plays (behaviours.py)
        self.last_snap_at = 0.0
        self.last_snap_kernel = 0.0  # kernel receive time of the previous snapshot; 0: none
        self.leave_at = math.inf
        self.we_closed = False
        self.kills = 0  # from the newest scoreboard (the whole run)
        self.deaths = 0
        self.kills_at_start = 0  # at the start of the window
        self.deaths_at_start = 0
        self.total_shots = 0
        self.total_hits = 0
        # over the whole run
        self.connects = 0
        self.errors: Counter[str] = Counter()
        self.error_samples: list[str] = []
        self.close_codes: Counter[str] = Counter()
        self.total_snapshots = 0
        self.stats = Stats()
        self.joined_once = False
        self.connected_at_end = False
        # rooms
        self.room: str | None = None  # of the newest WELCOME
        self.rooms: list[str] = []  # of every WELCOME, in order
        self.target_room: str | None = None  # the room this bot is sent to (--rooms); None: quick play
        self.seat: str | None = None  # a seat reserved and not yet used
        # where its WebSocket connects: the runner's server, or the url of its seat's answer (in
        # a cluster, the process that holds the room; a resume goes back there)
        self.ws_host, self.ws_port, self.ws_path = runner.host, runner.port, runner.path
        self.hello_room: str | None = None  # the room the next HELLO names
        self.seat_request = b""  # the HTTP request of the seat being reserved
        self.held: dict[str, int] = {}  # room -> bit set of the run's bots whose entity it was sent
        self.foreign_names: dict[str, int] = {}  # room -> spawns whose name is no bot of the run
        self.room_snapshots: dict[str, int] = {}  # room -> snapshots received there in the window
        self.room_mark = 0  # stats.snapshots when this connection's room began to count
        # resuming (drop): over the whole run
        self.token: str | None = None  # the session token of the newest WELCOME
        self.drop_at = math.inf  # when a dropping bot cuts its connection next
        self.dropped_at = 0.0  # when the connection being resumed was cut; 0: not resuming
        self.resume_entity = 0  # the entity the resume must bring back
        self.resume_room: str | None = None
        self.resumes = 0
        self.failed_resumes = 0
        self.resume_latencies: list[float] = []  # seconds from a cut to the resumed first snapshot
        self.entity_ids: list[int] = []  # of every WELCOME, in order
        # spectating: over the whole run
        self.spectator = False  # this connection is a spectator's (set per connection)
        self.follow_at = math.inf  # when a spectator asks to follow another player next
        self.following: int | None = None  # whom the newest FOLLOWING names
        self.follow_asked: list[int] = []  # FOLLOWs not yet answered, by entity id; 0: nil
        self.known_players: list[int] = []  # the players of the newest SCOREBOARD (not away)
        self.follows = 0  # FOLLOWs sent
        self.followings = 0  # FOLLOWINGs received
        self.follow_switches = 0  # FOLLOWINGs that name another player than the one before
        self.follows_refused = 0  # FOLLOWs of a player answered with someone else
        self.followed_held = 0  # mirrored snapshots that held the player followed
        self.followed_missing = 0  # and those that did not (each also an error "follow")
        self.followed_late = 0  # the first snapshot after a switch, made before it (no error)
        self.follow_fresh = False  # no snapshot since the FOLLOWING that switched
        self.spectator_scoreboards = 0  # SCOREBOARDs a spectator was sent
        self.spectate_retries = 0  # quick spectates refused with room_not_found, tried again
        self.retrying = False  # such a retry is due
        self.spectated_entities: set[int] = set()  # every player a FOLLOWING named

    # --- lifecycle ---------------------------------------------------------------------

    def connect(self) -> None:
        """Start the next connection: a seat first when this bot needs one (a host creates a room
        each time; a bot sent to a room reserves a seat in it), then the WebSocket."""
        r = self.runner
        self.generation += 1
        self.rbuf = b""
        self.hello_room = self.target_room
        if self.dropped_at:  # a resume: the token finds the player, no seat is needed
            self.hello_room = self.resume_room
            self.open_websocket()
            return
        if self.behaviour == "spectate":  # a spectator takes no seat: its room by id, or quick
            self.open_websocket()
            return
        if self.behaviour == "host":
            request = rooms.matchmake_request(r.host, r.port, "create", {"private": True})
        elif self.target_room is not None and self.seat is None:
            request = rooms.matchmake_request(r.host, r.port, "join", {"room": self.target_room})
        elif r.matchmake and self.target_room is None:
            request = rooms.matchmake_request(r.host, r.port, "quick", {})
        else:
            self.open_websocket()
            return
        self.state = "seating"
        self.seat_request = request
        self.open_socket()

    def open_socket(self) -> None:
        """A non-blocking connection to the server, watched until it is writable."""
        r = self.runner
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.stamped and self.state == "connecting":
            s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        # the seat's request to the server the runner was given; the WebSocket to the seat's
        err = s.connect_ex((r.host, r.port) if self.state == "seating" else (self.ws_host, self.ws_port))
        if err not in (0, errno.EINPROGRESS):
            s.close()
            self.fail("connect", f"connect: {errno.errorcode.get(err, err)}")
            return
        self.sock, self.fd = s, s.fileno()
        r.watch(self, select.EPOLLOUT)

    def open_websocket(self) -> None:
        self.state = "connecting"
        self.mirror = Mirror(SCHEMA) if self.verify else Tracker() if self.behaviour in MIRRORED else None
        self.spectator = self.behaviour == "spectate"
        self.following = None
        self.follow_asked = []
        self.follow_at = math.inf
        self.entity_id = None
        self.ack_tick = None
        self.we_closed = False
        self.last_snap_at = 0.0
        self.last_snap_kernel = 0.0
        self.leave_at = math.inf
        self.ws_request, self.accept = wire.handshake_request(self.ws_host, self.ws_port, self.ws_path)
        self.open_socket()

    def fail(self, kind: str, detail: str) -> None:
        self.count_error(kind, detail)
        self.drop()

    def count_error(self, kind: str, detail: str) -> None:
        self.errors[kind] += 1
        if len(self.error_samples) < MAX_ERRORS_KEPT:
            self.error_samples.append(f"{kind}: {detail}")

    def drop(self) -> None:
        """Close the socket; churn and host bots come back after a pause, the others stay out."""
        r = self.runner
        self.close_socket()
        if self.dropped_at and self.state in BEFORE_WELCOME:
            # The resume's connection ended before its WELCOME (one the bot closed is no failure).
            if not self.we_closed:
                self.resume_failed(f"connection ended in state {self.state}")
            self.dropped_at = 0.0
        if self.state in CONNECTING:
            r.connecting -= 1
        elif self.state in ("playing", "closing"):
            r.playing -= 1
            if r.measuring:
                self.count_room_snapshots()
        self.state = "done"
        if self.retrying and not r.stopping:
            r.schedule(time.monotonic() + SPECTATE_RETRY_S, self, "reconnect")
        elif self.behaviour in CHURNING and not r.stopping:
            r.schedule(time.monotonic() + self.rng.uniform(*COME_BACK), self, "reconnect")

    def cut(self, now: float) -> None:
        """Cut the connection as a lost network does (a reset, no close frame), then connect
        again at once to resume the same player with the newest WELCOME's token."""
        r = self.runner
        if self.sock is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
        self.close_socket()
        r.playing -= 1
        if r.measuring:
            self.count_room_snapshots()
        self.dropped_at = now
        self.resume_entity = self.entity_id if self.entity_id is not None else -1
        self.resume_room = self.room
        self.drop_at = math.inf
        self.state = "done"
        r.connecting += 1
        self.connect()

    def resume_failed(self, why: str) -> None:
        self.failed_resumes += 1
        self.count_error("resume", why)

    def close_socket(self) -> None:
        if self.sock is not None:
            self.runner.unwatch(self)
            self.sock.close()
            self.sock, self.fd = None, -1

    def count_room_snapshots(self) -> None:
        """The window's snapshots since the mark go to the room this bot is in."""
        if self.room is not None:
            got = self.stats.snapshots - self.room_mark
            self.room_snapshots[self.room] = self.room_snapshots.get(self.room, 0) + got
        self.room_mark = self.stats.snapshots

    # --- I/O events --------------------------------------------------------------------

    def on_writable(self) -> None:
        assert self.sock is not None
        if self.state in ("connecting", "seating"):
            err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                self.fail("connect", f"connect: {errno.errorcode.get(err, err)}")
                return
            if self.state == "connecting":
                self.state = "handshake"
                self.sock.send(self.ws_request)  # a few hundred bytes into an empty buffer
            else:
                self.sock.send(self.seat_request)  # likewise
            self.runner.watch(self, select.EPOLLIN, modify=True)

    def on_readable(self) -> None:
        assert self.sock is not None
        r = self.runner
        try:
            # Into one shared buffer: recv(n) would allocate (and for large n, mmap) n bytes
            # per call only to shrink them again. recvmsg where the kernel's receive timestamp
            # is wanted (self.stamped), recv_into, which takes no ancillary data, elsewhere.
            if self.stamped:
                n, anc, _, _ = self.sock.recvmsg_into(r.rbufs, ANC_SIZE)
            else:
                n, anc = self.sock.recv_into(r.rbuf), NO_ANCILLARY
        except BlockingIOError:
            return
        except OSError as exc:
            self.fail("socket", repr(exc))
            return
        if self.state == "seating":  # the answer to the seat's request, not a WebSocket
            self.on_seat_answer(r.rview[:n].tobytes())
            return
        if not n:
            self.on_eof()
            return
        now = time.monotonic()
        arrival = None  # the kernel's receive time of this read (CLOCK_REALTIME), if it gave one
        for level, kind, cdata in anc:
            if kind == SO_TIMESTAMPNS and level == socket.SOL_SOCKET:
                sec, nsec = TIMESPEC.unpack_from(cdata)
                arrival = sec + nsec * 1e-9
        if r.measuring:
            self.stats.bytes_in += n
        rb = r.rbuf
        if rb[0] == 0x82 and not self.rbuf and type(self.mirror) is not Mirror and self.state != "handshake":
            # Nearly every read of a counting or tracking bot: one whole snapshot frame, alone.
            # Taken here without the frame list and the dispatch (what the loop below does).
            size = rb[1]  # unmasked: the mask bit clear, so 125 or less, or 126 and two bytes
            start = 2
            if size == 126:
                size, start = (rb[2] << 8) | rb[3], 4
            elif size > 126:
                start = n  # a masked frame or a 64-bit length: the loop below judges it
            if start + size == n:
                snap = snapshot_head(rb, start)
                if snap is not None:
                    tick, spawns_at = snap
                    self.on_snapshot(tick, now, arrival)
                    mirror = self.mirror  # never a Mirror here (see above)
                    if isinstance(mirror, Tracker):
                        self.track(mirror, rb, start, n)
                    elif rb[spawns_at] != EMPTY_ARRAY:
                        self.on_spawns(rb, spawns_at, n)
                    return
        buf: bytes | bytearray
        if self.state == "handshake":
            head = self.rbuf + r.rview[:n].tobytes()
            end = head.find(b"\r\n\r\n")
            if end < 0:
                self.rbuf = head
                return
            try:
                wire.check_handshake_response(head[:end], self.accept)
            except wire.FrameError as refused:  # not `exc`, the OSError's above (mypyc)
                self.fail("handshake", str(refused))
                return
            self.runner.connecting -= 1
            self.state = "hello"
            self.connects += 1
            token = self.token if self.dropped_at else None
            if self.spectator:
                hello = Hello(codec.PROTOCOL_VERSION, self.name, None, self.hello_room, None, spectate=True)
            else:
                hello = Hello(codec.PROTOCOL_VERSION, self.name, token, self.hello_room, self.seat)
            self.seat = None  # a seat is used once
            self.send(codec.encode_client(hello))
            buf = head[end + 4 :]
            size = len(buf)
        elif self.rbuf:
            buf = self.rbuf + r.rview[:n].tobytes()
            size = len(buf)
        else:
            # Nearly every read: whole frames, parsed where they landed in the shared buffer
            # (the frame handlers never read a socket, so it stays put meanwhile).
            buf, size = r.rbuf, n
        try:
            frames, pos = wire.parse_frames(buf, 0, size)
        except wire.FrameError as bad:  # likewise
            self.fail("framing", str(bad))
            return
        self.rbuf = bytes(buf[pos:size]) if pos < size else b""
        for opcode, start, end in frames:
            if opcode == wire.OP_BINARY:
                self.on_message(buf, start, end, now, arrival)
            elif opcode == wire.OP_CLOSE:
                self.on_close_frame(bytes(buf[start:end]))
            elif opcode == wire.OP_PING:
                self.send(bytes(buf[start:end]), wire.OP_PONG)
            elif opcode != wire.OP_PONG:
                self.count_error("framing", f"unexpected opcode {opcode}")
            if self.sock is None:
                return

    def on_message(
        self, buf: bytes | bytearray, start: int, end: int, now: float, arrival: float | None
    ) -> None:
        mirror = self.mirror
        if type(mirror) is not Mirror:  # a counting or a tracking bot
            snap = snapshot_head(buf, start)
            if snap is not None:
                tick, spawns_at = snap
                self.on_snapshot(tick, now, arrival)
                if isinstance(mirror, Tracker):
                    self.track(mirror, buf, start, end)
                elif buf[spawns_at] != EMPTY_ARRAY:
                    self.on_spawns(buf, spawns_at, end)
                return
            if buf[start + 1] == MsgType.SNAPSHOT:
                self.count_error("protocol", "a snapshot whose head is not the codec's ints and nils")
                return
            if mirror is None and buf[start + 1] == MsgType.SCOREBOARD:
                return  # only mirroring bots decode what they do not need
        try:
            msg = codec.decode_server(bytes(buf[start:end]))  # the codec takes bytes only
        except ProtocolError as exc:
            self.count_error("protocol", str(exc))
            return
        if isinstance(msg, Snapshot):
            self.on_snapshot(msg.tick, now, arrival)
            assert isinstance(mirror, Mirror)
            try:
                mirror.apply(msg)
            except DesyncError as broken:  # compiled, one name is one type
                # A fault of the server's (counted), which the mirror heals: the next snapshot
                # is full. The server takes one RESYNC a second: more would be ignored.
                self.count_error("desync", str(broken))
                if now - self.resync_at >= 1.0:
                    self.resync_at = now
                    self.resyncs += 1
                    self.send(RESYNC_BYTES)
                return
            try:
                if self.entity_id is not None and self.entity_id not in mirror.rows:
                    raise DesyncError(f"own entity {self.entity_id} missing at tick {msg.tick}")
                if msg.last_seq is not None and msg.last_seq > self.seq:
                    raise DesyncError(f"last_seq {msg.last_seq} was never sent (sent {self.seq})")
                if self.spectator and msg.last_seq is not None:
                    raise DesyncError(f"a spectator's snapshot {msg.tick} has last_seq {msg.last_seq}")
            except DesyncError as desync:  # not `exc`: compiled, one name is one type (ProtocolError's above)
                self.count_error("desync", str(desync))
                return
            if msg.spawns:
                # a player's name: the games here declare it first (a ball or a coin has none)
                self.hold([s.values[0] for s in msg.spawns if s.values and type(s.values[0]) is str])
            flat_shots = [x for shot in msg.shots for x in (shot.shooter, shot.hit or 0)]
            moving = sum(1 for c in msg.changes if c.mask & MOVES)
            self.on_mirrored(flat_shots, end - start, msg.baseline is not None, moving)
            if self.runner.measuring:
                self.stats.verified += 1
        elif isinstance(msg, Welcome):
            if self.dropped_at and msg.entity_id != self.resume_entity:
                self.resume_failed(f"resumed as entity {msg.entity_id}, not {self.resume_entity}")
                self.dropped_at = 0.0
            self.welcome = msg
            if self.mirror is not None:
                try:
                    schema = schema_of(msg.schema)
                except SchemaError as fault:
                    self.count_error("protocol", f"welcome: {fault}")
                    return
                self.mirror = Mirror(schema) if type(self.mirror) is Mirror else Tracker(schema)
                self.steering.on_schema(schema)
            self.token = msg.session_token
            self.entity_ids.append(msg.entity_id)
            self.joined_once = True
            self.entity_id = msg.entity_id
            if self.spectator:
                self.on_spectator_welcome(msg, now)
            self.state = "playing"
            self.room = msg.room
            self.rooms.append(msg.room)
            self.room_mark = self.stats.snapshots
            self.runner.playing += 1
            self.runner.on_joined(self, msg)
            if self.behaviour in CHURNING:
                self.leave_at = now + self.rng.uniform(*self.runner.churn_stay)
            elif self.behaviour == "drop" and not self.runner.stopping:
                self.drop_at = now + self.rng.uniform(*self.runner.drop_every)
        elif isinstance(msg, Pong):
            if self.runner.measuring:
                self.stats.rtts.append(now - msg.client_time)
        elif isinstance(msg, Following):
            self.on_following(msg.entity_id)
        elif isinstance(msg, Error):
            if self.dropped_at and self.state == "hello":  # the resume was refused
                self.resume_failed(f"{msg.code}: {msg.message}")
                self.dropped_at = 0.0
            quick = self.spectator and self.state == "hello" and self.hello_room is None
            if quick and msg.code == "room_not_found":
                # A quick spectate before any player is in a public room: try again shortly.
                self.retrying = self.spectate_retries < SPECTATE_RETRIES
                if self.retrying:
                    self.spectate_retries += 1
                    self.we_closed = True  # the close that follows is expected, no error
                    return
            self.count_error("server_error", f"{msg.code}: {msg.message}")
        elif isinstance(msg, Goodbye):
            self.close_codes[f"goodbye:{msg.code}"] += 1
        elif isinstance(msg, Scoreboard):
            if self.runner.measuring:
                self.stats.scoreboards += 1
                self.stats.scoreboard_bytes += end - start
            if self.spectator:
                self.spectator_scoreboards += 1
                self.known_players = [line.id for line in msg.lines if not line.away]
                return
            for line in msg.lines:
                if line.id == self.entity_id:
                    self.kills, self.deaths = line.score, line.deaths
                    break

    def track(self, tracker: Tracker, buf: bytes | bytearray, start: int, end: int) -> None:
        """A snapshot into a tracking bot's Tracker."""
        try:
            v, moving = tracker.apply(memoryview(buf)[start:end])
        except DesyncError as desync:  # two names: compiled by mypyc, one name has one type
            self.count_error("desync", str(desync))
            return
        except ValueError as malformed:
            self.count_error("protocol", str(malformed))
            return
        if v[4]:
            self.hold([str(s[2]) for s in v[4]])  # codec.spawn_record(): id, kind, name, ...
        if self.spectator and v[3] is not None:
            self.count_error("desync", f"a spectator's snapshot {v[1]} has last_seq {v[3]}")
        self.on_mirrored(v[7], end - start, v[2] is not None, moving)

    def on_spawns(self, buf: bytes | bytearray, at: int, end: int) -> None:
        """A counting bot's snapshot spawns entities: their names, from the array at buf[at:end]."""
        try:
            self.hold(wire.spawn_names(buf, at, end))
        except ValueError as exc:
            self.count_error("protocol", str(exc))

    def hold(self, names: list[str]) -> None:
        """This bot was sent the entities of these names in its current room."""
        room = self.room
        if room is None:  # a snapshot before the welcome: the codec's checks count that
            return
        index_of = self.runner.index_of
        bits = self.held.get(room, 0)
        for name in names:
            i = index_of.get(name)
            if i is None:
                self.foreign_names[room] = self.foreign_names.get(room, 0) + 1
            else:
                bits |= 1 << i
        self.held[room] = bits

    def on_seat_answer(self, data: bytes) -> None:
        """More of the answer to the seat's request (`data` empty: the server closed). A seat:
        this connection ends and the WebSocket starts; an error answer is a counted error."""
        self.rbuf += data
        try:
            answer = rooms.parse_http_response(self.rbuf, eof=not data)
        except ValueError as exc:
            self.fail("matchmaking", str(exc))
            return
        if answer is None:
            return
        status, body = answer
        self.rbuf = b""
        self.close_socket()
        seat, room = body.get("seat"), body.get("room")
        if status != 200 or not isinstance(seat, str) or not isinstance(room, str):
            self.fail("matchmaking", f"{status} {body.get('error')}: {body.get('message')}")
            return
        url = body.get("url")
        if isinstance(url, str):  # where the room is: another process, in a cluster
            target = urlsplit(url)
            if target.scheme != "ws" or not target.hostname:
                self.fail("matchmaking", f"a seat at {url!r}: bots speak ws:// only")
                return
            self.ws_host, self.ws_port, self.ws_path = target.hostname, target.port or 80, target.path or "/"
        self.seat, self.hello_room = seat, room
        self.open_websocket()

    def on_mirrored(self, shots_flat: list[int], size: int, delta: bool, moving: int) -> None:
        """Counts after a snapshot was applied to the mirror: the shots (shooter, hit or 0 for a
        miss, in pairs) this bot fired, hit with and was hit by; and in the window, its view."""
        me = self.entity_id
        shots = hits = hit_by = 0
        for k in range(0, len(shots_flat) - 1, 2):
            if shots_flat[k] == me:
                shots += 1
                if shots_flat[k + 1]:
                    hits += 1
            elif shots_flat[k + 1] == me:
                hit_by += 1
        self.total_shots += shots
        self.total_hits += hits
        following = self.following
        if following is not None:  # only a spectator follows
            assert self.mirror is not None
            if following in self.mirror.rows:
                self.followed_held += 1
            elif self.follow_fresh:  # made before the switch, sent after its FOLLOWING
                self.followed_late += 1
            else:
                self.followed_missing += 1
                self.count_error("follow", f"a snapshot without the player it follows, {following}")
        self.follow_fresh = False
        if self.runner.measuring:
            assert self.mirror is not None
            st = self.stats
            st.mirrored += 1
            st.shots += shots
            st.hits += hits
            st.hit_by += hit_by
            st.held += len(self.mirror.rows)
            st.snapshot_bytes += size
            if delta:
                st.snap_bytes += size
                st.moving += moving

    def on_snapshot(self, tick: int, now: float, arrival: float | None) -> None:
        """`now`: when the loop read the snapshot (monotonic); `arrival`: when the kernel received
        it (CLOCK_REALTIME), or None when the read gave no timestamp: then no kernel interval
        ends or starts here, so the two clocks are never mixed."""
        self.ack_tick = tick
        self.total_snapshots += 1
        if self.spectator:  # no inputs to carry the acknowledgement: an ACK per snapshot
            self.send(wire.ack_payload(tick))
        if self.dropped_at:  # the first snapshot of a resumed player: the resume is done
            self.resumes += 1
            self.resume_latencies.append(now - self.dropped_at)
            self.dropped_at = 0.0
        r = self.runner
        if r.measuring:
            self.stats.snapshots += 1
            if self.last_snap_at:
                dt = now - self.last_snap_at
                if dt > self.stats.max_interval:
                    self.stats.max_interval = dt
                i = int(dt / HIST_RES)
                r.intervals[i if i < HIST_MAX else HIST_MAX - 1] += 1
                if self.stamped:
                    r.intervals_stamped += 1
            if arrival is not None and self.last_snap_kernel:
                # CLOCK_REALTIME may be stepped back: such an interval counts as 0.
                i = max(0, int((arrival - self.last_snap_kernel) / HIST_RES))
                r.intervals_kernel[i if i < HIST_MAX else HIST_MAX - 1] += 1
        self.last_snap_at = now
        self.last_snap_kernel = arrival if arrival is not None else 0.0

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

    def send(self, payload: bytes, opcode: int = OP_BINARY) -> None:
        sock = self.sock
        if sock is None:
            return
        masker = self.masker
        # An input (every bot, every tick): its frame header, made once per length, and the
        # masked payload, without a call to Masker.frame().
        head = masker.heads.get(len(payload)) if opcode == OP_BINARY else None
        data = head + xor_mask(payload, masker.key) if head is not None else masker.frame(payload, opcode)
        try:
            sent = sock.send(data)
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
        """Send this tick's input: the behaviour's move and the newest snapshot tick held. A
        spectator sends none; when its time comes, it asks to follow another player."""
        if self.spectator:
            if now >= self.follow_at:
                self.follow_next(now)
            return
        if now >= self.leave_at:
            self.leave()
            return
        if now >= self.drop_at:
            self.cut(now)
            return
        steering = self.steering
        if steering.wanders:  # the reference scenario's every input: Steering.wander, inline
            if now >= steering.next_turn:
                steering.turn(now)
            mx, my = steering.move
            buttons = 0
        else:
            m = self.mirror
            mx, my, buttons = steering.steer(
                now, m.rows if m is not None else None, self.entity_id, self.runner.weapon_range
            )
        render_tick = None
        if self.ack_tick is not None and self.behaviour == "fight":
            # lag compensation: it aims at the others as drawn INTERP_DELAY behind the newest snapshot
            render_tick = max(0, self.ack_tick - self.runner.interp_ticks)
        self.seq += 1
        self.send(codec.encode_input(self.seq, mx, my, steering.heading, buttons, self.ack_tick, render_tick))

    def on_spectator_welcome(self, msg: Welcome, now: float) -> None:
        """A spectator's WELCOME: no entity, no session to resume."""
        if msg.entity_id != 0 or msg.session_token:
            self.count_error("spectate", f"welcomed as entity {msg.entity_id} with a session token")
        self.entity_id = None  # it has no entity of its own to look for in its snapshots
        self.retrying = False
        self.follow_at = now + self.rng.uniform(*self.runner.follow_every)

    def follow_next(self, now: float) -> None:
        """FOLLOW another player of the newest scoreboard, at random; nil when it knows none."""
        others = [eid for eid in self.known_players if eid != self.following]
        eid = self.rng.choice(others) if others else None
        self.follow_asked.append(eid or 0)
        self.follows += 1
        self.send(codec.encode_client(Follow(eid)))
        self.follow_at = now + self.rng.uniform(*self.runner.follow_every)

    def on_following(self, eid: int | None) -> None:
        """A FOLLOWING: the first after the WELCOME, an answer to a FOLLOW (the oldest not yet
        answered), or a new player when the one followed left."""
        if not self.spectator:
            self.count_error("protocol", "a FOLLOWING sent to a player")
            return
        self.followings += 1
        if self.follow_asked:
            asked = self.follow_asked.pop(0)
            if asked and eid != asked:
                self.follows_refused += 1
        if eid != self.following:
            if self.following is not None:
                self.follow_switches += 1
            self.follow_fresh = True
        self.following = eid
        if eid is not None:
            self.spectated_entities.add(eid)

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
            "rtt_ms_p50": to_ms(percentile(st.rtts, 50)),
            "rtt_ms_p99": to_ms(percentile(st.rtts, 99)),
            "bytes_in_per_s": st.bytes_in / window if window else 0.0,
            "bytes_out_per_s": st.bytes_out / window if window else 0.0,
            "max_interval_ms": st.max_interval * 1e3,
            "verified_snapshots": st.verified,
            "checksums_matched": self.mirror.checksums_matched if type(self.mirror) is Mirror else 0,
            "resyncs": self.resyncs,
            "mirrored_snapshots": st.mirrored,
            "held_mean": st.held / st.mirrored if st.mirrored else None,
            "snapshot_bytes_per_s": st.snapshot_bytes / window if window and st.mirrored else None,
            "scoreboard_bytes_per_s": st.scoreboard_bytes / window if window and st.mirrored else None,
            "scoreboards_per_s": st.scoreboards / window if window and st.mirrored else None,
            "moving_mean": st.moving / st.mirrored if st.mirrored else None,
            "shots": st.shots,
            "hits": st.hits,
            "hit_by": st.hit_by,
            "kills": self.kills - self.kills_at_start,
            "deaths": self.deaths - self.deaths_at_start,
            "total_shots": self.total_shots,
            "total_hits": self.total_hits,
            "total_kills": self.kills,
            "total_deaths": self.deaths,
            "errors": dict(self.errors),
            "error_samples": list(self.error_samples),
            "close_codes": dict(self.close_codes),
            "index": self.index,
            "room": self.room,
            "rooms": list(self.rooms),
            "room_snapshots": dict(self.room_snapshots),
            # bit sets as hexadecimal: at N=1200 in one room, 300 characters a bot
            "held_bots": {room: format(bits, "x") for room, bits in self.held.items()},
            "foreign_names": dict(self.foreign_names),
            "resumes": self.resumes,
            "failed_resumes": self.failed_resumes,
            "resume_ms": [x * 1e3 for x in self.resume_latencies],
            "entity_ids": list(self.entity_ids),
            "follows": self.follows,
            "followings": self.followings,
            "follow_switches": self.follow_switches,
            "follows_refused": self.follows_refused,
            "followed_held": self.followed_held,
            "followed_missing": self.followed_missing,
            "followed_late": self.followed_late,
            "followed_entities": sorted(self.spectated_entities),
            "spectator_scoreboards": self.spectator_scoreboards,
            "spectate_retries": self.spectate_retries,
        }
