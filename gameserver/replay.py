"""`python -m gameserver.replay FILE`: a recorded match (--record) played again, with no
sockets, checking the game's state hash wherever the recording has one.

    python -m gameserver.replay recordings/r-3f9c01a2b4d5.gsrec
    python -m gameserver.replay FILE --until 900      # stop after tick 900 and print the state

Exit codes: 0 the replay matched every recorded hash; 1 it did not (the first tick that differs
is printed); 2 the file is not a recording, or its game or map cannot be found.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attr

from gameserver.config import Config
from gameserver.games import GameNotFound, load_game
from gameserver.maps import GameMap, MapError, find_map, load_map
from gameserver.recording import HASH, JOIN, LEAVE, STEP, RecordingError, read
from gameserver.room import Room


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


def replay(path: Path, until: int | None = None, map_path: Path | None = None) -> Replayed:
    """Play the recording at `path` again (up to the step of tick `until`). Raises
    RecordingError (not a recording; no such game or map) or Desync."""
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
        done = Replayed(header=header, first_tick=game.tick, tick=game.tick, room=room)
        for record in records:
            kind = record[0]
            if kind == STEP:
                if until is not None and game.tick >= until:
                    break
                commands = {
                    eid: [make_input(*fields) for fields in inputs] for eid, inputs in record[1].items()
                }
                game.step(commands)
                game.events()
                done.steps += 1
                done.tick = game.tick
            elif kind == JOIN:
                eid = game.join(record[1])
                if eid != record[2]:
                    raise Desync(
                        f"at tick {game.tick} the join of {record[1]!r} gave entity {eid}, "
                        f"recorded {record[2]}"
                    )
                done.joins += 1
            elif kind == LEAVE:
                game.leave(record[1])
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
    a = p.parse_args(argv)
    try:
        done = replay(a.file, a.until, a.map_path)
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
    if a.until is not None:
        print(json.dumps(state(done)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
