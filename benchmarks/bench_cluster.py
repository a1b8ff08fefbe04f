"""`python -m benchmarks.bench_cluster`: players held by one process and by several, sharing a
directory in Redis (docs/benchmarks.md, "Many processes").

For each process count K (--processes) and player count N (--counts): a fresh cluster of K
servers and a Redis (gameserver.localcluster), the empty world in rooms of --room-size, and N
wandering bots (one bots process) that each reserve a seat with POST /matchmake/quick and
connect to the process the answer names. Over the measured window, per server process: the
share of ticks that took at most 10 ms (from the /metrics histogram: a third of the 33.3 ms
period is 11.1 ms, and 10 ms is the bucket below it), its CPU, and the players it holds; and
the bots' snapshots per second and CPU. "Held" is: every process ran 99 % of its ticks within
10 ms, no tick was skipped, and the bots' median snapshot rate is 29/s or more.

Then, on a cluster of the largest K: join latency through the directory (POST /matchmake/quick,
then the WebSocket to the url it gave, HELLO and WELCOME) at --join-rate joins a second for
--join-seconds, and the time for the rooms of a process killed with SIGKILL to leave the listing
of the others.

Nothing is pinned: K servers and the bots share the machine's cores, as the bots' CPU says.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import threading
import time
import urllib.request
from typing import Any

from websockets.sync.client import connect

from benchmarks import harness
from gameserver import codec
from gameserver.localcluster import LocalCluster
from gameserver.messages import Hello, Welcome

BUCKET = re.compile(r'^gameserver_tick_duration_seconds_bucket\{le="([^"]+)"\} (\S+)$', re.M)
COUNT = re.compile(r"^gameserver_tick_duration_seconds_count (\S+)$", re.M)
SKIPPED = re.compile(r"^gameserver_ticks_skipped_total (\S+)$", re.M)
WITHIN = "0.01"  # the histogram's bucket of 10 ms


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as answer:
        data: bytes = answer.read()
        return data


def _post(url: str, body: bytes = b"{}") -> dict[str, Any]:
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        data: dict[str, Any] = json.loads(answer.read())
        return data


def tick_sample(http: str, pid: int) -> dict[str, float]:
    """The tick histogram's counts, the skipped ticks and the process's CPU, now."""
    text = _get(http + "metrics").decode()
    buckets = {le: float(v) for le, v in BUCKET.findall(text)}
    count, skipped = COUNT.search(text), SKIPPED.search(text)
    assert count is not None and skipped is not None
    cpu, sys_cpu = harness.cpu_seconds(pid)
    return {
        "t": time.monotonic(),
        "within": buckets[WITHIN],
        "ticks": float(count.group(1)),
        "skipped": float(skipped.group(1)),
        "cpu": cpu + sys_cpu,
        "players": float(json.loads(_get(http + "healthz"))["players"]),
    }


def run(processes: int, n: int, opts: argparse.Namespace) -> dict[str, Any]:
    server_args = [
        "--map",
        "none",
        "--room-size",
        str(opts.room_size),
        "--tick",
        "30",
        "--log-level",
        "warning",
    ]
    server_args += ["--max-players", str(n + 64), "--max-rooms", str(n // opts.room_size + 16)]
    cluster = LocalCluster(processes, 0, "127.0.0.1", None, server_args)
    bots = None
    try:
        cluster.start()
        ws_url = cluster.urls[0].replace("http://", "ws://") + "ws"
        bots = harness.start_bots(
            ws_url, n, "wander", opts.warmup, opts.measure, 1, 1, None, extra=["--matchmake"]
        )
        window = harness.wait_window(bots, 120)
        if window is None:
            raise RuntimeError(f"the bots never started measuring (K={processes}, N={n})")
        harness.sleep_until(window[0])
        before = [tick_sample(url, p.pid) for url, p in zip(cluster.urls, cluster.servers, strict=True)]
        harness.sleep_until(window[1])
        after = [tick_sample(url, p.pid) for url, p in zip(cluster.urls, cluster.servers, strict=True)]
        out, _ = bots.communicate(timeout=60)
        report = json.loads(out.strip().splitlines()[-1])
    finally:
        harness.stop_process(bots)
        cluster.stop()
    per_process = []
    for a, b in zip(before, after, strict=True):
        ticks = b["ticks"] - a["ticks"]
        per_process.append(
            {
                "players": int(a["players"]),  # at the window's start: at its end the bots leave
                "within_10ms": (b["within"] - a["within"]) / ticks if ticks else None,
                "skipped": int(b["skipped"] - a["skipped"]),
                "cpu_per_wall": (b["cpu"] - a["cpu"]) / (b["t"] - a["t"]),
            }
        )
    snaps = report["snapshots_per_s_median"]
    held = (
        all(
            p["within_10ms"] is not None and p["within_10ms"] >= 0.99 and not p["skipped"]
            for p in per_process
        )
        and (snaps or 0) >= 29.0
        and report["connected"] >= n
        and not report["errors"]
    )
    return {
        "processes": processes,
        "players": n,
        "per_process": per_process,
        "snapshots_per_s_median": snaps,
        "bots_cpu_per_wall": report["cpu_per_wall"],
        "bots_connected": report["connected"],
        "errors": report["errors"],
        "held": held,
    }


def join_latency(processes: int, opts: argparse.Namespace) -> dict[str, Any]:
    """Joins at opts.join_rate a second through the directory: seat, WebSocket, HELLO, WELCOME."""
    total = int(opts.join_rate * opts.join_seconds)
    # rooms of 10: the joins fill rooms on every process, and the killed one holds some
    server_args = ["--map", "none", "--room-size", "10", "--log-level", "warning"]
    server_args += ["--max-players", str(total + 64), "--seats-per-address", str(total + 64)]
    cluster = LocalCluster(processes, 0, "127.0.0.1", None, server_args)
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    done = threading.Event()  # the players stay until the kill has been timed

    def join(i: int) -> None:
        started = time.monotonic()
        try:
            offer = _post(cluster.urls[i % processes] + "matchmake/quick")
            with connect(offer["url"], open_timeout=10) as ws:
                ws.send(codec.encode_client(Hello(1, f"j{i}", None, offer["room"], offer["seat"])))
                if not isinstance(codec.decode_server(ws.recv(timeout=10)), Welcome):
                    raise RuntimeError("no WELCOME")
                with lock:
                    latencies.append(time.monotonic() - started)
                done.wait(60)
        except Exception as exc:  # counted and reported: a benchmark says what failed
            if not done.is_set():
                with lock:
                    failures.append(repr(exc))

    threads: list[threading.Thread] = []
    try:
        cluster.start()
        t0 = time.monotonic()
        for i in range(total):
            harness.sleep_until(t0 + i / opts.join_rate)
            t = threading.Thread(target=join, args=(i,), daemon=True)
            t.start()
            threads.append(t)
        deadline = time.monotonic() + 30
        while len(latencies) + len(failures) < total and time.monotonic() < deadline:
            time.sleep(0.05)
        on_each = [json.loads(_get(url + "healthz"))["players"] for url in cluster.urls]
        # a process killed: how long until the listing of the others no longer has its rooms
        victim, victim_ws = cluster.servers[-1], cluster.urls[-1].replace("http://", "ws://") + "ws"
        listed = [r for r in json.loads(_get(cluster.urls[0] + "rooms"))["rooms"] if r["url"] == victim_ws]
        killed = time.monotonic()
        victim.send_signal(signal.SIGKILL)
        gone_after = None
        while time.monotonic() - killed < 30:
            rooms = json.loads(_get(cluster.urls[0] + "rooms"))["rooms"]
            if not any(r["url"] == victim_ws for r in rooms):
                gone_after = time.monotonic() - killed
                break
            time.sleep(0.02)
    finally:
        done.set()
        for t in threads:
            t.join(10)
        cluster.stop()
    latencies.sort()

    def pct(q: float) -> float | None:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else None

    return {
        "processes": processes,
        "joins": total,
        "rate": opts.join_rate,
        "ok": len(latencies),
        "failures": failures[:5],
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "max_ms": latencies[-1] * 1000 if latencies else None,
        "players_per_process": on_each,
        "killed_rooms_listed": len(listed),
        "killed_gone_after_s": gone_after,
    }


def table(rows: list[dict[str, Any]]) -> str:
    head = (
        "| processes | players | held | ticks within 10 ms, per process | server CPU per process "
        "| players per process | snapshots/s (median) | bots CPU |"
    )
    lines = [head, "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        pp = r["per_process"]
        within = ", ".join("-" if p["within_10ms"] is None else f"{p['within_10ms'] * 100:.1f} %" for p in pp)
        cpu = ", ".join(harness.fmt(p["cpu_per_wall"], ".2f") for p in pp)
        players = ", ".join(str(p["players"]) for p in pp)
        snaps, bots = (
            harness.fmt(r["snapshots_per_s_median"], ".2f"),
            harness.fmt(r["bots_cpu_per_wall"], ".2f"),
        )
        held = "yes" if r["held"] else "no"
        row = (r["processes"], r["players"], held, within, cpu, players, snaps, bots)
        lines.append("| " + " | ".join(str(cell) for cell in row) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_cluster", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--processes", default="1,2", help="process counts (default %(default)s)")
    p.add_argument("--counts", default="400,800,1200", help="player counts (default %(default)s)")
    p.add_argument("--room-size", type=int, default=50, help="players per room (default %(default)s)")
    p.add_argument("--warmup", type=float, default=5.0, help="seconds after all joined (default %(default)s)")
    p.add_argument("--measure", type=float, default=15.0, help="measured seconds (default %(default)s)")
    p.add_argument("--join-rate", type=float, default=50.0, help="joins a second (default %(default)s)")
    p.add_argument("--join-seconds", type=float, default=10.0, help="seconds of joins (default %(default)s)")
    p.add_argument("--json", dest="json_out", help="write every figure to this JSON file")
    opts = p.parse_args(argv)
    ks = [int(k) for k in opts.processes.split(",")]
    counts = [int(n) for n in opts.counts.split(",")]
    rows = []
    for k in ks:
        for n in counts:
            row = run(k, n, opts)
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    joins = join_latency(max(ks), opts)
    print(table(rows))
    print()
    for k in ks:
        held = [r["players"] for r in rows if r["processes"] == k and r["held"]]
        print(f"{k} process(es): held up to {max(held) if held else 'none of'} players of {counts}")
    p50, p99, top = (harness.fmt(joins[k], ".1f") for k in ("p50_ms", "p99_ms", "max_ms"))
    print(
        f"joins through the directory ({joins['processes']} processes, {joins['rate']:g}/s for "
        f"{opts.join_seconds:g} s): {joins['ok']} of {joins['joins']}, p50 {p50} ms, p99 {p99} ms, "
        f"max {top} ms; players per process {joins['players_per_process']}; failures {joins['failures']}"
    )
    print(
        f"a process killed with SIGKILL ({joins['killed_rooms_listed']} rooms listed): gone from the "
        f"others' listing after {harness.fmt(joins['killed_gone_after_s'], '.2f')} s (--cluster-ttl 5)"
    )
    if opts.json_out:
        with open(opts.json_out, "w") as f:
            json.dump(
                {"machine": harness.machine(), "runs": rows, "joins": joins, "cpus": os.cpu_count()},
                f,
                indent=1,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
