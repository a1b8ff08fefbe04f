"""WebSocket masking (RFC 6455 5.3): a payload XORed with a 4-byte key, repeated.

Clients mask every frame and the server unmasks every frame: one input per player per tick on
both sides. websockets' C function does it fastest; the big-integer XOR here is the fallback
for a websockets built without its C extension, about three times slower.
"""

from __future__ import annotations

from collections.abc import Callable

from gameserver.codec import MAX_CLIENT_MESSAGE_BYTES

_WORDS = [sum(1 << (32 * i) for i in range(k)) for k in range(MAX_CLIENT_MESSAGE_BYTES // 4 + 2)]


def xor_mask_ints(data: bytes, mask: bytes) -> bytes:
    """`data` XORed with the 4-byte `mask` repeated, as one big-integer XOR."""
    length = len(data)
    words = _WORDS[(length + 3) >> 2] if length <= MAX_CLIENT_MESSAGE_BYTES else _words(length)
    keys = int.from_bytes(mask, "little") * words & ((1 << (8 * length)) - 1)
    return (int.from_bytes(data, "little") ^ keys).to_bytes(length, "little")


def _words(length: int) -> int:
    return sum(1 << (32 * i) for i in range((length + 3) >> 2))


xor_mask: Callable[[bytes, bytes], bytes]
try:
    from websockets.speedups import apply_mask as xor_mask
except ImportError:  # pragma: no cover - websockets built without its C extension
    xor_mask = xor_mask_ints
