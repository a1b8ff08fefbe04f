"""WebSocket frames as a client sends them, written out by hand so that the tests do not share
the server's code (RFC 6455 5.2: masked, with the shortest length form)."""

from __future__ import annotations

import os


def client_frame(
    payload: bytes, opcode: int = 2, fin: bool = True, rsv: int = 0, mask: bytes | None = None
) -> bytes:
    """A masked client frame; `rsv` is ORed into the first byte (0x40 is RSV1)."""
    mask = os.urandom(4) if mask is None else mask
    n = len(payload)
    head = bytes([(0x80 if fin else 0) | rsv | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
