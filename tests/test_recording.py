"""Recordings (--record, gameserver.recording) and their replay (python -m gameserver.replay):
a match played tick by tick with no sockets, and one on a real server with bots."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import msgpack
import pytest
from rover import Rover
from server_process import ROOT, ServerProcess

from client_demo.bots import run_bots
from gameserver.config import Config
from gameserver.game import FLOAT, Game
from gameserver.games.arena import Arena
from gameserver.games.ball import Ball
from gameserver.maps import GameMap, find_map, load_map
from gameserver.recording import HASH, STEP, Recorder, RecordingError, game_spec, read
from gameserver.replay import Desync, replay
from gameserver.testing import Match, Player


def replay_command(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m gameserver.replay PATH ARGS` as a process of its own."""
    cmd = [sys.executable, "-m", "gameserver.replay", str(path), *args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)


def yard() -> GameMap:
    return load_map(find_map("yard", Config().assets_dir / "maps"), clearance=Arena.map_clearance)


def play(
    game_type: type[Game],
    path: Path,
    ticks: int = 240,
    game_map: GameMap | None = None,
    max_bytes: int = 1 << 30,
) -> dict[int, str]:
    """A match of `game_type` with random inputs, a leave and a late join, recorded to `path`;
    the state hash after every tick, by tick."""
    match = Match(game_type, seed=11, game_map=game_map)
    header = {
        "game": game_spec(game_type),
        "seed": 11,
        "tick_rate": 30,
        "map": game_map.name if game_map is not None else None,
        "options": {},
        "room": match.room.room_id,
    }
    match.room.recorder = Recorder(header, hash_every=7, max_bytes=max_bytes)
    rng = random.Random(5)
    players: list[Player] = [match.join(f"p{i}") for i in range(5)]
    hashes: dict[int, str] = {}
    fields = match.room.schema.inputs
    for t in range(ticks):
        for p in players:
            p.input(
                *(
                    rng.uniform(f.min, f.max) if f.type == FLOAT else rng.randint(int(f.min), int(f.max))
                    for f in fields
                )
            )
        match.tick()
        hashes[match.game.tick] = match.game.state_hash()
        if t == ticks // 3:
            match.leave(players.pop(0))
        if t == ticks // 2:
            players.append(match.join("late"))
    path.write_bytes(match.room.recorder.take())
    return hashes


@pytest.mark.parametrize("game_type", [Arena, Ball, Rover], ids=["arena", "ball", "rover"])
def test_a_recorded_match_replays_to_the_same_state_at_every_recorded_tick(
    game_type: type[Game], tmp_path: Path
) -> None:
    path = tmp_path / "match.gsrec"
    hashes = play(game_type, path, game_map=yard() if game_type is Arena else None)
    done = replay(path)
    assert (done.steps, done.joins, done.leaves, done.cut) == (240, 6, 1, False)
    assert done.hashes == len([t for t in hashes if t % 7 == 0]) > 30
    assert done.room is not None and done.room.game.state_hash() == hashes[max(hashes)]
    # stopped at a tick, the replay holds the state the live match held then
    halfway = replay(path, until=100)
    assert halfway.tick == 100 and halfway.room is not None
    assert halfway.room.game.state_hash() == hashes[100]


def test_the_replay_command_verifies_stops_at_a_tick_and_prints_the_state(tmp_path: Path) -> None:
    path = tmp_path / "arena.gsrec"
    hashes = play(Arena, path, game_map=yard())
    done = replay_command(path, "--until", "50")
    assert done.returncode == 0, done.stderr
    summary, state = done.stdout.strip().splitlines()
    assert "replayed ticks 1..50" in summary and "state hashes matched" in summary
    printed = json.loads(state)
    assert printed["tick"] == 50 and printed["state_hash"] == hashes[50] and len(printed["rows"]) == 5


def test_a_changed_input_is_found_at_the_next_recorded_hash(tmp_path: Path) -> None:
    path = tmp_path / "arena.gsrec"
    play(Arena, path, game_map=yard())
    with path.open("rb") as f:
        header, records, _ = read(f)
        kept = list(records)
    steps = [i for i, r in enumerate(kept) if r[0] == STEP and r[1]]
    target = kept[steps[40]]
    eid, inputs = next(iter(target[1].items()))
    inputs[0][1] = -inputs[0][1] if inputs[0][1] else 1.0  # another move_x, once
    out = msgpack.packb(header) + b"".join(msgpack.packb(r) for r in kept)
    bad = tmp_path / "bad.gsrec"
    bad.write_bytes(out)
    with pytest.raises(Desync, match="the state hash is"):
        replay(bad)
    done = replay_command(bad)
    assert done.returncode == 1 and "desync: tick" in done.stderr


def test_a_recording_cut_short_replays_to_its_last_whole_record_and_junk_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "arena.gsrec"
    play(Arena, path, game_map=yard())
    data = path.read_bytes()
    cut = tmp_path / "cut.gsrec"
    cut.write_bytes(data[: len(data) // 2 + 3])
    done = replay(cut)
    assert done.cut and 0 < done.steps < 240
    junk = tmp_path / "junk.gsrec"
    junk.write_bytes(b"\x93\x01\x02\x03 not a recording")
    with pytest.raises(RecordingError, match="not a recording"):
        replay(junk)
    run = replay_command(junk)
    assert run.returncode == 2 and "not a recording" in run.stderr


def test_a_recording_stops_at_its_cap_and_what_it_holds_still_replays(tmp_path: Path) -> None:
    path = tmp_path / "capped.gsrec"
    play(Arena, path, game_map=yard(), max_bytes=20_000)
    assert 15_000 < path.stat().st_size <= 20_000
    done = replay(path)
    assert 0 < done.steps < 240 and done.hashes >= 1 and not done.cut


def test_a_server_records_every_room_and_each_replays_bit_for_bit(tmp_path: Path) -> None:
    record = tmp_path / "recordings"
    flags = ("--record", str(record), "--room-size", "6", "--snapshot-rate", "15")
    with ServerProcess(*flags, map_name="yard") as s:
        report = run_bots(s.ws_url, 12, 3.0, behaviour="fight,drop", verify=1, drop_every=(0.5, 1.0))
        assert report["errors"] == 0 and report["resumes"] >= 1
    files = sorted(record.glob("*.gsrec"))
    assert len(files) == 2  # two rooms of six
    for path in files:
        done = replay_command(path)
        assert done.returncode == 0, done.stderr
        assert "6 joins" in done.stdout and "state hashes matched" in done.stdout
        with path.open("rb") as f:
            header, records, cut = read(f)
            assert sum(1 for r in records if r[0] == HASH) >= 2 and not cut[0]
        # the server's snapshot rate, which a playback export takes by default
        assert header["snapshot_rate"] == 15 and header["tick_rate"] == 30
        playback = replay(path, export=True)
        assert playback.exporter is not None and playback.exporter.snapshot_rate == 15


def test_minutes_of_bots_joining_leaving_and_dropping_replay_to_every_recorded_hash() -> None:
    from benchmarks.bench_recording import bots_replayed, bots_summary

    row = bots_replayed(8, 25.0, churn_stay=(2.0, 5.0), drop_every=(3.0, 6.0))
    summary = bots_summary(row)
    assert row["rooms"] == 1 and row["bot_errors"] == 0, summary
    assert row["ticks"] >= 25 * 30 and row["replayed_ticks"] == row["ticks"], summary
    # the churners came back as new players, the droppers as the same ones
    assert row["joins"] > 8 and row["leaves"] >= 1 and row["resumes"] >= 1, summary
    assert row["hashes"] >= 25 and row["hashes_matched"] == row["hashes"] and not row["cut"], summary
    assert 0 < row["bytes_per_player_tick"] < 200, summary
