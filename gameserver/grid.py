"""The position grid shared by the simulation, collision and maps.

Positions are multiples of 1/QUANTA unit: exact in binary floats, so the browser's twin of the
rules computes the same numbers, and a full-speed step is a one- or two-byte delta on the wire.
"""

from __future__ import annotations

import math

QUANTA = 8


def snap(v: float) -> float:
    """Round to the position grid (half up, as Math.floor(v * 8 + 0.5) / 8 in the browser)."""
    return math.floor(v * QUANTA + 0.5) / QUANTA
