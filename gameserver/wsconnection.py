"""One WebSocket after its opening handshake, as a state machine with no I/O (sans-IO).

Bytes in (`receive_data`), bytes out (`data_to_send`, then `bytes_sent` with what the socket
took), time passed in (`now`), never read from a clock here. What it cannot do itself it
reports: receive_data() and parse() return flags (output due, a backlog left for the next
turn, a HELLO joined), bytes_sent() says whether to wait for the socket to drain or to
half-close it, expire() whether to cut the connection. The eventlet side (transport.py) only
moves bytes, watches the socket and keeps the deadlines' heap (the machine's `deadline`):
its Connection is this class with a socket added, one object per connection.

Invariants:
- The usual input frame (one masked binary frame of at most 125 bytes, outside a fragmented
  message) is read by a few byte comparisons; a joined player's input waits on its member as
  it came, still masked (Room.receive_input), for the tick that applies it.
- At most MESSAGES_PER_TURN frames are parsed per call: a flood waits for the next turn.
- The size cap is per message, over all its fragments; each fragment but a message's last and
  each ping and pong is charged against the message rate (before HELLO: EARLY_FRAMES_LIMIT).
- Every refusal carries a stable code: an error message, then a close frame whose code is the
  WebSocket close code and whose reason is the error code. Frame errors get a close frame
  alone. After our close frame, nothing more is sent; what the peer sends is dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from gameserver import codec
from gameserver.codec import (
    INPUT_ARRAY_HEADS,
    INPUT_TYPE,
    MAX_CLIENT_MESSAGE_BYTES,
    ErrorCode,
    ProtocolError,
)
from gameserver.directory import MatchError
from gameserver.messages import PROTOCOL_VERSION, Error, Goodbye, Hello
from gameserver.room import RAW_INPUT_LIMIT, Member, Room, RoomFull
from gameserver.wsframes import (
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    Deflate,
    FrameError,
    binary_header,
    close_code_of,
    frame_extent,
    is_input,
    pack_binary,
    pack_close,
    pack_control,
    read_frame,
    unmask_small,
)

log = logging.getLogger("gameserver.transport")

MESSAGES_PER_TURN = 16  # frames parsed per connection per turn: a flood waits for the next turn
EARLY_FRAMES_LIMIT = 16  # pings, pongs and fragments allowed before hello; after it, messages
CONTROL_FRAMES_LIMIT = 8  # pongs waiting to be sent; more pings go unanswered (RFC 6455 5.5.3)

# states
AWAIT_HELLO, OPEN, CLOSING, CLOSED = range(4)
# flags returned by receive_data() and parse()
DUE = 1  # output is due: call data_to_send()
BACKLOG = 2  # frames are left over for the next turn
JOINED = 4  # a HELLO joined a room
# what bytes_sent() asks of the socket
SENT_ALL, WANT_WRITE, HALF_CLOSE = 0, 1, 2


class ConnectionHost(Protocol):
    """What a connection needs of the server: seats in rooms, and counters for /metrics.
    (Directory.join and Directory.leave, SocketLoop.count_close and count_refusal.)"""

    def join(self, hello: Hello, now: float) -> tuple[Room, Member]: ...

    def leave(
        self, room: Room, member: Member, now: float, *, keep: bool = False, address: str = ""
    ) -> None: ...

    def count_close(self, close: tuple[int, str] | None, reason: str) -> None: ...

    def count_refusal(self, stage: str, status: int, code: str) -> None: ...


def _not_joined(member: Member, data: bytes) -> None:
    raise AssertionError("a message reached a connection that has no room")


class WsConnection:
    """The protocol of one WebSocket: framing, the HELLO, the messages to the room, closing."""

    # Slots, those of every input and snapshot first: a connection is touched two or three
    # times a tick, and a compact object costs fewer cache misses than a dict.
    __slots__ = (
        "member",
        "inbuf",
        "pos",
        "message_op",
        "receive_bytes",
        "receive_input",
        "frames",
        "remainder",
        "close_sent",
        "state",
        "pack",
        "close_request",
        "outbox",
        "deadline",
        "host",
        "peer",
        "room",
        "deflate",
        "early_frames",
        "message_parts",
        "message_size",
        "message_compressed",
        "hello_timeout",
        "send_timeout",
    )

    def __init__(
        self,
        host: ConnectionHost,
        peer: str,
        *,
        hello_timeout: float,
        send_timeout: float,
        deflate: dict[str, Any] | None = None,
    ) -> None:
        """`peer`: the client's address (logs, and the per-address count of players kept
        away); `deflate`: the permessage-deflate parameters the handshake agreed, if any."""
        self.host = host
        self.peer = peer
        self.hello_timeout = hello_timeout
        self.send_timeout = send_timeout
        self.room: Room | None = None  # the room its HELLO joined; it never changes after
        # the room's own, from the HELLO on (attach()); no message reaches them before
        self.receive_input: Callable[[Member, bytes], None] = _not_joined
        self.receive_bytes: Callable[[Member, bytes], None] = _not_joined
        self.state = AWAIT_HELLO
        self.member: Member | None = None
        self.inbuf = b""
        self.pos = 0
        # a fragmented message being put together: its opcode (0: none), its parts
        self.message_op = 0
        self.message_parts: list[bytes] = []
        self.message_size = 0
        self.message_compressed = False
        self.early_frames = 0  # pings and pongs before hello
        self.frames: list[bytes] = []  # control frames (pongs) to send before any message
        self.outbox: list[bytes] = []  # messages before join: the refusal
        self.close_request: tuple[int, str] | None = None  # before join; then the member's
        self.close_sent = False
        self.remainder: bytes | None = None  # what the socket did not take yet
        self.deadline: float | None = None  # when expire() is due
        self.deflate = Deflate(deflate) if deflate is not None else None
        self.pack: Callable[[bytes], bytes] = pack_binary if self.deflate is None else self.deflate.compress

    def start(self, now: float) -> None:
        """The handshake is done: the HELLO is due within hello_timeout."""
        self.deadline = now + self.hello_timeout

    @property
    def closing(self) -> bool:
        member = self.member
        return (member.close_request if member is not None else self.close_request) is not None

    # --- input -------------------------------------------------------------------------

    def receive_data(self, data: bytes, now: float) -> int:
        """Bytes from the peer (not empty: the end of the stream is finish()'s). Flags."""
        member = self.member
        if (member.close_request if member is not None else self.close_request) is not None:
            return 0  # dropped: the peer is being closed and only its answer matters
        inbuf = self.inbuf
        if (
            member is not None
            and 6 <= len(data) == data[1] - 122  # one whole masked frame of <= 125 bytes
            and data[0] == 0x82  # binary, final
            and self.pos == len(inbuf)  # nothing left over from before
            and self.message_op == 0
        ):
            # A joined player's input, alone in the read: the common case, every player every
            # tick, taken without the parsing loop (parse() reads the same frame the same way
            # when it comes with others).
            raw = member.raw_inputs
            if (  # is_input() and Room.receive_input(), written out: every player, every tick
                len(raw) < RAW_INPUT_LIMIT
                and data[1] >= 0x82  # at least two bytes of payload
                and data[7] ^ data[3] == INPUT_TYPE
                and data[6] ^ data[2] in INPUT_ARRAY_HEADS
            ):
                raw.append(data)  # it waits, masked, for the tick that applies it
                return 0
            try:
                self.receive_bytes(member, unmask_small(data, 0, len(data) - 6))
            except ProtocolError as exc:
                self.refuse(exc.error, exc.detail)
            return DUE if member.control or member.close_request is not None or self.frames else 0
        self.inbuf = inbuf[self.pos :] + data if self.pos < len(inbuf) else data
        self.pos = 0
        return self.parse(now)

    def parse(self, now: float) -> int:
        """Take up to MESSAGES_PER_TURN frames from what arrived; a longer backlog waits its
        next turn (BACKLOG). Flags.

        The frame every input arrives in (one whole masked binary frame of at most 125 bytes,
        outside a fragmented message) is read here in a few operations; every other frame, and
        every frame error, by _parse_frame().
        """
        flags = 0
        if self.closing or self.state >= CLOSING:
            return flags
        buf = self.inbuf
        pos = self.pos
        size = len(buf)
        member = self.member
        joined_before = member is not None
        budget = MESSAGES_PER_TURN
        while pos < size:
            if not budget:
                flags = BACKLOG
                break
            budget -= 1
            if buf[pos] == 0x82 and pos + 1 < size and self.message_op == 0:
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
                            self.refuse(exc.error, exc.detail)
                        if member.close_request is not None:
                            break
                    else:
                        self._on_message(unmask_small(buf, start, end - start - 6), now)
                        member = self.member
                        if self.closing:
                            break
                    continue
            pos, more = self._parse_frame(buf, pos, now)
            if not more:
                break
            member = self.member
            if self.closing:
                break
        self.pos = pos
        if member is not None:
            due = bool(member.control) or member.close_request is not None
            if not joined_before:
                flags |= JOINED
        else:
            due = bool(self.outbox) or self.close_request is not None
        if due or self.frames:
            flags |= DUE
        return flags

    def _parse_frame(self, buf: bytes, pos: int, now: float) -> tuple[int, bool]:
        """One frame of any kind: the position after it, and whether to go on (not when the
        frame is not all here yet, or the connection is closing)."""
        n = frame_extent(buf, pos, MAX_CLIENT_MESSAGE_BYTES)
        if not n:
            return pos, False
        try:
            first, opcode, payload = read_frame(buf, pos, n, self.message_op != 0, self.deflate is not None)
            pos += n
            if opcode & 8:
                if opcode == OP_CLOSE:
                    self._close(close_code_of(payload), "")  # echo the peer's code, then drain
                    return pos, False
                self._charge()  # a ping or pong costs the server what a message does
                if opcode == OP_PING and len(self.frames) < CONTROL_FRAMES_LIMIT:
                    self.frames.append(pack_control(OP_PONG, payload))
                return pos, True
            if opcode:  # a message's first frame
                self.message_op = opcode
                self.message_parts = [payload]
                self.message_size = len(payload)
                self.message_compressed = bool(first & 0x40)
            else:
                self.message_parts.append(payload)
                self.message_size += len(payload)
            if self.message_size > MAX_CLIENT_MESSAGE_BYTES:
                raise FrameError(1009, ErrorCode.MESSAGE_TOO_BIG.code)
            if not first & 0x80:
                # Each fragment before a message's last counts against the message rate (the
                # whole message counts when it is taken): empty fragments are no way around it.
                self._charge()
                return pos, True
            parts = self.message_parts
            data = parts[0] if len(parts) == 1 else b"".join(parts)
            opcode = self.message_op
            self.message_op = 0
            self.message_parts = []
            deflate = self.deflate
            if self.message_compressed and deflate is not None:
                data = deflate.decompress(data, MAX_CLIENT_MESSAGE_BYTES)
            if opcode == OP_TEXT:
                try:
                    data.decode("utf-8")
                except UnicodeDecodeError:
                    raise FrameError(1007, "Text data must be valid utf-8") from None
                self.refuse(ErrorCode.TEXT_FRAME, "binary frames only")
            else:
                self._on_message(data, now)
        # Each except names its exception apart: compiled (mypyc), one name shared by handlers
        # of two types is typed as the first, and the second raised TypeError.
        except FrameError as bad_frame:
            self._close(bad_frame.code, bad_frame.reason)
            return pos, False
        except ProtocolError as refused:
            self.refuse(refused.error, refused.detail)
            return pos, False
        return pos, True

    def _charge(self) -> None:
        member = self.member
        room = self.room
        if member is not None and room is not None:
            room.charge(member)
        else:
            self.early_frames += 1
            if self.early_frames > EARLY_FRAMES_LIMIT:
                raise ProtocolError(ErrorCode.HELLO_REQUIRED, "the first message must be hello")

    def _on_message(self, data: bytes, now: float) -> None:
        member = self.member
        try:
            if member is None:
                # Any message but a HELLO, of a type known or not, is hello_required here.
                self._hello(codec.decode_hello(data), now)
                return
            self.receive_bytes(member, data)  # a second hello is refused there
        except ProtocolError as exc:
            self.refuse(exc.error, exc.detail)

    def _hello(self, msg: Any, now: float) -> None:
        if not isinstance(msg, Hello):
            raise ProtocolError(ErrorCode.HELLO_REQUIRED, "the first message must be hello")
        if msg.version != PROTOCOL_VERSION:
            raise ProtocolError(
                ErrorCode.UNSUPPORTED_VERSION,
                f"this server speaks protocol {PROTOCOL_VERSION}, not {msg.version}",
            )
        try:
            room, member = self.host.join(msg, now)
        except MatchError as refused:
            raise ProtocolError(refused.error, refused.message) from None
        except RoomFull as full:
            raise ProtocolError(ErrorCode.ROOM_FULL, str(full)) from None
        self.attach(room, member)
        how = "watches" if msg.spectate else "resumed" if msg.session_token is not None else "joined"
        room_id, entity_id = room.room_id, member.entity_id
        log.info("%s %s room %s as entity %d (%s)", self.peer, how, room_id, entity_id, member.name)

    def attach(self, room: Room, member: Member) -> None:
        """The connection now plays `member` in `room`: its messages go there."""
        self.room = room
        if member.spectator:
            self.receive_input = room.spectator_input
            self.receive_bytes = room.spectator_bytes
        else:
            self.receive_input = room.receive_input
            self.receive_bytes = room.receive_bytes
        self.member = member
        member.link = self  # the sender flushes it after each tick (transport.Connection)
        self.state = OPEN
        self.deadline = None

    # --- closing -----------------------------------------------------------------------

    def refuse(self, error: ErrorCode, detail: str) -> None:
        """The error message, then the close frame: the peer hears why."""
        member = self.member
        if member is not None:
            log.info("%s entity %d: %s: %s", self.peer, member.entity_id, error.code, detail)
            member.request_close(error, detail)
        elif self.close_request is None:
            log.info("%s refused: %s: %s", self.peer, error.code, detail)
            self.host.count_refusal("hello", error.close_code, error.code)
            self.outbox.append(codec.encode_server(Error(error.code, detail)))
            self.close_request = (error.close_code, error.code)

    def goodbye_unjoined(self, error: ErrorCode, detail: str) -> bool:
        """The server ends a connection that has not said HELLO (it is stopping): a GOODBYE,
        then the close frame, as the joined ones get from their rooms. True: output is due."""
        if self.member is not None or self.close_request is not None or self.state != AWAIT_HELLO:
            return False
        log.info("%s: %s before hello", self.peer, error.code)
        self.outbox.append(codec.encode_server(Goodbye(error.code, detail)))
        self.close_request = (error.close_code, error.code)
        return True

    def _close(self, code: int, reason: str) -> None:
        """A close frame with no error message before it (frame errors, the peer's close)."""
        member = self.member
        if member is not None:
            if member.close_request is None:
                member.pending = None
                member.close_request = (code, reason)
        elif self.close_request is None:
            self.close_request = (code, reason)

    def expire(self, now: float) -> str | None:
        """The deadline passed: the reason to cut the TCP connection, or None when output is
        due instead (the refusal of a connection that sent no HELLO in time)."""
        self.deadline = None
        if self.remainder is not None:
            log.info("%s: send blocked for %.1f s; cutting the connection", self.peer, self.send_timeout)
            member = self.member
            if member is not None and member.close_request is None:
                member.request_close(ErrorCode.TOO_SLOW, "send timed out")
            return "too_slow"
        if self.state == AWAIT_HELLO and not self.closing:
            self.refuse(ErrorCode.HELLO_TIMEOUT, f"no hello within {self.hello_timeout:g} s")
            return None
        return "closed"  # the peer never answered our close frame

    def finish(self, reason: str, now: float) -> None:
        """The TCP connection ended (`reason`: the peer closed it, or we cut it): count the
        close and forget the player (or keep it for a resume)."""
        if self.state == CLOSED:
            return
        self.state = CLOSED
        self.remainder = None
        self.deadline = None
        self.inbuf = b""
        self.pos = 0
        self.message_op = 0
        self.message_parts = []
        self.frames = []
        self.outbox = []
        member = self.member
        self.host.count_close(member.close_request if member is not None else self.close_request, reason)
        if member is None:
            return
        # A drop is not a leave: a connection that ends with no close frame, or that was cut as
        # too slow, keeps its player for a resume. A close frame of 1000 or 1001 from the peer,
        # or an error of ours, removes it at once.
        close = member.close_request
        keep = close is None or close[1] == "too_slow" or (close[1] == "" and close[0] not in (1000, 1001))
        if close is None:
            close = member.close_request = (1000, reason)
        member.link = None
        room = self.room
        if room is not None:
            self.host.leave(room, member, now, keep=keep, address=self.peer)
        why = close[1] or "peer_closed"
        away = room is not None and not member.spectator and member.entity_id in room.away
        kept = " (kept for a resume)" if away else ""
        log.info("%s entity %d left (%s)%s", self.peer, member.entity_id, why, kept)

    # --- output ------------------------------------------------------------------------

    def data_to_send(self) -> bytes:
        """What is due (control frames, messages, the close frame), framed: b"" for nothing,
        or while a remainder waits for the socket (latest wins meanwhile), or after the close
        frame."""
        if self.remainder is not None or self.close_sent or self.state == CLOSED:
            return b""
        member = self.member
        if member is not None and not self.frames and not member.control and member.close_request is None:
            # After a tick, nearly always just the snapshot: its parts are joined behind the
            # frame header, one copy made just before the socket copies it. (A sendmsg of the
            # parts, with no copy at all, measured more CPU: the kernel's per-part cost.)
            snapshot = member.take_snapshot_parts()
            if snapshot is None:
                return b""
            if self.deflate is not None:
                return self.pack(b"".join(snapshot))
            head, seq, body, shots = snapshot  # see Member.pending
            header = binary_header(len(head) + len(seq) + len(body) + len(shots))
            return b"".join((header, head, seq, body, shots))
        parts = self.frames
        self.frames = []
        if member is not None:
            out = member.take_outgoing()
            close = member.close_request
        else:
            out, self.outbox = self.outbox, []
            close = self.close_request
        pack = self.pack
        for data in out:
            parts.append(pack(data))
        if close is not None:
            parts.append(pack_close(close[0], close[1]))
            self.close_sent = True
        if not parts:
            return b""
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def bytes_sent(self, data: bytes, sent: int, now: float) -> int:
        """The socket took `sent` bytes of `data` (from data_to_send() or take_remainder()):
        WANT_WRITE when a remainder is left (sent when the socket drains, within send_timeout),
        HALF_CLOSE when our close frame has gone out (no more sending; what the peer still sends
        is read and dropped until it closes, for at most send_timeout), else SENT_ALL. A send
        that took all of `data` while `close_sent` is false changes nothing here: the sender
        may skip the call then (it does, for every snapshot)."""
        if sent < len(data):
            self.remainder = data[sent:]
            self.deadline = now + self.send_timeout
            return WANT_WRITE
        if self.close_sent:
            self.state = CLOSING
            self.deadline = now + self.send_timeout
            return HALF_CLOSE
        return SENT_ALL

    def take_remainder(self, now: float) -> bytes | None:
        """The socket is writable: what it did not take before, if anything (then give
        bytes_sent() what it takes now)."""
        data = self.remainder
        if data is None:
            return None
        self.remainder = None
        self.deadline = None
        if self.state == AWAIT_HELLO and not self.closing:
            self.deadline = now + self.hello_timeout
        return data
