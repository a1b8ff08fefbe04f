"""Minimal WebSocket client framing for the bots: just what protocol v1 needs, nothing more.

Why not the `websockets` library: a bot sends one 20-byte input and reads one snapshot per tick,
and hundreds of bots share one core with the server being measured. A frame header is two bytes
here, parsed inline from one large recv(). Measured with 200 bots against one server
(docs/benchmarks-log.md): 21 us of bot CPU per player-tick here, 55 us with the library on asyncio.
Of the library, only its C masking is used (gameserver.masking), as the server does.

What it handles: the RFC 6455 opening handshake, masked binary frames out (7-bit and 16-bit
lengths), unmasked frames in (binary, close, ping; fragmented messages are refused as the server
never sends them), close frames both ways. No extensions: permessage-deflate is not offered.

The payloads are gameserver.codec's bytes: this module only frames them.
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct

import msgpack

from gameserver.masking import xor_mask

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA


class FrameError(Exception):
    """The server sent something this client does not accept."""


def handshake_request(host: str, port: int, path: str) -> tuple[bytes, bytes]:
    """The HTTP upgrade request and the Sec-WebSocket-Accept value the answer must carry."""
    key = base64.b64encode(os.urandom(16))
    accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
    request = (
        f"GET {path} HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key.decode()}\r\n"
        "Sec-WebSocket-Version: 13\r\n"
        "\r\n"
    ).encode()
    return request, accept


def check_handshake_response(head: bytes, accept: bytes) -> None:
    """Raise FrameError unless `head` (up to the blank line) is a valid 101 answer."""
    lines = head.split(b"\r\n")
    if not lines[0].startswith(b"HTTP/1.1 101"):
        raise FrameError(f"handshake refused: {lines[0].decode(errors='replace')}")
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"sec-websocket-accept":
            if value.strip() != accept:
                raise FrameError("handshake: wrong Sec-WebSocket-Accept")
            return
    raise FrameError("handshake: no Sec-WebSocket-Accept")


class Masker:
    """Client frames must be masked (RFC 6455 5.3). One random key per connection: the bots only
    talk to a server on loopback, so per-frame keys would buy nothing but CPU."""

    def __init__(self) -> None:
        self.key = os.urandom(4)
        self.heads: dict[int, bytes] = {}  # payload length -> binary frame header with the key

    def frame(self, payload: bytes, opcode: int = OP_BINARY) -> bytes:
        n = len(payload)
        if opcode == OP_BINARY and 0 < n < 126:  # every input: its header made once per length
            head = self.heads.get(n)
            if head is None:
                head = self.heads[n] = bytes((0x80 | OP_BINARY, 0x80 | n)) + self.key
            return head + xor_mask(payload, self.key)
        if n < 126:
            head = bytes((0x80 | opcode, 0x80 | n))
        elif n < 65536:
            head = bytes((0x80 | opcode, 0x80 | 126)) + struct.pack("!H", n)
        else:
            head = bytes((0x80 | opcode, 0x80 | 127)) + struct.pack("!Q", n)
        return head + self.key + xor_mask(payload, self.key)


def close_payload(code: int, reason: str = "") -> bytes:
    return struct.pack("!H", code) + reason.encode()[:120]


def parse_close(payload: bytes) -> tuple[int, str]:
    """(code, reason) of a close frame; 1005 when it carries no code (RFC 6455 7.1.5)."""
    if len(payload) < 2:
        return 1005, ""
    return struct.unpack("!H", payload[:2])[0], payload[2:].decode(errors="replace")


def parse_frames(
    buf: bytes | bytearray, pos: int = 0, size: int | None = None
) -> tuple[list[tuple[int, int, int]], int]:
    """Complete frames in buf[pos:size] as (opcode, start, end) of their payloads, and where the
    first incomplete frame starts. Server frames are unmasked and never fragmented."""
    out: list[tuple[int, int, int]] = []
    n = len(buf) if size is None else size
    while n - pos >= 2:
        b0 = buf[pos]
        ln = buf[pos + 1]
        if ln & 0x80:
            raise FrameError("the server masked a frame")
        if not b0 & 0x80:
            raise FrameError("fragmented message")
        start = pos + 2
        if ln == 126:
            if n - pos < 4:
                break
            ln = (buf[pos + 2] << 8) | buf[pos + 3]
            start = pos + 4
        elif ln == 127:
            if n - pos < 10:
                break
            ln = int.from_bytes(buf[pos + 2 : pos + 10], "big")
            start = pos + 10
        end = start + ln
        if end > n:
            break
        out.append((b0 & 0x0F, start, end))
        pos = end
    return out, pos


# The width of a msgpack value that is an unsigned int or nil, by its first byte; 0 for any other.
UINT_OR_NIL_WIDTH = bytes(
    1 if b < 0x80 or b == 0xC0 else {0xCC: 2, 0xCD: 3, 0xCE: 5, 0xCF: 9}.get(b, 0) for b in range(256)
)


def snapshot_head(buf: bytes | bytearray, start: int) -> tuple[int, int] | None:
    """(tick, where its spawns array begins) of the SNAPSHOT message at buf[start:], read from
    its first bytes without decoding the rest; None if the message is not a snapshot, or its
    tick, baseline and last_seq are not what the codec writes. The layout is
    codec.encode_snapshot_header(): fixarray(8) (of 9 when a checksum ends it), MsgType.SNAPSHOT,
    then the tick as a msgpack unsigned int, the baseline and last_seq as unsigned ints or nil.

    Every bot reads this head of every snapshot: the tick to acknowledge, and whether any entity
    is spawned (buf[offset] != 0x90, an empty array), so that each one learns the names of the
    entities it is sent (the isolation of rooms) at the cost of a few byte reads."""
    if (buf[start] != 0x98 and buf[start] != 0x99) or buf[start + 1] != 0x0B:
        return None
    i = start + 2
    b = buf[i]
    if b < 0x80:
        tick, i = b, i + 1
    elif b == 0xCC:
        tick, i = buf[i + 1], i + 2
    elif b == 0xCD:
        tick, i = (buf[i + 1] << 8) | buf[i + 2], i + 3
    elif b == 0xCE:
        tick, i = int.from_bytes(buf[i + 1 : i + 5], "big"), i + 5
    else:
        return None
    # baseline, then last_seq: unrolled, through a table of their widths (a loop or a chain of
    # comparisons made this function three times as slow as reading the tick alone)
    w = UINT_OR_NIL_WIDTH[buf[i]]
    if not w:
        return None
    i += w
    w = UINT_OR_NIL_WIDTH[buf[i]]
    if not w:
        return None
    return tick, i + w


def spawn_names(buf: bytes | bytearray, offset: int, end: int) -> list[str]:
    """The names in the spawns array at buf[offset:end] (codec.spawn_record(): id, kind, name,
    ...). Only that array is decoded: a snapshot with a spawn in it also carries every change (at
    N=800, 70 µs to decode whole against 2 µs for the spawns alone), and while hundreds join,
    nearly every snapshot has a spawn. Raises ValueError when the array is not spawn records."""
    unpacker = msgpack.Unpacker()
    unpacker.feed(memoryview(buf)[offset:end])
    try:
        spawns = unpacker.unpack()
        # a player's name, where its kind declares it first (the games here do); the records of
        # kinds without a name (a ball, a coin) hold a number there
        return [s[2] for s in spawns if len(s) > 2 and type(s[2]) is str]
    except Exception as exc:  # msgpack's errors, or records of the wrong shape
        raise ValueError(f"malformed spawns ({type(exc).__name__})") from None


def ack_payload(tick: int) -> bytes:
    """codec.encode_client(Ack(tick)), with no Ack made: a spectator sends one per snapshot."""
    if tick < 0x80:
        return bytes((0x92, 0x05, tick))
    if tick < 0x100:
        return bytes((0x92, 0x05, 0xCC, tick))
    if tick < 0x10000:
        return bytes((0x92, 0x05, 0xCD, tick >> 8, tick & 0xFF))
    return b"\x92\x05\xce" + tick.to_bytes(4, "big")
