"""The bots and the load benchmark, run for real against a server on 127.0.0.1, briefly.

These check that the tools work and measure something plausible; they assert loose lower
bounds only, never timing targets (docs/benchmarks.md holds the figures).
"""

from __future__ import annotations

import json
import os
import platform
import socket
import sys
from pathlib import Path
from typing import Any

import msgpack
import pytest
from arena_records import change, name_of, spawn
from server_process import ServerProcess, wait_for

from benchmarks import bench, bench_rooms, harness, pair, soak
from client_demo.bots import rooms, run_bots, wire
from client_demo.bots.bot import Bot
from client_demo.bots.cli import parse_behaviours
from client_demo.bots.metrics import HIST_RES, hist_percentile, merge, percentile
from client_demo.bots.runner import Runner
from client_demo.bots.tracker import Tracker
from gameserver import codec
from gameserver.messages import (
    Ack,
    Follow,
    Following,
    Hello,
    Pong,
    Scoreboard,
    ScoreLine,
    ServerMessage,
    Snapshot,
    Welcome,
)
from gameserver.replication import DesyncError, Mirror
from gameserver.world import SCHEMA


def test_bots_play_verify_and_churn() -> None:
    with ServerProcess("--tick", "30") as server:
        rep = run_bots(
            server.ws_url,
            10,
            duration=2.0,
            behaviour="wander,idle,churn,chase,wander",
            verify=2,
            warmup=0.5,
            join_timeout=10,
            churn_stay=(0.3, 0.6),
        )
        health = server.health()
    assert rep["errors"] == 0, rep["error_samples"]
    assert health["overruns"] == 0 or health["ticks"] > 0  # the server ran; timing is not asserted
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for b in rep["per_bot"]:
        by_kind.setdefault(b["behaviour"], []).append(b)
    # The verifying bots (bot0 wander, bot1 idle) decoded every snapshot; both chase bots
    # (bot3, bot8) tracked every snapshot too, to chase.
    verifying = [b for b in rep["per_bot"] if b["verify"]]
    assert {b["name"] for b in verifying} == {"bot0", "bot1"}
    assert all(b["verified_snapshots"] > 15 for b in verifying)
    mirroring = {b["name"] for b in rep["per_bot"] if b["mirrored_snapshots"] > 15}
    assert mirroring == {"bot0", "bot1", "bot3", "bot8"}
    steady = [b for b in rep["per_bot"] if b["behaviour"] != "churn"]
    assert all(b["connected"] and b["connects"] == 1 for b in steady)
    assert all(b["snapshots_per_s"] > 15 for b in steady)
    assert all(b["rtt_ms_p50"] is not None for b in steady)
    assert all(b["bytes_out_per_s"] > 0 and b["bytes_in_per_s"] > 0 for b in steady)
    # Churn bots left with a closing handshake and came back.
    assert all(b["connects"] >= 2 for b in by_kind["churn"])
    assert all(set(b["close_codes"]) == {"1000"} for b in rep["per_bot"])
    assert rep["snapshots_per_s_median"] > 15
    assert rep["bytes_per_moving_entity"] is not None and rep["bytes_per_moving_entity"] > 0
    assert rep["welcome"]["tick_rate"] == 30
    assert_kernel_intervals(rep)


def assert_kernel_intervals(rep: dict[str, Any]) -> None:
    """The kernel's receive timestamps (SO_TIMESTAMPNS) timed about every interval the loop did
    for the bots that ask for them: one in STAMPED_EVERY, and every verifying bot."""
    assert rep["interval_ms_p99"] is not None and rep["interval_ms_p99"] > 0
    assert rep["interval_ms_p99_kernel"] is not None and rep["interval_ms_p99_kernel"] > 0
    assert 0 < rep["stamped_bots"] < rep["bots"]
    loop, kernel = rep["intervals_counted_stamped"], rep["intervals_counted_kernel"]
    assert 0 < loop < rep["intervals_counted"]
    assert abs(kernel - loop) <= max(3, 0.03 * loop), (kernel, loop)


def test_fighting_bots_shoot_and_hit_in_the_arena() -> None:
    # The arena map: walls and a view, so each bot holds only what is near it. Fighters and
    # wanderers are dealt out in turn; every fighter keeps the positions in its view from every
    # snapshot: the first three (bot0, bot1, and the wanderer bot2) verify every field, the
    # other fighters track.
    # Players spawn on the arena's spawn points, spread over the map, so the first shots often
    # hit walls: the bots play again (new players, the same server) until a tracking fighter
    # has hit someone, at most four times.
    with ServerProcess("--tick", "30", map_name="arena") as server:
        for _ in range(4):
            rep = run_bots(
                server.ws_url,
                12,
                duration=3.0,
                behaviour="fight,fight,wander",
                verify=3,
                warmup=1.0,
                join_timeout=10,
            )
            tracked_hits = sum(
                b["total_hits"] for b in rep["per_bot"] if b["behaviour"] == "fight" and not b["verify"]
            )
            if rep["errors"] or tracked_hits:
                break
    assert rep["errors"] == 0, rep["error_samples"]
    assert rep["connected"] == 12
    assert rep["welcome"]["rules"]["view_width"] > 0 and rep["welcome"]["rules"]["weapon_range"] > 0
    fighters = [b for b in rep["per_bot"] if b["behaviour"] == "fight"]
    assert len(fighters) == 8 and all(b["mirrored_snapshots"] >= 3 for b in fighters)
    verifying = {b["name"] for b in rep["per_bot"] if b["verify"] and b["verified_snapshots"] >= 3}
    assert verifying == {"bot0", "bot1", "bot2"}
    tracking = [b for b in fighters if not b["verify"]]
    assert len(tracking) == 6 and all(b["verified_snapshots"] == 0 for b in tracking)
    # what a fighter sees of the fight does not depend on how it reads the snapshots
    assert sum(b["total_shots"] for b in tracking) > 0 and sum(b["total_hits"] for b in tracking) > 0
    fight = rep["fight"]
    assert fight["bots"] == 8
    assert fight["total_shots"] > 0 and fight["total_hits"] > 0, fight
    assert fight["total_hits"] <= fight["total_shots"]
    assert sum(b["total_shots"] for b in fighters) == fight["total_shots"]
    assert rep["held_mean"] is not None and rep["held_mean"] >= 1  # at least itself
    assert rep["snapshots_per_s_median"] > 15


def test_bots_over_two_processes_merge_their_reports() -> None:
    with ServerProcess("--tick", "30") as server:
        rep = run_bots(server.ws_url, 4, duration=1.0, procs=2, verify=1, join_timeout=10)
    assert rep["errors"] == 0, rep["error_samples"]
    assert rep["processes"] == 2 and rep["bots"] == 4 and rep["connected"] == 4
    assert sorted(b["name"] for b in rep["per_bot"]) == ["bot0", "bot1", "bot2", "bot3"]
    assert rep["snapshots_per_s_median"] > 15
    assert_kernel_intervals(rep)  # both processes' histograms merged


def test_dropping_bots_resume_as_the_same_players_and_time_it() -> None:
    # Four of eight bots cut their connection (a reset, no close frame) every 0.3-0.6 s and
    # resume at once with their newest token: in 2.5 s of play, each about five times.
    with ServerProcess("--tick", "30") as server:
        rep = run_bots(
            server.ws_url,
            8,
            duration=2.0,
            behaviour="wander,drop",
            verify=2,  # bot0 wanders, bot1 drops: a verifying bot resumes into a fresh mirror
            warmup=0.5,
            join_timeout=10,
            drop_every=(0.3, 0.6),
        )
        health = wait_for(lambda: (h := server.health())["players"] == 0 and h, 5, "every bot gone")
    assert rep["errors"] == 0, rep["error_samples"]
    assert rep["failed_resumes"] == 0
    assert rep["resumes"] >= 8, rep["resumes"]
    # the server resumed exactly the sessions the bots saw resumed, and no player stayed away
    assert health["resumed"] == rep["resumes"]
    assert health["players_away"] == 0
    droppers = [b for b in rep["per_bot"] if b["behaviour"] == "drop"]
    assert len(droppers) == 4
    for b in droppers:
        # every WELCOME of a dropping bot names the entity of its first one
        assert b["resumes"] >= 1 and b["connects"] == b["resumes"] + 1, b
        assert len(b["entity_ids"]) == b["connects"] and len(set(b["entity_ids"])) == 1, b
        assert len(b["resume_ms"]) == b["resumes"] and all(x > 0 for x in b["resume_ms"])
    assert sum(b["resumes"] for b in droppers) == rep["resumes"]
    verifier = next(b for b in droppers if b["verify"])
    assert verifier["verified_snapshots"] > 15  # its mirror took each full snapshot after a resume
    wanderers = [b for b in rep["per_bot"] if b["behaviour"] == "wander"]
    assert all(b["connects"] == 1 and b["resumes"] == 0 and b["connected"] for b in wanderers)
    # reported, not judged: a benchmark figure
    assert rep["resume_ms_p50"] is not None and rep["resume_ms_p99"] >= rep["resume_ms_p50"] > 0
    assert all(set(b["close_codes"]) == {"1000"} for b in rep["per_bot"])


def test_a_read_without_a_kernel_timestamp_is_left_out_of_the_kernel_intervals() -> None:
    r = Runner("ws://127.0.0.1:1/ws", 1, "wander", verify=0)
    try:
        (bot,) = r.bots
        r.start_window()
        # (tick, loop reading in monotonic seconds, kernel reading in CLOCK_REALTIME seconds);
        # the kernel's readings 1/32 s apart, exact in binary
        for tick, now, arrival in [
            (1, 10.000, 5000.0),
            (2, 10.040, 5000.03125),
            (3, 10.070, None),  # no timestamp: no kernel interval ends or starts here
            (4, 10.100, 5000.09375),
            (5, 10.140, 5000.125),
        ]:
            bot.on_snapshot(tick, now, arrival)
        r.end_window()
    finally:
        r.epoll.close()
    assert sum(r.intervals) == 4
    assert sum(r.intervals_kernel) == 2
    assert {i for i, n in enumerate(r.intervals_kernel) if n} == {int(0.03125 / HIST_RES)}


@pytest.mark.skipif(
    os.environ.get("GAMESERVER_BUILD") == "compiled",
    reason="replaces Bot.on_tick, which the compiled runner calls without looking it up",
)
def test_the_tick_wheel_sends_each_playing_bot_once_a_period_at_its_phase(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fired: list[tuple[float, int]] = []
    monkeypatch.setattr(Bot, "on_tick", lambda bot, now: fired.append((now, bot.index)))
    r = Runner("ws://127.0.0.1:1/ws", 4, "wander", verify=0)
    try:
        r.on_joined(r.bots[0], Welcome(1, 1, 10, 10, "", "main", 0))  # period 0.1 s
        for b in r.bots:
            b.state = "playing"
        r.bots[3].state = "hello"  # not yet joined: skipped, no burst later
        # phases 0, 25, 50, 75 ms; the first call starts the wheel at its time
        assert r.run_ticks(100.030) == pytest.approx(100.050)
        assert fired == []
        assert r.run_ticks(100.0495) == pytest.approx(100.075)  # within TIMER_SLACK: bot 2 fires
        assert fired == [(100.0495, 2)]
        fired.clear()
        r.bots[3].state = "playing"
        nxt = r.run_ticks(100.130)  # 3 at 75, 0 at 100, 1 at 125; 2 at 150 is not due
        assert [i for _, i in fired] == [3, 0, 1] and nxt == pytest.approx(100.150)
        fired.clear()
        # A loop late by more than a period skips what it missed, and goes on from its time.
        assert r.run_ticks(100.500) == pytest.approx(100.525)
        assert fired == [(100.500, 0)]
        fired.clear()
        # Late by less than a period: each bot due fires once, none twice.
        r.run_ticks(100.590)
        assert [i for _, i in fired] == [1, 2, 3]
    finally:
        r.epoll.close()


def test_a_tracker_refuses_what_does_not_fit_what_it_holds() -> None:
    t = Tracker()
    full = Snapshot(5, None, 1, spawns=(spawn(1, "a", 100, 200, 0, 100), spawn(2, "b", 0, 0, 7, 100)))
    t.apply(codec.encode_server(full))
    _, moving = t.apply(
        codec.encode_server(Snapshot(6, 5, 2, changes=(change(1, dqx=5, angle=9), change(2, hp=50))))
    )
    assert moving == 1 and t.tick == 6
    seen = {eid: SCHEMA.kind(row[2]).values(row) for eid, row in t.rows.items()}
    assert {eid: [v[f] for f in ("x", "y", "name", "angle", "hp")] for eid, v in seen.items()} == {
        1: [105, 200, "a", 9, 100],
        2: [0, 0, "b", 7, 50],
    }
    with pytest.raises(DesyncError, match="delta from 5"):
        t.apply(codec.encode_server(Snapshot(7, 5, 2)))
    with pytest.raises(DesyncError, match="unknown entity 3"):
        t.apply(codec.encode_server(Snapshot(7, 6, 2, changes=(change(3, dqx=1),))))
    with pytest.raises(DesyncError, match="removal of unknown entity 4"):
        t.apply(codec.encode_server(Snapshot(7, 6, 2, removals=(4,))))
    for garbage in (
        b"\xc1",
        codec.encode_server(Pong(1.0, 2)),
        msgpack.packb([11, 7, 6, 2, [], [1, 1], [], []]),
    ):
        with pytest.raises(ValueError):
            t.apply(garbage)


def test_bots_count_a_server_that_refuses_them() -> None:
    with ServerProcess("--tick", "30", "--max-players", "1") as server:
        rep = run_bots(server.ws_url, 2, duration=0.5, join_timeout=5)
    assert rep["connected"] == 1
    assert rep["errors_by_kind"].get("server_error") == 1
    assert any("server_full" in s for s in rep["error_samples"])
    assert "1013:server_full" in rep["close_codes"]


def test_bench_measures_a_tiny_run(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    assert (
        bench.main(["--counts", "5", "--warmup", "1", "--measure", "2", "--idle", "100", "--json", str(out)])
        == 0
    )
    result = json.loads(out.read_text())
    (row,) = result["players"]
    assert row["players"] == 5 and row["bot_errors"] == 0 and row["bots_connected"] == 5
    assert row["ticks"] > 30
    assert 0 < row["server_cpu_per_wall"] < 2
    assert row["us_per_player_tick"] > 0
    assert 0 <= row["us_per_player_tick_kernel"] <= row["us_per_player_tick"]
    assert row["snapshots_per_s_median"] > 15
    assert row["interval_ms_p99_kernel"] is not None and row["interval_ms_p99_kernel"] > 0
    assert row["bytes_per_player_s"] > 0 and row["bytes_per_moving_entity"] > 0
    assert row["rss_mib"] > 5
    assert row["rules"]["world_width"] == 2000 and row["rules"]["speed"] == 150
    assert row["everyone_sees_everyone"]
    idle = result["idle"]
    assert idle[-1]["held"] == 100 and idle[-1]["kib_per_connection"] > 0
    assert result["machine"]["cpus"] >= 1


def test_bench_measures_rooms_against_one_room_and_with_room_churn(tmp_path: Path) -> None:
    out = tmp_path / "rooms.json"
    args = ["--scenario", "rooms", "--counts", "12", "--room-size", "4", "--churn-players", "8"]
    args += ["--churn-rate", "3", "--warmup", "0.5", "--measure", "2", "--json", str(out)]
    assert bench.main(args) == 0
    result = json.loads(out.read_text())["rooms"]
    (entry,) = result["by_n"]
    rooms, one = entry["rooms"], entry["one_room"]
    assert rooms["rooms"] == 3 and rooms["bot_rooms"]["bots_per_room"] == {"min": 4, "median": 4, "max": 4}
    assert one["rooms"] == 1 and one["bot_rooms"]["count"] == 1
    for row in (rooms, one):
        assert row["players"] == 12 and row["bot_errors"] == 0 and row["isolation_violations"] == 0
        assert row["us_per_player_tick"] > 0 and row["steady_snapshots_per_s_median"] > 15
    assert entry["vs_one_room"] == rooms["us_per_player_tick"] / one["us_per_player_tick"]
    assert entry["peer"] is None
    churn = result["churn"]
    assert churn["hosts"] == bench_rooms.churn_hosts(3) and churn["calm"]["rooms_created_per_s"] == 0
    made = churn["churn"]
    assert made["bot_errors"] == 0 and made["isolation_violations"] == 0 and made["players"] == 8
    assert made["rooms_created_per_s"] > 0.5 and made["rooms_disposed_per_s"] > 0  # --room-idle 1
    assert made["steady_snapshots_per_s_median"] > 15
    targets = {t["target"]: t["met"] for t in result["targets"]}
    assert (
        len(targets) == 5
        and targets["N=12: µs CPU per player-tick in rooms ≤ 0.5 of Colyseus's in rooms"] is None
    )
    assert all(isinstance(met, bool) for t, met in targets.items() if "Colyseus" not in t)


def test_bench_measures_what_a_spectator_costs_against_a_player(tmp_path: Path) -> None:
    out = tmp_path / "spectators.json"
    args = ["--scenario", "spectators", "--counts", "4", "--spectators", "2", "--maps", "arena,none"]
    args += ["--warmup", "0.5", "--measure", "1.5", "--json", str(out)]
    assert bench.main(args) == 0
    result = json.loads(out.read_text())["spectators"]
    assert [e["map"] for e in result["by_map"]] == ["arena", "none"]
    for e in result["by_map"]:
        assert e["players"] == 4 and e["spectators"] == 2 and e["spectator_errors"] == 0
        players, watched, more = (e["runs"][k][0] for k in ("players", "spectators", "more players"))
        assert (players["players"], watched["players"], more["players"]) == (4, 4, 6)
        assert watched["bots_connected"] == 6 and watched["spectators"] == 2
        # in the arena, a player whose view does not change (a dead fighter) gets a snapshot a second
        rate = 3 if e["map"] == "arena" else 15
        for row in (players, watched, more):
            assert row["bot_errors"] == 0 and row["us_per_tick"] > 0 and row["ticks"] > 20
            assert row["steady_snapshots_per_s_median"] > rate
        spec = watched["spectate"]
        assert spec["bots"] == spec["connected"] == 2 and spec["closed_by_server"] == 0
        assert spec["snapshots_per_s_median"] > rate
        assert players["spectate"]["bots"] == 0
        med = e["us_per_tick_median"]
        assert e["us_per_spectator_tick"] == (med["spectators"] - med["players"]) / 2
        assert e["us_per_added_player_tick"] == (med["more players"] - med["players"]) / 2
    assert (
        players["rules"]["view_width"] == 0
        and result["by_map"][0]["runs"]["players"][0]["rules"]["view_width"] > 0
    )
    assert len(result["targets"]) == 2


def test_hosts_for_a_rate_of_room_churn() -> None:
    # a cycle: 0.5 s in the room (0.3-0.7), 0.4 s before coming back (0.2-0.6), 0.05 s to set up
    assert bench_rooms.churn_hosts(20) == 19
    assert bench_rooms.churn_hosts(0.1) == 1
    assert bench_rooms.churn_hosts(20, stay=(1.0, 3.0)) == 49


def test_soak_samples_the_servers_memory_under_load(tmp_path: Path) -> None:
    out = tmp_path / "soak.json"
    cpus = os.sched_getaffinity(0)
    assert soak.main(["--count", "3", "--seconds", "2", "--every", "1", "--json", str(out)]) == 0
    assert os.sched_getaffinity(0) == cpus  # the test process is not left pinned
    *samples, trimmed = json.loads(out.read_text())["samples"]
    assert len(samples) >= 3 and [s["t"] for s in samples] == sorted(s["t"] for s in samples)
    for s in samples:
        assert s["players"] == 3 and s["rss_mib"] > 5 and s["overruns"] == 0
        assert 0 < s["heap_in_use_mib"] <= s["heap_mib"]  # glibc's account (mallinfo2)
    assert trimmed["after_malloc_trim"] and trimmed["rss_mib"] > 5


@pytest.mark.parametrize("scenario", ["reference", "arena"])
def test_pair_measures_two_trees_at_once(tmp_path: Path, scenario: str) -> None:
    out = tmp_path / "pair.json"
    root = Path(bench.__file__).resolve().parent.parent
    args = ["--other", str(root), "--count", "5", "--warmup", "1", "--measure", "2", "--runs", "1"]
    args += ["--other-python", sys.executable]  # the other server's interpreter, named
    for bots in ([], ["--bots"]):
        assert pair.main([*args, *bots, "--scenario", scenario, "--json", str(out)]) == 0
        result = json.loads(out.read_text())
        assert result["scenario"] == scenario and result["bots"] == bool(bots)
        assert result["python"] == {"this": platform.python_version(), "other": platform.python_version()}
        (run,) = result["runs"]
        assert run["this"] > 0 and run["other"] > 0
        assert run["ratio"] == run["this"] / run["other"]


def test_proc_parsing() -> None:
    stat = (
        "4242 (python3 (x) y) S 1 4242 4242 0 -1 4194560 5000 0 0 0 123 45 0 0 20 0 3 0 99 1000000 2560 rest"
    )
    parsed = harness.parse_proc_stat(stat + " 0" * 30)
    assert parsed == {"utime": 123, "stime": 45, "rss_pages": 2560}
    status = "Name:\tpython3\nVmHWM:\t   51200 kB\nVmRSS:\t   40960 kB\nThreads:\t1\n"
    assert harness.parse_proc_status(status) == {"VmHWM": 51200, "VmRSS": 40960}
    cpus = "cpu  9 9 9 9 9 9 9 9 0 0\ncpu0 100 2 30 5000 7 1 4 3 0 0\ncpu1 1 1 1 1 1 1 1 1 0 0\n"
    assert harness.parse_cpu_busy(cpus, 0) == 100 + 2 + 30 + 1 + 4 + 3  # neither idle nor iowait
    assert harness.parse_cpu_busy(cpus, 1) == 6
    with pytest.raises(ValueError):
        harness.parse_cpu_busy(cpus, 2)


@pytest.mark.parametrize("opcode", [wire.OP_BINARY, wire.OP_PING])
def test_framing_round_trip(opcode: int) -> None:
    masker = wire.Masker()
    for size in (0, 5, 125, 126, 300, 70000, 5):  # 5 again: the header made for that length
        payload = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
        frame = masker.frame(payload, opcode)
        assert frame[0] == 0x80 | opcode
        # Unmask as a server would; then the same bytes unmasked parse as a server frame.
        n = len(payload)
        head = 2 if n < 126 else 4 if n < 65536 else 10
        key = frame[head : head + 4]
        body = bytes(b ^ key[i % 4] for i, b in enumerate(frame[head + 4 :]))
        assert body == payload
        server_frame = bytes([frame[0], frame[1] & 0x7F]) + frame[2:head] + payload
        frames, pos = wire.parse_frames(server_frame + server_frame[:1])
        assert frames == [(opcode, head, head + n)] and pos == len(server_frame)
        # the same frames where they lie in a larger buffer
        buf = bytearray(server_frame + server_frame[:1]) + bytearray(100)
        assert wire.parse_frames(buf, 0, len(server_frame) + 1) == (frames, pos)


def _server_frame(payload: bytes, opcode: int = wire.OP_BINARY) -> bytes:
    n = len(payload)
    head = bytes((0x80 | opcode, n)) if n < 126 else bytes((0x80 | opcode, 126)) + n.to_bytes(2, "big")
    return head + payload


def test_a_bot_reads_whole_snapshots_alone_split_and_together_and_refuses_a_masked_frame() -> None:
    r = Runner("ws://127.0.0.1:1/ws", 1, "wander", verify=0)
    (bot,) = r.bots
    server, bot.sock = socket.socketpair()
    try:
        bot.fd, bot.state = bot.sock.fileno(), "playing"
        small = codec.encode_server(Snapshot(7, None, 3, (), (change(1, dqx=1),), ()))
        big = codec.encode_server(Snapshot(300, 299, 3, (), tuple(change(i, dqx=1) for i in range(60)), ()))
        assert len(small) < 126 <= len(big)

        def read(data: bytes) -> None:
            server.sendall(data)
            bot.on_readable()

        read(_server_frame(small))  # one whole frame alone, 7-bit length
        assert (bot.ack_tick, bot.total_snapshots, bot.rbuf) == (7, 1, b"")
        read(_server_frame(big))  # alone, 16-bit length
        assert (bot.ack_tick, bot.total_snapshots) == (300, 2)
        frame = _server_frame(codec.encode_server(Snapshot(301, 300, 3, (), (), ())))
        read(frame[:5])  # a frame cut in two reads
        assert (bot.ack_tick, bot.rbuf) == (300, frame[:5])
        read(frame[5:] + _server_frame(small))  # its rest, and a whole one behind it
        assert (bot.ack_tick, bot.total_snapshots, bot.rbuf) == (7, 4, b"")
        # A masked frame whose length byte, mask bit and all, equals what follows it: read as
        # a length, it would pass for a whole snapshot frame.
        masked = bytes((0x82, 0x80 | 10)) + small.ljust(0x80 | 10, b"\0")
        read(masked)
        assert bot.errors["framing"] == 1 and bot.sock is None
    finally:
        server.close()
        if bot.sock is not None:
            bot.sock.close()
        r.epoll.close()


def test_a_verifying_bot_whose_copy_disagrees_with_a_checksum_asks_for_a_full_snapshot() -> None:
    r = Runner("ws://127.0.0.1:1/ws", 1, "wander", verify=1)
    (bot,) = r.bots
    server, bot.sock = socket.socketpair()
    server.settimeout(1.0)
    try:
        bot.fd, bot.state, bot.entity_id = bot.sock.fileno(), "playing", 1
        mirror = bot.mirror = Mirror(SCHEMA)
        spawns = (spawn(1, "bot0", 80, 80, 0, 100), spawn(2, "p2", 160, 80, 3, 90))
        right = sum(codec.entity_checksum([s.id, s.kind, *s.values]) for s in spawns) % 2**32

        def read(snap: Snapshot) -> None:
            server.sendall(_server_frame(codec.encode_server(snap)))
            bot.on_readable()

        read(Snapshot(30, None, None, spawns=spawns, checksum=right))
        assert mirror.checksums_matched == 1 and not bot.errors
        mirror.rows[2][5] = 89  # p2's hp, gone wrong in the bot's copy
        read(Snapshot(60, 30, None, checksum=right))
        assert bot.errors["desync"] == 1 and bot.resyncs == 1
        read(Snapshot(61, 60, None, checksum=right))  # within the second: no second RESYNC
        assert bot.errors["desync"] == 2 and bot.resyncs == 1
        assert _client_messages(server.recv(4096)) == [[6]]
        read(Snapshot(62, None, None, spawns=spawns, checksum=right))  # the full one: healed
        assert mirror.checksums_matched == 2 and mirror.rows[2][5] == 90
        assert bot.report(1.0)["resyncs"] == 1 and bot.report(1.0)["checksums_matched"] == 2
    finally:
        server.close()
        if bot.sock is not None:
            bot.sock.close()
        r.epoll.close()


def test_a_tracking_bot_applies_each_snapshot_it_reads_and_counts_one_that_does_not_fit() -> None:
    r = Runner("ws://127.0.0.1:1/ws", 1, "fight", verify=0)
    (bot,) = r.bots
    server, bot.sock = socket.socketpair()
    try:
        bot.fd, bot.state, bot.mirror = bot.sock.fileno(), "playing", Tracker()
        spawns = tuple(spawn(i, f"p{i}", 8 * i, 16 * i, 0, 100) for i in range(1, 31))
        full = codec.encode_server(Snapshot(5, None, 1, spawns=spawns))
        assert len(full) >= 126  # a 16-bit length
        server.sendall(_server_frame(full))
        bot.on_readable()
        delta = Snapshot(6, 5, 2, changes=(change(3, dqx=5, dqy=-2),), shots=())
        server.sendall(_server_frame(codec.encode_server(delta)))
        bot.on_readable()
        assert bot.ack_tick == 6 and bot.mirror.tick == 6
        assert bot.mirror.rows[3][:2] == [24 + 5, 48 - 2] and len(bot.mirror.rows) == 30
        server.sendall(_server_frame(codec.encode_server(Snapshot(7, 5, 2))))  # not from tick 6
        bot.on_readable()
        assert bot.errors["desync"] == 1 and bot.mirror.tick == 6
    finally:
        server.close()
        bot.sock.close()
        r.epoll.close()


@pytest.mark.parametrize("tick", [0, 5, 127, 128, 255, 256, 65535, 65536, 2**31 - 1])
def test_snapshot_tick_is_read_without_decoding(tick: int) -> None:
    data = codec.encode_server(Snapshot(tick, None, 3, (), (change(1, dqx=1),), ()))
    head = wire.snapshot_head(data, 0)
    assert head is not None and head[0] == tick
    assert wire.snapshot_head(codec.encode_server(Pong(1.0, tick)), 0) is None


def test_percentiles() -> None:
    assert percentile([], 50) is None
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([float(i) for i in range(1, 101)], 99) == 99.0
    hist = [0] * 10
    hist[3] = 99
    hist[9] = 1
    assert hist_percentile(hist, 99) == pytest.approx(4 * 0.00025)


# --- rooms ------------------------------------------------------------------------------------


def held_names(bot: dict[str, Any]) -> dict[str, set[str]]:
    """Room -> the names of the run's bots whose entity this bot was sent there."""
    return {
        room: {rooms.bot_name(i) for i in rooms.held_indices(bits)} for room, bits in bot["held_bots"].items()
    }


def test_quick_play_spreads_bots_over_rooms_and_each_sees_only_its_own() -> None:
    # Counting, tracking (fight) and verifying bots: each reads the names of its spawns its own way.
    with ServerProcess("--tick", "30", "--room-size", "4") as server:
        rep = run_bots(
            server.ws_url,
            12,
            duration=1.5,
            behaviour="wander,fight,idle",
            verify=2,
            warmup=0.5,
            join_timeout=10,
        )
        health = server.health()
    assert rep["errors"] == 0, rep["error_samples"]
    assert rep["isolation_violations"] == 0 and rep["connected"] == 12
    summary = rep["rooms"]
    assert summary["count"] == 3 == health["rooms"]
    assert summary["bots_per_room"] == {"min": 4, "median": 4, "max": 4}
    assert summary["foreign_names"] == 0
    for room, r in summary["rooms"].items():
        assert len(r["bots"]) == 4 and r["snapshots"] > 4 * 15 * 1.5 / 2
        assert r["snapshots_per_bot_s"] > 15
        for b in rep["per_bot"]:
            if b["name"] in r["bots"]:
                assert b["rooms"] == [room] and b["room"] == room
                # exactly the four of its room, itself included
                assert held_names(b) == {room: set(r["bots"])}, b["name"]
                assert b["room_snapshots"][room] > 15


def test_bots_sent_to_rooms_made_over_http_and_hosts_that_churn_rooms() -> None:
    # --rooms 2: two rooms created first, bots dealt out to them with seats; hosts make a
    # private room of their own for each connection; a churn bot comes back to its room with a
    # new seat. The empty world's room holds everyone: only the rooms keep them apart.
    with ServerProcess("--tick", "30", "--room-idle", "0.3", "--creates-per-minute", "1000") as server:
        rep = run_bots(
            server.ws_url,
            9,
            duration=2.0,
            behaviour="wander*6,host,churn,host",
            verify=1,
            join_timeout=10,
            churn_stay=(0.3, 0.5),
            rooms=2,
        )
        disposed = wait_for(lambda: server.health()["rooms_disposed"] or None, 5, "a host's room disposed")
        health = server.health()
    assert rep["errors"] == 0, rep["error_samples"]
    assert rep["isolation_violations"] == 0
    by_name = {b["name"]: b for b in rep["per_bot"]}
    created = [by_name[f"bot{i}"]["rooms"][0] for i in range(2)]
    assert len(set(created)) == 2
    for i in (0, 1, 2, 3, 4, 5, 7):  # dealt out in turn; the churn bot (7) always to its own
        b = by_name[f"bot{i}"]
        assert set(b["rooms"]) == {created[i % 2]}
        assert set(held_names(b)) <= {created[i % 2]}
    assert len(by_name["bot7"]["rooms"]) >= 2  # it came back, with a seat each time
    hosted = by_name["bot6"]["rooms"] + by_name["bot8"]["rooms"]
    assert len(hosted) >= 4 and len(set(hosted)) == len(hosted)  # a new room every time
    assert not set(hosted) & set(created)
    for room in hosted:  # alone in its room
        assert held_names(by_name["bot6"]).get(room, {"bot6"}) <= {"bot6"}
        assert held_names(by_name["bot8"]).get(room, {"bot8"}) <= {"bot8"}
    assert health["rooms_created"] >= 2 + len(hosted) and disposed >= 1
    assert rep["rooms"]["count"] == 2 + len(hosted)


def test_a_bot_sent_an_entity_of_another_room_fails_the_verification() -> None:
    # Two bots in two rooms (as their welcomes said); bot0 is then sent a spawn named bot1.
    r = Runner("ws://127.0.0.1:1/ws", 2, "wander", verify=0)
    bot, other = r.bots
    server, bot.sock = socket.socketpair()
    try:
        bot.fd, bot.state = bot.sock.fileno(), "playing"
        bot.room, bot.rooms = "r-aaaaaaaaaaaa", ["r-aaaaaaaaaaaa"]
        other.room, other.rooms = "r-bbbbbbbbbbbb", ["r-bbbbbbbbbbbb"]
        spawns = (
            spawn(1, "bot0", 0, 0, 0, 100),
            spawn(2, "bot1", 8, 8, 0, 100),
            spawn(3, "Ann", 0, 0, 0, 1),
        )
        server.sendall(_server_frame(codec.encode_server(Snapshot(5, None, 1, spawns=spawns))))
        bot.on_readable()
        server.sendall(_server_frame(codec.encode_server(Snapshot(6, 5, 2, changes=(change(2, dqx=1),)))))
        bot.on_readable()
        assert bot.ack_tick == 6 and not bot.errors
        assert held_names(bot.report(1.0)) == {"r-aaaaaaaaaaaa": {"bot0", "bot1"}}
        rep = merge([r.report()])
    finally:
        server.close()
        bot.sock.close()
        r.epoll.close()
    assert rep["isolation_violations"] == 1
    assert rep["errors"] == 1 and rep["errors_by_kind"] == {"isolation": 1}
    assert rep["error_samples"] == [
        "bot0: isolation: in room r-aaaaaaaaaaaa it was sent bot1, of room(s) ['r-bbbbbbbbbbbb']"
    ]
    assert rep["rooms"]["rooms"]["r-aaaaaaaaaaaa"]["foreign_names"] == 1  # Ann: no bot, only counted


def test_room_summary_and_isolation_from_bot_reports() -> None:
    def bot(
        index: int, joined: list[str], held: dict[str, list[int]], snaps: dict[str, int]
    ) -> dict[str, Any]:
        bits = {room: format(sum(1 << i for i in idx), "x") for room, idx in held.items()}
        return {
            "name": rooms.bot_name(index),
            "index": index,
            "rooms": joined,
            "held_bots": bits,
            "room_snapshots": snaps,
            "foreign_names": {},
        }

    bots = [
        bot(0, ["a"], {"a": [0, 1]}, {"a": 60}),
        bot(1, ["a"], {"a": [0, 1]}, {"a": 60}),
        bot(2, ["b"], {"b": [2, 3]}, {"b": 58}),
        # a churning bot: in b, then in c, then in b again; it held bot2 in both, bot0 in c
        bot(3, ["b", "c", "b"], {"b": [2, 3], "c": [0, 2, 3]}, {"b": 40, "c": 10}),
    ]
    assert rooms.room_members(bots) == {"a": 0b11, "b": 0b1100, "c": 0b1000}
    violations = rooms.isolation_violations(bots)
    assert violations == [
        {"bot": "bot3", "room": "c", "held": "bot0", "held_rooms": ["a"]},
        {"bot": "bot3", "room": "c", "held": "bot2", "held_rooms": ["b"]},
    ]
    summary = rooms.room_summary(bots, window=2.0)
    assert summary["count"] == 3
    assert summary["rooms"]["a"] == {
        "bots": ["bot0", "bot1"],
        "snapshots": 120,
        "foreign_names": 0,
        "snapshots_per_bot_s": 30.0,
    }
    assert summary["rooms"]["b"]["bots"] == ["bot2", "bot3"] and summary["rooms"]["b"]["snapshots"] == 98
    assert summary["bots_per_room"] == {"min": 1, "median": 2, "max": 2}
    assert summary["snapshots_per_bot_s"] == {"min": 5.0, "median": 24.5}
    assert rooms.held_indices("d") == [0, 2, 3]


def test_matchmaking_answers_are_read_whole_however_they_arrive() -> None:
    request = rooms.matchmake_request("127.0.0.1", 8000, "join", {"room": "r-0123456789ab"})
    head, _, body = request.partition(b"\r\n\r\n")
    assert head.startswith(b"POST /matchmake/join HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n")
    assert json.loads(body) == {"room": "r-0123456789ab"} and f"Content-Length: {len(body)}".encode() in head
    answer = b'{"room": "r-1", "seat": "s"}'
    whole = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(answer)
        + answer
    )
    for cut in range(len(whole)):  # every split into two reads
        assert rooms.parse_http_response(whole[:cut], eof=False) is None
    assert rooms.parse_http_response(whole, eof=False) == (200, {"room": "r-1", "seat": "s"})
    no_length = b"HTTP/1.1 409 Conflict\r\n\r\n" + b'{"error": "room_full"}'
    assert rooms.parse_http_response(no_length, eof=False) is None  # the end is the close
    assert rooms.parse_http_response(no_length, eof=True) == (409, {"error": "room_full"})
    for bad in (whole[:-3], b"SSH-2.0\r\n\r\n{}", b"HTTP/1.1 200 OK\r\n\r\n[1]", b"HTTP/1.1 200 OK"):
        with pytest.raises(ValueError):
            rooms.parse_http_response(bad, eof=True)


def test_behaviours_are_dealt_from_a_list_with_counts() -> None:
    assert parse_behaviours("wander") == ["wander"]
    assert parse_behaviours("wander*3, host ,idle*1") == ["wander"] * 3 + ["host", "idle"]
    assert parse_behaviours("wander*2,drop") == ["wander", "wander", "drop"]
    assert parse_behaviours("fight*2,spectate") == ["fight", "fight", "spectate"]
    for bad in ("walk", "wander*0", "wander*x", "", " , "):
        with pytest.raises(ValueError):
            parse_behaviours(bad)


@pytest.mark.parametrize("baseline", [None, 0, 200, 70000])
@pytest.mark.parametrize("last_seq", [None, 3, 2**32 - 1])
def test_the_spawns_of_a_snapshot_are_found_without_decoding_the_rest(
    baseline: int | None, last_seq: int | None
) -> None:
    changes = tuple(change(i, dqx=1) for i in range(1, 40))
    for spawns in ((), (spawn(7, "bot7", 1, 2, 3, 100), spawn(9, "Zoë", 0, 0, 0, 1))):
        data = codec.encode_server(Snapshot(70001, baseline, last_seq, spawns, changes, ()))
        framed = b"xx" + data  # where it lies in a larger buffer
        head = wire.snapshot_head(framed, 2)
        assert head is not None
        tick, at = head
        assert tick == 70001 and framed[at] == (0x92 if spawns else 0x90)
        assert wire.spawn_names(framed, at, len(framed)) == [name_of(s) for s in spawns]
    assert wire.snapshot_head(msgpack.packb([11, 5, "x", None, [], [], [], []]), 0) is None
    with pytest.raises(ValueError):
        wire.spawn_names(msgpack.packb([[1, 2]]), 1, 6)


# --- spectators ---------------------------------------------------------------------------------


def player_ids(rep: dict[str, Any]) -> set[int]:
    """Every entity id the run's players were welcomed as (a churning bot's change)."""
    return {eid for b in rep["per_bot"] if b["behaviour"] != "spectate" for eid in b["entity_ids"]}


def assert_spectators_watched(
    rep: dict[str, Any], spectators: int, min_rate: float = 15
) -> list[dict[str, Any]]:
    """What every spectator of a run must have done: joined once as no entity, received the
    players' snapshots (at least `min_rate` a second), acknowledged them (bytes out with no
    input), followed someone the whole time, switched whom with FOLLOW, and been closed by
    nobody."""
    spec = rep["spectate"]
    assert spec["bots"] == spec["connected"] == spectators, spec
    assert spec["closed_by_server"] == 0 and spec["errors"] == 0 and spec["followed_missing"] == 0
    assert spec["snapshots_per_s_median"] > min_rate
    watchers = [b for b in rep["per_bot"] if b["behaviour"] == "spectate"]
    players = player_ids(rep)
    for b in watchers:
        assert b["connects"] == 1 and b["entity_ids"] == [0] and b["connected"], b
        assert set(b["close_codes"]) == {"1000"}, b["close_codes"]
        assert b["snapshots_per_s"] > min_rate and b["mirrored_snapshots"] > min_rate
        assert b["bytes_out_per_s"] > min_rate * 3  # an ACK (3 to 5 bytes and a frame) a snapshot
        # the first FOLLOWING came with the WELCOME, then one for each FOLLOW at least
        assert b["follows"] >= 2 and b["followings"] >= b["follows"] + 1, b
        assert b["followed_held"] > 15 and b["followed_missing"] == 0
        assert b["spectator_scoreboards"] >= 1
        assert b["follow_switches"] >= 1, b  # it followed someone else at least once
        assert set(b["followed_entities"]) <= players and len(b["followed_entities"]) >= 2
    return watchers


def test_spectators_watch_the_players_follow_them_and_verify_their_mirrors() -> None:
    # Four players stay, two churn (the scoreboard changes when they come and go: a spectator
    # learns the players from it); four spectators, dealt first and last: bot0 and bot1 verify
    # every message (verify=2), bot8 and bot9 track. The players connect first.
    with ServerProcess("--tick", "30") as server:
        rep = run_bots(
            server.ws_url,
            10,
            duration=2.5,
            behaviour="spectate*2,wander*4,churn*2,spectate*2",
            verify=2,
            warmup=0.5,
            join_timeout=10,
            churn_stay=(0.3, 0.6),
            follow_every=(0.3, 0.6),
        )
        health = wait_for(lambda: (h := server.health())["players"] == 0 and h, 5, "every bot gone")
    assert rep["errors"] == 0, rep["error_samples"]
    assert rep["isolation_violations"] == 0
    assert health["spectators"] == 0
    watchers = assert_spectators_watched(rep, 4)
    by_name = {b["name"]: b for b in watchers}
    assert set(by_name) == {"bot0", "bot1", "bot8", "bot9"}
    assert all(by_name[n]["verified_snapshots"] > 15 for n in ("bot0", "bot1"))
    assert all(by_name[n]["verified_snapshots"] == 0 for n in ("bot8", "bot9"))
    (room,) = {b["room"] for b in rep["per_bot"]}
    players = {b["name"] for b in rep["per_bot"] if b["behaviour"] != "spectate"}
    for b in watchers:
        # without a view, everything: every player, and no spectator (they have no entity)
        assert held_names(b) == {room: players}
    steady = [b for b in rep["per_bot"] if b["behaviour"] == "wander"]
    assert all(b["snapshots_per_s"] > 15 and b["connects"] == 1 for b in steady)


def test_a_spectator_in_the_arena_is_sent_the_view_of_the_player_it_follows() -> None:
    # The arena has a view: a spectator holds what is around the player it follows, which is
    # always among it. bot0 (a spectator) and bot1 verify; churning players keep the scoreboard
    # moving. A player whose view does not change (a dead fighter) is sent a snapshot a second,
    # and so is a spectator who follows it.
    with ServerProcess("--tick", "30", map_name="arena") as server:
        rep = run_bots(
            server.ws_url,
            10,
            duration=2.5,
            behaviour="spectate,fight*3,churn*3,wander,spectate*2",
            verify=2,
            warmup=0.5,
            join_timeout=10,
            churn_stay=(0.3, 0.6),
            follow_every=(0.3, 0.6),
        )
    assert rep["errors"] == 0, rep["error_samples"]
    assert rep["welcome"]["rules"]["view_width"] > 0
    watchers = assert_spectators_watched(rep, 3, min_rate=5)
    assert {b["name"] for b in watchers if b["verified_snapshots"] > 5} == {"bot0"}
    assert rep["isolation_violations"] == 0


def test_spectators_sent_to_rooms_watch_their_own_room_only() -> None:
    # --rooms 2: the players take seats; the spectators (bot4 to the first room, bot5 to the
    # second) name the room in their HELLO, with no seat.
    with ServerProcess("--tick", "30", "--room-size", "8") as server:
        rep = run_bots(
            server.ws_url, 6, duration=1.0, behaviour="wander*4,spectate*2", join_timeout=10, rooms=2
        )
    assert rep["errors"] == 0, rep["error_samples"]
    assert rep["isolation_violations"] == 0
    by_name = {b["name"]: b for b in rep["per_bot"]}
    for spectator, mates in (("bot4", {"bot0", "bot2"}), ("bot5", {"bot1", "bot3"})):
        b = by_name[spectator]
        assert b["rooms"] == by_name[min(mates)]["rooms"] and b["snapshots_per_s"] > 15
        assert held_names(b) == {b["room"]: mates}
        assert b["followings"] >= 1 and b["followed_missing"] == 0


def test_spectators_in_a_process_of_their_own_wait_for_a_player_to_watch() -> None:
    # Over two processes, the spectators are all in the second: a quick spectate before any
    # player joined is refused with room_not_found, and the spectator tries again.
    with ServerProcess("--tick", "30") as server:
        rep = run_bots(
            server.ws_url, 4, duration=1.0, behaviour="wander*2,spectate*2", procs=2, join_timeout=10
        )
    assert rep["errors"] == 0, rep["error_samples"]
    assert rep["connected"] == 4 and rep["spectate"]["connected"] == 2
    assert rep["spectate"]["snapshots_per_s_median"] > 15


def test_a_spectator_past_the_rooms_limit_is_refused_and_counted() -> None:
    with ServerProcess("--tick", "30", "--spectators-per-room", "1") as server:
        rep = run_bots(server.ws_url, 3, duration=0.5, behaviour="wander,spectate,spectate", join_timeout=5)
    spec = rep["spectate"]
    assert spec["bots"] == 2 and spec["connected"] == 1 and spec["closed_by_server"] == 1
    assert rep["errors_by_kind"] == {"server_error": 1, "closed": 1} or rep["errors_by_kind"] == {
        "server_error": 1
    }
    assert any("room_full" in s for s in rep["error_samples"])
    assert "4409:room_full" in rep["close_codes"]


def _client_messages(data: bytes) -> list[list[Any]]:
    """The msgpack messages in masked client frames (each payload under 126 bytes)."""
    out, pos = [], 0
    while pos < len(data):
        n = data[pos + 1] & 0x7F
        key = data[pos + 2 : pos + 6]
        body = bytes(b ^ key[i % 4] for i, b in enumerate(data[pos + 6 : pos + 6 + n]))
        out.append(msgpack.unpackb(body))
        pos += 6 + n
    return out


@pytest.mark.parametrize("verify", [False, True])
def test_a_spectator_acks_each_snapshot_follows_from_the_scoreboard_and_checks_its_view(verify: bool) -> None:
    r = Runner("ws://127.0.0.1:1/ws", 1, "spectate", verify=int(verify))
    r.follow_every = (0.5, 0.5)
    (bot,) = r.bots
    server, bot.sock = socket.socketpair()
    server.settimeout(1.0)
    try:
        bot.fd, bot.state, bot.spectator = bot.sock.fileno(), "hello", True
        bot.mirror = Mirror(SCHEMA) if verify else Tracker()

        def read(*messages: ServerMessage) -> None:
            server.sendall(b"".join(_server_frame(codec.encode_server(m)) for m in messages))
            bot.on_readable()

        read(Welcome(1, 0, 30, 30, "", "r-aaaaaaaaaaaa", 9), Following(3))
        assert bot.state == "playing" and bot.entity_id is None and bot.following == 3
        assert bot.follow_at < float("inf") and not bot.errors
        spawns = (spawn(3, "bot3", 0, 0, 0, 100), spawn(4, "bot4", 800, 0, 0, 100))
        read(Snapshot(10, None, None, spawns=spawns))
        assert bot.ack_tick == 10 and bot.followed_held == 1
        lines = (
            ScoreLine(3, "bot3", 2, 0),
            ScoreLine(4, "bot4", 1, 0),
            ScoreLine(5, "bot5", 0, 0, away=True),
        )
        read(Scoreboard(lines))
        assert bot.known_players == [3, 4] and bot.spectator_scoreboards == 1
        bot.on_tick(bot.follow_at)  # its time to follow another: the only other one not away
        read(Following(4))
        assert (bot.following, bot.follows, bot.followings, bot.follow_switches) == (4, 1, 2, 1)
        assert bot.follows_refused == 0 and not bot.errors
        # The first snapshot after the switch may have been made before it: no error. Any after
        # it must hold the one it follows.
        read(Snapshot(11, 10, None, removals=(4,)))
        assert bot.followed_late == 1 and not bot.errors
        read(Snapshot(12, 11, None))
        assert bot.followed_missing == 1 and bot.errors["follow"] == 1
        read(Snapshot(13, 12, 7))  # a last_seq: a spectator sent no input
        assert bot.errors["desync"] == 1
        bot.on_tick(bot.follow_at)
        read(Following(4))  # asked for 3, still follows 4: refused
        assert bot.follows == 2 and bot.follows_refused == 1
        sent = _client_messages(server.recv(4096))
        assert sent == [[5, 10], [4, 4], [5, 11], [5, 12], [5, 13], [4, 3]]
        assert sent[0] == msgpack.unpackb(codec.encode_client(Ack(10)))
        assert sent[1] == msgpack.unpackb(codec.encode_client(Follow(4)))
    finally:
        server.close()
        bot.sock.close()
        r.epoll.close()


def test_a_spectators_hello_and_a_welcome_that_gives_it_an_entity() -> None:
    hello = Hello(codec.PROTOCOL_VERSION, "bot0", None, None, None, spectate=True)
    assert msgpack.unpackb(codec.encode_client(hello)) == [
        1,
        codec.PROTOCOL_VERSION,
        "bot0",
        None,
        None,
        None,
        True,
    ]
    r = Runner("ws://127.0.0.1:1/ws", 1, "spectate", verify=0)
    (bot,) = r.bots
    server, bot.sock = socket.socketpair()
    try:
        bot.fd, bot.state, bot.spectator, bot.mirror = bot.sock.fileno(), "hello", True, Tracker()
        server.sendall(_server_frame(codec.encode_server(Welcome(1, 7, 30, 30, "tok", "r-aaaaaaaaaaaa", 9))))
        bot.on_readable()
        assert bot.errors["spectate"] == 1
    finally:
        server.close()
        bot.sock.close()
        r.epoll.close()
