"""`python -m benchmarks.bench_netcode`: the browser's netcode on networks with jitter and stalls
(docs/netcode.md).

One server (30 Hz, the empty world, `--map none`) with `--bots` wander bots on it over loopback,
and for each network case and each interpolation mode one page of the demo in headless Chromium
(playwright, as tests/test_browser.py runs it) through tests/latency_proxy.py. A case is
`RTT+-J` (round trip and its jitter in ms: the proxy delays each direction by RTT/2 +- J/2,
uniformly, seeded), optionally with `/STALL@EVERY` (nothing delivered either way for STALL ms
every EVERY s, then all at once), e.g. `100+-20/300@5`. A mode is `auto` (the adaptive delay) or
`fixed` (`?interp=100`, the former default).

The page's input is a script (the same for every run): it walks toward the nearest other player
drawn until 300-500 units away, strafing round it (the side changes every 2 s), aims at its
centre as drawn (from its own position after the input's move) and holds FIRE while it is within
800 units (the weapon reaches 900). So every shot is a hit as the page saw it; "hits as seen" is
the share of the page's shots the server judged hits. Over `--seconds` after a settling second,
printed per run: the prediction's corrections per minute, the interpolation's underruns per
minute (episodes, and the share of drawn frames past the newest snapshot), the interpolation
delay (mean and max, sampled every 100 ms), the measured jitter (mean), the round trip (mean),
the inputs sent and not yet confirmed by a snapshot (mean), how far behind the server the others
are drawn (the delay plus half the measured round trip), the shots and the hits as seen.
Figures, never pass or fail.

Bounded: at most 12 cases x 2 modes, each run `--seconds` (at most 300) plus a few seconds.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # tests/ is no package: its modules are top-level ones
from latency_proxy import LatencyProxy  # noqa: E402

from benchmarks.harness import CHROMIUM, CHROMIUM_ARGS, Server  # noqa: E402

DEFAULT_CASES = "0,50+-10,100+-20,200+-40,100+-20/300@5"
CASE = re.compile(r"^(\d+)(?:(?:\+-|±)(\d+))?(?:/(\d+)@(\d+(?:\.\d+)?))?$")
MAX_CASES = 12
FIXED_MS = 100  # the former fixed default, for `fixed`

# Installed in the page once it plays: the input script (see the module's docstring) and the
# counters of the run, read back by RESULTS.
DRIVER = """() => {
  const client = game.client;
  const FIRE = 1;
  const st = { shots: 0, hits: 0, frames: 0, delays: [], jitters: [], rtts: [], unacked: [] };
  window.__bench = st;
  const onSnapshot = client._onSnapshot.bind(client);
  client._onSnapshot = (msg, now) => {
    for (const s of msg.shots || []) {
      if (s.shooter !== client.myId) continue;
      st.shots += 1;
      if (s.hit !== null && s.hit !== 0) st.hits += 1;
    }
    return onSnapshot(msg, now);
  };
  const idle = { moveX: 0, moveY: 0, aim: 0, buttons: 0 };
  client.readInput = () => {
    const p = client.predictor;
    if (!p || !p.ready || client.myId === null) return idle;
    const drawn = game.entities;
    const me = drawn[client.myId];
    if (!me || me.hp <= 0) return idle;
    let best = null;
    let bd = Infinity;
    for (const id in drawn) {
      const e = drawn[id];
      if (Number(id) === client.myId || e.hp <= 0) continue;
      const d = Math.hypot(e.x - p.x, e.y - p.y);
      if (d < bd) { bd = d; best = e; }
    }
    if (!best) return idle;
    const dx = (best.x - p.x) / bd;
    const dy = (best.y - p.y) / bd;
    const radial = bd > 500 ? 1 : bd < 300 ? -1 : 0;
    const side = Math.floor(performance.now() / 2000) % 2 ? 0.7 : -0.7;
    let moveX = dx * radial - dy * side;
    let moveY = dy * radial + dx * side;
    const n = Math.hypot(moveX, moveY);
    if (n > 1) { moveX /= n; moveY /= n; }
    const r = client.rules;
    const x = Math.min(Math.max(p.x + moveX * r.step, 0), r.world_width);
    const y = Math.min(Math.max(p.y + moveY * r.step, 0), r.world_height);
    const aim = Math.atan2(best.y - y, best.x - x);
    return { moveX, moveY, aim, buttons: bd < 800 ? FIRE : 0 };
  };
  const frame = () => { st.frames += 1; requestAnimationFrame(frame); };
  requestAnimationFrame(frame);
  setInterval(() => {
    const s = game.stats;
    st.delays.push(s.interpDelayMs);
    if (s.jitterMs !== null) st.jitters.push(s.jitterMs);
    if (s.rttSmoothMs !== null) st.rtts.push(s.rttSmoothMs);
    st.unacked.push(s.unackedInputs);
  }, 100);
}"""

# The counters now: what the run's figures are differences of.
COUNTERS = """() => {
  const c = game.client;
  const p = c.predictor;
  const st = window.__bench;
  return {
    corrections: p ? p.corrections : 0,
    snaps: p ? p.snaps : 0,
    underruns: c.buffer.underruns,
    underrunFrames: c.buffer.underrunFrames,
    shots: st.shots,
    hits: st.hits,
    frames: st.frames,
    samples: st.delays.length,
    connects: c.stats.connects,
  };
}"""

SAMPLES = """from => {
  const st = window.__bench;
  const rows = ["delays", "jitters", "rtts", "unacked"].map((k) => [k, st[k].slice(from)]);
  return Object.fromEntries(rows);
}"""


def parse_case(text: str) -> dict[str, Any]:
    m = CASE.match(text.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"a case is RTT[+-J][/STALL@EVERY] in ms and s, not {text!r}")
    rtt, jitter, stall, every = m.groups()
    return {
        "name": text.strip(),
        "rtt_ms": int(rtt),
        "jitter_ms": int(jitter or 0),
        "stall_ms": int(stall or 0),
        "stall_every_s": float(every or 0),
    }


def run_once(
    browser: Any, server: Server, case: dict[str, Any], mode: str, seconds: float, seed: int
) -> dict[str, Any]:
    """One page through a proxy for `case`, in `mode`: its figures over `seconds`."""
    with LatencyProxy(
        server.port,
        case["rtt_ms"] / 2000,
        jitter=case["jitter_ms"] / 2000,
        stall_every=case["stall_every_s"],
        stall_for=case["stall_ms"] / 1000,
        seed=seed,
    ) as proxy:
        query = f"?name=Probe&debug=1{f'&interp={FIXED_MS}' if mode == 'fixed' else ''}"
        context = browser.new_context(viewport={"width": 960, "height": 640})
        try:
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{proxy.http}/{query}")
            page.wait_for_function(
                "() => window.game && game.state.connection === 'connected' && game.predicted !== null"
                " && Object.keys(game.entities).length >= 2",
                timeout=30_000,
                polling=50,
            )
            page.evaluate(DRIVER)
            page.wait_for_timeout(1000)  # settling: the delay leaves its start, the driver runs
            before = page.evaluate(COUNTERS)
            start = time.monotonic()
            page.wait_for_timeout(seconds * 1000)
            after = page.evaluate(COUNTERS)
            elapsed = time.monotonic() - start
            samples = page.evaluate(SAMPLES, before["samples"])
            if errors:
                raise RuntimeError(f"the page failed: {errors}")
        finally:
            context.close()
    d = {k: after[k] - before[k] for k in after}
    per_min = 60 / elapsed
    delays, jitters, rtts = samples["delays"], samples["jitters"], samples["rtts"]
    delay_mean = sum(delays) / len(delays) if delays else None
    rtt_mean = sum(rtts) / len(rtts) if rtts else None
    return {
        "case": case["name"],
        "mode": mode,
        "seconds": round(elapsed, 1),
        "corrections_per_min": round(d["corrections"] * per_min, 1),
        "snaps": d["snaps"],
        "underruns_per_min": round(d["underruns"] * per_min, 1),
        "underrun_frames_pct": round(100 * d["underrunFrames"] / d["frames"], 2) if d["frames"] else None,
        "delay_mean_ms": round(delay_mean, 1) if delay_mean is not None else None,
        "delay_max_ms": round(max(delays), 1) if delays else None,
        "jitter_mean_ms": round(sum(jitters) / len(jitters), 1) if jitters else None,
        "rtt_mean_ms": round(rtt_mean, 1) if rtt_mean is not None else None,
        "unacked_mean": round(sum(samples["unacked"]) / len(samples["unacked"]), 1)
        if samples["unacked"]
        else None,
        "behind_ms": round(delay_mean + rtt_mean / 2, 1)
        if delay_mean is not None and rtt_mean is not None
        else None,
        "shots": d["shots"],
        "hits": d["hits"],
        "hits_as_seen_pct": round(100 * d["hits"] / d["shots"], 1) if d["shots"] else None,
        "fps": round(d["frames"] / elapsed, 1),
        "reconnects": d["connects"],
    }


COLUMNS = [
    ("case", "case", "s"),
    ("mode", "mode", "s"),
    ("corr/min", "corrections_per_min", ".1f"),
    ("underruns/min", "underruns_per_min", ".1f"),
    ("underrun frames %", "underrun_frames_pct", ".2f"),
    ("delay ms (max)", "delay", "s"),
    ("jitter ms", "jitter_mean_ms", ".1f"),
    ("rtt ms", "rtt_mean_ms", ".0f"),
    ("unacked inputs", "unacked_mean", ".1f"),
    ("behind ms", "behind_ms", ".0f"),
    ("shots", "shots", "d"),
    ("hits as seen %", "hits_as_seen_pct", ".1f"),
]


def table(rows: list[dict[str, Any]]) -> str:
    out = ["| " + " | ".join(c[0] for c in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in rows:
        cells = []
        for _, key, spec in COLUMNS:
            if key == "delay":
                v: Any = (
                    f"{r['delay_mean_ms']:.0f} ({r['delay_max_ms']:.0f})"
                    if r["delay_mean_ms"] is not None
                    else "-"
                )
            else:
                v = r[key]
                v = "-" if v is None else format(v, spec)
            cells.append(str(v))
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_netcode", description=__doc__.split("\n\n")[0]
    )
    p.add_argument(
        "--cases",
        default=DEFAULT_CASES,
        help=f"comma list of RTT[+-J][/STALL@EVERY] (default {DEFAULT_CASES})",
    )
    p.add_argument("--modes", default="auto,fixed", help="comma list of auto, fixed (default auto,fixed)")
    p.add_argument(
        "--seconds", type=float, default=30.0, help="measured seconds per run, at most 300 (default 30)"
    )
    p.add_argument("--bots", type=int, default=4, help="wander bots in the room, 1 to 16 (default 4)")
    p.add_argument("--seed", type=int, default=1, help="the proxy's jitter seed (default 1)")
    p.add_argument("--json", action="store_true", help="print the runs as JSON too")
    opts = p.parse_args(argv)
    cases = [parse_case(c) for c in opts.cases.split(",") if c.strip()]
    modes = [m.strip() for m in opts.modes.split(",") if m.strip()]
    if not 1 <= len(cases) <= MAX_CASES or not set(modes) <= {"auto", "fixed"} or not modes:
        p.error(f"1 to {MAX_CASES} cases, and modes among auto, fixed")
    if not 1 <= opts.seconds <= 300 or not 1 <= opts.bots <= 16:
        p.error("--seconds 1..300, --bots 1..16")
    executable = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if executable is None:
        p.error("no Chromium (apt-get install chromium, or GAMESERVER_CHROMIUM=path)")
    from playwright.sync_api import sync_playwright

    server = Server(["--tick", "30", "--map", "none", "--seed", "1", "--log-level", "warning"], None)
    total = len(cases) * len(modes) * (opts.seconds + 10) + 30
    bots = subprocess.Popen(
        [sys.executable, "-m", "client_demo.bots", "--url", f"ws://127.0.0.1:{server.port}/ws"]
        + ["--count", str(opts.bots), "--behaviour", "wander", "--duration", str(total), "--seed", "1"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    rows: list[dict[str, Any]] = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            try:
                for case in cases:
                    for mode in modes:
                        row = run_once(browser, server, case, mode, opts.seconds, opts.seed)
                        rows.append(row)
                        print(json.dumps(row), file=sys.stderr, flush=True)
            finally:
                browser.close()
    finally:
        if bots.poll() is None:
            bots.kill()
        bots.wait()
        server.stop()
    print(f"{opts.bots} wander bots, 30 Hz, map none, {opts.seconds:g} s a run, proxy seed {opts.seed}")
    print(table(rows))
    if opts.json:
        print(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
