"""The eventlet edge of the WebSockets: the SocketLoop, which moves every WebSocket's bytes
after its handshake, and Connection, the protocol's state machine (wsconnection.WsConnection:
framing, messages, closing, with no I/O of its own) with a socket added.

Invariants:
- Only this module, gameserver.webapp and gameserver.server import eventlet; the framing
  (wsframes) and the protocol (wsconnection) are pure.
- No green thread waits on a client's socket. After the handshake a WebSocket leaves eventlet's
  WSGI pool for the SocketLoop: one green thread, one private epoll, non-blocking recv and send.
  A flooding client gets MESSAGES_PER_TURN frames a pass and waits for the next one.
- After each tick the server's sender green thread calls Connection.flush() for each due
  player: one non-blocking send. What the socket does not take stays as the protocol's
  remainder, sent when epoll reports the socket writable; a remainder not sent within
  `send_timeout` cuts the TCP socket, since a frame may be half written. Only the newest
  snapshot waits behind a remainder (latest wins).
- A fault while serving one connection closes that connection (internal_error) and no other.
- What /metrics counts here costs nothing per message: one add per read (bytes in) and per
  send (bytes out), one count per connection's end and per refusal, in tables whose keys come
  from fixed sets.
- The loop depends on what it is given (the Config, the seats' directory, the tick's
  scheduler), not on the server object.
"""

from __future__ import annotations

import heapq
import logging
import select
import socket
import time

import eventlet
from eventlet.hubs import trampoline
from eventlet.websocket import RFC6455WebSocket

from gameserver.codec import Close, ErrorCode
from gameserver.config import Config
from gameserver.directory import Directory
from gameserver.limits import PerAddress
from gameserver.messages import Hello
from gameserver.room import Member, Room
from gameserver.tick import TickScheduler
from gameserver.wsconnection import (
    BACKLOG,
    CLOSED,
    CLOSING,
    DUE,
    HALF_CLOSE,
    JOINED,
    SENT_ALL,
    WANT_WRITE,
    WsConnection,
)
from gameserver.wsframes import apply_mask, binary_header, unmask_frame

# What others import from here: the connection's states, the read pacing (the benchmarks'
# floor server), and the framing the benchmarks and tests compare with eventlet's.
__all__ = [
    "CLOSED",
    "READ_BATCH",
    "TICK_LEAD",
    "Connection",
    "SocketLoop",
    "apply_mask",
    "binary_header",
    "unmask_frame",
]

log = logging.getLogger(__name__)

READ_SIZE = 65536  # bytes per read, and the most a connection's unparsed input may hold
FIRST_READ = 448  # bytes of a read's first recv: with its header, a bytes object CPython's own
# allocator serves (up to 512 bytes)
EVENTS_PER_PASS = 1024  # ready sockets served per pass
READ_BATCH = 0.002  # seconds between passes while inputs keep arriving: one wake-up serves many
TICK_LEAD = 0.0005  # while busy, a pass this long before each tick, so inputs make that tick
# The close codes and reasons counted by name (SocketLoop.count_close); a peer's other codes
# are counted together, so that no client can make the table grow.
KNOWN_CLOSE_CODES = frozenset(int(code) for code in Close)
KNOWN_CLOSE_REASONS = frozenset(error.code for error in ErrorCode)

_READABLE = select.EPOLLIN | select.EPOLLERR | select.EPOLLHUP
_WRITABLE = select.EPOLLOUT


class Connection(WsConnection):
    """One WebSocket: its protocol (the WsConnection it is) and its socket. It has no green
    thread: the SocketLoop calls it when its socket is readable or writable, the sender after
    each tick, and on_deadline() at the protocol's deadline. It reads, sends, and does what
    the protocol's answers ask (wait for the socket to drain, half-close it, cut it). One
    object, not a protocol object beside a socket object: a connection is touched two or three
    times a tick, and each object more is a cache miss more."""

    __slots__ = ("sock", "loop", "fd", "green", "waiting", "armed")

    def __init__(self, loop: SocketLoop, ws: RFC6455WebSocket, peer: str) -> None:
        config = loop.config
        super().__init__(
            loop,
            peer,
            hello_timeout=config.hello_timeout,
            send_timeout=config.send_timeout,
            deflate=(ws.extensions or {}).get("permessage-deflate"),  # declined by default
        )
        self.loop = loop
        self.green = ws.socket  # eventlet's socket object: closing happens through it
        self.sock = ws.socket.fd  # the non-blocking OS socket under it
        self.fd = self.sock.fileno()
        self.waiting = True  # for its HELLO: counted in loop.waiting until attach() or cut()
        self.armed: float | None = None  # the protocol's deadline last put on the loop's heap
        ws.websocket_closed = True  # eventlet's own closing frame is never sent: ours is
        ws.environ = None  # the WSGI environ is not needed after the handshake
        try:
            # Nagle's algorithm would hold a small snapshot back until the previous one is
            # acknowledged: up to a delayed-ACK timeout (40 ms or more) on a real network.
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            # The kernel would grow a send queue to megabytes for a client that stops reading
            # (and may claim to have read it all: an ack only says what it was sent). A fixed
            # buffer bounds it; the send deadline then cuts the client that leaves it full.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, config.send_buffer)
        except OSError:
            pass

    def attach(self, room: Room, member: Member) -> None:
        """The connection now plays `member` in `room` (after its HELLO, or a test's join)."""
        super().attach(room, member)
        self._joined()

    def _joined(self) -> None:
        if self.waiting:
            self.waiting = False
            self.loop.waiting.release(self.peer)

    # --- input -------------------------------------------------------------------------

    def on_readable(self, now: float) -> None:
        if len(self.inbuf) - self.pos < READ_SIZE:  # a flood's backlog is parsed before more is read
            try:
                # First a small read: nearly always the one input that is there. (recv(n) makes
                # a bytes object of n and shrinks it. Past 512 bytes that is glibc's malloc, and
                # a 64 KiB block cut down to each input left its heap fragmented, and growing,
                # in a soak of many minutes.)
                data = self.sock.recv(FIRST_READ)
                if len(data) == FIRST_READ:  # more may be waiting: a backlog, or a large message
                    try:
                        data += self.sock.recv(READ_SIZE - FIRST_READ)
                    except BlockingIOError:
                        pass
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self.cut("peer_closed", now)
                return
            self.loop.bytes_in += len(data)  # per read, not per message
            flags = self.receive_data(data, now)
        else:
            flags = self.parse(now)
        if flags:
            self.act(flags, now)

    def act(self, flags: int, now: float) -> None:
        """Do what the protocol's flags ask (wsconnection: DUE, BACKLOG, JOINED)."""
        if flags & JOINED:
            self._joined()
        if flags & BACKLOG:
            self.loop.backlog.append(self)
        if flags & DUE:
            self.flush(now)

    # --- output ------------------------------------------------------------------------

    def flush(self, now: float) -> None:
        """Send what is due (control frames, messages, the close frame) without waiting."""
        data = self.data_to_send()
        if not data:
            return
        # _send(), written out: after every tick, for every player
        try:
            sent = self.sock.send(data)
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            log.debug("%s: send failed: %r", self.peer, exc)
            self.cut("send_failed", now)
            return
        self.loop.bytes_out += sent
        if sent < len(data) or self.close_sent:
            self._sent(data, sent, now)

    def _send(self, data: bytes, now: float) -> bool:
        """One non-blocking send; what the socket does not take becomes the remainder, sent
        when the socket is writable. True unless a remainder is left (or the send failed)."""
        try:
            sent = self.sock.send(data)
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            log.debug("%s: send failed: %r", self.peer, exc)
            self.cut("send_failed", now)
            return False
        self.loop.bytes_out += sent
        if sent < len(data) or self.close_sent:
            return self._sent(data, sent, now)
        return True  # all of it, and no close frame: nothing for the protocol to do

    def _sent(self, data: bytes, sent: int, now: float) -> bool:
        """Tell the protocol what a send took when that was not all of it, or when it held the
        close frame, and do what it asks. False when a remainder is left."""
        action = self.bytes_sent(data, sent, now)
        if action == SENT_ALL:
            return True
        if action == WANT_WRITE:
            self.loop.want_write(self, True)
        elif action == HALF_CLOSE:  # after our close frame: no more sending
            try:
                self.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        self._arm()
        return action != WANT_WRITE

    def on_writable(self, now: float) -> None:
        data = self.take_remainder(now)
        self.loop.want_write(self, False)
        if data is None:
            return
        self._arm()
        if self._send(data, now):
            self.flush(now)  # what came due meanwhile (the newest snapshot: latest wins)

    def _arm(self) -> None:
        """Put the protocol's deadline on the loop's heap, if it is a new one."""
        deadline = self.deadline
        if deadline is not None and deadline != self.armed:
            self.armed = deadline
            self.loop.push_deadline(deadline, self.fd)

    def on_deadline(self, now: float) -> None:
        reason = self.expire(now)
        if reason is None:
            self.flush(now)
        else:
            self.cut(reason, now)

    def say_goodbye(self, error: ErrorCode, detail: str, now: float) -> None:
        """goodbye_unjoined(), sent."""
        if self.goodbye_unjoined(error, detail):
            self.flush(now)

    def fail(self, now: float) -> None:
        """A fault of ours while serving this connection: log it, close the connection with
        internal_error (1011), and leave every other connection alone."""
        log.exception("%s: internal error; closing the connection", self.peer)
        try:
            self.refuse(ErrorCode.INTERNAL_ERROR, "the server failed serving this connection")
            self.flush(now)
        except Exception:
            self.cut("internal_error", now)

    def cut(self, reason: str, now: float) -> None:
        """Cut the TCP connection (it may hold half a frame) and forget the player."""
        if self.state == CLOSED:
            return
        loop = self.loop
        loop.forget(self)
        loop.by_address.release(self.peer)
        if self.waiting:
            self.waiting = False
            loop.waiting.release(self.peer)
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.green.close()
        except OSError:
            pass
        self.finish(reason, now)


class SocketLoop:
    """Every WebSocket after its handshake, on one private epoll, served by one green thread.

    eventlet's hub would register and unregister a socket for every read: two epoll_ctl calls
    and two green-thread switches per input. Here the green thread waits in the hub on the
    private epoll's own descriptor, then serves every ready socket in one pass, and while there
    is work it lets inputs gather for READ_BATCH seconds between passes, with one pass
    TICK_LEAD seconds before each tick so that inputs that arrived meanwhile make it. Each pass
    is a hub round trip, so fewer passes are less CPU. Nothing here blocks:
    every recv and send is non-blocking, and a flooding socket gets MESSAGES_PER_TURN messages
    per pass.
    """

    def __init__(self, config: Config, directory: Directory, scheduler: TickScheduler) -> None:
        """`directory`: where a HELLO finds its seat; `scheduler`: when the next tick is due."""
        self.config = config
        self.directory = directory
        self.scheduler = scheduler
        self.epoll = select.epoll()
        self.conns: dict[int, Connection] = {}
        self.backlog: list[Connection] = []
        # (when, order, fd): by descriptor, not the connection, so that a closed connection is
        # freed at once rather than when its deadline comes up
        self.deadlines: list[tuple[float, int, int]] = []
        self._seq = 0
        self.cap = config.connection_cap  # WebSockets held at once; lowered by the server's start()
        # WebSockets per client address, and those of them that have not said HELLO yet
        self.by_address = PerAddress(config.connections_per_address, config.unlimited_addresses)
        self.waiting = PerAddress(config.hellos_per_address, config.unlimited_addresses)
        self.passes = 0  # polls of the private epoll, and the socket events they returned
        self.events = 0
        self.stopping: tuple[ErrorCode, str] | None = None  # set by goodbye_unjoined()
        # For /metrics: bytes read from and sent on the WebSockets (after their handshakes);
        # connections ended, by (close code, reason) (count_close); refusals, by (stage,
        # status, code)
        self.bytes_in = 0
        self.bytes_out = 0
        self.closes: dict[tuple[int, str], int] = {}
        self.refusals: dict[tuple[str, int, str], int] = {}

    def adopt(self, ws: RFC6455WebSocket, peer: str) -> Connection:
        now = time.monotonic()
        conn = Connection(self, ws, peer)
        self.conns[conn.fd] = conn
        self.epoll.register(conn.fd, select.EPOLLIN)
        refusal = self.refusal(peer)
        self.by_address.add(peer)  # released by cut()
        self.waiting.add(peer)  # released by attach() or cut()
        if len(self.conns) > self.cap or refusal is not None:
            # Only handshakes that were under way when a cap was reached get here (the web
            # app answers before the upgrade past it): refuse, and free the file at once.
            if refusal is None:
                conn.refuse(ErrorCode.SERVER_FULL, f"the server holds {self.cap} connections")
            else:
                conn.refuse(ErrorCode.TOO_MANY_CONNECTIONS, refusal)
            conn.flush(now)
            conn.cut("refused", now)
        elif self.stopping is not None:  # a handshake that finished while the server stops
            conn.say_goodbye(*self.stopping, now)
        else:
            conn.start(now)
            conn._arm()
        return conn

    # --- what a connection's protocol asks of the server (wsconnection.ConnectionHost) ---

    def join(self, hello: Hello, now: float) -> tuple[Room, Member]:
        return self.directory.join(hello, now)

    def leave(self, room: Room, member: Member, now: float, *, keep: bool = False, address: str = "") -> None:
        self.directory.leave(room, member, now, keep=keep, address=address)

    def refusal(self, peer: str) -> str | None:
        """Why one more WebSocket from this address is one too many, or None."""
        if not self.by_address.allows(peer):
            return f"{self.by_address.cap} connections from one address at once"
        if not self.waiting.allows(peer):
            return f"{self.waiting.cap} connections from one address are waiting for their HELLO"
        return None

    def count_close(self, close: tuple[int, str] | None, reason: str) -> None:
        """Count a connection's end by the close it ended with: its code and its reason (our
        error code, "peer" for a close frame of the peer's that we answered, "frame_error" for
        a frame error, whose reason is a sentence); code 0 and the TCP connection's end (`reason`) when
        there was none. Other codes of the peer's count as -1."""
        if close is None:
            key = (0, reason)
        else:
            code, why = close
            if code not in KNOWN_CLOSE_CODES:
                code = -1
            key = (code, why if why in KNOWN_CLOSE_REASONS else "frame_error" if why else "peer")
        self.closes[key] = self.closes.get(key, 0) + 1

    def count_refusal(self, stage: str, status: int, code: str) -> None:
        """Count a refusal: `stage` "handshake" (an HTTP answer to GET /ws), "matchmaking" (an
        HTTP error of /rooms or /matchmake/...) or "hello" (a WebSocket closed before it joined);
        `status` the HTTP status or the close code."""
        key = (stage, status, code)
        self.refusals[key] = self.refusals.get(key, 0) + 1

    def forget(self, conn: Connection) -> None:
        if self.conns.pop(conn.fd, None) is not None:
            try:
                self.epoll.unregister(conn.fd)
            except OSError:
                pass

    def want_write(self, conn: Connection, on: bool) -> None:
        try:
            self.epoll.modify(conn.fd, select.EPOLLIN | select.EPOLLOUT if on else select.EPOLLIN)
        except OSError:
            pass

    def push_deadline(self, when: float, fd: int) -> None:
        self._seq += 1
        heapq.heappush(self.deadlines, (when, self._seq, fd))

    def expire(self, now: float) -> None:
        """Act on the deadlines that passed (called by the sender after each tick)."""
        heap = self.deadlines
        conns = self.conns
        while heap and heap[0][0] <= now:
            when, _, fd = heapq.heappop(heap)
            conn = conns.get(fd)  # None once closed; a later connection on the same descriptor
            if conn is not None and conn.deadline == when and conn.state != CLOSED:
                conn.on_deadline(now)  # has its own deadline

    def run(self) -> None:
        poll = self.epoll.poll
        epfd = self.epoll.fileno()
        idle = True
        while True:
            if idle and not self.backlog:
                trampoline(epfd, read=True)  # wait in the hub until any socket is ready
            events = poll(0, EVENTS_PER_PASS)
            self.serve(events)
            # While sockets keep being ready, poll again after READ_BATCH (a timer, no
            # registration in the hub), so that one pass serves the inputs that gathered.
            idle = not events
            if not idle:
                eventlet.sleep(self._batch_delay())
            elif self.backlog:
                eventlet.sleep(0)  # a flood's backlog waits for everyone else's turn

    def serve(self, events: list[tuple[int, int]]) -> None:
        """One pass: the backlogs of floods first, then every socket epoll reported."""
        self.passes += 1
        self.events += len(events)
        now = time.monotonic()  # the time of every connection's work in this pass
        backlog, self.backlog = self.backlog, []
        for waiting in backlog:
            if waiting.state < CLOSING:
                try:
                    flags = waiting.parse(now)
                    if flags:
                        waiting.act(flags, now)
                except Exception:
                    waiting.fail(now)
        conns = self.conns
        for fd, ev in events:
            conn = conns.get(fd)
            if conn is None:
                continue
            try:
                if ev & _WRITABLE:
                    conn.on_writable(now)
                if ev & _READABLE and conn.state != CLOSED:
                    conn.on_readable(now)
            except Exception:  # a fault serving one connection must not stop the others
                conn.fail(now)

    def _batch_delay(self) -> float:
        """READ_BATCH, or less when the next tick is nearer: then the pass comes TICK_LEAD
        before the tick, and inputs that arrived since the last pass still make that tick."""
        tick_at = self.scheduler.next_deadline
        if tick_at is None:
            return READ_BATCH
        until = tick_at - TICK_LEAD - time.monotonic()
        return until if 0.0 < until < READ_BATCH else READ_BATCH

    def goodbye_unjoined(self, error: ErrorCode, detail: str) -> None:
        """The server is stopping: GOODBYE and a close frame to every connection that has not
        said HELLO (the players and spectators get theirs from their rooms), and to every one
        adopted from now on."""
        self.stopping = (error, detail)
        now = time.monotonic()
        for conn in list(self.conns.values()):
            try:
                conn.say_goodbye(error, detail, now)
            except Exception:
                conn.fail(now)

    def close(self) -> None:
        now = time.monotonic()
        for conn in list(self.conns.values()):
            conn.cut("server_stopped", now)
        self.epoll.close()
