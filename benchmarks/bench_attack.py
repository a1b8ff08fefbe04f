"""The load benchmark under attack: `python -m benchmarks.bench --scenario attack`.

What each attack of benchmarks/attack.py costs the players (docs/benchmarks.md, "Under
attack"), and whether the old findings are gone.

1. The table: the reference scenario at N players (`--counts`, default 400: the empty world,
   wander bots, 30 Hz, one room) on a fresh server per run, pinned as in the other scenarios
   (server on CPU 0, bots on CPU 1), once without attack and once beside each attack of
   `--attacks` (default all). The attack starts once the bots joined, with the warm-up, and
   runs to the end of the window, in a process of its own on CPU 1 beside the bots, from
   127.0.0.2-127.0.0.20; `--attack-scale` multiplies its connections and rates. A probe in a
   third process, from 127.0.0.1, times a newcomer's join (connect to WELCOME) and a /healthz
   once a second. Per run: the server's CPU per player-tick, tick p50/p99, overruns and skipped
   ticks, the bots' snapshot rate, the server's RSS before the attack and at the end, the
   probe's figures, and what the attack achieved.
2. The old findings (`--findings`, default on), each measured directly:
   - churn: a server at 30 Hz, then one at 60 Hz, with no bots but a witness (a player from
     127.0.0.1 that walks, reads and times its snapshots), and `--churn-count` (20,000)
     connect-HELLO-close cycles over `--churn-seconds` (60): RSS before and after, its peak,
     the witness's longest gap between two snapshots, skipped ticks;
   - stalled readers: the table's run at `--stall-players` (1,000), without and with
     `--stall-readers` (60) players that stop reading at ticks of their own and keep
     acknowledging the newest, after `--stall-warmup` (40 s: a kernel that grows a send queue
     to 4 MiB takes that long to fill it): tick p50 and p99;
   - floods of empty continuation frames: an idle server with a witness and 1, then 20
     flooders (`--flooders`) for `--flood-seconds` (10), after HELLO and before: the server's
     CPU, skipped ticks, the witness's longest gap.
   With `--other TREE` (a source tree of another commit, for example an unpacked `git archive`
   of the commit before the defences), the findings again on that tree's server, right after.

Every process it starts is stopped by pid; every attack stops at its deadline.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks import attack, harness

f = harness.fmt  # a figure, or "-" for none
ALL = ("none", *attack.ATTACKS)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The scenario's own flags, on the benchmark's parser."""
    g = p.add_argument_group("--scenario attack")
    g.add_argument("--attacks", default=",".join(ALL), help="the table's runs (default: %(default)s)")
    g.add_argument(
        "--attack-scale",
        type=float,
        default=1.0,
        help="times each attack's connections and rates (default 1)",
    )
    g.add_argument("--no-findings", dest="findings", action="store_false", help="the table only")
    g.add_argument("--churn-count", type=int, default=20000, help="churn finding: cycles (default 20000)")
    g.add_argument(
        "--churn-seconds", type=float, default=60.0, help="churn finding: over this long (default 60)"
    )
    g.add_argument("--churn-rates", default="30,60", help="churn finding: tick rates (default 30,60)")
    g.add_argument("--stall-players", type=int, default=1000, help="stall finding: N (default 1000)")
    g.add_argument(
        "--stall-readers", type=int, default=60, help="stall finding: stalling readers (default 60)"
    )
    g.add_argument(
        "--stall-warmup",
        type=float,
        default=40.0,
        help="stall finding: seconds of the attack before the window, for a server whose kernel grows "
        "each reader's send queue to megabytes before its baseline stops (default 40)",
    )
    g.add_argument("--flooders", default="1,20", help="flood finding: flooders per run (default 1,20)")
    g.add_argument("--flood-seconds", type=float, default=10.0, help="flood finding: seconds (default 10)")
    g.add_argument("--other", help="a source tree whose server the findings are measured on too")
    g.add_argument(
        "--quiet-wait",
        type=float,
        default=0.0,
        help="before each run, wait up to this many seconds for both CPUs to be idle (shared machines; "
        "default 0: no wait)",
    )


# --- processes -------------------------------------------------------------------------------


def sample(server: harness.Server) -> dict[str, Any]:
    """harness.Server.sample(), /healthz first and timed: the CPU, RSS and clock are read when it
    has answered, so the ticks and the CPU of a window match when an attack slows /healthz."""
    t0 = time.monotonic()
    health = server.health()
    took = time.monotonic() - t0
    cpu, sys_cpu = harness.cpu_seconds(server.pid)
    status = harness.parse_proc_status(Path(f"/proc/{server.pid}/status").read_text())
    return {
        "t": time.monotonic(),
        "cpu_s": cpu,
        "sys_s": sys_cpu,
        "rss_kib": status["VmRSS"],
        "hwm_kib": status.get("VmHWM"),
        "health": health,
        "health_ms": took * 1e3,
        "cpu0_busy_s": harness.cpu_busy_seconds(0),
    }


def start_attack(
    kind: str,
    port: int,
    seconds: float,
    cpus: set[int] | None,
    extra: list[str] | None = None,
) -> subprocess.Popen[str]:
    """`python -m benchmarks.attack KIND` (or "none" with --probe / --witness in `extra`)."""
    cmd = [sys.executable, "-m", "benchmarks.attack", kind, "--port", str(port)]
    cmd += ["--duration", f"{max(0.5, seconds):.3f}", "--json", *(extra or [])]
    return subprocess.Popen(
        cmd, cwd=harness.ROOT, stdout=subprocess.PIPE, text=True, preexec_fn=harness.pin_to(cpus)
    )


def report_of(proc: subprocess.Popen[str] | None, timeout: float) -> dict[str, Any]:
    """The JSON report on the last line of an attack process's output ({} if none came)."""
    if proc is None:
        return {}
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        harness.stop_process(proc)
        return {"error": "no report in time"}
    lines = (out or "").strip().splitlines()
    try:
        data: dict[str, Any] = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        return {"error": "unreadable report"}
    return data


def cpus(opts: argparse.Namespace) -> tuple[set[int] | None, set[int] | None]:
    return ({0}, {1}) if opts.pin else (None, None)


def server_flags(tick_rate: int, max_players: int) -> list[str]:
    """The findings' servers: the empty world, quiet, seeded; flags every tree has."""
    rate = str(tick_rate)
    return ["--map", "none", "--tick", rate, "--snapshot-rate", rate, "--max-players", str(max_players)] + [
        "--log-level",
        "warning",
        "--seed",
        "1",
    ]


def wait_quiet(seconds: float, idle: float = 0.9, span: int = 3) -> dict[str, Any]:
    """Wait, at most `seconds`, until CPUs 0 and 1 were each at least `idle` idle over the last
    `span` seconds: on a shared machine, a run that starts while others work measures them too.
    How long it waited, whether it found them quiet, and how busy each was last."""
    t0 = time.monotonic()
    busy: list[tuple[float, float]] = []
    last = (time.monotonic(), harness.cpu_busy_seconds(0), harness.cpu_busy_seconds(1))
    while True:
        if len(busy) >= span and all(b0 <= 1 - idle and b1 <= 1 - idle for b0, b1 in busy[-span:]):
            quiet = True
            break
        if time.monotonic() - t0 >= seconds:
            quiet = False
            break
        time.sleep(1.0)
        now = (time.monotonic(), harness.cpu_busy_seconds(0), harness.cpu_busy_seconds(1))
        wall = now[0] - last[0]
        busy.append(((now[1] - last[1]) / wall, (now[2] - last[2]) / wall))
        last = now
    recent = busy[-span:] or [(0.0, 0.0)]
    return {
        "waited_s": round(time.monotonic() - t0, 1),
        "quiet": quiet,
        "busy": [round(max(b[i] for b in recent), 2) for i in (0, 1)],
    }


def settle(opts: argparse.Namespace) -> dict[str, Any] | None:
    if opts.quiet_wait <= 0:
        return None
    waited = wait_quiet(opts.quiet_wait)
    if not waited["quiet"]:
        print(
            f"  (the CPUs were not quiet after {waited['waited_s']:g} s: busy {waited['busy']})", flush=True
        )
    return waited


# --- the table: the reference scenario beside each attack -----------------------------------------


def one_run(
    kind: str,
    n: int,
    opts: argparse.Namespace,
    tree: Path = harness.ROOT,
    count: int | None = None,
) -> dict[str, Any]:
    """The reference scenario at N on a fresh server of `tree`, beside attack `kind` ("none":
    none), with the probe; `count` sets the attack's size."""
    waited = settle(opts)
    server_cpus, bot_cpus = cpus(opts)
    server = harness.Server(harness.server_args(["--map", "none"], n + 100), server_cpus, cwd=tree)
    bots = attacker = probe = None
    try:
        bots = harness.start_bots(
            server.ws_url, n, "wander", opts.warmup, opts.measure, opts.verify, opts.procs, bot_cpus
        )
        window = harness.wait_window(bots, 120)
        if window is None:
            raise RuntimeError(f"the bots never started measuring (N={n})")
        before = sample(server)
        seconds = window[1] - time.monotonic() + 0.5
        if kind != "none":
            extra = ["--scale", str(opts.attack_scale)] + (["--count", str(count)] if count else [])
            attacker = start_attack(kind, server.port, seconds, bot_cpus, extra)
        probe = start_attack("none", server.port, seconds, bot_cpus, ["--probe"])
        harness.sleep_until(window[0])
        a = sample(server)
        harness.sleep_until(window[1])
        b = sample(server)
        out_text, _ = bots.communicate(timeout=90)
        report = json.loads(out_text.strip().splitlines()[-1])
        attacked = report_of(attacker, 60)
        probed = report_of(probe, 60)
    finally:
        harness.stop_process(bots)
        harness.stop_process(attacker)
        harness.stop_process(probe)
        server.stop()
    row = harness.summarize(n, a, b, report)
    row.update(
        {
            "attack": kind,
            "tree": str(tree),
            "rss_before_mib": before["rss_kib"] / 1024,
            "rss_after_mib": b["rss_kib"] / 1024,
            "healthz_ms_window": max(a["health_ms"], b["health_ms"]),
            "players_away": b["health"].get("players_away"),
            "sockets": b["health"].get("sockets"),
            "attack_report": attacked.get("attack"),
            "attacker_cpu_per_wall": attacked.get("attacker_cpu_per_wall"),
            "probe": probed.get("probe"),
            "quiet_wait": waited,
        }
    )
    return row


def achieved(row: dict[str, Any]) -> str:
    """What the attack of a run achieved, in a few words."""
    r = row.get("attack_report") or {}
    kind = row["attack"]
    if kind == "none" or not r:
        return "-"
    outcomes = r.get("outcomes") or {}
    cut = r.get("cut_after_s") or {}
    refused = {k: v for k, v in outcomes.items() if k.startswith(("http", "429"))}
    refused_text = ", ".join(f"{v:,} {k}" for k, v in refused.items())
    cut_text = (
        f"cut after {f(cut.get('p50'), '.2f')} s (max {f(cut.get('max'), '.2f')})" if cut.get("n") else ""
    )
    if kind == "slowloris":
        parts = [f"{r.get('connections', 0):,} connections, {r['held_peak']} open at once", cut_text]
        return "; ".join(p for p in (*parts, refused_text) if p)
    if kind == "silent":
        parts = [
            f"{r.get('upgraded', 0):,} upgraded, {r['held_peak']} held at once",
            cut_text + (" (hello_timeout)" if outcomes.get("hello_timeout") else ""),
        ]
        return "; ".join(p for p in (*parts, refused_text) if p)
    if kind in ("churn", "drop-churn"):
        cycle = r.get("cycle_s") or {}
        others = {k: v for k, v in outcomes.items() if k not in ("left", "dropped")}
        text = (
            f"{r.get('joined', 0):,} joined and {'dropped' if kind == 'drop-churn' else 'left'} "
            f"({f(r.get('rate_achieved'), '.0f')}/s of {f(r.get('rate_asked'), '.0f')}), cycle p50 "
            f"{f((cycle.get('p50') or 0) * 1e3, '.0f')} ms"
        )
        if others:
            text += "; " + ", ".join(f"{v:,} {k}" for k, v in others.items())
        if kind == "drop-churn":
            text += f"; {row.get('players_away')} players kept away at the end"
        return text
    if kind in ("stall", "slow-read"):
        q = r.get("server_send_queue") or {}
        held = r.get("held_s") or {}
        parts = [
            f"{r.get('joined', 0):,} joined, {r['held_peak']} "
            f"{'stalled' if kind == 'stall' else 'lagging'} at once",
            cut_text,
            f"{held.get('n', 0)} still there at the end" if held.get("n") else "",
            f"server queue ≤ {q.get('max_bytes_one', 0):,} B a connection, "
            f"{q.get('max_bytes_all', 0):,} B in all",
        ]
        if kind == "slow-read" and row.get("window_s"):
            parts.append(f"read {r.get('bytes_read', 0) / 1024:,.0f} KiB")
        return "; ".join(p for p in parts if p)
    # the floods
    why = ", ".join(f"{v:,} {k}" for k, v in outcomes.items() if not k.startswith(("http", "429")))
    return "; ".join(
        p for p in (f"{r.get('connections', 0):,} connections", cut_text, why, refused_text) if p
    )


def describe(row: dict[str, Any]) -> str:
    probe = row.get("probe") or {}
    join = probe.get("join_ms") or {}
    return (
        f"server {row['server_cpu_per_wall']:.2f} cores = {f(row['us_per_player_tick'], '.1f')} "
        "µs/player-tick "
        f"({f(row.get('us_per_player_tick_kernel'), '.1f')} kernel), tick p50/p99 "
        f"{row['tick_ms_p50']:.2f}/{row['tick_ms_p99']:.2f} ms, overruns {row['overruns']}, skipped "
        f"{row['skipped']}, snapshots/s median {f(row['snapshots_per_s_median'], '.2f')} p1 "
        f"{f(row['snapshots_per_s_p1'], '.2f')}, RSS {row['rss_before_mib']:.1f} -> "
        f"{row['rss_after_mib']:.1f} MiB, "
        f"newcomer join p50/max {f(join.get('p50'), '.0f')}/{f(join.get('max'), '.0f')} ms "
        f"{probe.get('failed') or ''}, bots {f(row['bots_cpu_per_wall'], '.2f')} cores, attacker "
        f"{f(row.get('attacker_cpu_per_wall'), '.2f')} cores, others on CPU 0 "
        f"{f(row.get('others_on_cpu0'), '.2f')}"
        f"; {achieved(row)}"
    )


# --- the old findings ----------------------------------------------------------------------------


def churn_finding(tick_rate: int, opts: argparse.Namespace, tree: Path) -> dict[str, Any]:
    """A server with no bots, a witness, and --churn-count connect-HELLO-close cycles."""
    waited = settle(opts)
    server_cpus, other_cpus = cpus(opts)
    server = harness.Server(server_flags(tick_rate, 1000), server_cpus, cwd=tree)
    watcher = churner = None
    seconds = opts.churn_seconds
    try:
        time.sleep(1.0)
        before = sample(server)
        rate = opts.churn_count / seconds
        watcher = start_attack(
            "none", server.port, seconds + 1.0, other_cpus, ["--witness", "--tick-rate", str(tick_rate)]
        )
        extra = ["--count", str(opts.churn_count), "--rate", f"{rate:.3f}"]
        churner = start_attack("churn", server.port, seconds + 5.0, other_cpus, extra)
        churned = report_of(churner, seconds + 60)
        watched = report_of(watcher, 60)
        time.sleep(0.5)
        after = sample(server)
    finally:
        harness.stop_process(churner)
        harness.stop_process(watcher)
        server.stop()
    h0, h1 = before["health"], after["health"]
    return {
        "finding": f"churn at {tick_rate} Hz",
        "tick_rate": tick_rate,
        "tree": str(tree),
        "rss_before_mib": before["rss_kib"] / 1024,
        "rss_after_mib": after["rss_kib"] / 1024,
        "rss_peak_mib": (after["hwm_kib"] or 0) / 1024,
        "server_cpu_per_wall": (after["cpu_s"] - before["cpu_s"]) / (after["t"] - before["t"]),
        "skipped": h1["skipped"] - h0["skipped"],
        "overruns": h1["overruns"] - h0["overruns"],
        "tick_ms_max": h1["tick_ms_max"],
        "gc_collections": h1.get("gc_collections"),
        "churn": churned.get("attack"),
        "witness": watched.get("witness"),
        "attacker_cpu_per_wall": churned.get("attacker_cpu_per_wall"),
        "others_on_cpu0": others_on_cpu0(before, after),
        "quiet_wait": waited,
    }


def flood_finding(kind: str, flooders: int, opts: argparse.Namespace, tree: Path) -> dict[str, Any]:
    """An idle server with a witness, and `flooders` flooders of `kind` for --flood-seconds."""
    waited = settle(opts)
    server_cpus, other_cpus = cpus(opts)
    server = harness.Server(server_flags(30, 1000), server_cpus, cwd=tree)
    watcher = flooder = None
    seconds = opts.flood_seconds
    try:
        watcher = start_attack("none", server.port, seconds + 2.0, other_cpus, ["--witness"])
        time.sleep(1.0)  # the witness joined
        a = sample(server)
        flooder = start_attack(kind, server.port, seconds, other_cpus, ["--count", str(flooders)])
        flooded = report_of(flooder, seconds + 30)
        b = sample(server)
        watched = report_of(watcher, 30)
    finally:
        harness.stop_process(flooder)
        harness.stop_process(watcher)
        server.stop()
    h0, h1 = a["health"], b["health"]
    return {
        "finding": f"{flooders} {kind} flooder{'s' if flooders > 1 else ''}",
        "kind": kind,
        "flooders": flooders,
        "tree": str(tree),
        "seconds": round(b["t"] - a["t"], 3),
        "server_cpu_per_wall": (b["cpu_s"] - a["cpu_s"]) / (b["t"] - a["t"]),
        "skipped": h1["skipped"] - h0["skipped"],
        "overruns": h1["overruns"] - h0["overruns"],
        "tick_ms_p99": h1["tick_ms_p99"],
        "rss_before_mib": a["rss_kib"] / 1024,
        "rss_after_mib": b["rss_kib"] / 1024,
        "flood": flooded.get("attack"),
        "witness": watched.get("witness"),
        "attacker_cpu_per_wall": flooded.get("attacker_cpu_per_wall"),
        "others_on_cpu0": others_on_cpu0(a, b),
        "quiet_wait": waited,
    }


def others_on_cpu0(a: dict[str, Any], b: dict[str, Any]) -> float:
    """CPU 0's busy time that was not the server's, per second between two samples."""
    wall = b["t"] - a["t"]
    return (b["cpu0_busy_s"] - a["cpu0_busy_s"] - (b["cpu_s"] - a["cpu_s"])) / wall if wall else 0.0


def findings(opts: argparse.Namespace, tree: Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    label = "" if tree == harness.ROOT else f" ({tree})"
    for rate in [int(r) for r in opts.churn_rates.split(",") if r.strip()]:
        print(
            f"finding{label}: {opts.churn_count:,} churned connections in {opts.churn_seconds:g} s "
            f"at {rate} Hz",
            flush=True,
        )
        e = churn_finding(rate, opts, tree)
        out.append(e)
        print(f"  {describe_finding(e)}", flush=True)
    if opts.stall_players > 0:
        for kind in ("none", "stall"):
            readers = opts.stall_readers if kind == "stall" else 0
            print(f"finding{label}: N={opts.stall_players} with {readers} stalling readers", flush=True)
            longer = argparse.Namespace(**{**vars(opts), "warmup": opts.stall_warmup})
            row = one_run(kind, opts.stall_players, longer, tree, count=readers or None)
            row["finding"] = f"N={opts.stall_players}, {readers} stalling readers"
            out.append(row)
            print(f"  {describe(row)}", flush=True)
    for kind in ("flood", "flood-early"):
        for k in [int(x) for x in opts.flooders.split(",") if x.strip()]:
            print(
                f"finding{label}: {k} {kind} flooders on an idle server for {opts.flood_seconds:g} s",
                flush=True,
            )
            e = flood_finding(kind, k, opts, tree)
            out.append(e)
            print(f"  {describe_finding(e)}", flush=True)
    return out


def describe_finding(e: dict[str, Any]) -> str:
    w = e.get("witness") or {}
    gap = (w.get("gap_ms") or {}).get("max")
    text = (
        f"server {e['server_cpu_per_wall']:.2f} cores (others on CPU 0 {e['others_on_cpu0']:.2f}), skipped "
        f"{e['skipped']}, overruns {e['overruns']}, "
        f"witness {f(w.get('snapshots_per_s'), '.2f')} snapshots/s, longest gap {f(gap, '.0f')} ms"
    )
    if "churn" in e:
        c = e.get("churn") or {}
        text += (
            f", RSS {e['rss_before_mib']:.1f} -> {e['rss_after_mib']:.1f} MiB "
            f"(peak {e['rss_peak_mib']:.1f}), "
            f"{c.get('joined', 0):,} joined and left at {f(c.get('rate_achieved'), '.0f')}/s, "
            f"{(c.get('outcomes') or {})}"
        )
    if "flood" in e:
        r = e.get("flood") or {}
        cut = r.get("cut_after_s") or {}
        text += (
            f", {r.get('connections', 0):,} connections, cut after p50 {f(cut.get('p50'), '.3f')} s, "
            f"{r.get('outcomes')}, RSS {e['rss_before_mib']:.1f} -> {e['rss_after_mib']:.1f} MiB"
        )
    return text


def run(opts: argparse.Namespace, counts: list[int]) -> dict[str, Any]:
    kinds = [k.strip() for k in opts.attacks.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in ALL]
    if unknown:
        raise SystemExit(f"--attacks: no such attack: {', '.join(unknown)} (there are {', '.join(ALL)})")
    out: dict[str, Any] = {"runs": [], "findings": [], "findings_other": []}
    for n in counts:
        for kind in kinds:
            print(
                f"N={n} beside {kind}: warm-up {opts.warmup:g} s, measuring {opts.measure:g} s ...",
                flush=True,
            )
            row = one_run(kind, n, opts)
            out["runs"].append(row)
            print(f"  {describe(row)}", flush=True)
    if opts.findings:
        out["findings"] = findings(opts, harness.ROOT)
        if opts.other:
            out["findings_other"] = findings(opts, Path(opts.other).resolve())
    return out


# --- tables ----------------------------------------------------------------------------------------


def table(out: dict[str, Any]) -> str:
    lines = [
        "| attack | N | server CPU (cores) | µs CPU / player-tick (kernel) | tick p50 / p99 ms "
        "| overruns (skipped) | snapshots/s median (p1) | interval p99 ms | RSS MiB before -> after "
        "| newcomer join p50 / max ms | /healthz max ms | attacker CPU (cores) | others on CPU 0 "
        "| what the attack achieved |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in out["runs"]:
        lines.append(row_line(r))
    found = out.get("findings") or []
    if found:
        lines += ["", findings_table(found, out.get("findings_other") or [])]
    return "\n".join(lines)


def row_line(r: dict[str, Any]) -> str:
    probe = r.get("probe") or {}
    join, health = probe.get("join_ms") or {}, probe.get("healthz_ms") or {}
    failed = probe.get("failed") or {}
    join_text = f"{f(join.get('p50'), ',.0f')} / {f(join.get('max'), ',.0f')}"
    if failed:
        join_text += " (" + ", ".join(f"{v} {k}" for k, v in failed.items()) + ")"
    return (
        f"| {r['attack']} | {r['players']} | {f(r['server_cpu_per_wall'], '.2f')} "
        f"| {f(r['us_per_player_tick'], '.1f')} ({f(r.get('us_per_player_tick_kernel'), '.1f')}) "
        f"| {r['tick_ms_p50']:.2f} / {r['tick_ms_p99']:.2f} | {r['overruns']} ({r['skipped']}) "
        f"| {f(r['snapshots_per_s_median'], '.2f')} ({f(r['snapshots_per_s_p1'], '.2f')}) "
        f"| {f(r['interval_ms_p99'], '.1f')} | {r['rss_before_mib']:.1f} -> {r['rss_after_mib']:.1f} "
        f"| {join_text} | {f(max(health.get('max') or 0, r.get('healthz_ms_window') or 0), ',.0f')} "
        f"| {f(r.get('attacker_cpu_per_wall'), '.2f')} | {f(r.get('others_on_cpu0'), '.2f')} "
        f"| {achieved(r)} |"
    )


def finding_figures(e: dict[str, Any]) -> str:
    w = e.get("witness") or {}
    gap = (w.get("gap_ms") or {}).get("max")
    if "rss_before_mib" in e and "churn" in e:
        c = e.get("churn") or {}
        return (
            f"RSS {e['rss_before_mib']:.1f} -> {e['rss_after_mib']:.1f} MiB (peak {e['rss_peak_mib']:.1f}); "
            f"longest gap between snapshots {f(gap, ',.0f')} ms, "
            f"{w.get('gaps_over_100ms', '-')} over 100 ms; "
            f"skipped {e['skipped']}; {c.get('joined', 0):,} cycles at {f(c.get('rate_achieved'), '.0f')}/s; "
            f"server {e['server_cpu_per_wall']:.2f} cores; others on CPU 0 {e['others_on_cpu0']:.2f}"
        )
    if "flood" in e:
        r = e.get("flood") or {}
        cut = r.get("cut_after_s") or {}
        return (
            f"server {e['server_cpu_per_wall']:.2f} cores; skipped {e['skipped']}, overruns {e['overruns']}; "
            f"longest gap {f(gap, ',.0f')} ms; {r.get('connections', 0):,} connections, each cut after "
            f"{f(cut.get('p50'), '.3f')} s; RSS {e['rss_before_mib']:.1f} -> {e['rss_after_mib']:.1f} MiB; "
            f"others on CPU 0 {e['others_on_cpu0']:.2f}"
        )
    return (
        f"tick p50 {e['tick_ms_p50']:.2f} ms, p99 {e['tick_ms_p99']:.2f} ms; "
        f"{f(e['us_per_player_tick'], '.1f')} µs/player-tick; snapshots/s median "
        f"{f(e['snapshots_per_s_median'], '.2f')}; others on CPU 0 {f(e.get('others_on_cpu0'), '.2f')}"
    )


def findings_table(found: list[dict[str, Any]], other: list[dict[str, Any]]) -> str:
    head = "| finding | this tree |" + (" other tree |" if other else "")
    lines = [head, "|---|---|" + ("---|" if other else "")]
    for i, e in enumerate(found):
        line = f"| {e['finding']} | {finding_figures(e)} |"
        if other:
            line += f" {finding_figures(other[i]) if i < len(other) else '-'} |"
        lines.append(line)
    return "\n".join(lines)
