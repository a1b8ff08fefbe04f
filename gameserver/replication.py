"""Snapshots, baselines and deltas.

Invariants:
- A Frame is the replicated view of the world at one snapshot tick: per entity the quantized
  row (qx, qy, angle, hp, kind, name). Rows are tuples, so comparing two frames is exact.
- A delta from baseline B to tick T, applied by Mirror to the client's copy of B, gives
  exactly the frame of T. If B is not in the history any more, the client gets a full snapshot.
- The encoded body of a delta depends only on (B, T), never on the player, so it is built once
  per tick for each distinct baseline and shared by every player holding that baseline.
- With interest management, a player holds only the entities of its view; entering and leaving
  it are spawns and removals, and each entity's spawn or change record is encoded once per tick
  (per baseline) and shared by every player who sees it.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Iterable
from typing import Any, Final

import attr

from gameserver import codec
from gameserver.messages import Snapshot
from gameserver.schema import Codecs, MirrorFault, Row, Schema

# Where every row holds its position and its kind (gameserver.schema: the rest follows the
# game's declaration).
QX: Final = 0
QY: Final = 1
KIND: Final = 2


# Frozen as gameserver.world.Rules is (slots=False, on_setattr), in both builds; compared by
# identity: a frame's rows are only ever read, and comparing them would cost a pass over them.
@attr.s(auto_attribs=True, slots=False, eq=False, on_setattr=attr.setters.frozen)
class Frame:
    tick: int
    rows: dict[int, Row]


def delta_body(base: Frame | None, cur: Frame, codecs: Codecs) -> bytes:
    """The encoded spawns, changes and removals that turn `base` (None: nothing) into `cur`.
    The records follow the schema whose generated functions `codecs` are."""
    spawns: list[list[Any]] = []
    flat: list[Any] = []
    old_rows = base.rows if base is not None else {}
    codecs.delta_flat(old_rows, cur.rows, spawns, flat)
    removals = [eid for eid in old_rows if eid not in cur.rows]
    return codec.encode_snapshot_body(spawns, flat, removals)


@attr.s(auto_attribs=True, slots=True, eq=False)
class Replicator:
    """Keeps recent frames and hands out the shared snapshot body for each baseline."""

    history_len: int = 64
    schema: Schema = attr.ib(kw_only=True)  # what the rows hold
    _codecs: Codecs = attr.ib(init=False)
    frames: dict[int, Frame] = attr.ib(init=False, factory=dict)
    _order: deque[int] = attr.ib(init=False, factory=deque)
    _bodies: dict[int | None, bytes] = attr.ib(init=False, factory=dict)
    current: Frame | None = attr.ib(init=False, default=None)
    bodies_built: int = attr.ib(init=False, default=0)  # for tests and stats
    new_ids: list[int] = attr.ib(init=False, factory=list)  # in the current frame, not the one before
    # per tick, for views: encoded spawn records by entity, change records by baseline and entity
    _heads: dict[int | None, bytes] = attr.ib(init=False, factory=dict)
    _spawn_chunks: dict[int, bytes] = attr.ib(init=False, factory=dict)
    _change_chunks: dict[int, dict[int, tuple[bytes, int]]] = attr.ib(init=False, factory=dict)
    _previous: int | None = attr.ib(init=False, default=None)  # the snapshot before current
    # per tick: change records and item counts by entity, and the ids that changed
    _previous_changes: tuple[dict[int, bytes], dict[int, int], set[int]] | None = attr.ib(
        init=False, default=None
    )
    # per tick, for checksums: each entity's part, and the whole frame's sum
    _entity_sums: dict[int, int] = attr.ib(init=False, factory=dict)
    _frame_sum: int | None = attr.ib(init=False, default=None)

    def __attrs_post_init__(self) -> None:
        self._codecs = self.schema.codecs

    def capture(self, tick: int, rows: dict[int, Row]) -> Frame:
        """The game's rows after the step of `tick` become the current frame (kept, not copied:
        the game makes a new dict each step, and a row that did not change is the same tuple).
        new_ids: the ids that were not in the previous frame."""
        previous = self.current
        frame = Frame(tick=tick, rows=rows)
        self.new_ids = list(rows.keys() - previous.rows.keys()) if previous is not None else list(rows)
        self._previous = self.current.tick if self.current is not None else None
        self._previous_changes = None
        self.current = frame
        self.frames[frame.tick] = frame
        self._order.append(frame.tick)
        while len(self._order) > self.history_len:
            del self.frames[self._order.popleft()]
        self._bodies.clear()
        self._heads.clear()
        self._spawn_chunks.clear()
        self._change_chunks.clear()
        self._entity_sums.clear()
        self._frame_sum = None
        return frame

    def frame_checksum(self) -> int:
        """The checksum of the whole current frame: what every client holds after its snapshot
        when there is no view. Computed once a tick, on first use."""
        total = self._frame_sum
        if total is None:
            total = self._frame_sum = sum(self._checksum_parts().values()) & codec.CHECKSUM_MAX
        return total

    def checksum(self, ids: Iterable[int]) -> int:
        """The checksum of the current frame's entities `ids` (a client's view): the sum of
        their codec.entity_checksum(), each computed once a tick for the whole frame."""
        return sum(map(self._checksum_parts().__getitem__, ids)) & codec.CHECKSUM_MAX

    def _checksum_parts(self) -> dict[int, int]:
        """codec.entity_checksum() of every entity of the current frame, built on first use in
        a tick: then each client's checksum is a sum over its view at C speed."""
        parts = self._entity_sums
        if not parts:
            cur = self.current
            assert cur is not None, "capture() first"
            record, part = self._codecs.spawn_record, codec.entity_checksum
            parts.update({eid: part(record(eid, row)) for eid, row in cur.rows.items()})
        return parts

    def _changes_since_previous(self) -> tuple[dict[int, bytes], dict[int, int], set[int]]:
        """Change records (and their item counts) from the previous snapshot to this one, for
        every entity in both, and the ids of those that changed; built once per tick, on first
        use."""
        if self._previous_changes is None:
            cur = self.current
            assert cur is not None and self._previous is not None
            base_rows = self.frames[self._previous].rows
            chunks: dict[int, bytes] = {}
            counts: dict[int, int] = {}
            changed: set[int] = set()
            change_items = self._codecs.change_items
            for eid, row in cur.rows.items():
                old = base_rows.get(eid)
                if old is None:
                    continue  # new since: no client holds it at that baseline
                items = change_items(eid, old, row) if old is not row else None
                if items:
                    chunks[eid] = codec.encode_items(items)
                    counts[eid] = len(items)
                    changed.add(eid)
                else:
                    chunks[eid] = b""
                    counts[eid] = 0
            self._previous_changes = (chunks, counts, changed)
        return self._previous_changes

    def _usable(self, baseline: int | None) -> int | None:
        """The baseline itself, or None (a full snapshot) when it left the history."""
        return baseline if baseline is not None and baseline in self.frames else None

    def _head(self, baseline: int | None) -> bytes:
        assert self.current is not None, "capture() first"
        head = self._heads.get(baseline)
        if head is None:
            head = self._heads[baseline] = codec.encode_snapshot_head(self.current.tick, baseline)
        return head

    def view_body_for(self, baseline: int | None, held: set[int], visible: set[int]) -> tuple[bytes, bytes]:
        """For a client that holds the entities `held` as of `baseline` and should now see
        `visible`: the snapshot's head and body, as body_for(). Spawn and change records are
        encoded once per entity (and baseline) per tick and shared by every player who sees it."""
        cur = self.current
        assert cur is not None, "capture() first"
        baseline = self._usable(baseline)
        if baseline is None:
            held = set()
        # In a steady view the client holds exactly what it sees: an equality test, which
        # builds no set. Otherwise one intersection, and the two differences only when the
        # sizes say that something entered or left.
        if len(held) == len(visible) and held == visible:
            common = held  # only read below
        else:
            common = held & visible if held else set()
        spawn_cache = self._spawn_chunks
        spawn_record = self._codecs.spawn_record
        spawns: list[bytes] = []
        if len(common) < len(visible):
            for eid in visible - held:
                chunk = spawn_cache.get(eid)
                if chunk is None:
                    chunk = spawn_cache[eid] = codec.encode_spawn(spawn_record(eid, cur.rows[eid]))
                spawns.append(chunk)
        changes: list[bytes] = []
        n_items = 0
        if baseline is not None and baseline == self._previous:
            # Nearly every client holds the previous snapshot: its change records were built
            # for every entity at once, and each client's are picked out at C speed.
            chunks, counts, changed = self._changes_since_previous()
            # Most standing still: the few that changed first (each set operation walks the
            # smaller set), instead of a record, mostly empty, for everyone in view.
            stay = changed & common if 3 * len(changed) < 2 * len(chunks) else common
            changes = list(map(chunks.__getitem__, stay))
            n_items = sum(map(counts.__getitem__, stay))
        elif baseline is not None:
            cache = self._change_chunks.get(baseline)
            if cache is None:
                cache = self._change_chunks[baseline] = {}
            base_rows = self.frames[baseline].rows
            cur_rows = cur.rows
            change_items = self._codecs.change_items
            for eid in common:
                entry = cache.get(eid)
                if entry is None:
                    items = change_items(eid, base_rows[eid], cur_rows[eid])
                    entry = cache[eid] = (codec.encode_items(items), len(items)) if items else (b"", 0)
                if entry[1]:
                    changes.append(entry[0])
                    n_items += entry[1]
        removals = list(held - visible) if len(common) < len(held) else []
        return self._head(baseline), codec.encode_snapshot_body_parts(spawns, n_items, changes, removals)

    def body_for(self, baseline: int | None) -> tuple[bytes, bytes]:
        """For a client holding `baseline`: the snapshot's head up to the baseline field, and
        its body after last_seq. The player's own last_seq goes between the two."""
        cur = self.current
        assert cur is not None, "capture() first"
        baseline = self._usable(baseline)
        body = self._bodies.get(baseline)
        if body is None:
            base = self.frames[baseline] if baseline is not None else None
            body = self._bodies[baseline] = delta_body(base, cur, self._codecs)
            self.bodies_built += 1
        return self._head(baseline), body


Strip = tuple[list[int], list[int], list[int]]  # xs (sorted), ids, ys: one entry per entity


@attr.s(auto_attribs=True, slots=True, eq=False)
class Grid:
    """Entities in horizontal strips `cell` quanta high, each sorted by x, rebuilt from each
    snapshot frame.

    A view's rectangle covers a run of strips: each strip is cut to the rectangle's x range by
    bisection, so only the entities of the strips across its top and bottom edges are checked
    one by one (square cells would also leave every cell across its left and right edges).
    """

    cell: int
    strips: dict[int, Strip] = attr.ib(init=False, factory=dict)

    def rebuild(self, frame: Frame) -> None:
        buckets: dict[int, list[tuple[int, int, int]]] = {}
        c = self.cell
        for eid, row in frame.rows.items():
            key = row[QY] // c
            bucket = buckets.get(key)
            if bucket is None:
                buckets[key] = [(row[QX], row[QY], eid)]
            else:
                bucket.append((row[QX], row[QY], eid))
        strips: dict[int, Strip] = {}
        for key, bucket in buckets.items():
            bucket.sort()
            strips[key] = ([e[0] for e in bucket], [e[2] for e in bucket], [e[1] for e in bucket])
        self.strips = strips


# A value, frozen and equal by value as gameserver.world.Rules is, in both builds
@attr.s(auto_attribs=True, slots=False, unsafe_hash=True, on_setattr=attr.setters.frozen)
class View:
    """A player's interest rectangle, in quanta: half extents to enter, and to stay."""

    half_w_in: int
    half_h_in: int
    half_w_out: int
    half_h_out: int

    def visible(self, frame: Frame, grid: Grid, eid: int, held: set[int]) -> set[int]:
        """Entities inside the inner rectangle, plus those held that are still inside the outer
        one: an entity at the edge does not flicker in and out.

        In a strip that lies wholly inside the inner rectangle's y range, the entities within
        its x range are taken as one slice, and those in the outer band beside it by a set
        intersection with `held`; only the strips across the y edges are checked one by one.
        """
        me = frame.rows.get(eid)
        if me is None:
            return set()
        ex, ey = me[QX], me[QY]
        ix0, ix1, iy0, iy1 = (
            ex - self.half_w_in,
            ex + self.half_w_in,
            ey - self.half_h_in,
            ey + self.half_h_in,
        )
        ox0, ox1, oy0, oy1 = (
            ex - self.half_w_out,
            ex + self.half_w_out,
            ey - self.half_h_out,
            ey + self.half_h_out,
        )
        c = grid.cell
        strips = grid.strips
        out: set[int] = set()
        for key in range(oy0 // c, oy1 // c + 1):
            strip = strips.get(key)
            if strip is None:
                continue
            xs, ids, ys = strip
            lo = bisect_left(xs, ox0)
            hi = bisect_right(xs, ox1, lo)
            if lo == hi:
                continue
            top = key * c
            if iy0 <= top and top + c - 1 <= iy1:
                a = bisect_left(xs, ix0, lo, hi)
                b = bisect_right(xs, ix1, a, hi)
                out.update(ids[a:b])
                if held:
                    if lo < a:
                        out.update(held.intersection(ids[lo:a]))
                    if b < hi:
                        out.update(held.intersection(ids[b:hi]))
                continue
            for k in range(lo, hi):  # x is inside the outer rectangle's range here
                y = ys[k]
                if oy0 <= y <= oy1:
                    other = ids[k]
                    if (iy0 <= y <= iy1 and ix0 <= xs[k] <= ix1) or other in held:
                        out.add(other)
        return out


class DesyncError(Exception):
    """A snapshot does not fit what the mirror holds: a server bug or a broken stream."""


class ChecksumMismatch(DesyncError):
    """A snapshot applied, but what the mirror then holds is not what the server says the client
    holds (its checksum): the client should send RESYNC, and the next snapshot is full."""


@attr.s(auto_attribs=True, slots=True, eq=False)
class Mirror:
    """The client's copy of the replicated world, rebuilt from snapshots only, as the schema
    says (the one WELCOME carries, for a client of any game). It holds rows as the server does
    (as lists): (qx, qy, kind, *the kind's other fields in declaration order)."""

    schema: Schema
    tick: int | None = None
    rows: dict[int, list[Any]] = attr.ib(factory=dict)
    checksums_matched: int = 0  # snapshots whose checksum this mirror checked and agreed with

    def apply(self, snap: Snapshot) -> None:
        if snap.baseline is None:
            self.rows = {}
        elif snap.baseline != self.tick:
            raise DesyncError(f"snapshot {snap.tick} is a delta from {snap.baseline}, I hold {self.tick}")
        if self.tick is not None and snap.tick <= self.tick and snap.baseline is not None:
            raise DesyncError(f"snapshot {snap.tick} does not advance past {self.tick}")
        rows = self.rows
        for eid in snap.removals:
            if rows.pop(eid, None) is None:
                raise DesyncError(f"removal of unknown entity {eid}")
        schema = self.schema
        for s in snap.spawns:
            if s.id in rows:
                raise DesyncError(f"spawn of entity {s.id} already held")
            try:
                kind = schema.kind(s.kind)
            except KeyError:
                raise DesyncError(
                    f"spawn of entity {s.id} of kind {s.kind}, which the schema lacks"
                ) from None
            if len(s.values) < len(kind.fields):  # more are fields of a later version: ignored
                raise DesyncError(
                    f"spawn of entity {s.id}: {len(s.values)} values for {len(kind.fields)} fields"
                )
            for f, value in zip(kind.fields, s.values, strict=False):
                why = f.check(value)
                if why is not None:
                    raise DesyncError(f"spawn of entity {s.id}: {f.name} must be {why}, not {value!r}")
            rows[s.id] = schema.codecs.spawn_row([s.id, s.kind, *s.values])
        flat: list[Any] = []
        for c in snap.changes:
            flat.append(c.id)
            flat.append(c.mask)
            flat.extend(c.values)
        try:
            schema.codecs.apply_flat(rows, flat)
        except MirrorFault as fault:
            raise DesyncError(str(fault)) from None
        self.tick = snap.tick
        if snap.checksum is not None:
            held = self.checksum()
            if held != snap.checksum:
                raise ChecksumMismatch(
                    f"snapshot {snap.tick}: what is held sums to {held}, the server says {snap.checksum}"
                )
            self.checksums_matched += 1

    def checksum(self) -> int:
        """The checksum of what is held, as a snapshot's `checksum` field gives the server's."""
        record = self.schema.codecs.spawn_record
        total = 0
        for eid, row in self.rows.items():
            total += codec.entity_checksum(record(eid, row))
        return total & codec.CHECKSUM_MAX

    def as_rows(self) -> dict[int, Row]:
        return {eid: tuple(r) for eid, r in self.rows.items()}

    def values(self, eid: int) -> dict[str, Any]:
        """An entity's fields by name (positions in quanta)."""
        row = self.rows[eid]
        return self.schema.kind(row[KIND]).values(row)
