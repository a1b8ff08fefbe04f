"""What one client address may hold at once: counts per address, with a cap.

Invariants:
- Pure: no sockets, no clock. A holder asks allows() before it takes something for an
  address, add()s it when it does, and release()s it exactly once when it lets go.
- The table holds only addresses that hold something: it is as big as what is held.
- Addresses in `unlimited` (by default the loopback ones a reverse proxy on the same machine or
  local tools connect from) and a cap of 0 are not limited, but still counted.
"""

from __future__ import annotations

from collections.abc import Iterable


class PerAddress:
    __slots__ = ("cap", "unlimited", "counts")

    def __init__(self, cap: int, unlimited: Iterable[str] = ()) -> None:
        self.cap = cap  # 0: no cap
        self.unlimited = frozenset(unlimited)
        self.counts: dict[str, int] = {}

    def allows(self, address: str) -> bool:
        """One more would be within the cap."""
        return not self.cap or address in self.unlimited or self.counts.get(address, 0) < self.cap

    def add(self, address: str) -> None:
        """Count one more for the address (the holder checked allows() when it had to)."""
        self.counts[address] = self.counts.get(address, 0) + 1

    def release(self, address: str) -> None:
        left = self.counts.get(address, 0) - 1
        if left > 0:
            self.counts[address] = left
        else:
            self.counts.pop(address, None)

    def held(self, address: str) -> int:
        return self.counts.get(address, 0)
