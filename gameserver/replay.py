"""`python -m gameserver.replay FILE`: a recorded match (--record) played again, with no
sockets, checking the game's state hash wherever the recording has one.

    python -m gameserver.replay recordings/r-3f9c01a2b4d5.gsrec
    python -m gameserver.replay FILE --until 900      # stop after tick 900 and print the state
    python -m gameserver.replay FILE --export match.gsplay   # a playback file for the browser

Exit codes: 0 the replay matched every recorded hash; 1 it did not (the first tick that differs
is printed); 2 the file is not a recording, or its game or map cannot be found, or the
playback file cannot be written.

A playback file (--export; client_demo/playback.html plays it) is one msgpack map:
    {"format": "gameserver-playback", "version": 1, "game": NAME, "game_spec": "module:Class",
     "room": ID, "map": NAME or nil, "seed": S, "tick_rate": T, "snapshot_rate": R,
     "rules": {...}, "schema": {...}, "first_tick": F, "last_tick": L, "snapshots": N,
     "messages": [bytes, ...]}
`rules` and `schema` are WELCOME's. `messages` are server messages exactly as a spectator with
no view is sent them (docs/protocol.md): a WELCOME (entity 0) first, then each SNAPSHOT (a full
one first, then deltas from the one before, with its shots; none when nothing changed, but one
a second anyway, as the room skips them) and a SCOREBOARD before the snapshot of each tick the
room would send one. They are built by the server's own code (Replicator, codec), so the
browser decodes them with its usual protocol.js and mirror.js.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attr
import msgpack

from gameserver import codec
from gameserver.config import Config
from gameserver.games import GameNotFound, load_game
from gameserver.maps import GameMap, MapError, find_map, load_map
from gameserver.messages import PROTOCOL_VERSION, Welcome
from gameserver.recording import HASH, JOIN, LEAVE, STEP, RecordingError, read
from gameserver.room import EMPTY_BODY, Room, ScoreboardUpdate

PLAYBACK_FORMAT = "gameserver-playback"
PLAYBACK_VERSION = 1


class Desync(Exception):
    """The replay went another way than the recording."""


@attr.s(auto_attribs=True, slots=True)
class Replayed:
    header: dict[str, Any]
    first_tick: int = 0
    tick: int = 0
    steps: int = 0
    joins: int = 0
    leaves: int = 0
    hashes: int = 0  # recorded hashes the replay matched
    cut: bool = False  # the recording ended in a part record
    room: Room | None = None
    exporter: Exporter | None = None


class Exporter:
    """The messages a spectator with no view is sent while the replay plays, built as the room
    builds them (Room._tick, the branch without a view): the room's Replicator captures the
    game's rows every snapshot tick and gives the delta from the snapshot sent before, the
    step's events become the snapshot's shots, and the scoreboard goes when it changed (at most
    once a second). What the recording cannot know is left out: no player is ever away (a
    dropped connection is not recorded, only the leave when it expires)."""

    def __init__(self, room: Room, snapshot_rate: int | None = None) -> None:
        rate = room.tick_rate if snapshot_rate is None else snapshot_rate
        if rate < 1 or room.tick_rate % rate:
            raise RecordingError(f"a snapshot rate of {rate} does not divide the tick rate {room.tick_rate}")
        self.room = room
        self.snapshot_rate = rate
        self.every = room.tick_rate // rate
        self.rules = dict(room.game.rules())
        self.schema = room.schema.to_wire()
        welcome = Welcome(
            version=PROTOCOL_VERSION,
            entity_id=0,  # a spectator's
            tick_rate=room.tick_rate,
            snapshot_rate=rate,
            session_token="",
            room=room.room_id,
            tick=room.game.tick,
            rules=self.rules,
            map=room.game_map.name if room.game_map is not None else None,
            schema=self.schema,
        )
        self.messages: list[bytes] = [codec.encode_server(welcome)]
        self.snapshots = 0
        self.first_tick: int | None = None  # of the first snapshot
        self.last_tick: int | None = None
        self._held: int | None = None  # the tick of the last snapshot: the next one's baseline
        self._shots: list[tuple[int, int | None]] = []
        self._names: dict[int, str] = {}  # the players in the game, by entity id
        self._roster = 0
        self._scores_shown: tuple[int, int] | None = None
        self._scores_tick = -(10**9)

    def join(self, name: str, entity_id: int) -> None:
        self._names[entity_id] = name
        self._roster += 1

    def leave(self, entity_id: int) -> None:
        self._names.pop(entity_id, None)
        self._roster += 1

    def step(self, events: Any) -> None:
        """After a step and its events: on a snapshot tick, the messages of that tick."""
        room, game = self.room, self.room.game
        if events:
            self._shots.extend(events)
        tick = game.tick
        if tick % self.every:
            return
        replicator = room.replicator
        replicator.capture(tick, game.rows)
        scoreboard = self._scoreboard_if_changed(tick)
        if scoreboard is not None:
            self.messages.append(scoreboard)
        shots = codec.encode_shots(self._shots)
        self._shots = []
        head, body = replicator.body_for(self._held)
        held = self._held
        if (
            body == EMPTY_BODY
            and shots == codec.NO_SHOTS
            and held is not None
            and tick - held < room.tick_rate
        ):
            return  # nothing changed: the room sends no snapshot, but one a second anyway
        self.messages.append(head + codec.pack_optional_int(None) + body + shots)
        self._held = tick
        self.snapshots += 1
        if self.first_tick is None:
            self.first_tick = tick
        self.last_tick = tick

    def _scoreboard_if_changed(self, tick: int) -> bytes | None:
        """Room._scoreboard_if_changed(), for the players of the recording: their SCOREBOARD."""
        game = self.room.game
        key = (self._roster, game.scores_version())
        if key == self._scores_shown or tick - self._scores_tick < self.room.tick_rate:
            return None
        self._scores_shown = key
        self._scores_tick = tick
        lines = [(eid, name, *game.score(eid), 0) for eid, name in self._names.items()]
        lines.sort(key=lambda ln: (-ln[2], ln[3], ln[0]))
        return ScoreboardUpdate(lines).shared

    def playback(self, header: dict[str, Any]) -> dict[str, Any]:
        """The playback file's map (see the module's docstring)."""
        room = self.room
        return {
            "format": PLAYBACK_FORMAT,
            "version": PLAYBACK_VERSION,
            "game": room.game_type.name,
            "game_spec": header.get("game"),
            "room": room.room_id,
            "map": room.game_map.name if room.game_map is not None else None,
            "seed": header.get("seed"),
            "tick_rate": room.tick_rate,
            "snapshot_rate": self.snapshot_rate,
            "rules": self.rules,
            "schema": self.schema,
            "first_tick": self.first_tick,
            "last_tick": self.last_tick,
            "snapshots": self.snapshots,
            "messages": self.messages,
        }


def replay(
    path: Path,
    until: int | None = None,
    map_path: Path | None = None,
    *,
    snapshot_rate: int | None = None,
    export: bool = False,
) -> Replayed:
    """Play the recording at `path` again (up to the step of tick `until`). Raises
    RecordingError (not a recording; no such game or map) or Desync. With `export`, the
    result's `exporter` holds the messages a spectator would have been sent (snapshot_rate:
    the snapshots a second, by default the recording's, else one a tick)."""
    with path.open("rb") as stream:
        header, records, cut = read(stream)
        try:
            game_type = load_game(str(header["game"]))
        except (GameNotFound, KeyError) as exc:
            raise RecordingError(f"the recording's game: {exc}") from None
        game_map = _map(header.get("map"), map_path, game_type.map_clearance)
        room = Room(
            tick_rate=int(header["tick_rate"]),
            seed=int(header["seed"]),
            game_map=game_map,
            game_type=game_type,
            options=dict(header.get("options") or {}),
            room_id=str(header.get("room", "r-000000000000")),
        )
        game, make_input = room.game, room.input_type
        if snapshot_rate is None and type(header.get("snapshot_rate")) is int:
            snapshot_rate = header["snapshot_rate"]  # the server's, when it wrote it
        exporter = Exporter(room, snapshot_rate) if export else None
        done = Replayed(header=header, first_tick=game.tick, tick=game.tick, room=room, exporter=exporter)
        for record in records:
            kind = record[0]
            if until is not None and game.tick >= until and kind != HASH:
                # the state right after the step of `until` (its hash checked): what the snapshot
                # of that tick shows; a join or leave recorded after it belongs to the next tick
                break
            if kind == STEP:
                commands = {
                    eid: [make_input(*fields) for fields in inputs] for eid, inputs in record[1].items()
                }
                game.step(commands)
                events = game.events()
                if exporter is not None:
                    exporter.step(events)
                done.steps += 1
                done.tick = game.tick
            elif kind == JOIN:
                eid = game.join(record[1])
                if eid != record[2]:
                    raise Desync(
                        f"at tick {game.tick} the join of {record[1]!r} gave entity {eid}, "
                        f"recorded {record[2]}"
                    )
                if exporter is not None:
                    exporter.join(record[1], eid)
                done.joins += 1
            elif kind == LEAVE:
                game.leave(record[1])
                if exporter is not None:
                    exporter.leave(record[1])
                done.leaves += 1
            elif kind == HASH:
                tick, recorded = record[1], record[2]
                if tick != game.tick:
                    raise Desync(f"a hash of tick {tick} came after tick {game.tick}")
                replayed = game.state_hash()
                if replayed != recorded:
                    raise Desync(f"tick {tick}: the state hash is {replayed}, recorded {recorded}")
                done.hashes += 1
        done.cut = cut[0]
    return done


def _map(name: Any, map_path: Path | None, clearance: float) -> GameMap | None:
    if map_path is not None:
        return load_map(map_path, clearance=clearance)
    if name is None:
        return None
    try:
        return load_map(find_map(str(name), Config().assets_dir / "maps"), clearance=clearance)
    except MapError as exc:
        raise RecordingError(f"the recording's map {name!r}: {exc} (name its file with --map)") from None


def state(done: Replayed) -> dict[str, Any]:
    """What the game holds after the replay: its tick, hash and rows."""
    assert done.room is not None
    game = done.room.game
    return {
        "tick": game.tick,
        "state_hash": game.state_hash(),
        "rows": {str(eid): list(row) for eid, row in sorted(game.rows.items())},
    }


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m gameserver.replay", description=__doc__.split("\n\n")[0])
    p.add_argument("file", type=Path, help="a recording (--record DIR writes one per room)")
    p.add_argument("--until", type=int, help="stop after the step of this tick and print the state as JSON")
    p.add_argument("--map", type=Path, dest="map_path", help="the map's .tmj, when it is not in assets/maps/")
    p.add_argument(
        "--export",
        type=Path,
        metavar="OUT",
        help="write a playback file for client_demo/playback.html: the match as a spectator's "
        "WELCOME, SNAPSHOT and SCOREBOARD messages (up to --until, when given)",
    )
    p.add_argument(
        "--snapshot-rate",
        type=int,
        metavar="HZ",
        help="with --export: snapshots a second, a divisor of the tick rate (default: the "
        "recording server's --snapshot-rate, or one a tick for a recording that does not say)",
    )
    a = p.parse_args(argv)
    if a.snapshot_rate is not None and a.export is None:
        p.error("--snapshot-rate goes with --export")
    try:
        done = replay(a.file, a.until, a.map_path, snapshot_rate=a.snapshot_rate, export=a.export is not None)
        if done.exporter is not None:
            data = msgpack.packb(done.exporter.playback(done.header), use_bin_type=True)
            a.export.write_bytes(data)
    except (RecordingError, OSError) as exc:
        print(f"python -m gameserver.replay: error: {exc}", file=sys.stderr)
        return 2
    except Desync as exc:
        print(f"python -m gameserver.replay: desync: {exc}", file=sys.stderr)
        return 1
    h = done.header
    what = f"{h.get('game')}, map {h.get('map')}, seed {h.get('seed')}, {h.get('tick_rate')} Hz"
    print(
        f"{h.get('room')} ({what}): "
        f"replayed ticks {done.first_tick + 1}..{done.tick}, {done.joins} joins, {done.leaves} leaves; "
        f"{done.hashes} state hashes matched"
        + ("; the recording was cut short after its last whole record" if done.cut else "")
    )
    if done.exporter is not None:
        e = done.exporter
        print(
            f"exported {e.snapshots} snapshots (ticks {e.first_tick}..{e.last_tick}, "
            f"{e.snapshot_rate} a second) to {a.export}: {len(data)} bytes"
        )
    if a.until is not None:
        print(json.dumps(state(done)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
