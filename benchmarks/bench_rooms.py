"""The load benchmark's rooms scenario: `python -m benchmarks.bench --scenario rooms`.

Many small rooms in one process (docs/benchmarks.md, "Rooms"), each run on a fresh server pinned
as the other scenarios are (server on CPU 0, bots on CPU 1), wander bots, 30 Hz:

1. rooms: N players (default 800) on `--map none --room-size S` (default 8). Quick play fills
   N/S rooms of S one after the other, and in each room everyone sees everyone. The bots check
   that none of them was sent an entity of another room (client_demo/bots/rooms.py).
2. with `--peer`: Colyseus 0.16 right after, on the same N in rooms of S (its rooms' maxClients,
   joinOrCreate; benchmarks/peer.py), for the ratio of CPU per player-tick in the same minutes;
   then Colyseus in one room, so that what rooms cost each server shows beside the ratio.
3. one room: the same N on `--map none` with no room size, everyone in one room (the reference
   scenario at that N).
4. churn: P players (`--churn-players`, 400) in rooms of S, first alone, then with
   `--churn-rate` (20) rooms made and disposed a second beside them: host bots, each of which
   creates a private room over HTTP, joins it with the seat, leaves after 0.3-0.7 s and does it
   again. Both runs use the same server flags: `--room-idle 1` (a host's room is disposed a
   second after it left) and creation and seat limits high enough for one address.

Targets, reported and never asserted: CPU per player-tick at most 0.5 of Colyseus's in the same
minutes and no more than the one-room figure at the same N; tick p99 under a third of the tick
period; churn leaves tick p99 and the players' snapshot rate unchanged.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

from benchmarks import harness
from client_demo.bots.behaviours import COME_BACK

TICK_RATE = 30  # harness.server_args()
CHURN_STAY = (0.3, 0.7)  # seconds a host stays in the room it made
SETUP_S = 0.05  # a host's HTTP request, handshake and welcome on loopback, about
ROOM_IDLE = 1.0  # the churn runs' --room-idle
# The churn runs' limits for one client address: every bot connects from 127.0.0.1.
CHURN_LIMITS = ["--creates-per-minute", "100000", "--seats-per-address", "1000"]
# "Unchanged" by churn: within what two runs of the same thing differ by on this VM.
SAME_TICK_P99 = 0.10  # relative
# The players' median snapshots a second, relative: 1 % is 0.3 at 30 Hz, three snapshots in a
# 10 s window (a window counts whole snapshots, so 0.1 a second is one snapshot more or less).
SAME_RATE = 0.01


def churn_hosts(rate: float, stay: tuple[float, float] = CHURN_STAY) -> int:
    """Host bots that make `rate` rooms a second: each makes one per cycle, its stay plus the
    pause before it comes back (behaviours.COME_BACK) plus the setup of a connection."""
    cycle = sum(stay) / 2 + sum(COME_BACK) / 2 + SETUP_S
    return max(1, math.ceil(rate * cycle))


f = harness.fmt  # a figure, or "-" for none


def _ms(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def _spread(low: Any, high: Any) -> str:
    return f"{low}" if low == high else f"{low}-{high}"


def run(opts: argparse.Namespace, counts: list[int], peer: Any) -> dict[str, Any]:
    """Every run of the scenario; `peer` is benchmarks.peer with --peer, else None."""
    size = opts.room_size
    rooms_args = ["--room-size", str(size)]
    out: dict[str, Any] = {"room_size": size, "by_n": [], "churn": None}
    for n in counts:
        print(
            f"N={n} in rooms of {size}: warm-up {opts.warmup:g} s, measuring {opts.measure:g} s", flush=True
        )
        rooms = harness.run_players(n, opts, n + 100, "wander", server_extra=rooms_args)
        print(f"  {describe(rooms)}", flush=True)
        theirs = theirs_one = None
        if peer is not None:
            theirs = peer.run_peer(n, opts.warmup, opts.measure, opts.pin, room_size=size)
            others = f"others on CPU 0 {theirs['others_on_cpu0']:.2f} cores"
            print(f"  Colyseus in {theirs['rooms']} rooms: {peer.describe(theirs)}, {others}", flush=True)
            theirs_one = peer.run_peer(n, opts.warmup, opts.measure, opts.pin)
            others = f"others on CPU 0 {theirs_one['others_on_cpu0']:.2f} cores"
            print(f"  Colyseus in one room: {peer.describe(theirs_one)}, {others}", flush=True)
        print(f"N={n} in one room ...", flush=True)
        one = harness.run_players(n, opts, n + 100, "wander")
        print(f"  {describe(one)}", flush=True)
        entry = {"players": n, "rooms": rooms, "one_room": one, "peer": theirs, "peer_one_room": theirs_one}
        entry["vs_one_room"] = rooms["us_per_player_tick"] / one["us_per_player_tick"]
        if theirs is not None and theirs_one is not None:
            entry["peer_ratio"] = rooms["us_per_player_tick"] / theirs["us_per_player_tick"]
            entry["peer_ratio_one_room"] = one["us_per_player_tick"] / theirs_one["us_per_player_tick"]
            entry["peer_vs_one_room"] = theirs["us_per_player_tick"] / theirs_one["us_per_player_tick"]
        out["by_n"].append(entry)
    p = opts.churn_players
    if p > 0:
        hosts = churn_hosts(opts.churn_rate) if opts.churn_rate > 0 else 0
        server_extra = [*rooms_args, "--room-idle", str(ROOM_IDLE), *CHURN_LIMITS]
        print(f"churn: {p} players in rooms of {size}, without churn ...", flush=True)
        calm = harness.run_players(p, opts, p + hosts + 100, "wander", server_extra=server_extra)
        print(f"  {describe(calm)}", flush=True)
        churn = None
        if hosts:
            print(f"churn: the same with {hosts} hosts making about {opts.churn_rate:g} rooms a second ...")
            churn = harness.run_players(
                p,
                opts,
                p + hosts + 100,
                f"wander*{p},host*{hosts}",
                server_extra=server_extra,
                bots_extra=["--churn-stay", ",".join(map(str, CHURN_STAY))],
                bot_count=p + hosts,
            )
            print(f"  {describe(churn)}", flush=True)
        out["churn"] = {"players": p, "hosts": hosts, "rate": opts.churn_rate, "calm": calm, "churn": churn}
    out["targets"] = judge(out)
    return out


def describe(row: dict[str, Any]) -> str:
    rooms = row.get("bot_rooms") or {}
    size = rooms.get("bots_per_room") or {}
    made = row.get("rooms_created_per_s")
    gone = row.get("rooms_disposed_per_s")
    return (
        f"server {row['server_cpu_per_wall']:.2f} cores = {f(row['us_per_player_tick'], '.1f')} "
        f"µs/player-tick ({f(row.get('us_per_player_tick_kernel'), '.1f')} in the kernel), "
        f"tick p50/p99 {row['tick_ms_p50']:.2f}/{row['tick_ms_p99']:.2f} ms, overruns {row['overruns']}, "
        f"rooms {row.get('rooms')} (bots' count {rooms.get('count')}, {size.get('min')}-{size.get('max')} "
        f"bots each), made/disposed per s {f(made, '.1f')}/{f(gone, '.1f')}, "
        f"players' snapshots/s median {f(row['steady_snapshots_per_s_median'], '.2f')} "
        f"p1 {f(row['steady_snapshots_per_s_p1'], '.2f')}, interval p99 "
        f"{f(row['interval_ms_p99'], '.1f')} ms (kernel {f(row['interval_ms_p99_kernel'], '.1f')}), "
        f"isolation violations {row.get('isolation_violations')}, bots "
        f"{f(row['bots_cpu_per_wall'], '.2f')} cores, errors {row['bot_errors']}, others on CPU 0 "
        f"{f(row.get('others_on_cpu0'), '.2f')} cores"
    )


def judge(out: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with what was measured and whether it was met (None: not measured)."""
    period_ms = 1000 / TICK_RATE
    verdicts: list[dict[str, Any]] = []
    for e in out["by_n"]:
        n, rooms = e["players"], e["rooms"]
        ratio = e.get("peer_ratio")
        verdicts.append(
            {
                "target": f"N={n}: µs CPU per player-tick in rooms ≤ 0.5 of Colyseus's in rooms",
                "measured": "not measured (no --peer)"
                if ratio is None
                else f"{rooms['us_per_player_tick']:.1f} against {e['peer']['us_per_player_tick']:.1f}: "
                f"{ratio:.3f} (in one room: {e['peer_ratio_one_room']:.3f})",
                "met": None if ratio is None else ratio <= 0.5,
            }
        )
        verdicts.append(
            {
                "target": f"N={n}: µs CPU per player-tick in rooms ≤ in one room",
                "measured": f"{rooms['us_per_player_tick']:.1f} against "
                f"{e['one_room']['us_per_player_tick']:.1f}: {e['vs_one_room']:.3f}",
                "met": e["vs_one_room"] <= 1.0,
            }
        )
        verdicts.append(
            {
                "target": f"N={n} in rooms: tick p99 < {period_ms / 3:.1f} ms (a third of the tick period)",
                "measured": f"{rooms['tick_ms_p99']:.2f} ms",
                "met": rooms["tick_ms_p99"] < period_ms / 3,
            }
        )
    c = out.get("churn")
    if c and c["churn"] is not None:
        calm, churn = c["calm"], c["churn"]
        verdicts.append(
            {
                "target": f"churn: tick p99 < {period_ms / 3:.1f} ms and within {SAME_TICK_P99:.0%} of the "
                "run without churn",
                "measured": f"{churn['tick_ms_p99']:.2f} ms against {calm['tick_ms_p99']:.2f} ms, "
                f"{churn['rooms_created_per_s']:.1f} rooms made and {churn['rooms_disposed_per_s']:.1f} "
                "disposed a second",
                "met": churn["tick_ms_p99"] < period_ms / 3
                and churn["tick_ms_p99"] <= calm["tick_ms_p99"] * (1 + SAME_TICK_P99),
            }
        )
        a, b = calm["steady_snapshots_per_s_median"], churn["steady_snapshots_per_s_median"]
        verdicts.append(
            {
                "target": f"churn: the players' median snapshots/s within {SAME_RATE:.0%} of the run without",
                "measured": f"{b:.2f} (p1 {churn['steady_snapshots_per_s_p1']:.2f}) against {a:.2f} "
                f"(p1 {calm['steady_snapshots_per_s_p1']:.2f})",
                "met": abs(a - b) <= SAME_RATE * a,
            }
        )
    return verdicts


def table(out: dict[str, Any]) -> str:
    """The runs as a markdown table, then the targets."""
    head = (
        "| run | players | rooms (bots per room) | made / disposed per s | server CPU (cores) "
        "| µs CPU / player-tick (kernel) | tick p50 / p99 ms | overruns | snapshots/s median (p1) "
        "| interval p99 ms (kernel) | isolation violations | bots CPU (cores) | others on CPU 0 (cores) |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [head]

    def ours(label: str, r: dict[str, Any]) -> None:
        size = (r.get("bot_rooms") or {}).get("bots_per_room") or {}
        spread = _spread(size.get("min"), size.get("max"))
        made, gone = r.get("rooms_created_per_s"), r.get("rooms_disposed_per_s")
        lines.append(
            f"| {label} | {r['players']} | {r.get('rooms')} ({spread}) "
            f"| {f(made, '.1f')} / {f(gone, '.1f')} | {r['server_cpu_per_wall']:.2f} "
            f"| {f(r['us_per_player_tick'], '.1f')} ({f(r.get('us_per_player_tick_kernel'), '.1f')}) "
            f"| {_ms(r['tick_ms_p50'])} / {_ms(r['tick_ms_p99'])} | {r['overruns']} "
            f"| {f(r['steady_snapshots_per_s_median'], '.2f')} "
            f"({f(r['steady_snapshots_per_s_p1'], '.2f')}) "
            f"| {f(r['interval_ms_p99'], '.1f')} ({f(r['interval_ms_p99_kernel'], '.1f')}) "
            f"| {r.get('isolation_violations')} | {f(r['bots_cpu_per_wall'], '.2f')} "
            f"| {f(r.get('others_on_cpu0'), '.2f')} |"
        )

    def theirs(label: str, t: dict[str, Any] | None) -> None:
        if t is None:
            return
        lo, hi = t["bots_per_room"]
        lines.append(
            f"| {label} | {t['players']} | {t['rooms']} ({_spread(lo, hi)}) "
            f"| - | {t['server_cpu_per_wall']:.2f} | {t['us_per_player_tick']:.1f} "
            f"({t['us_per_player_tick_kernel']:.1f}) | - | - | {t['snapshots_per_s_median']:.2f} "
            f"({t['snapshots_per_s_p1']:.2f}) | - | - | {t['bots_cpu_per_wall']:.2f} "
            f"| {f(t.get('others_on_cpu0'), '.2f')} |"
        )

    size = out["room_size"]
    for e in out["by_n"]:
        ours(f"rooms of {size}", e["rooms"])
        theirs(f"Colyseus, rooms of {size}", e["peer"])
        theirs("Colyseus, one room", e["peer_one_room"])
        ours("one room", e["one_room"])
    c = out.get("churn")
    if c:
        ours(f"rooms of {size}, no churn", c["calm"])
        if c["churn"] is not None:
            ours(f"rooms of {size}, {c['hosts']} hosts churning", c["churn"])
    lines += ["", "| target | measured | met |", "|---|---|---|"]
    for v in out["targets"]:
        met = "-" if v["met"] is None else "yes" if v["met"] else "no"
        lines.append(f"| {v['target']} | {v['measured']} | {met} |")
    return "\n".join(lines)
