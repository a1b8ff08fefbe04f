"""`python -m benchmarks.bench`: the load benchmark (docs/benchmarks.md).

Three scenarios (--scenario):
- reference: the empty 2000x2000 world (`--map none`), everyone sees everyone, wander bots;
- arena: the arena map (`--map arena`: walls, a 1280x720 view, so interest management is on),
  fighting bots (every one keeps the positions in its view from every snapshot, aims and fires;
  --verify of them decode and check every field), then one run where the bots stand still
  (--still-players), to see what a snapshot with nothing moving costs;
- rooms: many rooms of 8 in one process against the same players in one room, against Colyseus
  in rooms (--peer), and with rooms made and disposed beside them (benchmarks/bench_rooms.py);
- spectators: N players alone, with S spectators, and N + S players, in the arena and in the
  empty world: what a spectator costs the server against a player
  (benchmarks/bench_spectators.py);
- attack: the reference scenario beside each attack of benchmarks/attack.py, and the old
  findings of those attacks measured directly (benchmarks/bench_attack.py).

For each player count N, a fresh server subprocess on 127.0.0.1 (ephemeral port) and a bots
subprocess (client_demo.bots; reference: wander behaviour, one input per tick, a new heading about
every 1.5 s, spread over the tick period, everyone sees everyone). After all bots joined and a warm-up,
the measured window: the server's CPU from /proc/<pid>/stat, its tick statistics and bytes from
/healthz and its RSS from /proc/<pid>/status, sampled at both ends of the window; what the bots
received comes from their report. On a 2-core machine the server is pinned to CPU 0 and the
bots to CPU 1 (--no-pin to let the scheduler place them). The reference run stops at the first N
where the server or the bots saturate, and says which; the arena run marks it and goes on.

With --peer (reference scenario), Colyseus 0.16 plays the same scenario at each N right before
or after gameserver (benchmarks/peer.py), so that each row carries the peer's figure from the
same minutes: the VM's speed moves by 10-25 % from hour to hour, the ratio much less.

Then the idle-connection scale: one server holds K WebSockets that completed the opening
handshake and never said hello (--hello-timeout 600); its RSS growth per connection.

Every loop is bounded in count and time, and every process it starts is stopped by pid.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import select
import socket
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from benchmarks import bench_attack, bench_rooms, bench_spectators, peer
from benchmarks.harness import Server, fmt, machine, map_args, run_players, server_has_map_flag
from client_demo.bots import wire

DEFAULT_COUNTS = (50, 100, 200, 400, 800, 1200)
ARENA_COUNTS = (200, 500, 1000)
ROOMS_COUNTS = (800,)
SPECTATORS_COUNTS = (200,)
ATTACK_COUNTS = (400,)
DEFAULT_IDLE = (1000, 5000, 10000, 20000)
SCENARIOS = ("reference", "arena", "rooms", "spectators", "attack")


# --- idle connections ---------------------------------------------------------------------------


def _idle_holder(host: str, port: int, conn: Any, cpus: set[int] | None) -> None:
    """Child process: open idle WebSockets on command ("grow", n) and hold them until "stop"."""
    if cpus is not None:
        os.sched_setaffinity(0, cpus)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    held: list[socket.socket] = []
    while True:
        cmd = conn.recv()
        if cmd[0] == "stop":
            for s in held:
                s.close()
            conn.send(("stopped", len(held)))
            return
        want = cmd[1]
        failed = 0
        ep = select.epoll()
        pending: dict[int, tuple[socket.socket, bytes, bytes]] = {}
        todo = want
        deadline = time.monotonic() + 120
        while (todo or pending) and time.monotonic() < deadline:
            while todo and len(pending) < 256:
                s = socket.socket()
                s.setblocking(False)
                try:
                    s.connect(("127.0.0.1", port))
                except BlockingIOError:
                    pass
                except OSError:
                    s.close()
                    failed += 1
                    todo -= 1
                    continue
                req, accept = wire.handshake_request(host, port, "/ws")
                pending[s.fileno()] = (s, req, accept)
                ep.register(s.fileno(), select.EPOLLOUT)
                todo -= 1
            for fd, ev in ep.poll(0.5):
                s, req, accept = pending[fd]
                if not (ev & select.EPOLLOUT and req):
                    ep.unregister(fd)  # before any close below: a closed descriptor cannot be
                    del pending[fd]
                try:
                    if ev & select.EPOLLOUT and req:
                        if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                            raise OSError("connect failed")
                        s.send(req)
                        pending[fd] = (s, b"", accept)
                        ep.modify(fd, select.EPOLLIN)
                        continue
                    data = s.recv(4096)
                    end = data.find(b"\r\n\r\n")
                    if end < 0:
                        raise OSError("short handshake answer")
                    wire.check_handshake_response(data[:end], accept)
                    held.append(s)
                except (OSError, wire.FrameError):
                    if fd in pending:
                        ep.unregister(fd)
                        del pending[fd]
                    s.close()
                    failed += 1
        for s, _, _ in pending.values():
            s.close()
            failed += 1
        ep.close()
        conn.send(("grown", len(held), failed))


def run_idle(levels: list[int], opts: argparse.Namespace) -> list[dict[str, Any]]:
    top = max(levels)
    server = Server(
        ["--max-players", str(top + 100), "--hello-timeout", "600", "--log-level", "error"],
        {0} if opts.pin else None,
    )
    ctx = multiprocessing.get_context("spawn")
    per_holder = 9000  # each process stays well under its open-file limit
    holders: list[Any] = []  # [process, pipe, connections held], one per holder process
    rows: list[dict[str, Any]] = []
    try:
        time.sleep(1.0)
        base = server.sample()
        held = 0
        for level in sorted(levels):
            need = level - held
            while need > 0:
                room = [(i, per_holder - h[2]) for i, h in enumerate(holders) if h[2] < per_holder]
                if not room:
                    parent, child = ctx.Pipe()
                    p = ctx.Process(
                        target=_idle_holder,
                        args=("127.0.0.1", server.port, child, {1} if opts.pin else None),
                        daemon=True,
                    )
                    p.start()
                    child.close()
                    holders.append([p, parent, 0])
                    continue
                i, free = room[0]
                n = min(need, free)
                h = holders[i]
                h[1].send(("grow", n))
                if not h[1].poll(150):
                    raise RuntimeError("an idle-connection holder did not answer")
                _, total, failed = h[1].recv()
                h[2] = total
                need -= n
                if failed:
                    break
            time.sleep(2.0)  # let the server settle (and refuse what it cannot hold)
            s = server.sample()
            health = s["health"]
            held = health["sockets"]  # the server's own count: a refused handshake is not held
            rows.append(
                {
                    "target": level,
                    "held": held,
                    "rss_mib": s["rss_kib"] / 1024,
                    "kib_per_connection": (s["rss_kib"] - base["rss_kib"]) / held if held else None,
                    "tick_ms_p99": health["tick_ms_p99"],
                    "server_cpu_s": s["cpu_s"],
                    "healthz_ok": health["status"] == "ok",
                }
            )
            print(
                f"  idle {held}/{level}: RSS {rows[-1]['rss_mib']:.1f} MiB, "
                f"{rows[-1]['kib_per_connection'] or 0:.1f} KiB per connection",
                flush=True,
            )
            if held < level:
                break
        rows.insert(0, {"target": 0, "held": 0, "rss_mib": base["rss_kib"] / 1024})
    finally:
        for p, pipe, _ in holders:
            try:
                pipe.send(("stop",))
                pipe.poll(30)
            except (OSError, EOFError):
                pass
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
        server.stop()
    return rows


def arena_table(rows: list[dict[str, Any]]) -> str:
    head = (
        "| N | bots | server CPU (cores) | µs CPU / player-tick | of which kernel | tick p50 ms "
        "| tick p99 ms | overruns "
        "| snapshots/s median | bytes / player / s | entities in view | moving in view "
        "| bytes / moving entity in view | snapshot B/s | scoreboard B/s (per s) "
        "| shots/s | hits/s | kills/s | bots CPU (cores) | saturated |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for r in rows:
        f = r.get("fight_per_s") or {}
        lines.append(
            f"| {r['players']} | {r.get('behaviour', '-')} | {fmt(r['server_cpu_per_wall'], '.2f')} "
            f"| {fmt(r['us_per_player_tick'], '.1f')} | {fmt(r.get('us_per_player_tick_kernel'), '.1f')} "
            f"| {fmt(r['tick_ms_p50'], '.2f')} | {fmt(r['tick_ms_p99'], '.2f')} | {r['overruns']} "
            f"| {fmt(r['snapshots_per_s_median'], '.2f')} | {fmt(r['bytes_per_player_s'], ',.0f')} "
            f"| {fmt(r['view_entities'], '.1f')} | {fmt(r['view_moving'], '.1f')} "
            f"| {fmt(r['bytes_per_moving_in_view'], '.1f')} | {fmt(r['snapshot_bytes_per_s'], ',.0f')} "
            f"| {fmt(r['scoreboard_bytes_per_s'], ',.0f')} ({fmt(r['scoreboards_per_s'], '.1f')}) "
            f"| {fmt(f.get('shots'), ',.0f')} "
            f"| {fmt(f.get('hits'), ',.0f')} | {fmt(f.get('kills'), '.1f')} "
            f"| {fmt(r['bots_cpu_per_wall'], '.2f')} | {r['saturated'] or '-'} |"
        )
    return "\n".join(lines)


def markdown_table(rows: list[dict[str, Any]]) -> str:
    peer = any("peer" in r for r in rows)
    head = (
        "| N | server CPU (cores) | µs CPU / player-tick | of which kernel | tick p50 ms | tick p99 ms "
        "| overruns | snapshots/s median | p1 | interval p99 ms | interval p99 ms (kernel arrival) "
        "| bytes / player / s | bytes / moving entity | RSS MiB | bots CPU (cores) | saturated |"
    )
    rule = "|---" * 16 + "|"
    if peer:
        head += " Colyseus µs / player-tick (kernel) | Colyseus bytes / entity | gameserver / Colyseus |"
        rule += "---|---|---|"
    lines = [head, rule]
    for r in rows:
        theirs = r.get("peer")
        extra = ""
        if theirs is not None:
            extra = (
                f" {theirs['us_per_player_tick']:.1f} ({theirs['us_per_player_tick_kernel']:.1f}) "
                f"| {fmt(theirs.get('bytes_per_moving_entity'), '.2f')} | {r['peer_ratio']:.3f} |"
            )
        elif peer:
            extra = " - | - | - |"
        lines.append(
            f"| {r['players']} | {fmt(r['server_cpu_per_wall'], '.2f')} "
            f"| {fmt(r['us_per_player_tick'], '.1f')} | {fmt(r.get('us_per_player_tick_kernel'), '.1f')} "
            f"| {fmt(r['tick_ms_p50'], '.2f')} | {fmt(r['tick_ms_p99'], '.2f')} | {r['overruns']} "
            f"| {fmt(r['snapshots_per_s_median'], '.2f')} | {fmt(r['snapshots_per_s_p1'], '.2f')} "
            f"| {fmt(r['interval_ms_p99'], '.1f')} | {fmt(r['interval_ms_p99_kernel'], '.1f')} "
            f"| {fmt(r['bytes_per_player_s'], ',.0f')} "
            f"| {fmt(r['bytes_per_moving_entity'], '.2f')} | {fmt(r['rss_mib'], '.1f')} "
            f"| {fmt(r['bots_cpu_per_wall'], '.2f')} | {r['saturated'] or '-'} |{extra}"
        )
    return "\n".join(lines)


def idle_table(rows: list[dict[str, Any]]) -> str:
    lines = ["| idle connections | server RSS MiB | KiB per connection | tick p99 ms |", "|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['held']:,} | {r['rss_mib']:.1f} | {fmt(r.get('kib_per_connection'), '.1f')} "
            f"| {fmt(r.get('tick_ms_p99'), '.2f')} |"
        )
    return "\n".join(lines)


def plot(rows: list[dict[str, Any]], path: str) -> bool:
    """CPU per player-tick and tick p99 against N, as a PNG; needs matplotlib (not a dependency)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("plot skipped: matplotlib is not installed (pip install matplotlib)", file=sys.stderr)
        return False
    ns = [r["players"] for r in rows]
    fig, ax1 = plt.subplots(figsize=(7, 4), dpi=110)
    ax1.plot(
        ns,
        [r["us_per_player_tick"] for r in rows],
        "o-",
        color="tab:blue",
        label="server CPU µs / player-tick",
    )
    measured = [r for r in rows if "peer" in r]
    if measured:
        ax1.plot(
            [r["players"] for r in measured],
            [r["peer"]["us_per_player_tick"] for r in measured],
            "^-",
            color="tab:orange",
            label="Colyseus 0.16, same scenario, same minutes",
        )
    ax1.axhline(16, color="tab:blue", linestyle=":", linewidth=1, label="target 16 µs")
    ax1.set_xlabel("players (N), everyone sees everyone, 30 Hz")
    ax1.set_ylabel("µs CPU per player-tick", color="tab:blue")
    ax1.set_ylim(bottom=0)
    ax2 = ax1.twinx()
    ax2.plot(ns, [r["tick_ms_p99"] for r in rows], "s--", color="tab:red", label="tick p99 ms")
    ax2.axhline(11, color="tab:red", linestyle=":", linewidth=1, label="target 11 ms")
    ax2.set_ylabel("tick duration p99, ms", color="tab:red")
    ax2.set_ylim(bottom=0)
    h1, l1 = ax1.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    # below the axes: at small N the curves start high on the left, at large N the tick's p99
    ax1.legend(h1 + h2, l1 + l2, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize=8)
    ax1.set_title("gameserver load benchmark")
    fig.tight_layout()
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return True


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench", description=__doc__.split("\n")[0])
    p.add_argument(
        "--scenario",
        choices=SCENARIOS,
        default="reference",
        help="reference: empty world, everyone sees everyone, wander bots; arena: the arena map "
        "with its view and fighting bots; rooms: the empty world in rooms of --room-size, against "
        "one room, and with room churn; spectators: N players alone, with --spectators "
        "spectators, and N + spectators players, on each of --maps; attack: the reference scenario "
        "beside each attack, and the old findings (default %(default)s)",
    )
    p.add_argument(
        "--counts",
        help=f"player counts (default: reference {','.join(map(str, DEFAULT_COUNTS))}; "
        f"arena {','.join(map(str, ARENA_COUNTS))}; rooms {','.join(map(str, ROOMS_COUNTS))}; "
        f"spectators {','.join(map(str, SPECTATORS_COUNTS))}; attack {','.join(map(str, ATTACK_COUNTS))})",
    )
    p.add_argument("--room-size", type=int, default=8, help="rooms: players per room (default %(default)s)")
    p.add_argument(
        "--churn-players",
        type=int,
        default=400,
        help="rooms: players of the churn runs; 0: no churn runs (default %(default)s)",
    )
    p.add_argument(
        "--churn-rate",
        type=float,
        default=20.0,
        help="rooms: rooms made and disposed a second beside them; 0: only the run without "
        "(default %(default)s)",
    )
    p.add_argument(
        "--spectators",
        type=int,
        default=100,
        help="spectators: spectators beside the N players (default %(default)s)",
    )
    p.add_argument(
        "--maps",
        default="arena,none",
        help="spectators: the maps to measure on, in one room each (default %(default)s)",
    )
    p.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="spectators: times to make the three runs, taking each one's median (default %(default)s)",
    )
    p.add_argument(
        "--still-players",
        type=int,
        help="arena: one more run with this many bots standing still (default: the smallest count; 0: none)",
    )
    p.add_argument("--warmup", type=float, default=5.0, help="seconds after all joined (default 5)")
    p.add_argument("--measure", type=float, default=20.0, help="measured seconds (default 20)")
    p.add_argument("--verify", type=int, default=2, help="bots that decode and mirror every delta")
    p.add_argument("--procs", type=int, default=1, help="bot processes")
    p.add_argument("--no-pin", dest="pin", action="store_false", help="do not pin server/bots to CPU 0/1")
    p.add_argument(
        "--idle",
        help=f"idle-connection levels; empty to skip (default: reference {','.join(map(str, DEFAULT_IDLE))}; "
        "arena none)",
    )
    p.add_argument("--no-stop", action="store_true", help="go on past a saturated N")
    p.add_argument(
        "--peer",
        action="store_true",
        help="reference and rooms: at each N, also Colyseus 0.16 on the same scenario "
        "(benchmarks/peer.py; needs Node.js and npm)",
    )
    p.add_argument("--json", dest="json_out", help="write every figure to this JSON file")
    p.add_argument("--plot", help="write the PNG plot here (needs matplotlib)")
    p.add_argument("--profile-dir", help="py-spy each measured window into this folder (perturbs figures)")
    bench_attack.add_arguments(p)
    return p


def main(argv: list[str] | None = None) -> int:
    opts = build_parser().parse_args(argv)
    arena = opts.scenario == "arena"
    in_rooms = opts.scenario == "rooms"
    watched = opts.scenario == "spectators"
    attacked = opts.scenario == "attack"
    if opts.counts is None:
        default = (
            ARENA_COUNTS
            if arena
            else ROOMS_COUNTS
            if in_rooms
            else SPECTATORS_COUNTS
            if watched
            else ATTACK_COUNTS
            if attacked
            else DEFAULT_COUNTS
        )
        opts.counts = ",".join(map(str, default))
    if opts.idle is None:
        opts.idle = "" if arena or in_rooms or watched or attacked else ",".join(map(str, DEFAULT_IDLE))
    counts = [int(c) for c in opts.counts.split(",") if c.strip()]
    levels = [int(c) for c in opts.idle.split(",") if c.strip()]
    opts.map_args = map_args(opts.scenario, server_has_map_flag())
    runs = [(n, "fight" if arena else "wander") for n in counts]
    if arena:
        still = min(counts, default=0) if opts.still_players is None else opts.still_players
        if still > 0:
            runs.append((still, "idle"))
    if opts.pin and (os.cpu_count() or 1) < 2:
        opts.pin = False
    if opts.profile_dir:
        Path(opts.profile_dir).mkdir(parents=True, exist_ok=True)
    rival: ModuleType | None = None  # benchmarks.peer, with --peer
    if opts.peer:
        if arena or watched:
            print("--peer: the peer plays the reference and rooms scenarios only", file=sys.stderr)
            return 2
        peer.ensure_peer()
        rival = peer
    info = machine()
    print(
        f"machine: {info['cpus']} CPUs ({info['cpu_model']}), Python {info['python']}, "
        f"{info['packages']}; server on CPU 0 and bots on CPU 1: {opts.pin}",
        flush=True,
    )
    print(f"scenario {opts.scenario}: server {' '.join(opts.map_args) or '(no --map flag)'}", flush=True)
    if in_rooms:
        result = bench_rooms.run(opts, counts, rival)
        print()
        print(bench_rooms.table(result))
        if opts.json_out:
            Path(opts.json_out).write_text(
                json.dumps({"machine": info, "options": vars(opts), "rooms": result}, indent=1)
            )
        return 0
    if attacked:
        result = bench_attack.run(opts, counts)
        print()
        print(bench_attack.table(result))
        if opts.json_out:
            Path(opts.json_out).write_text(
                json.dumps({"machine": info, "options": vars(opts), "attack": result}, indent=1)
            )
        return 0
    if watched:
        result = bench_spectators.run(opts, counts)
        print()
        print(bench_spectators.table(result))
        if opts.json_out:
            Path(opts.json_out).write_text(
                json.dumps({"machine": info, "options": vars(opts), "spectators": result}, indent=1)
            )
        return 0
    rows: list[dict[str, Any]] = []
    max_players = max((n for n, _ in runs), default=0) + 100
    for i, (n, behaviour) in enumerate(runs):
        print(f"N={n} ({behaviour}): warm-up {opts.warmup:g} s, measuring {opts.measure:g} s ...", flush=True)
        theirs = None
        if rival is not None and i % 2:  # the peer first at every other N: the VM's drift evens out
            theirs = rival.run_peer(n, opts.warmup, opts.measure, opts.pin)
        row = run_players(n, opts, max_players, behaviour)
        if rival is not None:
            if theirs is None:
                theirs = rival.run_peer(n, opts.warmup, opts.measure, opts.pin)
            row["peer"] = theirs
            row["peer_ratio"] = row["us_per_player_tick"] / theirs["us_per_player_tick"]
        rows.append(row)
        print(
            f"  server ({row['build']}) {row['server_cpu_per_wall']:.2f} cores = "
            f"{fmt(row['us_per_player_tick'], '.1f')} µs/player-tick "
            f"({fmt(row.get('us_per_player_tick_kernel'), '.1f')} in the kernel), "
            f"tick p50/p99 {row['tick_ms_p50']:.2f}/{row['tick_ms_p99']:.2f} ms, overruns {row['overruns']}, "
            f"snapshots/s median {fmt(row['snapshots_per_s_median'], '.2f')} "
            f"p1 {fmt(row['snapshots_per_s_p1'], '.2f')}, "
            f"interval p99 {fmt(row['interval_ms_p99'], '.1f')} ms "
            f"(kernel arrival {fmt(row['interval_ms_p99_kernel'], '.1f')} ms), "
            f"{fmt(row['bytes_per_player_s'], ',.0f')} B/player/s, "
            f"{fmt(row['bytes_per_moving_entity'], '.2f')} B/moving entity, RSS {row['rss_mib']:.1f} MiB, "
            f"bots {fmt(row['bots_cpu_per_wall'], '.2f')} cores, errors {row['bot_errors']}",
            flush=True,
        )
        print(
            f"  view: {fmt(row['view_entities'], '.1f')} entities held, "
            f"{fmt(row['view_moving'], '.1f')} moved "
            f"per snapshot = {fmt(row['bytes_per_moving_in_view'], '.1f')} B per moving entity in view; "
            f"payload B/s per bot: snapshots {fmt(row['snapshot_bytes_per_s'], ',.0f')}, "
            f"scoreboards {fmt(row['scoreboard_bytes_per_s'], ',.0f')} "
            f"({fmt(row['scoreboards_per_s'], '.1f')}/s)",
            flush=True,
        )
        if row["fight_per_s"]:
            fps = row["fight_per_s"]
            print(
                f"  fight per s: {fps['shots']:.0f} shots, {fps['hits']:.0f} hits, "
                f"{fps['kills']:.1f} kills, {fps['deaths']:.1f} deaths",
                flush=True,
            )
        if "peer" in row:
            ratio = row["peer_ratio"]
            print(f"  Colyseus {peer.describe(row['peer'])}; gameserver / Colyseus {ratio:.3f}", flush=True)
        if not arena and not row["everyone_sees_everyone"]:
            print("  warning: the server's rules limit the view; this is not the reference scenario")
        if row["saturated"]:
            print(f"  saturated: the {row['saturated']}", flush=True)
            if not opts.no_stop and not arena:
                break
    idle_rows = []
    if levels:
        print(f"idle connections (handshake done, no hello): {levels}", flush=True)
        idle_rows = run_idle(levels, opts)
    print()
    if rows:
        print(arena_table(rows) if arena else markdown_table(rows))
    if idle_rows:
        print()
        print(idle_table(idle_rows))
    if opts.json_out:
        Path(opts.json_out).write_text(
            json.dumps({"machine": info, "options": vars(opts), "players": rows, "idle": idle_rows}, indent=1)
        )
    if opts.plot and rows and not arena:
        plot(rows, opts.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
