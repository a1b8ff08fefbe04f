"""A fighting bot's lean copy of the world: what it needs to aim, without the codec's checks.

A fighting or chasing bot needs every position in its view, so it reads every snapshot. Through
codec.decode_server and a replication.Mirror, which check every field and build a message
object per record, that cost the bots' process about 1.6 times the server's CPU per player on
the arena map. The verifying bots (--verify K) still take that path and count any fault; the
other fighters read the decoded msgpack array straight into rows of the Mirror's layout, and
only a snapshot that does not fit what they hold (a delta from another baseline, a change or
removal of an entity they do not hold) is an error.
"""

from __future__ import annotations

from typing import Any

import msgpack

from gameserver.messages import Field
from gameserver.replication import ANGLE, HP, QX, QY, DesyncError

# Plain ints, as in the codec and the replicator: IntFlag arithmetic is slow in this loop.
_X, _Y, _ANGLE, _HP = int(Field.X), int(Field.Y), int(Field.ANGLE), int(Field.HP)
_XY, _XY_ANGLE = _X | _Y, _X | _Y | _ANGLE  # nearly every record: a move, or a move with a turn


class Tracker:
    """Rows by entity id, as Mirror.rows: [qx, qy, angle, hp, kind, name]."""

    __slots__ = ("rows", "tick")

    def __init__(self) -> None:
        self.rows: dict[int, list[Any]] = {}
        self.tick: int | None = None

    def apply(self, payload: bytes | bytearray | memoryview) -> tuple[list[Any], int]:
        """Apply one SNAPSHOT message; returns its decoded array and how many of its change
        records move an entity. Raises DesyncError, or ValueError for a message that is not a
        well-formed snapshot."""
        try:
            v = msgpack.unpackb(payload)
            tick, baseline, spawns, flat, removals = v[1], v[2], v[4], v[5], v[6]
        except Exception as exc:  # msgpack's errors, or an array too short
            raise ValueError(f"not a snapshot ({type(exc).__name__})") from None
        if baseline is None:
            self.rows = {}
        elif baseline != self.tick:
            raise DesyncError(f"snapshot {tick} is a delta from {baseline}, I hold {self.tick}")
        rows = self.rows
        moving = 0
        try:
            for eid in removals:
                if rows.pop(eid, None) is None:
                    raise DesyncError(f"removal of unknown entity {eid}")
            for s in spawns:  # codec.spawn_record(): id, kind, name, qx, qy, angle, hp
                rows[s[0]] = [s[3], s[4], s[5], s[6], s[1], s[2]]  # as Mirror.apply() keeps a row
            i, n = 0, len(flat)
            while i < n:
                row = rows.get(flat[i])
                if row is None:
                    raise DesyncError(f"change to unknown entity {flat[i]}")
                mask = flat[i + 1]
                # The common records first, their masks compared whole: in CPython 3.11 int ==
                # is specialised, & is a generic call.
                if mask == _XY:
                    row[QX] += flat[i + 2]
                    row[QY] += flat[i + 3]
                    i += 4
                    moving += 1
                    continue
                if mask == _XY_ANGLE:
                    row[QX] += flat[i + 2]
                    row[QY] += flat[i + 3]
                    row[ANGLE] = flat[i + 4]
                    i += 5
                    moving += 1
                    continue
                i += 2
                if mask & _XY:
                    moving += 1
                    if mask & _X:
                        row[QX] += flat[i]
                        i += 1
                    if mask & _Y:
                        row[QY] += flat[i]
                        i += 1
                if mask & _ANGLE:
                    row[ANGLE] = flat[i]
                    i += 1
                if mask & _HP:
                    row[HP] = flat[i]
                    i += 1
        except (IndexError, TypeError, KeyError) as exc:
            raise ValueError(f"a malformed snapshot ({type(exc).__name__})") from None
        self.tick = tick
        return v, moving
