"""The load benchmark's spectators scenario: `python -m benchmarks.bench --scenario spectators`.

What a spectator costs the server against what a player costs (docs/benchmarks.md,
"Spectators"). For each map of `--maps` (default: the arena, with its view, then `none`, the
empty world where everyone sees everything), three runs in one room, each on a fresh server
pinned as in the other scenarios (server on CPU 0, bots on CPU 1), 30 Hz:

1. players: N players alone (`--counts`, default 200): fighting bots in the arena (as the arena
   scenario), wander bots on `none` (as the reference scenario);
2. spectators: the same N players and S spectators (`--spectators`, default 100): spectate bots,
   which quick-spectate the room once the players joined, acknowledge every snapshot with an
   ACK and follow another player of the scoreboard every 2-4 s;
3. more players: N + S players.

Every server of a map gets the same flags: room for N + S players and for S spectators in the
room (`--spectators-per-room`, `--max-spectators`). The figure is the server's CPU per tick (µs,
utime + stime from /proc over the ticks run in the window, as "µs CPU / player-tick" is made):
a spectator's marginal cost is (run 2 - run 1) / S, a player's (run 3 - run 1) / S. Target,
reported and never asserted: a spectator costs the server no more than a player (ratio <= 1).
`--repeat R` makes the three runs R times, in the reverse order every other time (the machine's
speed drifts), and takes each run's median.
"""

from __future__ import annotations

import argparse
from statistics import median
from typing import Any

from benchmarks import harness

DEFAULT_MAPS = ("arena", "none")
PLAYS = {"arena": "fight", "none": "wander"}  # the players' behaviour on each map
RUNS = ("players", "spectators", "more players")

f = harness.fmt  # a figure, or "-" for none


def map_flags(name: str) -> list[str]:
    """The server's map flags: every player in one room on the arena (as its scenario)."""
    return ["--map", "arena", *harness.one_room_args(harness.ROOT)] if name == "arena" else ["--map", name]


def spectator_flags(spectators: int) -> list[str]:
    return ["--spectators-per-room", str(max(32, spectators)), "--max-spectators", str(max(256, spectators))]


def us_per_tick(row: dict[str, Any], kernel: bool = False) -> float | None:
    """The server's CPU per tick in µs (the row's per player-tick figure times its N)."""
    v = row.get("us_per_player_tick_kernel" if kernel else "us_per_player_tick")
    return None if v is None else v * row["players"]


def one_run(kind: str, game_map: str, n: int, s: int, opts: argparse.Namespace) -> dict[str, Any]:
    play = PLAYS.get(game_map, "wander")
    server_extra = spectator_flags(s)
    if kind == "players":
        row = harness.run_players(n, opts, n + s + 100, play, server_extra=server_extra)
    elif kind == "spectators":
        row = harness.run_players(
            n, opts, n + s + 100, f"{play}*{n},spectate*{s}", server_extra=server_extra, bot_count=n + s
        )
    else:
        row = harness.run_players(n + s, opts, n + s + 100, play, server_extra=server_extra)
    row["run"] = kind
    row["map"] = game_map
    row["spectators"] = s if kind == "spectators" else 0
    row["us_per_tick"] = us_per_tick(row)
    row["us_per_tick_kernel"] = us_per_tick(row, kernel=True)
    return row


def run(opts: argparse.Namespace, counts: list[int]) -> dict[str, Any]:
    """Every run of the scenario, by map and player count."""
    s = opts.spectators
    maps = [m.strip() for m in opts.maps.split(",") if m.strip()]
    out: dict[str, Any] = {"spectators": s, "repeat": opts.repeat, "by_map": []}
    for game_map in maps:
        opts.map_args = map_flags(game_map)
        for n in counts:
            runs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in RUNS}
            for r in range(opts.repeat):
                order = RUNS if r % 2 == 0 else tuple(reversed(RUNS))
                for kind in order:
                    print(
                        f"{game_map}, N={n}, S={s}, {kind} (repeat {r + 1} of {opts.repeat}): warm-up "
                        f"{opts.warmup:g} s, measuring {opts.measure:g} s ...",
                        flush=True,
                    )
                    row = one_run(kind, game_map, n, s, opts)
                    print(f"  {describe(row)}", flush=True)
                    runs[kind].append(row)
            out["by_map"].append(compare(game_map, n, s, runs))
    out["targets"] = judge(out)
    return out


def compare(game_map: str, n: int, s: int, runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """The median CPU per tick of each run over the repeats, and the marginal costs."""
    med = {kind: median(r["us_per_tick"] for r in rows) for kind, rows in runs.items()}
    per_spectator = (med["spectators"] - med["players"]) / s
    per_player = (med["more players"] - med["players"]) / s
    by_repeat = []  # the same ratio from the three runs of each repeat: the spread
    for alone, watched, more in zip(runs["players"], runs["spectators"], runs["more players"], strict=True):
        added = more["us_per_tick"] - alone["us_per_tick"]
        by_repeat.append((watched["us_per_tick"] - alone["us_per_tick"]) / added if added > 0 else None)
    return {
        "map": game_map,
        "players": n,
        "spectators": s,
        "runs": runs,
        "us_per_tick_median": med,
        "us_per_spectator_tick": per_spectator,
        "us_per_added_player_tick": per_player,
        # None when adding players cost nothing measurable (it never did)
        "spectator_vs_player": per_spectator / per_player if per_player > 0 else None,
        "spectator_vs_player_by_repeat": by_repeat,
        "spectator_errors": sum((r.get("spectate") or {}).get("errors", 0) for r in runs["spectators"]),
    }


def describe(row: dict[str, Any]) -> str:
    spec = row.get("spectate") or {}
    line = (
        f"server {row['server_cpu_per_wall']:.2f} cores = {f(row['us_per_tick'], ',.0f')} µs/tick "
        f"({f(row['us_per_tick_kernel'], ',.0f')} in the kernel), tick p50/p99 "
        f"{row['tick_ms_p50']:.2f}/{row['tick_ms_p99']:.2f} ms, overruns {row['overruns']}, "
        f"players' snapshots/s median {f(row['steady_snapshots_per_s_median'], '.2f')}, "
        f"bots {f(row['bots_cpu_per_wall'], '.2f')} cores, errors {row['bot_errors']}, others on CPU 0 "
        f"{f(row.get('others_on_cpu0'), '.2f')} cores"
    )
    if spec.get("bots"):
        line += (
            f"; spectators {spec['connected']}/{spec['bots']}: snapshots/s median "
            f"{f(spec['snapshots_per_s_median'], '.2f')} min {f(spec['snapshots_per_s_min'], '.2f')}, "
            f"{spec['follows']} follows, {spec['follow_switches']} switches, closed by the server "
            f"{spec['closed_by_server']}, errors {spec['errors']}"
        )
    return line


def judge(out: dict[str, Any]) -> list[dict[str, Any]]:
    verdicts = []
    for e in out["by_map"]:
        ratio = e["spectator_vs_player"]
        verdicts.append(
            {
                "target": f"{e['map']}, N={e['players']}: a spectator costs the server no more than a player",
                "measured": f"{e['us_per_spectator_tick']:.1f} against {e['us_per_added_player_tick']:.1f} "
                f"µs per tick: {f(ratio, '.2f')}",
                "met": None if ratio is None else ratio <= 1.0,
            }
        )
    return verdicts


def table(out: dict[str, Any]) -> str:
    """The runs as a markdown table (medians over the repeats), the marginal costs, the targets."""
    lines = [
        "| map | run | players | spectators | server CPU (cores) | µs CPU / tick (kernel) "
        "| tick p50 / p99 ms | overruns | players' snapshots/s median | spectators' snapshots/s "
        "median (min) | follows (switches) | spectators closed | bot errors | bots CPU (cores) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for e in out["by_map"]:
        for kind in RUNS:
            rows = e["runs"][kind]
            r = min(rows, key=lambda x: abs(x["us_per_tick"] - e["us_per_tick_median"][kind]))  # the median's
            spec = r.get("spectate") or {}
            watching = bool(spec.get("bots"))
            lines.append(
                f"| {e['map']} | {kind} | {r['players']} | {r['spectators']} "
                f"| {r['server_cpu_per_wall']:.2f} "
                f"| {f(r['us_per_tick'], ',.0f')} ({f(r['us_per_tick_kernel'], ',.0f')}) "
                f"| {r['tick_ms_p50']:.2f} / {r['tick_ms_p99']:.2f} | {r['overruns']} "
                f"| {f(r['steady_snapshots_per_s_median'], '.2f')} "
                f"| {f(spec.get('snapshots_per_s_median'), '.2f') if watching else '-'}"
                f"{' (' + f(spec.get('snapshots_per_s_min'), '.2f') + ')' if watching else ''} "
                f"| {str(spec['follows']) + ' (' + str(spec['follow_switches']) + ')' if watching else '-'} "
                f"| {spec['closed_by_server'] if watching else '-'} | {r['bot_errors']} "
                f"| {f(r['bots_cpu_per_wall'], '.2f')} |"
            )
    lines += [
        "",
        "| map | N | S | µs CPU / tick: players, + S spectators, + S players | per spectator "
        "| per added player | spectator / player | each repeat's |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for e in out["by_map"]:
        m = e["us_per_tick_median"]
        lines.append(
            f"| {e['map']} | {e['players']} | {e['spectators']} "
            f"| {m['players']:,.0f}, {m['spectators']:,.0f}, {m['more players']:,.0f} "
            f"| {e['us_per_spectator_tick']:.1f} | {e['us_per_added_player_tick']:.1f} "
            f"| {f(e['spectator_vs_player'], '.2f')} "
            f"| {', '.join(f(x, '.2f') for x in e['spectator_vs_player_by_repeat'])} |"
        )
    lines += ["", "| target | measured | met |", "|---|---|---|"]
    for v in out["targets"]:
        met = "-" if v["met"] is None else "yes" if v["met"] else "no"
        lines.append(f"| {v['target']} | {v['measured']} | {met} |")
    return "\n".join(lines)
