"""`python -m benchmarks.pair --other PATH`: two builds of the server measured at the same time.

A shared VM's speed drifts by 10-20 % from one minute to the next, more than most changes are
worth, so two benchmark runs one after the other cannot tell a 3 % change from the drift. Here
two servers, this tree's and the one in PATH (a source tree, for example a `git worktree` of
another commit), run at once on the same core (CPU 0), each with its own N bots on CPU 1: wander
bots in the reference scenario, or fighting bots on the arena map (`--scenario arena`). Both
feel the same drift, so the ratio of their CPU per player-tick holds to about 1 % while each
figure alone moves by 15 %. Each run prints both figures and the ratio; the runs alternate which
server starts first.

Two servers share the core's caches, so the figures themselves are higher than a lone server's:
the ratio is what this measures.

With `--other-python PATH`, the other server runs on that interpreter (a virtualenv's python
with the project's dependencies installed): the same code on two Python versions, or two
builds on two versions.

With `--bots`, the same for the bots: one server of this tree, and two bot processes on CPU 1,
this tree's bots and those of PATH, N each (one verifying); the ratio is of the bots' CPU per
player-tick.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks import harness

ROOT = harness.ROOT


SCENARIOS = {"reference": "wander", "arena": "fight"}  # the bots' behaviour in each


def run_pair(
    other: Path,
    n: int,
    warmup: float,
    measure: float,
    other_first: bool,
    scenario: str = "reference",
    other_python: str = sys.executable,
) -> dict[str, float]:
    """One run: µs of server CPU per player-tick for this tree and for `other` (run by
    `other_python`), measured over the same window."""
    pin = (os.cpu_count() or 1) >= 2
    server_cpus, bot_cpus = ({0}, {1}) if pin else (None, None)
    args = harness.server_args(["--map", "arena" if scenario == "arena" else "none"], n + 64)
    behaviour = SCENARIOS[scenario]
    trees = {"this": ROOT, "other": other}
    order = ["other", "this"] if other_first else ["this", "other"]
    servers: dict[str, harness.Server] = {}
    bots: list[subprocess.Popen[str]] = []
    try:
        for name in order:
            python = other_python if name == "other" else sys.executable
            # every player in one room, on either side of the pair (the arena's own rooms are 16)
            rooms = harness.one_room_args(trees[name], python) if scenario == "arena" else []
            servers[name] = harness.Server([*args, *rooms], server_cpus, cwd=trees[name], python=python)
        for name in order:
            # The bots run on past the window, so that both windows can be the same.
            bots.append(
                harness.start_bots(servers[name].ws_url, n, behaviour, warmup, measure + 15, 1, 1, bot_cpus)
            )
        windows = [harness.wait_window(b, 90) for b in bots]
        if None in windows:
            raise RuntimeError("the bots never started measuring")
        start = max(w[0] for w in windows if w is not None)
        harness.sleep_until(start)
        a = {name: s.sample() for name, s in servers.items()}
        harness.sleep_until(start + measure)
        b = {name: s.sample() for name, s in servers.items()}
    finally:
        for p in bots:
            harness.stop_process(p)
        for s in servers.values():
            s.stop()
    out = {}
    for name in trees:
        ticks = b[name]["health"]["ticks"] - a[name]["health"]["ticks"]
        players = b[name]["health"]["players"]
        if players != n or ticks <= 0:
            raise RuntimeError(f"{name}: {players} of {n} players, {ticks} ticks in the window")
        out[name] = (b[name]["cpu_s"] - a[name]["cpu_s"]) / (n * ticks) * 1e6
    out["ratio"] = out["this"] / out["other"]
    return out


def run_bots_pair(
    other: Path, n: int, warmup: float, measure: float, other_first: bool, scenario: str = "reference"
) -> dict[str, float]:
    """One run: µs of bot CPU per player-tick for this tree's bots and for those of `other`,
    against one server of this tree, measured over the same window."""
    pin = (os.cpu_count() or 1) >= 2
    server_cpus, bot_cpus = ({0}, {1}) if pin else (None, None)
    args = harness.server_args(harness.map_args(scenario, True), 2 * n + 64)
    behaviour = SCENARIOS[scenario]
    trees = {"this": ROOT, "other": other}
    order = ["other", "this"] if other_first else ["this", "other"]
    server = harness.Server(args, server_cpus)
    bots: dict[str, subprocess.Popen[str]] = {}
    try:
        for name in order:
            bots[name] = harness.start_bots(
                server.ws_url, n, behaviour, warmup, measure + 15, 1, 1, bot_cpus, cwd=trees[name]
            )
        windows = [harness.wait_window(b, 90) for b in bots.values()]
        if None in windows:
            raise RuntimeError("the bots never started measuring")
        harness.sleep_until(max(w[0] for w in windows if w is not None))
        a = {name: harness.cpu_seconds(p.pid)[0] for name, p in bots.items()}
        ha = server.health()
        harness.sleep_until(time.monotonic() + measure)
        b = {name: harness.cpu_seconds(p.pid)[0] for name, p in bots.items()}
        hb = server.health()
    finally:
        for p in bots.values():
            harness.stop_process(p)
        server.stop()
    ticks = hb["ticks"] - ha["ticks"]
    if hb["players"] != 2 * n or ticks <= 0:
        raise RuntimeError(f"{hb['players']} of {2 * n} players, {ticks} ticks in the window")
    out = {name: (b[name] - a[name]) / (n * ticks) * 1e6 for name in trees}
    out["ratio"] = out["this"] / out["other"]
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.pair", description=__doc__.split("\n\n")[0])
    p.add_argument("--other", required=True, type=Path, help="the other source tree (holds gameserver/)")
    p.add_argument("--scenario", choices=sorted(SCENARIOS), default="reference")
    p.add_argument("--count", type=int, default=400, help="players per server (default 400)")
    p.add_argument("--warmup", type=float, default=5.0, help="seconds after all joined (default 5)")
    p.add_argument("--measure", type=float, default=20.0, help="measured seconds per run (default 20)")
    p.add_argument("--runs", type=int, default=3, help="runs (default 3)")
    p.add_argument("--bots", action="store_true", help="compare the two trees' bots, against one server")
    p.add_argument(
        "--other-python",
        default=sys.executable,
        help="the interpreter of the other server, with the project's dependencies (default: this one)",
    )
    p.add_argument("--json", dest="json_out", help="write every figure to this JSON file")
    opts = p.parse_args(argv)
    other = opts.other.resolve()
    if not (other / "gameserver" / "__main__.py").is_file():
        p.error(f"{other} holds no gameserver/ package")
    if opts.bots and opts.other_python != sys.executable:
        p.error("--other-python runs the other server; --bots runs one server")
    try:
        version = subprocess.run(
            [opts.other_python, "-c", "import platform, gameserver.server; print(platform.python_version())"],
            cwd=other,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        p.error(f"--other-python {opts.other_python} cannot run the other tree's server: {exc}")
    what = "the bots' CPU" if opts.bots else "the server's CPU"
    print(
        f"# this: {ROOT} (Python {platform.python_version()})\n# other: {other} (Python {version})\n"
        f"# {opts.scenario}: {opts.count} players each, {opts.measure:g} s per run; {what}",
        flush=True,
    )
    runs: list[dict[str, Any]] = []
    for i in range(opts.runs):
        if opts.bots:
            r = run_bots_pair(other, opts.count, opts.warmup, opts.measure, bool(i % 2), opts.scenario)
        else:
            r = run_pair(
                other, opts.count, opts.warmup, opts.measure, bool(i % 2), opts.scenario, opts.other_python
            )
        runs.append(r)
        print(
            f"run {i + 1}: this {r['this']:.2f} µs, other {r['other']:.2f} µs per player-tick; "
            f"this / other {r['ratio']:.3f}",
            flush=True,
        )
    ratios = [r["ratio"] for r in runs]
    print(f"this / other: mean {sum(ratios) / len(ratios):.3f} ({min(ratios):.3f}-{max(ratios):.3f})")
    if opts.json_out:
        out = {
            "scenario": opts.scenario,
            "count": opts.count,
            "bots": opts.bots,
            "python": {"this": platform.python_version(), "other": version},
            "runs": runs,
        }
        Path(opts.json_out).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
