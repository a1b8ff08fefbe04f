"""What the load benchmarks (bench and its scenarios, pair, peer, soak) share: the server and
the bots as subprocesses (Server, start_bots, stop_process), pinned to CPUs (pin_to); their CPU,
memory and cores from /proc; and one measured run of N players on a fresh server (run_players)
with its summary row (summarize, saturation).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import select
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from client_demo.bots.behaviours import CHURNING
from client_demo.bots.metrics import percentile

ROOT = Path(__file__).resolve().parent.parent
URL_LINE = re.compile(r"gameserver on http://([\d.]+):(\d+)/")
# Debian's headless Chromium as the browser tests and bench_netcode launch it (playwright). The
# pages' timers must not be throttled as a background tab's: two players may share one browser.
CHROMIUM = os.environ.get("GAMESERVER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
]
CLK_TCK = os.sysconf("SC_CLK_TCK")
SATURATED_CPU = 0.92  # of one core


# --- /proc --------------------------------------------------------------------------------


def parse_proc_stat(text: str) -> dict[str, int]:
    """utime, stime (clock ticks) and rss (pages) from the text of /proc/<pid>/stat.

    The command name (field 2) is in parentheses and may hold spaces, so fields are counted
    from the last ')'; after it, field 3 (state) comes first."""
    rest = text[text.rindex(")") + 2 :].split()
    return {"utime": int(rest[11]), "stime": int(rest[12]), "rss_pages": int(rest[21])}


def parse_proc_status(text: str) -> dict[str, int]:
    """VmRSS and VmHWM in KiB from the text of /proc/<pid>/status."""
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


def cpu_seconds(pid: int) -> tuple[float, float]:
    """CPU seconds of the process: in all, and of those in the kernel (system time)."""
    st = parse_proc_stat(Path(f"/proc/{pid}/stat").read_text())
    return (st["utime"] + st["stime"]) / CLK_TCK, st["stime"] / CLK_TCK


def rss_kib(pid: int) -> int:
    return parse_proc_status(Path(f"/proc/{pid}/status").read_text())["VmRSS"]


def parse_cpu_busy(text: str, cpu: int) -> int:
    """Clock ticks CPU `cpu` spent busy (user, nice, system, irq, softirq, steal) since boot,
    from the text of /proc/stat."""
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[0] == f"cpu{cpu}":
            user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[1:9])
            return user + nice + system + irq + softirq + steal
    raise ValueError(f"no cpu{cpu} in /proc/stat")


def cpu_busy_seconds(cpu: int) -> float:
    return parse_cpu_busy(Path("/proc/stat").read_text(), cpu) / CLK_TCK


# --- processes ------------------------------------------------------------------------------


def server_has_map_flag() -> bool:
    """Whether `python -m gameserver` takes --map (servers before maps did not, and played the
    empty world where everyone sees everyone)."""
    out = subprocess.run(
        [sys.executable, "-m", "gameserver", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    return "--map" in out.stdout


def map_args(scenario: str, has_map_flag: bool) -> list[str]:
    if scenario == "arena":
        if not has_map_flag:
            raise RuntimeError("this server has no --map flag: the arena scenario needs maps")
        return ["--map", "arena", *one_room_args(ROOT)]
    return ["--map", "none"] if has_map_flag else []


def one_room_args(tree: Path, python: str = sys.executable) -> list[str]:
    """The flags that put every player in one room on a server of `tree` that has rooms (whose
    maps would otherwise set rooms of 16 on the arena); none for a server from before rooms."""
    out = subprocess.run(
        [python, "-m", "gameserver", "--help"], cwd=tree, capture_output=True, text=True, timeout=30
    )
    return ["--room-size", "100000"] if "--room-size" in out.stdout else []


def pin_to(cpus: set[int] | None) -> Callable[[], None] | None:
    """A subprocess's preexec_fn that pins it to `cpus`; None (no pinning) when `cpus` is None."""
    if cpus is None:
        return None

    def pin() -> None:
        os.sched_setaffinity(0, cpus)

    return pin


class Server:
    """A gameserver subprocess; its address comes from the line it prints first."""

    def __init__(
        self, args: list[str], cpus: set[int] | None, cwd: Path = ROOT, python: str = sys.executable
    ) -> None:
        # `-m` puts the working directory first on sys.path: the server runs the gameserver/
        # of `cwd`, whatever is installed, on the interpreter `python` (with its packages).
        cmd = [python, "-m", "gameserver", "--host", "127.0.0.1", "--port", "0", *args]
        self.proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            preexec_fn=pin_to(cpus),
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )
        self.pid = self.proc.pid
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], 20)
        line = self.proc.stdout.readline() if ready else ""
        m = URL_LINE.search(line)
        if not m:
            self.stop()
            raise RuntimeError(f"the server did not start: {line!r}")
        self.port = int(m.group(2))

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def health(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=10) as r:
            data: dict[str, Any] = json.loads(r.read())
            return data

    def sample(self) -> dict[str, Any]:
        cpu, sys_cpu = cpu_seconds(self.pid)
        return {
            "t": time.monotonic(),
            "cpu_s": cpu,
            "sys_s": sys_cpu,
            "rss_kib": rss_kib(self.pid),
            "health": self.health(),
            # the whole of CPU 0, where the server is pinned: what else ran there shows
            "cpu0_busy_s": cpu_busy_seconds(0),
        }

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def server_args(map_args: list[str], max_players: int) -> list[str]:
    """The server's flags for a benchmark run: 30 Hz ticks and snapshots, quiet, seeded."""
    args = [*map_args, "--tick", "30", "--snapshot-rate", "30", "--max-players", str(max_players)]
    return args + ["--log-level", "warning", "--seed", "1"]


def start_bots(
    url: str,
    n: int,
    behaviour: str,
    warmup: float,
    duration: float,
    verify: int,
    procs: int,
    cpus: set[int] | None,
    cwd: Path = ROOT,
    extra: list[str] | None = None,
) -> subprocess.Popen[str]:
    """The bots subprocess (client_demo.bots of the tree `cwd`), reporting JSON on its stdout;
    `extra`: more of its flags."""
    cmd = [sys.executable, "-m", "client_demo.bots", "--url", url, "--count", str(n)]
    cmd += ["--behaviour", behaviour, "--warmup", str(warmup), "--duration", str(duration)]
    cmd += ["--verify", str(verify), "--procs", str(procs), "--join-timeout", "60", "--json"]
    cmd += extra or []
    return subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, text=True, preexec_fn=pin_to(cpus))


def stop_process(p: subprocess.Popen[Any] | None) -> None:
    """Kill a helper process (bots, a profiler) if it still runs, reap it, close its pipe."""
    if p is None:
        return
    if p.poll() is None:
        p.kill()
    p.wait()
    if p.stdout is not None:
        p.stdout.close()


def first_line(proc: subprocess.Popen[str], wanted: Callable[[str], object], timeout: float) -> str | None:
    """The first line of the process's output that `wanted` accepts; None if the output ends
    first or none comes within `timeout` seconds."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
        line = proc.stdout.readline() if ready else ""
        if not line:
            return None
        if wanted(line):
            return line
    return None


def wait_window(bots: subprocess.Popen[str], timeout: float) -> tuple[float, float] | None:
    """The measured window (monotonic start, end) from the bots' '#window' line, once all
    joined and warmed up; None if it does not come within `timeout` seconds."""
    line = first_line(bots, lambda text: text.startswith("#window "), timeout)
    if line is None:
        return None
    _, start, end = line.split()
    return float(start), float(end)


def sleep_until(t: float) -> None:
    """Sleep until the monotonic time `t` (not at all when it has passed)."""
    delay = t - time.monotonic()
    if delay > 0:
        time.sleep(delay)


# --- one player count ------------------------------------------------------------------------


def run_players(
    n: int,
    opts: argparse.Namespace,
    max_players: int,
    behaviour: str,
    server_extra: list[str] | None = None,
    bots_extra: list[str] | None = None,
    bot_count: int | None = None,
) -> dict[str, Any]:
    """N players measured on a fresh server. `server_extra` and `bots_extra`: more flags for
    each; `bot_count`: bots to run when some of them are not among the N (the rooms scenario's
    hosts, which come and go)."""
    server_cpus = {0} if opts.pin else None
    bot_cpus = {1} if opts.pin else None
    server = Server(server_args(opts.map_args, max_players) + (server_extra or []), server_cpus)
    bots = None
    profile = None
    try:
        bots = start_bots(
            server.ws_url,
            bot_count or n,
            behaviour,
            opts.warmup,
            opts.measure,
            opts.verify,
            opts.procs,
            bot_cpus,
            extra=bots_extra,
        )
        window = wait_window(bots, 90)
        if window is None:
            raise RuntimeError(f"the bots never started measuring (N={n})")
        sleep_until(window[0])
        a = server.sample()
        if opts.profile_dir:
            out = Path(opts.profile_dir) / f"server-{n}.txt"
            profile = subprocess.Popen(
                [
                    str(Path(sys.executable).parent / "py-spy"),
                    "record",
                    "--pid",
                    str(server.pid),
                    "--duration",
                    str(int(opts.measure)),
                    "--rate",
                    "200",
                    "--nonblocking",
                    "--format",
                    "raw",
                    "--output",
                    str(out),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        sleep_until(window[1])
        b = server.sample()
        out_text, _ = bots.communicate(timeout=60)
        report = json.loads(out_text.strip().splitlines()[-1])
        if profile is not None:
            profile.wait(timeout=30)
    finally:
        stop_process(bots)
        stop_process(profile)
        server.stop()
    row = summarize(n, a, b, report)
    row["behaviour"] = behaviour
    if behaviour == "idle":  # players standing still get one snapshot a second by design
        row["saturated"] = saturation(row, expect_snapshots=False)
    return row


def summarize(n: int, a: dict[str, Any], b: dict[str, Any], bots: dict[str, Any]) -> dict[str, Any]:
    wall = b["t"] - a["t"]
    cpu = b["cpu_s"] - a["cpu_s"]
    ha, hb = a["health"], b["health"]
    ticks = hb["ticks"] - ha["ticks"]
    row = {
        "players": n,
        "build": hb.get("build", "interpreted"),  # "compiled": python3 dev.py --compiled bench
        "window_s": round(wall, 3),
        "ticks": ticks,
        "server_cpu_per_wall": cpu / wall if wall else None,
        # CPU 0's busy time that was not the server's (pinned runs): other processes, or the
        # kernel's work for them. On a shared machine this says whether the server had its core.
        "others_on_cpu0": (b["cpu0_busy_s"] - a["cpu0_busy_s"] - cpu) / wall
        if wall and "cpu0_busy_s" in b
        else None,
        "us_per_player_tick": cpu / (n * ticks) * 1e6 if n and ticks else None,
        # the part in the kernel (send, recv, epoll; on loopback also the bots' TCP receive work)
        "us_per_player_tick_kernel": (b["sys_s"] - a["sys_s"]) / (n * ticks) * 1e6 if n and ticks else None,
        "tick_ms_p50": hb["tick_ms_p50"],
        "tick_ms_p99": hb["tick_ms_p99"],
        "tick_ms_max": hb["tick_ms_max"],
        "overruns": hb["overruns"] - ha["overruns"],
        "skipped": hb["skipped"] - ha["skipped"],
        "snapshots_per_s_median": bots["snapshots_per_s_median"],
        "snapshots_per_s_p1": bots["snapshots_per_s_p1"],
        "interval_ms_p99": bots["interval_ms_p99"],
        # from the kernel's receive timestamps: the server's pacing without the bots' loop latency
        "interval_ms_p99_kernel": bots["interval_ms_p99_kernel"],
        "bytes_per_player_s": (hb["bytes_out"] - ha["bytes_out"]) / wall / n if wall and n else None,
        "bytes_per_moving_entity": bots["bytes_per_moving_entity"],
        "rss_mib": b["rss_kib"] / 1024,
        "rtt_ms_p50": bots["rtt_ms_p50"],
        "rtt_ms_p99": bots["rtt_ms_p99"],
        "bots_connected": bots["connected"],
        "bots_cpu_per_wall": bots["cpu_per_wall"],
        "bot_errors": bots["errors"],
        "bot_error_samples": bots["error_samples"][:5],
        "rules": (bots.get("welcome") or {}).get("rules"),
        # per mirrored snapshot of a bot: entities held (its view), and those of them that moved
        "view_entities": bots.get("held_mean"),
        "view_moving": bots.get("moving_mean"),
        "fight": bots.get("fight"),
        # payload bytes per mirroring bot and second, by message type
        "snapshot_bytes_per_s": bots.get("snapshot_bytes_per_s"),
        "scoreboard_bytes_per_s": bots.get("scoreboard_bytes_per_s"),
        "scoreboards_per_s": bots.get("scoreboards_per_s"),
        # rooms, when the server has them: alive at the end, and made and disposed per second
        "rooms": hb.get("rooms"),
        "rooms_created_per_s": (hb["rooms_created"] - ha["rooms_created"]) / wall
        if wall and "rooms_created" in hb
        else None,
        "rooms_disposed_per_s": (hb["rooms_disposed"] - ha["rooms_disposed"]) / wall
        if wall and "rooms_disposed" in hb
        else None,
        # what the bots saw of them (client_demo/bots/rooms.py), when their report has it
        "bot_rooms": {k: v for k, v in bots["rooms"].items() if k != "rooms"} if "rooms" in bots else None,
        "isolation_violations": bots.get("isolation_violations"),
        # the spectators' snapshots and follows, when the bots' report has them
        "spectate": bots.get("spectate"),
    }
    # the players that stay (not those that churn, nor spectators): the rate a player of a room gets
    steady = [
        b["snapshots_per_s"]
        for b in bots["per_bot"]
        if b["behaviour"] not in CHURNING and b["behaviour"] != "spectate" and b["connects"]
    ]
    row["steady_snapshots_per_s_median"] = percentile(steady, 50)
    row["steady_snapshots_per_s_p1"] = percentile(steady, 1)
    bps, moving = row["bytes_per_player_s"], row["view_moving"]
    rate = (bots.get("welcome") or {}).get("snapshot_rate") or 30
    # Everything a player is sent (frames, snapshot heads, shots, scoreboards) per moving entity
    # in its view per snapshot: what the "<= 3 KB/s with about 20 moving in view" target asks.
    row["bytes_per_moving_in_view"] = bps / (rate * moving) if bps and moving else None
    fight = row["fight"] or {}
    row["fight_per_s"] = (
        {k: fight[k] / wall for k in ("shots", "hits", "kills", "deaths")}
        if fight.get("bots") and wall
        else None
    )
    rules = row["rules"] or {}
    # The reference scenario has no view limit; a server whose rules set one measures another thing.
    row["everyone_sees_everyone"] = not (rules.get("view_width") and rules.get("view_height"))
    row["saturated"] = saturation(row)
    return row


def saturation(row: dict[str, Any], expect_snapshots: bool = True) -> str | None:
    """Who could not keep up at this N, if anyone."""
    if (row["server_cpu_per_wall"] or 0) >= SATURATED_CPU or row["skipped"]:
        return "server"
    if (row["bots_cpu_per_wall"] or 0) >= SATURATED_CPU:
        return "bots"
    starved = expect_snapshots and (row["snapshots_per_s_median"] or 0) < 29.0
    if row["bots_connected"] < row["players"] or starved:
        return "server" if row["server_cpu_per_wall"] >= (row["bots_cpu_per_wall"] or 0) else "bots"
    return None


# --- the machine --------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions: dict[str, str | None] = {}
    for pkg in ("eventlet", "greenlet", "msgpack", "attrs", "websockets"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "nofile_limit": resource.getrlimit(resource.RLIMIT_NOFILE),
        "packages": versions,
    }


def fmt(v: Any, spec: str) -> str:
    """`v` formatted by `spec` for a table; "-" when it is None."""
    return "-" if v is None else format(v, spec)
