"""Playback files (python -m gameserver.replay FILE --export OUT): a recording as the messages a
spectator is sent, which the Python mirror and the browser's playback page
(client_demo/playback.html) decode as they decode the server's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgpack
import pytest
from server_process import ROOT
from test_recording import play, replay_command, yard

from gameserver.codec import decode_server
from gameserver.games.arena import Arena
from gameserver.games.ball import Ball
from gameserver.messages import Scoreboard, Snapshot, Welcome
from gameserver.replay import PLAYBACK_FORMAT, replay
from gameserver.replication import Mirror
from gameserver.schema import Schema


def load_playback(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = msgpack.unpackb(path.read_bytes(), raw=False, strict_map_key=False)
    assert data["format"] == PLAYBACK_FORMAT and data["version"] == 1
    return data


def mirrored(playback: dict[str, Any], until: int) -> tuple[Mirror, list[Any]]:
    """The Python mirror after the playback's snapshots up to tick `until`, and the messages
    read on the way, decoded."""
    messages = [decode_server(m) for m in playback["messages"]]
    welcome = messages[0]
    assert isinstance(welcome, Welcome) and welcome.entity_id == 0 and welcome.schema == playback["schema"]
    mirror = Mirror(Schema.from_wire(welcome.schema))
    for msg in messages[1:]:
        if isinstance(msg, Snapshot):
            if msg.tick > until:
                break
            mirror.apply(msg)
    return mirror, messages


def export(recording: Path, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return replay_command(recording, "--export", str(out), *args)


@pytest.mark.parametrize("until", [1, 97, 160, 240])
def test_the_exported_snapshots_mirror_the_state_the_replay_prints_at_a_tick(
    tmp_path: Path, until: int
) -> None:
    recording = tmp_path / "arena.gsrec"
    play(Arena, recording, game_map=yard())  # five players, a leave at tick 81, a join at 121
    out = tmp_path / "arena.gsplay"
    done = export(recording, out)
    assert done.returncode == 0, done.stderr
    assert f"to {out}" in done.stdout and "exported 240 snapshots (ticks 1..240, 30 a second)" in done.stdout
    playback = load_playback(out)
    assert (playback["game"], playback["map"], playback["tick_rate"], playback["snapshot_rate"]) == (
        "arena",
        "yard",
        30,
        30,
    )
    assert playback["rules"]["quanta"] == 8 and playback["first_tick"] == 1 and playback["last_tick"] == 240
    printed = replay_command(recording, "--until", str(until))
    assert printed.returncode == 0, printed.stderr
    state = json.loads(printed.stdout.strip().splitlines()[-1])
    mirror, messages = mirrored(playback, until)
    assert mirror.tick == until
    assert {str(eid): row for eid, row in sorted(mirror.rows.items())} == state["rows"]
    snapshots = [m for m in messages if isinstance(m, Snapshot)]
    assert snapshots[0].baseline is None and all(
        s.baseline == before.tick for before, s in zip(snapshots, snapshots[1:], strict=False)
    )
    # the arena's shots come with the snapshots, and the scoreboard names the players
    assert any(s.shots for s in snapshots)
    boards = [m for m in messages if isinstance(m, Scoreboard)]
    assert boards and {ln.name for ln in boards[0].lines} == {f"p{i}" for i in range(5)}
    assert "late" in {ln.name for ln in boards[-1].lines} and "p0" not in {ln.name for ln in boards[-1].lines}


def test_an_export_at_a_lower_snapshot_rate_and_one_stopped_at_a_tick(tmp_path: Path) -> None:
    recording = tmp_path / "ball.gsrec"
    hashes = play(Ball, recording)
    out = tmp_path / "ball.gsplay"
    done = export(recording, out, "--snapshot-rate", "10", "--until", "150")
    assert done.returncode == 0, done.stderr
    playback = load_playback(out)
    assert (playback["game"], playback["map"], playback["snapshot_rate"]) == ("ball", None, 10)
    assert playback["last_tick"] == 150 and playback["first_tick"] == 3
    mirror, messages = mirrored(playback, 150)
    ticks = [m.tick for m in messages if isinstance(m, Snapshot)]
    assert all(t % 3 == 0 for t in ticks)
    halfway = replay(recording, until=150)
    assert halfway.room is not None and halfway.room.game.state_hash() == hashes[150]
    assert mirror.as_rows() == halfway.room.game.rows


def test_a_bad_export_is_a_clear_error(tmp_path: Path) -> None:
    recording = tmp_path / "arena.gsrec"
    play(Arena, recording, ticks=30)
    bad_rate = export(recording, tmp_path / "x.gsplay", "--snapshot-rate", "7")
    assert bad_rate.returncode == 2 and "does not divide the tick rate 30" in bad_rate.stderr
    assert "Traceback" not in bad_rate.stderr
    nowhere = export(recording, tmp_path / "no" / "such" / "dir.gsplay")
    assert nowhere.returncode == 2 and "No such file or directory" in nowhere.stderr
    junk = tmp_path / "junk.gsrec"
    junk.write_bytes(b"not a recording at all")
    refused = export(junk, tmp_path / "y.gsplay")
    assert (
        refused.returncode == 2 and "not a recording" in refused.stderr and "Traceback" not in refused.stderr
    )
    alone = subprocess.run(
        [sys.executable, "-m", "gameserver.replay", str(recording), "--snapshot-rate", "10"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert alone.returncode == 2 and "--snapshot-rate goes with --export" in alone.stderr
