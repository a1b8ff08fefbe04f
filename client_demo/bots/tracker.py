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

from gameserver.replication import DesyncError
from gameserver.schema import MirrorFault, Schema
from gameserver.world import SCHEMA


class Tracker:
    """Rows by entity id, as Mirror.rows: (qx, qy, kind, *the kind's other fields), as the
    schema lays them out (the one the WELCOME carried)."""

    __slots__ = ("rows", "tick", "_apply_flat", "_spawn_row")

    def __init__(self, schema: Schema = SCHEMA) -> None:
        self.rows: dict[int, list[Any]] = {}
        self.tick: int | None = None
        self._apply_flat = schema.codecs.apply_flat
        self._spawn_row = schema.codecs.spawn_row

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
        try:
            for eid in removals:
                if rows.pop(eid, None) is None:
                    raise DesyncError(f"removal of unknown entity {eid}")
            spawn_row = self._spawn_row
            for s in spawns:  # [id, kind, *values]: the row the schema lays out
                rows[s[0]] = spawn_row(s)
            moving = self._apply_flat(rows, flat)
        except MirrorFault as fault:
            raise DesyncError(str(fault)) from None
        except (IndexError, TypeError, KeyError, ValueError) as exc:
            raise ValueError(f"a malformed snapshot ({type(exc).__name__})") from None
        self.tick = tick
        return v, moving
