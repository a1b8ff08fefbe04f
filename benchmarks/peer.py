"""`python -m benchmarks.peer`: the reference scenario on Colyseus 0.16 and on gameserver, measured
on the same machine in the same minutes.

The VM's speed moves by 10-25 % from hour to hour, so a peer's figure measured once, at another
hour, cannot say by how much a build is ahead of it. Here the peer plays the reference scenario
(benchmarks/peers/colyseus: a Colyseus room with @colyseus/schema state, simulation and patches
at 30 Hz, and Node bots that play as the wander bots do) next to gameserver, either:

- alone, one after the other (the default): each server on CPU 0 with its own bots on CPU 1, as
  `benchmarks.bench` runs it, the runs alternating which server goes first; the ratio of two
  neighbouring runs still carries some of the drift;
- together (`--together`): both servers at once on CPU 0, each with its N bots on CPU 1, over the
  same window, as `benchmarks.pair` runs two builds. Both feel the same drift; the servers share
  the core's caches, so the figures are higher than a lone server's, and the ratio is the
  figure. Both servers must fit on one core: N=400 does, N=800 does not.

The first run installs the peer's pinned packages with `npm ci` (Node.js 18+ and npm needed).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from statistics import median
from typing import Any

from benchmarks import harness

PEER = Path(__file__).resolve().parent / "peers" / "colyseus"
RATE = 30  # the scenario's simulation and patch rate
READY = re.compile(r"^colyseus (\d+)$")  # server.js's line once it listens


def ensure_peer() -> None:
    """Install the peer's pinned packages (package-lock.json) if they are not there yet."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            sys.exit(f"benchmarks.peer needs {tool} (Node.js 18 or newer) on the PATH")
    stamp = PEER / "node_modules" / ".package-lock.json"
    if stamp.exists() and stamp.stat().st_mtime >= (PEER / "package-lock.json").stat().st_mtime:
        return
    print("# installing the peer's packages (npm ci)", file=sys.stderr, flush=True)
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=PEER, check=True, stdout=subprocess.DEVNULL)


class Peer:
    """The Colyseus server (server.js) as a subprocess, pinned like gameserver's; `room_size`:
    rooms of that many players (its rooms' maxClients), None: one room for everyone."""

    def __init__(self, cpus: set[int] | None, room_size: int | None = None) -> None:
        size = [] if room_size is None else ["--max-clients", str(room_size)]
        self.proc = subprocess.Popen(
            ["node", "server.js", "--port", "0", *size],
            cwd=PEER,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            preexec_fn=harness.pin_to(cpus),
        )
        self.pid = self.proc.pid
        line = harness.first_line(self.proc, lambda text: READY.match(text.strip()), 20)
        if line is None:
            self.stop()
            raise RuntimeError("the Colyseus server did not start")
        self.port = int(line.split()[1])

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def sample(self) -> dict[str, Any]:
        cpu, sys_cpu = harness.cpu_seconds(self.pid)
        return {
            "t": time.monotonic(),
            "cpu_s": cpu,
            "sys_s": sys_cpu,
            "rss_kib": harness.rss_kib(self.pid),
            "cpu0_busy_s": harness.cpu_busy_seconds(0),
        }

    def stop(self) -> None:
        harness.stop_process(self.proc)


def start_peer_bots(url: str, n: int, warmup: float, measure: float, cpus: set[int] | None) -> Any:
    cmd = ["node", "bots.js", "--url", url, "--count", str(n), "--warmup", str(warmup)]
    cmd += ["--measure", str(measure), "--verify", "2"]
    return subprocess.Popen(
        cmd,
        cwd=PEER,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        preexec_fn=harness.pin_to(cpus),
    )


def peer_figures(
    n: int, a: dict[str, Any], b: dict[str, Any], report: dict[str, Any] | None, room_size: int | None = None
) -> dict[str, Any]:
    wall = b["t"] - a["t"]
    player_ticks = n * RATE * wall  # Colyseus runs its simulation on a 30 Hz interval
    row: dict[str, Any] = {
        "server": "colyseus",
        "players": n,
        "us_per_player_tick": (b["cpu_s"] - a["cpu_s"]) / player_ticks * 1e6,
        "us_per_player_tick_kernel": (b["sys_s"] - a["sys_s"]) / player_ticks * 1e6,
        "server_cpu_per_wall": (b["cpu_s"] - a["cpu_s"]) / wall,
        # as in harness.summarize(): what else was busy on the server's CPU 0
        "others_on_cpu0": (b["cpu0_busy_s"] - a["cpu0_busy_s"] - (b["cpu_s"] - a["cpu_s"])) / wall,
        "rss_mib": b["rss_kib"] / 1024,
    }
    if report is not None:
        # A decoding bot that does not see all N players in the room (or its room's size, in
        # rooms) counts as an error.
        wrong_size = sum(1 for size in report["verified_sizes"] if size != (room_size or n))
        row |= {
            "snapshots_per_s_median": report["patches_per_s_median"],
            "snapshots_per_s_p1": report["patches_per_s_p1"],
            "bytes_per_moving_entity": report["bytes_per_patch"] / (room_size or n),  # a room's patch
            "bots_cpu_per_wall": report["bots_cpu_cores"],
            "connected": report["connected"],
            "errors": report["errors"] + wrong_size,
            "verified_sizes": report["verified_sizes"],
            "rooms": report.get("rooms"),
            "bots_per_room": (report.get("bots_per_room_min"), report.get("bots_per_room_max")),
        }
    return row


def run_peer(
    n: int, warmup: float, measure: float, pin: bool, room_size: int | None = None
) -> dict[str, Any]:
    """Colyseus alone: its server on CPU 0, its N bots on CPU 1, over the bots' window; with
    `room_size`, in rooms of that many players."""
    server = Peer({0} if pin else None, room_size)
    bots = None
    try:
        bots = start_peer_bots(server.url, n, warmup, measure, {1} if pin else None)
        if harness.first_line(bots, lambda text: "window_start" in text, 120) is None:
            raise RuntimeError(f"the peer's bots never started measuring (N={n})")
        a = server.sample()
        line = harness.first_line(bots, lambda text: '"result"' in text, measure + 60)
        b = server.sample()
        if line is None:
            raise RuntimeError(f"the peer's bots did not report (N={n})")
    finally:
        harness.stop_process(bots)
        server.stop()
    return peer_figures(n, a, b, json.loads(line), room_size)


def _room_args(room_size: int | None) -> list[str]:
    return [] if room_size is None else ["--room-size", str(room_size)]


def run_ours(
    n: int, warmup: float, measure: float, pin: bool, room_size: int | None = None
) -> dict[str, Any]:
    """gameserver alone, as `benchmarks.bench` runs one player count; with `room_size`, in
    rooms of that many players (quick play fills them one after the other)."""
    opts = argparse.Namespace(
        pin=pin,
        map_args=["--map", "none"],
        warmup=warmup,
        measure=measure,
        verify=2,
        procs=1,
        profile_dir=None,
    )
    row = harness.run_players(n, opts, n + 64, "wander", server_extra=_room_args(room_size))
    return {"server": "gameserver", **row}


def run_together(
    n: int, warmup: float, measure: float, pin: bool, room_size: int | None = None
) -> dict[str, dict[str, Any]]:
    """Both servers at once on CPU 0, each with its N bots on CPU 1, over the same window; with
    `room_size`, each in rooms of that many players."""
    server_cpus, bot_cpus = ({0}, {1}) if pin else (None, None)
    ours = harness.Server(harness.server_args(["--map", "none"], n + 64) + _room_args(room_size), server_cpus)
    peer = None
    bots: list[Any] = []
    try:
        peer = Peer(server_cpus, room_size)
        # Both sets of bots run on past the window, so that it can be the same for both.
        bots.append(harness.start_bots(ours.ws_url, n, "wander", warmup, measure + 20, 1, 1, bot_cpus))
        bots.append(start_peer_bots(peer.url, n, warmup, measure + 20, bot_cpus))
        started = harness.first_line(bots[1], lambda text: "window_start" in text, 120)
        if harness.wait_window(bots[0], 120) is None or started is None:
            raise RuntimeError("the bots never started measuring")
        a = {"ours": ours.sample(), "peer": peer.sample()}
        time.sleep(measure)
        b = {"ours": ours.sample(), "peer": peer.sample()}
    finally:
        for p in bots:
            harness.stop_process(p)
        ours.stop()
        if peer is not None:
            peer.stop()
    ticks = b["ours"]["health"]["ticks"] - a["ours"]["health"]["ticks"]
    players = b["ours"]["health"]["players"]
    if players != n or ticks <= 0:
        raise RuntimeError(f"gameserver: {players} of {n} players, {ticks} ticks in the window")
    cpu = b["ours"]["cpu_s"] - a["ours"]["cpu_s"]
    mine = {"server": "gameserver", "players": n, "us_per_player_tick": cpu / (n * ticks) * 1e6}
    mine["us_per_player_tick_kernel"] = (b["ours"]["sys_s"] - a["ours"]["sys_s"]) / (n * ticks) * 1e6
    return {"gameserver": mine, "colyseus": peer_figures(n, a["peer"], b["peer"], None, room_size)}


def describe(row: dict[str, Any]) -> str:
    us, kernel = row["us_per_player_tick"], row["us_per_player_tick_kernel"]
    text = f"{us:.1f} µs/player-tick ({kernel:.1f} in the kernel)"
    if "snapshots_per_s_median" in row:
        text += (
            f", {row['server_cpu_per_wall']:.2f} cores, snapshots/s median "
            f"{row['snapshots_per_s_median']:.2f} p1 {row['snapshots_per_s_p1']:.2f}, "
            f"{row['bytes_per_moving_entity']:.2f} B/moving entity, bots {row['bots_cpu_per_wall']:.2f} cores"
        )
    errors = row.get("errors", row.get("bot_errors"))
    if errors:
        text += f", {errors} errors"
    return text


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.peer", description=__doc__.split("\n\n")[0])
    p.add_argument("--counts", default="400,800", help="player counts (default 400,800)")
    p.add_argument("--runs", type=int, default=3, help="runs of each count (default 3)")
    p.add_argument("--warmup", type=float, default=5.0, help="seconds after all joined (default 5)")
    p.add_argument("--measure", type=float, default=20.0, help="measured seconds (default 20)")
    p.add_argument("--together", action="store_true", help="both servers at once on one core")
    p.add_argument(
        "--room-size",
        type=int,
        help="players per room: gameserver's --room-size, Colyseus's maxClients, both filled by "
        "quick play (joinOrCreate); default: everyone in one room (the reference scenario)",
    )
    p.add_argument("--no-pin", action="store_true", help="do not pin servers/bots to CPU 0/1")
    p.add_argument("--json", dest="json_out", help="write every figure to this JSON file")
    opts = p.parse_args(argv)
    pin = not opts.no_pin and (os.cpu_count() or 1) >= 2
    counts = [int(c) for c in opts.counts.split(",") if c]
    ensure_peer()
    mode = "together, on one core" if opts.together else "alone, one after the other"
    scenario = (
        "reference scenario" if opts.room_size is None else f"reference scenario in rooms of {opts.room_size}"
    )
    print(f"# {scenario}, {opts.measure:g} s windows; gameserver and Colyseus 0.16 {mode}")
    results: list[dict[str, Any]] = []
    for n in counts:
        ratios = []
        for i in range(opts.runs):
            if opts.together:
                pair = run_together(n, opts.warmup, opts.measure, pin, opts.room_size)
            else:
                order = (run_peer, run_ours) if i % 2 == 0 else (run_ours, run_peer)
                rows = [run(n, opts.warmup, opts.measure, pin, opts.room_size) for run in order]
                pair = {row["server"]: row for row in rows}
            ratio = pair["gameserver"]["us_per_player_tick"] / pair["colyseus"]["us_per_player_tick"]
            ratios.append(ratio)
            results.append({"players": n, "run": i + 1, "ratio": ratio, **pair})
            print(f"N={n} run {i + 1}: gameserver {describe(pair['gameserver'])}", flush=True)
            print(f"N={n} run {i + 1}: colyseus   {describe(pair['colyseus'])}", flush=True)
            print(f"N={n} run {i + 1}: gameserver / colyseus {ratio:.3f}", flush=True)
        spread = f"{min(ratios):.3f}-{max(ratios):.3f}"
        print(f"N={n}: gameserver / colyseus median {median(ratios):.3f} ({spread})", flush=True)
    if opts.json_out:
        out = {
            "machine": harness.machine(),
            "together": opts.together,
            "room_size": opts.room_size,
            "runs": results,
        }
        Path(opts.json_out).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
