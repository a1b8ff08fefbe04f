"""The peer comparison: Colyseus 0.16 playing the reference scenario beside gameserver, alone and
together (benchmarks/peer.py), and at each N of the load benchmark (`--peer`), on tiny runs."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from benchmarks import bench, peer

# CI sets GAMESERVER_REQUIRE_BROWSER=1: there the Node parts must run, not skip.
REQUIRED = os.environ.get("GAMESERVER_REQUIRE_BROWSER") == "1"
pytestmark = pytest.mark.skipif(
    (shutil.which("node") is None or shutil.which("npm") is None) and not REQUIRED,
    reason="node and npm are not installed (apt-get install nodejs npm)",
)


@pytest.mark.parametrize("together", [False, True])
def test_peer_and_gameserver_measured_on_the_same_scenario(tmp_path: Path, together: bool) -> None:
    out = tmp_path / "peer.json"
    args = ["--counts", "6", "--runs", "1", "--warmup", "1", "--measure", "2", "--json", str(out)]
    assert peer.main(args + (["--together"] if together else [])) == 0
    result = json.loads(out.read_text())
    assert result["together"] is together
    (run,) = result["runs"]
    ours, theirs = run["gameserver"], run["colyseus"]
    assert ours["players"] == theirs["players"] == 6
    assert ours["us_per_player_tick"] > 0 and theirs["us_per_player_tick"] > 0
    assert 0 <= theirs["us_per_player_tick_kernel"] <= theirs["us_per_player_tick"]
    assert run["ratio"] == ours["us_per_player_tick"] / theirs["us_per_player_tick"]
    if not together:  # alone, the peer's bots report what they got
        assert theirs["connected"] == 6 and theirs["errors"] == 0
        assert theirs["verified_sizes"] == [6, 6]  # the decoding bots see every player
        assert theirs["snapshots_per_s_median"] > 15
        assert theirs["bytes_per_moving_entity"] > 0
        assert ours["bot_errors"] == 0 and ours["snapshots_per_s_median"] > 15


@pytest.mark.parametrize("together", [False, True])
def test_peer_and_gameserver_measured_in_rooms(tmp_path: Path, together: bool) -> None:
    out = tmp_path / "peer.json"
    args = ["--counts", "8", "--runs", "1", "--warmup", "1", "--measure", "2", "--room-size", "4"]
    assert peer.main([*args, "--json", str(out)] + (["--together"] if together else [])) == 0
    result = json.loads(out.read_text())
    assert result["room_size"] == 4
    (run,) = result["runs"]
    ours, theirs = run["gameserver"], run["colyseus"]
    assert ours["us_per_player_tick"] > 0 and theirs["us_per_player_tick"] > 0
    assert run["ratio"] == ours["us_per_player_tick"] / theirs["us_per_player_tick"]
    if not together:  # alone, both sides' bots report their rooms
        assert theirs["rooms"] == 2 and theirs["verified_sizes"] == [4, 4] and theirs["errors"] == 0
        assert ours["rooms"] == 2 and ours["bot_rooms"]["bots_per_room"]["max"] == 4
        assert ours["bot_errors"] == 0 and ours["isolation_violations"] == 0


def test_the_load_benchmark_measures_the_peer_at_each_player_count(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    args = ["--counts", "4,6", "--warmup", "1", "--measure", "2", "--idle", "", "--peer", "--json", str(out)]
    assert bench.main(args) == 0
    rows = json.loads(out.read_text())["players"]
    assert [r["players"] for r in rows] == [4, 6]
    for row in rows:
        theirs = row["peer"]
        assert theirs["server"] == "colyseus" and theirs["players"] == row["players"]
        assert theirs["connected"] == row["players"] and theirs["errors"] == 0
        assert theirs["verified_sizes"] == [row["players"]] * 2  # the decoding bots see every player
        assert theirs["us_per_player_tick"] > 0
        assert row["peer_ratio"] == row["us_per_player_tick"] / theirs["us_per_player_tick"]
    table = bench.markdown_table(rows)
    assert "gameserver / Colyseus" in table
    assert f"| {rows[1]['peer_ratio']:.3f} |" in table.splitlines()[-1]


def test_the_rooms_scenario_measures_the_peer_in_rooms_of_the_same_size(tmp_path: Path) -> None:
    out = tmp_path / "rooms.json"
    args = ["--scenario", "rooms", "--counts", "8", "--room-size", "4", "--churn-players", "0"]
    args += ["--warmup", "1", "--measure", "2", "--peer", "--json", str(out)]
    assert bench.main(args) == 0
    (entry,) = json.loads(out.read_text())["rooms"]["by_n"]
    theirs = entry["peer"]
    assert theirs["server"] == "colyseus" and theirs["players"] == 8
    assert theirs["connected"] == 8 and theirs["errors"] == 0
    assert theirs["rooms"] == 2 and theirs["bots_per_room"] == [4, 4]  # joinOrCreate filled rooms of 4
    assert theirs["verified_sizes"] == [4, 4]  # the decoding bots see their room only
    assert entry["rooms"]["rooms"] == 2
    assert entry["peer_ratio"] == entry["rooms"]["us_per_player_tick"] / theirs["us_per_player_tick"]
    alone = entry["peer_one_room"]  # and Colyseus with everyone in one room, for what rooms cost it
    assert alone["rooms"] == 1 and alone["verified_sizes"] == [8, 8] and alone["errors"] == 0
    assert entry["peer_vs_one_room"] == theirs["us_per_player_tick"] / alone["us_per_player_tick"]


def test_the_peer_is_refused_in_the_arena() -> None:
    assert bench.main(["--scenario", "arena", "--counts", "4", "--peer"]) == 2
