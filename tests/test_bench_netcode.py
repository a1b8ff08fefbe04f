"""benchmarks/bench_netcode.py: its network cases, and one short run for real (slow tier)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path

import pytest

from benchmarks import bench_netcode, harness


def test_a_case_is_a_round_trip_with_its_jitter_and_stalls() -> None:
    assert bench_netcode.parse_case("0") == {
        "name": "0",
        "rtt_ms": 0,
        "jitter_ms": 0,
        "stall_ms": 0,
        "stall_every_s": 0.0,
    }
    assert bench_netcode.parse_case("100+-20/300@5") == {
        "name": "100+-20/300@5",
        "rtt_ms": 100,
        "jitter_ms": 20,
        "stall_ms": 300,
        "stall_every_s": 5.0,
    }
    assert bench_netcode.parse_case("200±40")["jitter_ms"] == 40
    for bad in ("", "fast", "100+-", "100/300", "-5"):
        with pytest.raises(argparse.ArgumentTypeError):
            bench_netcode.parse_case(bad)


def test_a_short_run_measures_a_page_through_a_jittery_proxy(capsys: pytest.CaptureFixture[str]) -> None:
    if not (Path(harness.CHROMIUM).exists() or shutil.which("chromium")):
        if os.environ.get("GAMESERVER_REQUIRE_BROWSER") == "1":
            pytest.fail("GAMESERVER_REQUIRE_BROWSER=1 but there is no Chromium")
        pytest.skip("no Chromium: apt-get install chromium")
    args = ["--cases", "60+-40", "--modes", "auto,fixed", "--seconds", "2", "--bots", "2", "--json"]
    assert bench_netcode.main(args) == 0
    out = capsys.readouterr().out
    assert "| 60+-40 | auto |" in out and "| 60+-40 | fixed |" in out
    rows = json.loads(out[out.index("[") :])
    assert [r["mode"] for r in rows] == ["auto", "fixed"]
    auto, fixed = rows
    assert fixed["delay_mean_ms"] == fixed["delay_max_ms"] == bench_netcode.FIXED_MS
    assert 2000 / 30 - 1e-6 <= auto["delay_mean_ms"] <= 300  # within the adaptive delay's bounds
    assert all(r["reconnects"] == 0 and r["fps"] > 0 and r["jitter_mean_ms"] is not None for r in rows)
