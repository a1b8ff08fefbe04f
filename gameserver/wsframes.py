"""WebSocket framing (RFC 6455, section 5): pure functions over bytes, no socket and no state.

The server reads masked client frames and writes unmasked frames. The frame every input comes
in (one masked binary frame of at most 125 bytes) is read by a few byte comparisons
(`is_input`, `unmask_small`); every other frame by `read_frame`, which checks what the RFC
requires of a client's frame. Outgoing binary frames get their 2-10 byte header directly
(`binary_header`).
"""

from __future__ import annotations

import functools
import zlib
from typing import Any

from gameserver.codec import INPUT_ARRAY_HEADS, INPUT_TYPE, ErrorCode
from gameserver.masking import xor_mask

OP_CONTINUATION, OP_TEXT, OP_BINARY = 0, 1, 2
OP_CLOSE, OP_PING, OP_PONG = 8, 9, 10
_OPCODES = frozenset((OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG))
# The close codes a peer may send (RFC 6455 7.4): those defined for use in a close frame, and
# the ranges of libraries and applications.
VALID_CLOSE_CODES = frozenset((*range(1000, 1004), *range(1007, 1012), *range(3000, 5000)))


class FrameError(Exception):
    """The peer broke the framing: the connection is closed with `code` (1002, 1007 or 1009)
    and `reason` (at most 123 bytes, as a close frame's reason must be)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def apply_mask(data: bytes, mask: tuple[int, ...], length: int | None = None, offset: int = 0) -> bytes:
    """XOR `data` with the 4-byte mask, starting `offset` bytes into it (eventlet's signature,
    kept for the tests that compare the two)."""
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


def _header(first: int, n: int) -> bytes:
    if n < 126:
        return bytes((first, n))
    if n < 65536:
        return bytes((first, 126)) + n.to_bytes(2, "big")
    return bytes((first, 127)) + n.to_bytes(8, "big")


@functools.lru_cache(maxsize=256)  # a tick's snapshots come in a few lengths: one lookup each
def binary_header(n: int) -> bytes:
    """The header of one unfragmented, unmasked binary frame of `n` payload bytes."""
    return _header(0x82, n)


def pack_binary(payload: bytes) -> bytes:
    """One unfragmented, unmasked binary frame, byte for byte what eventlet's _pack_message
    writes when no extension is in use (tested against it); used on the send path."""
    return binary_header(len(payload)) + payload


def pack_control(opcode: int, payload: bytes) -> bytes:
    """One unmasked control frame (close, ping, pong) of at most 125 payload bytes."""
    return bytes((0x80 | opcode, len(payload))) + payload


def pack_close(code: int, reason: str) -> bytes:
    """Our close frame: the code, then the reason (our error code, ASCII, at most 123 bytes)."""
    return pack_control(OP_CLOSE, code.to_bytes(2, "big") + reason.encode()[:123])


def frame_extent(buf: bytes, pos: int, cap: int) -> int:
    """How many bytes from `pos` the next frame takes; 0 until all of it arrived.

    A frame that declares more than `cap` payload bytes needs only its header: it is refused
    there, before the mask and the payload.
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
    """What is wrong with the header of the frame at `pos` that read_frame's other checks let
    pass (RFC 6455, 5.2): RSV2 or RSV3 set, or a length not in its shortest form. None: nothing.
    The header is all there (frame_extent() said so)."""
    if buf[pos] & 0x30:
        return "RSV2 and RSV3 must be 0"
    n = buf[pos + 1] & 127
    if n == 126 and int.from_bytes(buf[pos + 2 : pos + 4], "big") < 126:
        return "a frame length must be sent in its shortest form"
    if n == 127 and int.from_bytes(buf[pos + 2 : pos + 10], "big") < 65536:
        return "a frame length must be sent in its shortest form"
    return None


def read_frame(
    buf: bytes, pos: int, extent: int, in_message: bool, rsv1_allowed: bool
) -> tuple[int, int, bytes]:
    """(first byte, opcode, unmasked payload) of the client frame of `extent` bytes at `pos`
    (frame_extent() of it, not 0), or FrameError for a frame a client must not send, in the
    order RFC 6455 section 5 states its rules: reserved bits, opcode, mask, the rules of control
    frames and of fragments, then the length. `in_message`: a fragmented message is open;
    `rsv1_allowed`: permessage-deflate was agreed. A frame over frame_extent()'s cap (its
    extent is its header alone) raises FrameError 1009."""
    first = buf[pos]
    fault = frame_fault(buf, pos)
    if fault is not None:
        raise FrameError(1002, fault)
    opcode = first & 15
    if first & 0x40 and not (rsv1_allowed and opcode in (OP_TEXT, OP_BINARY)):
        raise FrameError(1002, "RSV1 must be 0 unless an extension that defines it was agreed")
    if opcode not in _OPCODES:
        raise FrameError(1002, "Unknown opcode received.")
    b1 = buf[pos + 1]
    if not b1 & 128:
        raise FrameError(1002, "A client MUST mask all frames that it sends to the server")
    n = b1 & 127
    head = 2 if n < 126 else 4 if n == 126 else 10
    if opcode & 8:
        if not first & 0x80:
            raise FrameError(1002, "Control frames must not be fragmented.")
        if n > 125:
            raise FrameError(1002, "All control frames MUST have a payload length of 125 bytes or less")
    elif opcode and in_message:
        raise FrameError(1002, "Received a non-continuation opcode within fragmented message.")
    elif not opcode and not in_message:
        raise FrameError(1002, "Received continuation opcode with no previous fragments received.")
    if extent == head:  # frame_extent() stopped at the header: the frame is over the cap
        raise FrameError(1009, ErrorCode.MESSAGE_TOO_BIG.code)
    start = pos + head + 4
    end = pos + extent
    if start >= end:
        return first, opcode, b""
    return first, opcode, xor_mask(buf[start:end], buf[start - 4 : start])


def close_code_of(payload: bytes) -> int:
    """The code of a peer's close frame, checked (RFC 6455 5.5.1, 7.4): 1000 when it has none;
    FrameError 1002 for a code a peer may not send, a reason that is not UTF-8, or a one-byte
    payload."""
    if not payload:
        return 1000
    if len(payload) < 2:
        raise FrameError(1002, "A close frame's payload is a code of two bytes, then a reason.")
    code = int.from_bytes(payload[:2], "big")
    if code not in VALID_CLOSE_CODES:
        raise FrameError(1002, "Unexpected close status code.")
    try:
        payload[2:].decode("utf-8")
    except UnicodeDecodeError:
        raise FrameError(1002, "Close message data should be valid UTF-8.") from None
    return code


class Deflate:
    """permessage-deflate (RFC 7692) as the handshake agreed it: `options` are the agreed
    parameters (server_no_context_takeover, client_no_context_takeover, server_max_window_bits,
    client_max_window_bits)."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        self.compressor: Any = None
        self.decompressor: Any = None

    def compress(self, payload: bytes) -> bytes:
        """One compressed, unfragmented, unmasked binary frame of `payload`."""
        if not payload:
            return pack_binary(payload)
        options = self.options
        comp = self.compressor
        if comp is None or options.get("server_no_context_takeover"):
            bits = int(options.get("server_max_window_bits", zlib.MAX_WBITS))
            comp = self.compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -bits)
        data: bytes = comp.compress(payload) + comp.flush(zlib.Z_SYNC_FLUSH)
        return _header(0xC2, len(data) - 4) + data[:-4]  # without the flush's 00 00 ff ff

    def decompress(self, data: bytes, cap: int) -> bytes:
        """A compressed message's payload, at most `cap` bytes; FrameError 1009 past it."""
        options = self.options
        dec = self.decompressor
        if dec is None or options.get("client_no_context_takeover"):
            bits = int(options.get("client_max_window_bits", zlib.MAX_WBITS))
            dec = self.decompressor = zlib.decompressobj(-bits)
        try:
            out: bytes = dec.decompress(data + b"\x00\x00\xff\xff", cap)
        except zlib.error:
            raise FrameError(1007, "invalid compressed data") from None
        if dec.unconsumed_tail:
            raise FrameError(1009, ErrorCode.MESSAGE_TOO_BIG.code)
        return out
