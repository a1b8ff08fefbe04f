"""The eventlet edge: the WSGI app (demo files, /ws, /healthz, /metrics) and the SocketLoop,
which serves every WebSocket after its handshake.

Invariants:
- Only this module, gameserver.wsmessage and gameserver.server import eventlet.
- No green thread waits on a client's socket. After the handshake a WebSocket leaves eventlet's
  WSGI pool for the SocketLoop: one green thread, one private epoll, non-blocking recv and send.
  A flooding client gets MESSAGES_PER_TURN frames a pass and waits for the next one.
- After each tick the server's sender green thread calls Connection.flush() for each due
  player: one non-blocking send. What the socket does not take stays as the connection's
  remainder, sent when epoll reports the socket writable; a remainder not sent within
  `send_timeout` cuts the TCP socket, since a frame may be half written. Only the newest
  snapshot waits behind a remainder (latest wins).
- The size cap is per message, not per frame: eventlet's max_frame_length alone lets
  fragments add up without bound, so the message buffer enforces the total too.
- Every refusal carries a stable code: an error message, then a close frame whose code is the
  WebSocket close code and whose reason is the error code.
- A fault while serving one connection closes that connection (internal_error) and no other.
- What /metrics counts here costs nothing per message: one add per read (bytes in), one count
  per connection's end and per refusal, in tables whose keys come from fixed sets.
"""

from __future__ import annotations

import functools
import heapq
import json
import logging
import mimetypes
import os
import select
import socket
import struct
import time
import urllib.parse
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import eventlet
import eventlet.websocket
from eventlet.hubs import trampoline
from eventlet.websocket import ConnectionClosedError, FailedConnectionError, RFC6455WebSocket

from gameserver import codec
from gameserver.codec import (
    INPUT_ARRAY_HEADS,
    INPUT_TYPE,
    MAX_CLIENT_MESSAGE_BYTES,
    Close,
    ErrorCode,
    ProtocolError,
)
from gameserver.directory import MatchError
from gameserver.limits import PerAddress
from gameserver.masking import xor_mask
from gameserver.messages import PROTOCOL_VERSION, Error, Goodbye, Hello
from gameserver.room import RAW_INPUT_LIMIT, Member, Room, RoomFull
from gameserver.wsmessage import CappedMessage

if TYPE_CHECKING:
    from gameserver.server import GameServer

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]

READ_SIZE = 65536  # bytes per read, and the most a connection's unparsed input may hold
FIRST_READ = 448  # bytes of a read's first recv: with its header, a bytes object CPython's own
# allocator serves (up to 512 bytes)
MESSAGES_PER_TURN = 16  # frames parsed per connection per pass: a flood waits for the next pass
EARLY_FRAMES_LIMIT = 16  # pings, pongs and fragments allowed before hello; after it, messages
CONTROL_FRAMES_LIMIT = 8  # pongs waiting to be sent; more pings go unanswered (RFC 6455 5.5.3)
EVENTS_PER_PASS = 1024  # ready sockets served per pass
READ_BATCH = 0.002  # seconds between passes while inputs keep arriving: one wake-up serves many
TICK_LEAD = 0.0005  # while busy, a pass this long before each tick, so inputs make that tick
# The close codes and reasons counted by name (SocketLoop.count_close); a peer's other codes
# are counted together, so that no client can make the table grow.
KNOWN_CLOSE_CODES = frozenset(int(code) for code in Close)
KNOWN_CLOSE_REASONS = frozenset(error.code for error in ErrorCode)


def apply_mask(data: bytes, mask: tuple[int, ...], length: int | None = None, offset: int = 0) -> bytes:
    """XOR `data` with the 4-byte mask, starting `offset` bytes into it (eventlet's signature).

    eventlet's own version builds one bytes object per byte (about 28 us for a 100 B input).
    """
    if length is None:
        length = len(data)
    if length == 0:
        return b""
    return xor_mask(data[:length], bytes(mask[(offset + i) % 4] for i in range(4)))


def unmask_small(buf: bytes, pos: int, n: int) -> bytes:
    """The payload of the small masked frame at `pos` (2-byte header, 4-byte key, n <= 125 bytes)."""
    return xor_mask(buf[pos + 6 : pos + 6 + n], buf[pos + 2 : pos + 6])


def unmask_frame(frame: bytes) -> bytes:
    """unmask_small() of one whole frame: Room.unwrap, for the inputs handed over as frames."""
    return xor_mask(frame[6:], frame[2:6])


def is_input(buf: bytes, pos: int) -> bool:
    """Whether the small masked frame at `pos` carries an INPUT: the first two bytes of its
    payload, unmasked, are those every input starts with."""
    return (
        buf[pos + 1] >= 0x82  # masked, with at least two bytes of payload
        and buf[pos + 7] ^ buf[pos + 3] == INPUT_TYPE
        and buf[pos + 6] ^ buf[pos + 2] in INPUT_ARRAY_HEADS
    )


@functools.lru_cache(maxsize=256)  # a tick's snapshots come in a few lengths: one lookup each
def binary_header(n: int) -> bytes:
    """The header of one unfragmented, unmasked binary frame of `n` payload bytes."""
    if n < 126:
        return bytes((0x82, n))
    if n < 65536:
        return b"\x82\x7e" + n.to_bytes(2, "big")
    return b"\x82\x7f" + n.to_bytes(8, "big")


def pack_binary(payload: bytes) -> bytes:
    """One unfragmented, unmasked binary frame, byte for byte what eventlet's _pack_message
    writes when no extension is in use (tested against it); used on the send path."""
    return binary_header(len(payload)) + payload


def frame_extent(buf: bytes, pos: int, cap: int) -> int:
    """How many bytes from `pos` eventlet's parser reads for the next frame; 0 until all arrived.

    A frame that declares more than `cap` payload bytes needs only its header: the parser
    refuses it there, before the mask and the payload.
    """
    avail = len(buf) - pos
    if avail < 2:
        return 0
    b1 = buf[pos + 1]
    n = b1 & 127
    head = 2 if n < 126 else 4 if n == 126 else 10
    if avail < head:
        return 0
    if n >= 126:
        n = int.from_bytes(buf[pos + 2 : pos + head], "big")
    if n > cap:
        return head
    total = head + (4 if b1 & 128 else 0) + n
    return total if avail >= total else 0


def frame_fault(buf: bytes, pos: int) -> str | None:
    """What is wrong with the header of the frame at `pos` that eventlet's parser lets pass
    (RFC 6455, 5.2): RSV2 or RSV3 set, or a length not in its shortest form. None: nothing.
    The header is all there (frame_extent() said so)."""
    if buf[pos] & 0x30:
        return "RSV2 and RSV3 must be 0"
    n = buf[pos + 1] & 127
    if n == 126 and int.from_bytes(buf[pos + 2 : pos + 4], "big") < 126:
        return "a frame length must be sent in its shortest form"
    if n == 127 and int.from_bytes(buf[pos + 2 : pos + 10], "big") < 65536:
        return "a frame length must be sent in its shortest form"
    return None


class _FrameSource:
    """The socket eventlet's frame parser reads from: bytes that already arrived."""

    __slots__ = ("data", "pos")

    def __init__(self) -> None:
        self.data = b""
        self.pos = 0

    def recv(self, n: int) -> bytes:
        pos = self.pos
        out = self.data[pos : pos + n]
        self.pos = pos + len(out)
        return out


def _not_joined(member: Member, data: bytes) -> None:
    raise AssertionError("a message reached a connection that has no room")


class _Detached:
    """Stands in for a socket the game took over, so that eventlet's HTTP clean-up leaves it open."""

    def shutdown(self, *args: Any) -> None:
        pass

    def close(self) -> None:
        pass


DETACHED = _Detached()

# Connection states
AWAIT_HELLO, OPEN, CLOSING, CLOSED = range(4)

_READABLE = select.EPOLLIN | select.EPOLLERR | select.EPOLLHUP
_WRITABLE = select.EPOLLOUT


class Connection:
    """One WebSocket after its opening handshake. It has no green thread: the SocketLoop calls it
    when its socket is readable or writable, the sender after each tick, and expire() at deadlines.

    Output goes out in one non-blocking send; what the socket does not take stays in `remainder`
    and goes out as the socket drains, under the send deadline. After the close frame is sent
    the socket is half-closed and what the peer still sends is read and dropped until it closes,
    for at most `send_timeout`.
    """

    # Slots, those of every input and snapshot first: a connection is touched two or three
    # times a tick, and a compact object costs fewer cache misses than a dict.
    __slots__ = (
        "sock",
        "member",
        "inbuf",
        "pos",
        "partial",
        "receive_bytes",
        "receive_input",
        "frames",
        "remainder",
        "close_sent",
        "state",
        "pack",
        "server",
        "loop",
        "close_request",
        "outbox",
        "fd",
        "deadline",
        "ws",
        "peer",
        "green",
        "source",
        "early_frames",
        "room",
        "waiting",
    )

    def __init__(self, loop: SocketLoop, ws: RFC6455WebSocket, peer: str) -> None:
        self.loop = loop
        self.server = loop.server
        self.room: Room | None = None  # the room its HELLO joined; it never changes after
        # the room's own, from the HELLO on (attach()); no message reaches them before
        self.receive_input: Callable[[Member, bytes], None] = _not_joined
        self.receive_bytes: Callable[[Member, bytes], None] = _not_joined
        self.ws = ws
        self.peer = peer
        self.green = ws.socket  # eventlet's socket object: closing happens through it
        self.sock = ws.socket.fd  # the non-blocking OS socket under it
        self.fd = self.sock.fileno()
        self.state = AWAIT_HELLO
        self.member: Member | None = None
        self.inbuf = b""
        self.pos = 0
        self.partial: Any = None  # a fragmented message being put together
        self.early_frames = 0  # pings and pongs before hello
        self.waiting = True  # for its HELLO: counted in loop.waiting until attach() or finish()
        self.source = _FrameSource()
        self.frames: list[bytes] = []  # control frames (pongs) to send before any message
        self.outbox: list[bytes] = []  # messages before join: the refusal
        self.close_request: tuple[int, str] | None = None  # before join; then the member's
        self.close_sent = False
        self.remainder: bytes | None = None
        self.deadline: float | None = None
        # eventlet's framing unless no extension was agreed (the default: deflate is declined)
        self.pack = pack_binary if ws._get_permessage_deflate_enc() is None else ws._pack_message
        ws.socket = self.source
        ws.max_frame_length = MAX_CLIENT_MESSAGE_BYTES
        ws.Message = CappedMessage
        ws._apply_mask = apply_mask
        # eventlet answers pings and closes from its frame parser through send() and close();
        # here they queue frames for the non-blocking writer instead of writing from the reader.
        ws.send = self._queue_control_frame
        ws.close = self._peer_closed
        ws.websocket_closed = True  # eventlet's own closing frame is never sent: ours is
        ws.environ = None  # the WSGI environ is not needed after the handshake
        try:
            # Nagle's algorithm would hold a small snapshot back until the previous one is
            # acknowledged: up to a delayed-ACK timeout (40 ms or more) on a real network.
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            # The kernel would grow a send queue to megabytes for a client that stops reading
            # (and may claim to have read it all: an ack only says what it was sent). A fixed
            # buffer bounds it; the send deadline then cuts the client that leaves it full.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.server.config.send_buffer)
        except OSError:
            pass

    # --- input -------------------------------------------------------------------------

    def on_readable(self) -> None:
        inbuf = self.inbuf
        if len(inbuf) - self.pos < READ_SIZE:  # a flood's backlog is parsed before more is read
            try:
                # First a small read: nearly always the one input that is there. (recv(n) makes
                # a bytes object of n and shrinks it. Past 512 bytes that is glibc's malloc, and
                # a 64 KiB block cut down to each input left its heap 12 MiB fragmented after
                # ten minutes at N=800, and growing.)
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
                self.finish("peer_closed")
                return
            self.loop.bytes_in += len(data)  # per read, not per message
            member = self.member
            if (member.close_request if member is not None else self.close_request) is not None:
                return  # dropped: the peer is being closed and only its answer matters
            if (
                member is not None
                and 6 <= len(data) == data[1] - 122  # one whole masked frame of <= 125 bytes
                and data[0] == 0x82  # binary, final
                and self.pos == len(inbuf)  # nothing left over from before
                and self.partial is None
            ):
                # A joined player's input, alone in the socket: the common case, every player
                # every tick, taken without the parsing loop (_parse reads the same frame
                # the same way when it comes with others).
                raw = member.raw_inputs
                if (  # is_input() and Room.receive_input(), written out: every player, every tick
                    len(raw) < RAW_INPUT_LIMIT
                    and data[1] >= 0x82  # at least two bytes of payload
                    and data[7] ^ data[3] == INPUT_TYPE
                    and data[6] ^ data[2] in INPUT_ARRAY_HEADS
                ):
                    raw.append(data)  # it waits, masked, for the tick that applies it
                    return
                try:
                    self.receive_bytes(member, unmask_small(data, 0, len(data) - 6))
                except ProtocolError as exc:
                    self._refuse(exc.error, exc.detail)
                if member.control or member.close_request is not None or self.frames:
                    self.flush()
                return
            self.inbuf = inbuf[self.pos :] + data if self.pos < len(inbuf) else data
            self.pos = 0
        elif self.closing:
            return
        self._parse(MESSAGES_PER_TURN)

    def _parse(self, budget: int) -> None:
        """Take up to `budget` frames from what arrived; a longer backlog waits its next turn.

        The frame every input arrives in (one whole masked binary frame of at most 125 bytes,
        outside a fragmented message) is read here in a few operations; every other frame, and
        every frame error, is eventlet's parser's.
        """
        buf = self.inbuf
        pos = self.pos
        size = len(buf)
        member = self.member
        while pos < size:
            if not budget:
                self.loop.backlog.append(self)
                break
            budget -= 1
            if buf[pos] == 0x82 and pos + 1 < size and self.partial is None:
                end = pos + buf[pos + 1] - 122  # 6 + n when the mask bit (0x80) is set
                if 6 <= end - pos <= 131 and end <= size:
                    start, pos = pos, end
                    if member is not None:  # joined: the hot path
                        try:
                            if is_input(buf, start):
                                self.receive_input(member, buf[start:end])
                            else:
                                self.receive_bytes(member, unmask_small(buf, start, end - start - 6))
                        except ProtocolError as exc:
                            self._refuse(exc.error, exc.detail)
                        if member.close_request is not None:
                            break
                    else:
                        self._on_message(unmask_small(buf, start, end - start - 6))
                        member = self.member
                        if self.closing:
                            break
                    continue
            pos, more = self._parse_with_eventlet(buf, pos)
            if not more:
                break
            member = self.member
            if self.closing:
                break
        self.pos = pos
        if member is not None:
            due = bool(member.control) or member.close_request is not None
        else:
            due = bool(self.outbox) or self.close_request is not None
        if due or self.frames:
            self.flush()

    def _parse_with_eventlet(self, buf: bytes, pos: int) -> tuple[int, bool]:
        """One frame through eventlet's parser: the position after it, and whether to go on
        (not when the frame is not all here yet, or the connection is closing)."""
        n = frame_extent(buf, pos, MAX_CLIENT_MESSAGE_BYTES)
        if not n:
            return pos, False
        fault = frame_fault(buf, pos)
        if fault is not None:
            self._close(1002, fault)
            return pos, False
        src = self.source
        src.data, src.pos = buf, pos
        try:
            message = self.ws._recv_frame(message=self.partial)
            pos += n
            if message.opcode != 8 and (message.opcode & 8 or not message.finished):
                # Pings, pongs and each fragment before a message's last count against the
                # message rate (the whole message counts when it is taken): empty fragments
                # are no way around it.
                if self.member is not None and self.room is not None:
                    self.room.charge(self.member)
                else:
                    self.early_frames += 1
                    if self.early_frames > EARLY_FRAMES_LIMIT:
                        raise ProtocolError(ErrorCode.HELLO_REQUIRED, "the first message must be hello")
            if message.opcode & 8:
                self.ws._handle_control_frame(message.opcode, message.getvalue())
            elif not message.finished:
                self.partial = message
            else:
                self.partial = None
                if message.opcode == 1:
                    self._refuse(ErrorCode.TEXT_FRAME, "binary frames only")
                else:
                    self._on_message(message.getvalue())
        except FailedConnectionError as exc:  # eventlet's frame checks (and the size cap)
            reason = ErrorCode.MESSAGE_TOO_BIG.code if exc.status == 1009 else exc.message
            self._close(exc.status, reason)
            return pos, False
        except ConnectionClosedError:  # the peer's close frame, answered by _peer_closed
            return pos, False
        except ProtocolError as exc:
            self._refuse(exc.error, exc.detail)
            return pos, False
        finally:
            src.data = b""
        return pos, True

    def _on_message(self, data: bytes) -> None:
        member = self.member
        try:
            if member is None:
                # Any message but a HELLO, of a type known or not, is hello_required here.
                self._hello(codec.decode_hello(data))
                return
            self.receive_bytes(member, data)  # a second hello is refused there
        except ProtocolError as exc:
            self._refuse(exc.error, exc.detail)

    def _hello(self, msg: Any) -> None:
        if not isinstance(msg, Hello):
            raise ProtocolError(ErrorCode.HELLO_REQUIRED, "the first message must be hello")
        if msg.version != PROTOCOL_VERSION:
            raise ProtocolError(
                ErrorCode.UNSUPPORTED_VERSION,
                f"this server speaks protocol {PROTOCOL_VERSION}, not {msg.version}",
            )
        # Each except names its exception apart: compiled (mypyc), one name shared by handlers
        # of two types is typed as the first, and the second raised TypeError.
        try:
            room, member = self.server.directory.join(msg, time.monotonic())
        except MatchError as refused:
            raise ProtocolError(refused.error, refused.message) from None
        except RoomFull as full:
            raise ProtocolError(ErrorCode.ROOM_FULL, str(full)) from None
        self.attach(room, member)
        how = "watches" if msg.spectate else "resumed" if msg.session_token is not None else "joined"
        log.info(
            "%s %s room %s as entity %d (%s)",
            self.peer,
            how,
            room.room_id,
            member.entity_id,
            member.name,
        )

    def attach(self, room: Room, member: Member) -> None:
        """The connection now plays `member` in `room`: its messages go there."""
        self.room = room
        if self.waiting:
            self.waiting = False
            self.loop.waiting.release(self.peer)
        if member.spectator:
            self.receive_input = room.spectator_input
            self.receive_bytes = room.spectator_bytes
        else:
            self.receive_input = room.receive_input
            self.receive_bytes = room.receive_bytes
        self.member = member
        member.link = self
        self.state = OPEN
        self.deadline = None

    @property
    def closing(self) -> bool:
        member = self.member
        return (member.close_request if member is not None else self.close_request) is not None

    def _refuse(self, error: ErrorCode, detail: str) -> None:
        """The error message, then the close frame: the peer hears why."""
        if self.member is not None:
            log.info("%s entity %d: %s: %s", self.peer, self.member.entity_id, error.code, detail)
            self.member.request_close(error, detail)
        elif self.close_request is None:
            log.info("%s refused: %s: %s", self.peer, error.code, detail)
            self.loop.count_refusal("hello", error.close_code, error.code)
            self.outbox.append(codec.encode_server(Error(error.code, detail)))
            self.close_request = (error.close_code, error.code)

    def goodbye_unjoined(self, error: ErrorCode, detail: str) -> None:
        """The server ends a connection that has not said HELLO (it is stopping): a GOODBYE,
        then the close frame, as the joined ones get from their rooms."""
        if self.member is not None or self.close_request is not None or self.state != AWAIT_HELLO:
            return
        log.info("%s: %s before hello", self.peer, error.code)
        self.outbox.append(codec.encode_server(Goodbye(error.code, detail)))
        self.close_request = (error.close_code, error.code)
        self.flush()

    def _close(self, code: int, reason: str) -> None:
        """A close frame with no error message before it (frame-level errors, the peer's close)."""
        if self.member is not None:
            if self.member.close_request is None:
                self.member.pending = None
                self.member.close_request = (code, reason)
        elif self.close_request is None:
            self.close_request = (code, reason)

    def _queue_control_frame(self, message: bytes, **kw: Any) -> None:
        if len(self.frames) < CONTROL_FRAMES_LIMIT:
            self.frames.append(self.ws._pack_message(message, **kw))

    def _peer_closed(self, close_data: tuple[int, str] | None = None) -> None:
        """The peer sent a close frame: echo its code (eventlet checked it), then drain."""
        code, _ = close_data or (1000, "")
        self._close(code, "")

    # --- output ------------------------------------------------------------------------

    def flush(self) -> None:
        """Send what is due (control frames, messages, the close frame) without waiting."""
        if self.remainder is not None or self.close_sent or self.state == CLOSED:
            return  # the socket drains the remainder first; after the close frame, nothing
        member = self.member
        pack = self.pack
        if member is not None and not self.frames and not member.control and member.close_request is None:
            # After a tick, nearly always just the snapshot: its parts are joined behind the
            # frame header, one copy made just before the socket copies it. (A sendmsg of the
            # parts, with no copy at all, measured 1-4 % more CPU: the kernel's per-part cost.)
            snapshot = member.take_snapshot_parts()
            if snapshot is None:
                return
            if pack is not pack_binary:
                self._send(pack(b"".join(snapshot)))
                return
            head, seq, body, shots = snapshot  # see Member.pending
            header = binary_header(len(head) + len(seq) + len(body) + len(shots))
            self._send(b"".join((header, head, seq, body, shots)))
            return
        parts = self.frames
        self.frames = []
        if member is not None:
            out = member.take_outgoing()
            close = member.close_request
        else:
            out, self.outbox = self.outbox, []
            close = self.close_request
        for data in out:
            parts.append(pack(data))  # eventlet's framing
        if close is not None:
            code, reason = close
            parts.append(self.ws._pack_message(struct.pack("!H", code) + reason.encode(), control_code=8))
            self.close_sent = True
        if parts:
            self._send(parts[0] if len(parts) == 1 else b"".join(parts))

    def _send(self, data: bytes) -> bool:
        """One non-blocking send; what the socket does not take becomes the remainder, sent
        when the socket is writable. True when the socket took it all."""
        try:
            sent = self.sock.send(data)
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            log.debug("%s: send failed: %r", self.peer, exc)
            self.finish("send_failed")
            return False
        self.server.bytes_out += sent
        if sent < len(data):
            self.remainder = data[sent:]
            self.loop.want_write(self, True)
            self.loop.set_deadline(self, self.server.config.send_timeout)
            return False
        if self.close_sent:
            self._half_close()
        return True

    def on_writable(self) -> None:
        data = self.remainder
        if data is None:
            self.loop.want_write(self, False)
            return
        self.remainder = None
        self.loop.want_write(self, False)
        self.deadline = None
        if self.state == AWAIT_HELLO and not self.closing:
            self.loop.set_deadline(self, self.server.config.hello_timeout)
        if self._send(data):
            self.flush()  # what came due meanwhile (the newest snapshot: latest wins)

    def _half_close(self) -> None:
        """After our close frame: no more sending; read and drop until the peer closes."""
        self.state = CLOSING
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        self.loop.set_deadline(self, self.server.config.send_timeout)

    def on_deadline(self) -> None:
        self.deadline = None
        if self.remainder is not None:
            timeout = self.server.config.send_timeout
            log.info("%s: send blocked for %.1f s; cutting the connection", self.peer, timeout)
            if self.member is not None and self.member.close_request is None:
                self.member.request_close(ErrorCode.TOO_SLOW, "send timed out")
            self.finish("too_slow")
        elif self.state == AWAIT_HELLO and not self.closing:
            timeout = self.server.config.hello_timeout
            self._refuse(ErrorCode.HELLO_TIMEOUT, f"no hello within {timeout:g} s")
            self.flush()
        else:
            self.finish("closed")  # the peer never answered our close frame

    def fail(self) -> None:
        """A fault of ours while serving this connection: log it, close the connection with
        internal_error (1011), and leave every other connection alone."""
        log.exception("%s: internal error; closing the connection", self.peer)
        try:
            self._refuse(ErrorCode.INTERNAL_ERROR, "the server failed serving this connection")
            self.flush()
        except Exception:
            self.finish("internal_error")

    def finish(self, reason: str) -> None:
        """Cut the TCP connection (it may hold half a frame) and forget the player."""
        if self.state == CLOSED:
            return
        self.state = CLOSED
        self.remainder = None
        self.loop.forget(self)
        self.loop.by_address.release(self.peer)
        if self.waiting:
            self.waiting = False
            self.loop.waiting.release(self.peer)
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.green.close()
        except OSError:
            pass
        # eventlet's WebSocket holds two of our bound methods (see __init__), and a generator
        # that holds it: reference cycles that only the full collection would free, with the
        # member. The buffers go at once, in case anything still holds the connection.
        ws_attrs = vars(self.ws)
        ws_attrs.pop("send", None)
        ws_attrs.pop("close", None)
        ws_attrs.pop("iterator", None)
        self.inbuf = b""
        self.pos = 0
        self.partial = None
        self.frames = []
        self.outbox = []
        member = self.member
        self.loop.count_close(member.close_request if member is not None else self.close_request, reason)
        if member is not None:
            # A drop is not a leave: a connection that ends with no close frame, or that was cut
            # as too slow, keeps its player for a resume. A close frame of 1000 or 1001 from the
            # peer, or an error of ours, removes it at once.
            close = member.close_request
            keep = (
                close is None or close[1] == "too_slow" or (close[1] == "" and close[0] not in (1000, 1001))
            )
            if close is None:
                close = member.close_request = (1000, reason)
            member.link = None
            if self.room is not None:
                self.server.directory.leave(self.room, member, time.monotonic(), keep=keep, address=self.peer)
            why = close[1] or "peer_closed"
            room = self.room
            away = room is not None and not member.spectator and member.entity_id in room.away
            kept = " (kept for a resume)" if away else ""
            log.info("%s entity %d left (%s)%s", self.peer, member.entity_id, why, kept)


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

    def __init__(self, server: GameServer) -> None:
        self.server = server
        self.epoll = select.epoll()
        self.conns: dict[int, Connection] = {}
        self.backlog: list[Connection] = []
        # (when, order, fd): by descriptor, not the connection, so that a closed connection is
        # freed at once rather than when its deadline comes up
        self.deadlines: list[tuple[float, int, int]] = []
        self._seq = 0
        self.cap = server.config.connection_cap  # WebSockets held at once; lowered by start()
        config = server.config
        # WebSockets per client address, and those of them that have not said HELLO yet
        self.by_address = PerAddress(config.connections_per_address, config.unlimited_addresses)
        self.waiting = PerAddress(config.hellos_per_address, config.unlimited_addresses)
        self.passes = 0  # polls of the private epoll, and the socket events they returned
        self.events = 0
        self.stopping: tuple[ErrorCode, str] | None = None  # set by goodbye_unjoined()
        # For /metrics: bytes read from the WebSockets (after their handshakes); connections
        # ended, by (close code, reason) (count_close); refusals, by (stage, status, code)
        self.bytes_in = 0
        self.closes: dict[tuple[int, str], int] = {}
        self.refusals: dict[tuple[str, int, str], int] = {}

    def adopt(self, ws: RFC6455WebSocket, peer: str) -> Connection:
        conn = Connection(self, ws, peer)
        self.conns[conn.fd] = conn
        self.epoll.register(conn.fd, select.EPOLLIN)
        refusal = self.refusal(peer)
        self.by_address.add(peer)  # released by finish()
        self.waiting.add(peer)  # released by attach() or finish()
        if len(self.conns) > self.cap or refusal is not None:
            # Only handshakes that were under way when a cap was reached get here (the web
            # app answers before the upgrade past it): refuse, and free the file at once.
            if refusal is None:
                conn._refuse(ErrorCode.SERVER_FULL, f"the server holds {self.cap} connections")
            else:
                conn._refuse(ErrorCode.TOO_MANY_CONNECTIONS, refusal)
            conn.flush()
            conn.finish("refused")
        elif self.stopping is not None:  # a handshake that finished while the server stops
            conn.goodbye_unjoined(*self.stopping)
        else:
            self.set_deadline(conn, self.server.config.hello_timeout)
        return conn

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
        one of eventlet's frame checks); code 0 and the TCP connection's end (`reason`) when
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

    def set_deadline(self, conn: Connection, after: float) -> None:
        when = time.monotonic() + after
        conn.deadline = when
        self._seq += 1
        heapq.heappush(self.deadlines, (when, self._seq, conn.fd))

    def expire(self, now: float) -> None:
        """Act on the deadlines that passed (called by the sender after each tick)."""
        heap = self.deadlines
        conns = self.conns
        while heap and heap[0][0] <= now:
            when, _, fd = heapq.heappop(heap)
            conn = conns.get(fd)  # None once closed; a later connection on the same descriptor
            if conn is not None and conn.deadline == when and conn.state != CLOSED:  # has its own
                conn.on_deadline()

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
        backlog, self.backlog = self.backlog, []
        for waiting in backlog:
            if waiting.state < CLOSING:
                try:
                    waiting._parse(MESSAGES_PER_TURN)
                except Exception:
                    waiting.fail()
        conns = self.conns
        for fd, ev in events:
            conn = conns.get(fd)
            if conn is None:
                continue
            try:
                if ev & _WRITABLE:
                    conn.on_writable()
                if ev & _READABLE and conn.state != CLOSED:
                    conn.on_readable()
            except Exception:  # a fault serving one connection must not stop the others
                conn.fail()

    def _batch_delay(self) -> float:
        """READ_BATCH, or less when the next tick is nearer: then the pass comes TICK_LEAD
        before the tick, and inputs that arrived since the last pass still make that tick."""
        tick_at = self.server.scheduler.next_deadline
        if tick_at is None:
            return READ_BATCH
        until = tick_at - TICK_LEAD - time.monotonic()
        return until if 0.0 < until < READ_BATCH else READ_BATCH

    def goodbye_unjoined(self, error: ErrorCode, detail: str) -> None:
        """The server is stopping: GOODBYE and a close frame to every connection that has not
        said HELLO (the players and spectators get theirs from their rooms), and to every one
        adopted from now on."""
        self.stopping = (error, detail)
        for conn in list(self.conns.values()):
            try:
                conn.goodbye_unjoined(error, detail)
            except Exception:
                conn.fail()

    def close(self) -> None:
        for conn in list(self.conns.values()):
            conn.finish("server_stopped")
        self.epoll.close()


# --- HTTP --------------------------------------------------------------------------------


class WebApp:
    """One WSGI callable: /ws, /healthz, /metrics, matchmaking and the demo's static files."""

    def __init__(self, server: GameServer) -> None:
        self.server = server
        config = server.config
        self.allowed_origins = frozenset(o.rstrip("/").lower() for o in config.allowed_origins)
        # HTTP connections per client address (the handler counts them: server._LeanHttpProtocol)
        self.http_by_address = PerAddress(config.http_per_address, config.unlimited_addresses)
        self.static_roots = {
            "/assets/": Path(server.config.assets_dir).resolve(),
            "/": Path(server.config.static_dir).resolve(),
        }
        self.index_page = server.game_type.page  # what "/" serves: the game's own page
        ws_app = eventlet.websocket.WebSocketWSGI.configured(self._handle_ws, support_legacy_versions=False)
        ws_app.max_frame_length = MAX_CLIENT_MESSAGE_BYTES  # configured() can't set it (eventlet#728)
        self.ws_app = ws_app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == "/ws":
            return self._websocket(environ, start_response)
        if path.startswith("/matchmake/"):
            return self._matchmake(path[len("/matchmake/") :], method, environ, start_response)
        if path == "/rooms":
            return self._rooms(method, environ, start_response)
        if path == "/metrics":
            return self._metrics(method, environ, start_response)
        if method not in ("GET", "HEAD"):
            return _text(start_response, "405 Method Not Allowed", "GET only\n")
        if path == "/healthz":
            body = json.dumps(self.server.health(), sort_keys=True).encode()
            start_response(
                "200 OK",
                [
                    ("Content-Type", "application/json"),
                    ("Cache-Control", "no-store"),
                    ("Content-Length", str(len(body))),
                ],
            )
            return [body]
        return self._static(path, start_response, method == "HEAD")

    def _websocket(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        upgrade = environ.get("HTTP_UPGRADE", "").lower() == "websocket"
        sockets = self.server.sockets
        if upgrade and environ.get("HTTP_SEC_WEBSOCKET_VERSION", "").strip() != "13":
            # Legacy Hixie-75/76 handshakes (no version) and drafts (8 and others): eventlet
            # would speak them.
            sockets.count_refusal("handshake", 426, "unsupported_websocket_version")
            start_response(
                "426 Upgrade Required",
                [
                    ("Sec-WebSocket-Version", "13"),
                    ("Content-Type", "text/plain; charset=utf-8"),
                    ("Connection", "close"),
                ],
            )
            return [b"unsupported_websocket_version: only RFC 6455 WebSockets (version 13)\n"]
        if not upgrade:
            sockets.count_refusal("handshake", 400, "websocket_required")
            return _text(
                start_response,
                "400 Bad Request",
                "websocket_required: /ws speaks WebSocket protocol v1, see docs/protocol.md\n",
            )
        origin = environ.get("HTTP_ORIGIN")
        if origin is not None and not self._origin_allowed(origin, environ.get("HTTP_HOST", "")):
            # A page of another site must not open a WebSocket with its visitor's browser
            # (cross-site WebSocket hijacking): --allowed-origins says which may.
            sockets.count_refusal("handshake", 403, "origin_not_allowed")
            return _text(
                start_response,
                "403 Forbidden",
                f"origin_not_allowed: pages of {origin[:100]} may not connect (--allowed-origins)\n",
            )
        peer = environ.get("REMOTE_ADDR", "?")
        refusal = sockets.refusal(peer)
        if refusal is not None:
            sockets.count_refusal("handshake", 429, "too_many_connections")
            start_response(
                "429 Too Many Requests",
                [
                    ("Retry-After", "5"),
                    ("Content-Type", "text/plain; charset=utf-8"),
                    ("Connection", "close"),
                ],
            )
            return [f"too_many_connections: {refusal}\n".encode()]
        if len(sockets.conns) >= sockets.cap:
            # Refused before the upgrade: a WebSocket refused after it would hold a file until
            # its peer answered, and a flood of them could use up the open-file limit.
            sockets.count_refusal("handshake", 503, "server_full")
            start_response(
                "503 Service Unavailable",
                [
                    ("Retry-After", "5"),
                    ("Content-Type", "text/plain; charset=utf-8"),
                    ("Connection", "close"),
                ],
            )
            return [f"server_full: the server holds {sockets.cap} connections\n".encode()]
        if not self.server.config.permessage_deflate:
            environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
        result: Iterable[bytes] = self.ws_app(environ, start_response)
        return result

    def _origin_allowed(self, origin: str, host: str) -> bool:
        """The Origin is listed in --allowed-origins (or that is '*'); with none listed, it is
        this server's own: the Origin's host[:port] is the Host the browser asked."""
        allowed = self.allowed_origins
        if allowed:
            return "*" in allowed or origin.rstrip("/").lower() in allowed
        scheme, sep, rest = origin.partition("://")
        return bool(sep) and scheme in ("http", "https") and rest.lower() == host.lower()

    def _handle_ws(self, ws: RFC6455WebSocket) -> None:
        """Hand the socket to the SocketLoop and give this green thread back to the pool."""
        environ = ws.environ
        environ["gameserver.detach"]()
        self.server.sockets.adopt(ws, environ.get("REMOTE_ADDR", "?"))

    def _metrics(
        self, method: str, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        """The server's state and counters in Prometheus' exposition format (docs/metrics.md),
        read when asked: nothing is added to the tick or to any message's path for it."""
        if method not in ("GET", "HEAD"):
            return _json_error(start_response, 405, "method_not_allowed", "GET /metrics", allow="GET, HEAD")
        body, content_type = self.server.metrics.exposition(environ.get("HTTP_ACCEPT", ""))
        start_response(
            "200 OK",
            [
                ("Content-Type", content_type),
                ("Cache-Control", "no-store"),
                ("Content-Length", str(len(body))),
            ],
        )
        return [] if method == "HEAD" else [body]

    # --- matchmaking (docs/protocol.md, "Rooms") ------------------------------------------

    def _rooms(self, method: str, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if method == "OPTIONS":
            return _preflight(start_response, "GET, HEAD")
        if method not in ("GET", "HEAD"):
            return self._refused(start_response, 405, "method_not_allowed", "GET /rooms", allow="GET, HEAD")
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""), max_num_fields=8)
        wanted = query.get("map", [None])[0]
        directory = self.server.directory
        if wanted is not None and wanted not in directory.maps:
            return self._refused(start_response, 400, "unknown_map", f"no map {wanted[:40]!r}")
        body = {
            "rooms": directory.listing(wanted),
            "maps": sorted(directory.maps),
            "default_map": directory.default_map,
        }
        return _json(start_response, 200, body, head=method == "HEAD")

    def _matchmake(
        self, action: str, method: str, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        if action not in MATCHMAKE_KEYS:
            return self._refused(start_response, 404, "not_found", "POST /matchmake/quick, create or join")
        if method == "OPTIONS":
            return _preflight(start_response, "POST")
        if method != "POST":
            where = f"POST /matchmake/{action}"
            return self._refused(start_response, 405, "method_not_allowed", where, allow="POST")
        directory = self.server.directory
        try:
            request = _read_request(environ, MATCHMAKE_KEYS[action])
            now = time.monotonic()
            address = environ.get("REMOTE_ADDR", "")
            if action == "quick":
                seat = directory.quick(request.get("map"), now, address)
            elif action == "create":
                seat = directory.create(request.get("map"), request.get("private", False), now, address)
            else:
                if "room" not in request:
                    raise _BadRequest(400, "invalid_request", 'join needs a room id: {"room": ID}')
                seat = directory.reserve(request["room"], now, address)
        except _BadRequest as bad:
            return self._refused(start_response, bad.status, bad.code, bad.message, close=bad.status == 413)
        except MatchError as refused:
            return self._refused(
                start_response, refused.status, refused.code, refused.message, retry_after=refused.retry_after
            )
        hosted = directory.rooms[seat.room_id]
        answer = {
            "room": seat.room_id,
            "map": hosted.map_name,
            "private": hosted.private,
            "seat": seat.token,
            "expires_in": directory.seat_ttl,
            "url": f"ws://{self._host(environ)}/ws",
            "players": len(hosted.room.members),
            "max_players": hosted.room.max_players,
        }
        return _json(start_response, 200, answer)

    def _refused(
        self,
        start_response: StartResponse,
        status: int,
        code: str,
        message: str,
        *,
        allow: str = "",
        retry_after: int = 0,
        close: bool = False,
    ) -> list[bytes]:
        """A matchmaking error answer, counted for /metrics."""
        self.server.sockets.count_refusal("matchmaking", status, code)
        return _json_error(
            start_response, status, code, message, allow=allow, retry_after=retry_after, close=close
        )

    def _host(self, environ: dict[str, Any]) -> str:
        """Where the client reached us (the Host header), if it is a plain host[:port]."""
        host = environ.get("HTTP_HOST", "")
        if host and len(host) <= 255 and HOST_CHARS.issuperset(host):
            return str(host)
        addr, port = self.server.address
        return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"

    def _static(self, path: str, start_response: StartResponse, head: bool) -> Iterable[bytes]:
        if len(path) > 1024 or "\0" in path or any(len(part) > 255 for part in path.split("/")):
            return _text(start_response, "404 Not Found", "not found\n")  # no file has such a name
        for prefix, root in self.static_roots.items():
            if path.startswith(prefix):
                rel = path[len(prefix) :] or (self.index_page if prefix == "/" else "index.html")
                target = Path(os.path.realpath(root / rel))
                if target.is_dir():
                    target = target / "index.html"
                if (
                    (target == root or root in target.parents)
                    and target.suffix in STATIC_SUFFIXES
                    and target.is_file()
                ):
                    return _file(start_response, target, head)
                break
        return _text(start_response, "404 Not Found", "not found\n")


# the kinds of file the demo page is made of: the page, its modules, styles, maps and tiles (not
# the Python beside them, nor the vendored library's notes)
STATIC_SUFFIXES = frozenset((".html", ".js", ".mjs", ".css", ".tmj", ".tsj", ".json", ".png", ".svg", ".ico"))
MAX_REQUEST_BYTES = 1024  # a matchmaking request's JSON body
# the keys each matchmaking request may have, and their types
MATCHMAKE_KEYS: dict[str, dict[str, type]] = {
    "quick": {"map": str},
    "create": {"map": str, "private": bool},
    "join": {"room": str},
}
MAX_KEY_CHARS = 64  # a map name or a room id
HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]")
HTTP_STATUS = {
    200: "200 OK",
    400: "400 Bad Request",
    403: "403 Forbidden",
    404: "404 Not Found",
    405: "405 Method Not Allowed",
    409: "409 Conflict",
    410: "410 Gone",
    413: "413 Content Too Large",
    429: "429 Too Many Requests",
    503: "503 Service Unavailable",
}


class _BadRequest(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _read_request(environ: dict[str, Any], keys: dict[str, type]) -> dict[str, Any]:
    """A matchmaking request's JSON object, each key known and of its type; raises _BadRequest."""
    length = environ.get("CONTENT_LENGTH") or ""
    if length:
        if not length.isdigit():
            raise _BadRequest(400, "invalid_request", "Content-Length is not a number")
        if int(length) > MAX_REQUEST_BYTES:
            raise _BadRequest(413, "request_too_big", f"the body is over {MAX_REQUEST_BYTES} bytes")
    stream = environ.get("wsgi.input")
    raw = stream.read(MAX_REQUEST_BYTES + 1) if stream is not None and (length or _chunked(environ)) else b""
    if len(raw) > MAX_REQUEST_BYTES:
        raise _BadRequest(413, "request_too_big", f"the body is over {MAX_REQUEST_BYTES} bytes")
    if not raw.strip():
        return {}
    try:
        request = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _BadRequest(400, "invalid_json", "the body is not UTF-8 JSON") from None
    if type(request) is not dict:
        raise _BadRequest(400, "invalid_json", "the body must be a JSON object")
    for key, value in request.items():
        kind = keys.get(key)
        if kind is None:
            known = ", ".join(keys)
            raise _BadRequest(400, "invalid_request", f"unknown key {key[:40]!r}; this request takes {known}")
        if type(value) is not kind:
            what = "a string" if kind is str else "a boolean"
            raise _BadRequest(400, "invalid_request", f"{key} must be {what}")
        if type(value) is str and not 1 <= len(value) <= MAX_KEY_CHARS:
            raise _BadRequest(400, "invalid_request", f"{key} must be 1..{MAX_KEY_CHARS} characters")
    return request


def _preflight(start_response: StartResponse, methods: str) -> list[bytes]:
    """The answer to a browser's CORS preflight (a cross-origin request with a JSON body)."""
    start_response(
        "204 No Content",
        [
            ("Access-Control-Allow-Origin", "*"),
            ("Access-Control-Allow-Methods", methods),
            ("Access-Control-Allow-Headers", "Content-Type"),
            ("Access-Control-Max-Age", "600"),
            ("Allow", methods),
            ("Content-Length", "0"),
        ],
    )
    return []


def _chunked(environ: dict[str, Any]) -> bool:
    return "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()


def _json(
    start_response: StartResponse,
    status: int,
    body: Any,
    head: bool = False,
    headers: dict[str, str] | None = None,
) -> list[bytes]:
    data = json.dumps(body, separators=(",", ":")).encode()
    start_response(
        HTTP_STATUS[status],
        [
            ("Content-Type", "application/json"),
            ("Cache-Control", "no-store"),
            ("Content-Length", str(len(data))),
            # Matchmaking is a public API: a page served from elsewhere (the demo's ?server=)
            # may read it; it carries no cookies or credentials.
            ("Access-Control-Allow-Origin", "*"),
            *(headers or {}).items(),
        ],
    )
    return [] if head else [data]


def _json_error(
    start_response: StartResponse,
    status: int,
    code: str,
    message: str,
    *,
    allow: str = "",
    retry_after: int = 0,
    close: bool = False,
) -> list[bytes]:
    headers: dict[str, str] = {}
    if allow:
        headers["Allow"] = allow
    if retry_after:
        headers["Retry-After"] = str(retry_after)
    if close:
        headers["Connection"] = "close"  # the body was not read: the connection cannot go on
    return _json(start_response, status, {"error": code, "message": message}, headers=headers)


def _text(start_response: StartResponse, status: str, text: str) -> list[bytes]:
    body = text.encode()
    start_response(
        status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
    )
    return [body]


def _file(start_response: StartResponse, target: Path, head: bool) -> list[bytes]:
    ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    if target.suffix in (".js", ".mjs"):
        ctype = "text/javascript"
    if ctype.startswith("text/") or ctype == "application/json":
        ctype += "; charset=utf-8"
    body = target.read_bytes()
    start_response(
        "200 OK", [("Content-Type", ctype), ("Content-Length", str(len(body))), ("Cache-Control", "no-cache")]
    )
    return [] if head else [body]
