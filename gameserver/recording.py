"""A room's match as a file: its setup, then every join, leave and step with its inputs, and a
state hash now and then; and the replay of such a file, with no sockets (gameserver.replay).

A game is deterministic: the same setup, joins, leaves and inputs give the same state_hash()
(gameserver.game). So a recording keeps only what goes into the game's hooks, in the order the
room called them, and a replay calls them again in that order on a fresh game.

The file is a stream of msgpack values:
    {"format": 1, "game": "module:Class", "seed": S, "tick_rate": T, "snapshot_rate": R,
     "map": NAME or nil, "options": {...}, "room": ID, "started": UNIX SECONDS, "hash_every": K}
(snapshot_rate, the server's, only for the playback export's default: a replay needs none)
then records, each an array:
    [0, name, entity id]          join (the id the game gave)
    [1, entity id]                leave
    [2, {entity id: [[input fields...], ...]}]   one step: each player's inputs, in order
    [3, tick, state hash]         after the step of every K-th tick
A recording cut short (the process killed mid-write) replays up to its last whole record.

Invariants:
- Pure: the room hands its hooks' arguments to the Recorder, which keeps them (one list append
  a record) until the runtime takes them (take(): packed then, off the tick) and writes them
  from a thread of its own (server.py). Nothing here touches a file.
- Bounded: past `max_bytes` a recording stops (it cannot be rotated: a replay needs it from
  the first record), its `full` flag says so, and it costs the tick nothing more.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import IO, Any

import msgpack

from gameserver.game import Game

FORMAT = 1
JOIN, LEAVE, STEP, HASH = range(4)
HASH_EVERY = 30  # ticks between state hashes: once a second at 30 Hz


class RecordingError(Exception):
    """A file that is not a recording this server can replay."""


def game_spec(game_type: type[Game]) -> str:
    """The `module:Class` that names a game type for gameserver.games.load_game()."""
    return f"{game_type.__module__}:{game_type.__qualname__}"


class Recorder:
    """What one room's game is given, kept until take() packs it into msgpack bytes.

    In the tick a record is one append to a list (the step's inputs are the tuples the room
    decoded, kept as they are), and a state hash every hash_every ticks: the packing happens
    in take(), outside the tick."""

    __slots__ = ("_packer", "_pending", "_header", "hash_every", "max_bytes", "written", "full")

    def __init__(
        self, header: Mapping[str, Any], *, hash_every: int = HASH_EVERY, max_bytes: int = 64 << 20
    ) -> None:
        self._packer = msgpack.Packer(use_bin_type=True)
        self.hash_every = hash_every
        self.max_bytes = max_bytes
        self._header: bytes | None = self._packer.pack({"format": FORMAT, "hash_every": hash_every, **header})
        self.written = len(self._header)  # bytes packed so far, header included
        self.full = False  # past max_bytes: nothing more is kept
        self._pending: list[tuple[Any, ...]] = []

    def join(self, name: str, entity_id: int) -> None:
        if not self.full:
            self._pending.append((JOIN, name, entity_id))

    def leave(self, entity_id: int) -> None:
        if not self.full:
            self._pending.append((LEAVE, entity_id))

    def step(self, commands: Mapping[int, list[Any]] | None, game: Game) -> None:
        """After the game's step with `commands`: the step, and every hash_every ticks its hash."""
        if self.full:
            return
        self._pending.append((STEP, commands))
        tick = game.tick
        if tick % self.hash_every == 0:
            self._pending.append((HASH, tick, game.state_hash()))

    def take(self) -> bytes:
        """The records kept since the last take(), packed (the header first, the first time);
        up to max_bytes in all, after which `full` is set and nothing more is kept."""
        out = bytearray()
        if self._header is not None:
            out += self._header
            self._header = None
        pack = self._packer.pack
        pending, self._pending = self._pending, []
        for record in pending:
            data = pack(record)
            if self.written + len(data) > self.max_bytes:
                self.full = True
                break
            out += data
            self.written += len(data)
        return bytes(out)


def read(stream: IO[bytes]) -> tuple[dict[str, Any], Iterator[list[Any]], list[bool]]:
    """The header of a recording and an iterator over its records. The list it returns holds
    one flag, set once the records end in a part record (a recording cut short)."""
    unpacker = msgpack.Unpacker(stream, raw=False, strict_map_key=False, max_buffer_size=16 << 20)
    try:
        header = unpacker.unpack()
    except (msgpack.OutOfData, ValueError, msgpack.ExtraData) as exc:
        raise RecordingError(f"not a recording: no header ({exc})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise RecordingError(f"not a recording of format {FORMAT}: {str(header)[:80]}")
    cut: list[bool] = [False]

    def records() -> Iterator[list[Any]]:
        while True:
            try:
                record = unpacker.unpack()
            except msgpack.OutOfData:
                cut[0] = unpacker.tell() < _size(stream)
                return
            except ValueError as exc:
                raise RecordingError(f"a bad record at byte {unpacker.tell()}: {exc}") from None
            if not isinstance(record, list) or not record or record[0] not in (JOIN, LEAVE, STEP, HASH):
                raise RecordingError(f"a bad record at byte {unpacker.tell()}: {str(record)[:80]}")
            yield record

    return header, records(), cut


def _size(stream: IO[bytes]) -> int:
    here = stream.tell()
    end = stream.seek(0, 2)
    stream.seek(here)
    return end
