"""The attackers (benchmarks/attack.py) and the benchmark under attack (--scenario attack), run
for real against servers on 127.0.0.1, briefly and small: they check that the tools work and that
each attack meets the defence it is aimed at, never timing figures (docs/benchmarks.md holds
those)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import msgpack
import pytest

from benchmarks import attack, bench, bench_attack


def test_bench_under_attack_runs_each_attack_beside_the_players_and_the_old_findings(tmp_path: Path) -> None:
    out = tmp_path / "attack.json"
    args = ["--scenario", "attack", "--counts", "4", "--warmup", "0.3", "--measure", "1"]
    args += ["--attack-scale", "0.05", "--churn-count", "40", "--churn-seconds", "1", "--churn-rates", "30"]
    args += [
        "--stall-players",
        "6",
        "--stall-readers",
        "2",
        "--stall-warmup",
        "0.3",
        "--flooders",
        "1",
        "--flood-seconds",
        "1",
    ]
    assert bench.main([*args, "--json", str(out)]) == 0
    result = json.loads(out.read_text())["attack"]
    runs = {r["attack"]: r for r in result["runs"]}
    assert list(runs) == list(bench_attack.ALL)
    for kind, r in runs.items():
        # no timing: on a shared machine a run's server may get little of its core
        assert r["players"] == 4 and r["bot_errors"] == 0 and r["ticks"] > 0, kind
        assert r["us_per_player_tick"] > 0 and r["rss_before_mib"] > 5 and r["rss_after_mib"] > 5
        assert r["probe"]["join_ms"]["n"] + sum(r["probe"]["failed"].values()) >= 1
        if kind != "none":
            assert r["attack_report"]["kind"] == kind and r["attacker_cpu_per_wall"] is not None
    reports = {kind: r["attack_report"] for kind, r in runs.items()}
    assert reports["slowloris"]["held_peak"] >= 1
    assert reports["silent"]["upgraded"] >= 1
    assert reports["churn"]["joined"] >= 1 and reports["churn"]["outcomes"].get("left", 0) >= 1
    assert reports["drop-churn"]["outcomes"].get("dropped", 0) >= 1
    assert reports["stall"]["joined"] >= 1 and reports["slow-read"]["joined"] >= 1
    # each flood is met by its limit: 16 frames before HELLO, the message rate after it
    assert reports["flood-early"]["outcomes"].get("hello_required", 0) >= 1
    assert reports["flood"]["outcomes"].get("rate_limited", 0) >= 1
    assert reports["ping-flood"]["outcomes"].get("rate_limited", 0) >= 1
    found = {e["finding"]: e for e in result["findings"]}
    churned = found["churn at 30 Hz"]
    assert churned["churn"]["joined"] >= 30 and churned["rss_after_mib"] > 5
    assert churned["witness"]["snapshots_per_s"] > 0
    assert found["N=6, 0 stalling readers"]["attack"] == "none"
    assert found["N=6, 2 stalling readers"]["attack_report"]["joined"] >= 1
    for kind in ("flood", "flood-early"):
        flooded = found[f"1 {kind} flooder"]
        assert flooded["flood"]["connections"] >= 1 and flooded["server_cpu_per_wall"] > 0
    assert result["findings_other"] == []
    text = bench_attack.table(result)
    assert text.count("\n| ") >= len(runs) + len(found)


def test_frames_out_are_masked_with_key_zero_and_frames_in_are_read_whole_however_split() -> None:
    assert attack.frame(attack.OP_PING) == b"\x89\x80\0\0\0\0"
    assert attack.frame(attack.OP_CONT, fin=False) == b"\x00\x80\0\0\0\0"
    big = attack.frame(attack.OP_BINARY, b"x" * 300)
    assert big[:4] == b"\x82\xfe\x01\x2c" and big[8:] == b"x" * 300
    hello = msgpack.unpackb(attack.hello_frame("a1")[6:])
    assert hello == [attack.HELLO, 1, "a1", None, None]
    assert msgpack.unpackb(attack.input_frame(7)[6:]) == [attack.INPUT, 7, 0, 0, 0, 0, attack.MAX_TICK]
    welcome = msgpack.packb([attack.WELCOME, 1, 2])
    error = msgpack.packb([attack.ERROR, "rate_limited", "too many messages"])
    close = struct.pack("!H", 1008) + b"rate_limited"
    stream = bytes((0x82, len(welcome))) + welcome + bytes((0x82, len(error))) + error
    stream += bytes((0x88, len(close))) + close + b"\x82\x7e\x01\x00" + bytes(256)
    for cut in range(len(stream) + 1):
        first, rest = attack.parse_frames(stream[:cut])
        later, tail = attack.parse_frames(rest + stream[cut:])
        frames = first + later
        assert tail == b"" and [op for op, _ in frames] == [2, 2, 8, 2]
    assert attack.refusal(*frames[0]) is None
    assert attack.refusal(*frames[1]) == "rate_limited"
    assert attack.refusal(*frames[2]) == "rate_limited"
    assert attack.refusal(attack.OP_CLOSE, struct.pack("!H", 1000)) == "close 1000"
    assert len(frames[3][1]) == 256


def test_attacks_stay_on_loopback_and_scale_their_size() -> None:
    assert attack.parse_sources("127.0.0.2-127.0.0.4,127.0.0.9") == (
        "127.0.0.2",
        "127.0.0.3",
        "127.0.0.4",
        "127.0.0.9",
    )
    with pytest.raises(ValueError):
        attack.Target(1, sources=("10.0.0.1",))
    with pytest.raises(ValueError):
        attack.Target(1, host="192.0.2.1")
    with pytest.raises(ValueError):
        attack.parse_sources("127.0.0.1-127.1.0.1")
    assert attack.sizes("slowloris") == {"count": 256}
    assert attack.sizes("slowloris", scale=0.001) == {"count": 1}
    assert attack.sizes("churn", scale=0.5) == {"rate": 166.5}
    assert attack.sizes("drop-churn", count=10, rate=5) == {"rate": 5, "count": 10}
    assert set(attack.ATTACKS) == set(attack.DEFAULTS)
    assert attack.summary([3.0, 1.0, 2.0], 1e3) == {"n": 3, "p50": 2000.0, "max": 3000.0}
