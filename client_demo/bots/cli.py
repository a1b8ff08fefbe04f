"""`python -m client_demo.bots`: run N bots against a server, over K processes, and report.

A run: every process connects its share of the bots (they play from their welcome on); once all
have joined, the measured window starts after `--warmup` seconds and lasts `--duration` seconds,
the same window (CLOCK_MONOTONIC is system-wide) in every process; then every bot closes with a
closing handshake and the reports are merged. Everything stops by itself: joining is bounded by
`--join-timeout` and closing by a few seconds.

Rooms: by default every bot joins by quick play, so a server run with `--room-size` spreads
them over rooms by itself. `--rooms K` first creates K rooms over HTTP (POST /matchmake/create)
and deals the bots out to them in turn, each joining with a seat; the bots all come from one
address, so the server's `--creates-per-minute` must allow K and its `--seats-per-address` K + 64
(the creations' seats, and one for each connection in flight). The report gives per-room
figures, and a bot that was sent an entity of a room it is not in counts an "isolation" error.

With --json the last line of stdout is the merged report; before it, a line
`#window START END` (monotonic seconds) tells a benchmark when the window runs.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import multiprocessing.connection
import resource
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from client_demo.bots.behaviours import AWAY, BEHAVIOURS, DROP_EVERY, FOLLOW_EVERY
from client_demo.bots.metrics import merge
from client_demo.bots.runner import Runner

WindowCallback = Callable[[float, float], None]


def raise_open_file_limit(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def _behaviour_of(behaviours: list[str], index: int) -> str:
    return behaviours[index % len(behaviours)]


def parse_behaviours(text: str) -> list[str]:
    """The list of behaviours dealt out in turn: names separated by commas, `NAME*K` for K of
    them in a row (so "wander*400,host*20" is 400 wanderers, then 20 hosts, for 420 bots).
    Raises ValueError for an unknown name or a bad count."""
    out: list[str] = []
    for item in text.split(","):
        name, star, count = item.strip().partition("*")
        if not name and not star:
            continue
        if name not in BEHAVIOURS:
            raise ValueError(f"unknown behaviour {name!r}; choose from {', '.join(BEHAVIOURS)}")
        k = 1
        if star:
            if not count.strip().isdigit() or int(count) < 1:
                raise ValueError(f"bad count in {item.strip()!r}: NAME*K with K >= 1")
            k = int(count)
        out += [name] * k
    if not out:
        raise ValueError("no behaviour given")
    return out


def create_rooms(url: str, count: int, timeout: float = 10.0) -> list[tuple[str, str, str]]:
    """(room id, seat, WebSocket url) of `count` new public rooms, created over HTTP on the
    server of the WebSocket `url` (in a cluster, the url is of the process that holds the room).
    Raises ValueError with the server's answer when it refuses one."""
    u = urlsplit(url)
    endpoint = f"http://{u.hostname}:{u.port or 80}/matchmake/create"
    out: list[tuple[str, str, str]] = []
    for _ in range(count):
        what = f"creating room {len(out) + 1} of {count}"
        request = urllib.request.Request(
            endpoint, data=b"{}", headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                body = json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            raise ValueError(f"{what}: HTTP {exc.code} {exc.read()!r}") from None
        except urllib.error.URLError as exc:
            raise ValueError(f"{what}: {exc.reason}") from None
        out.append((body["room"], body["seat"], body.get("url") or url))
    return out


def _make_runner(opts: dict[str, Any], first: int, count: int) -> Runner:
    r = Runner(
        opts["url"],
        count,
        opts["behaviours"][0],
        verify=max(0, min(count, opts["verify"] - first)),
        first=first,
        total=opts["count"],
        seed=opts["seed"],
    )
    r.churn_stay = opts["churn_stay"]
    r.drop_every = opts["drop_every"]
    r.follow_every = opts["follow_every"]
    r.matchmake = opts["matchmake"]
    created = opts["rooms"]
    for b in r.bots:
        b.behaviour = _behaviour_of(opts["behaviours"], b.index)
        # Decided again here: the runner built every bot with the first behaviour of the list.
        b.verify = b.index - first < opts["verify"]
        if created:
            b.target_room = created[b.index % len(created)][0]
            # The first bot of each room takes the seat of its creation; a spectator takes none.
            if b.index < len(created) and b.behaviour != "spectate":
                b.seat = created[b.index][1]
                target = urlsplit(created[b.index][2])  # the process that holds the room
                b.ws_host, b.ws_port, b.ws_path = target.hostname or b.ws_host, target.port or 80, target.path
    # the players first: a spectator waits for them (Runner.settled)
    r.to_connect.sort(key=lambda b: b.behaviour == "spectate")
    return r


def _play_window(r: Runner, t0: float, opts: dict[str, Any]) -> None:
    start = t0 + opts["warmup"]
    end = start + opts["duration"]
    r.run_until(start)
    r.start_window()
    r.window = (start, end)
    r.run_until(end)
    r.end_window()
    r.shut_down()


def _child(opts: dict[str, Any], first: int, count: int, conn: multiprocessing.connection.Connection) -> None:
    raise_open_file_limit(count + 256)
    r = _make_runner(opts, first, count)
    go: list[float] = []

    def on_parent() -> None:
        msg = conn.recv()
        if msg[0] == "go":
            go.append(msg[1])

    r.watch_fd(conn.fileno(), on_parent)
    r.run_until(time.monotonic() + opts["join_timeout"], r.all_joined)
    conn.send(("ready", r.playing))
    # Keep playing while the other processes finish joining.
    r.run_until(time.monotonic() + opts["join_timeout"] + 5, lambda: bool(go))
    if go:
        _play_window(r, go[0], opts)
    else:
        r.shut_down()
    conn.send(("report", r.report()))
    conn.close()


def run_bots(
    url: str,
    count: int,
    duration: float,
    behaviour: str = "wander",
    procs: int = 1,
    verify: int = 1,
    warmup: float = 0.0,
    join_timeout: float = 30.0,
    seed: int = 1,
    on_window: WindowCallback | None = None,
    churn_stay: tuple[float, float] = (1.0, 3.0),
    rooms: int = 0,
    drop_every: tuple[float, float] = DROP_EVERY,
    follow_every: tuple[float, float] = FOLLOW_EVERY,
    matchmake: bool = False,
) -> dict[str, Any]:
    """Run the bots and return the merged report (see metrics.merge). `rooms` > 0: create that
    many rooms first and deal the bots out to them; 0: every bot joins by quick play."""
    behaviours = parse_behaviours(behaviour)
    # Created before any bot connects (and before the processes start), so that every bot knows
    # its room; a creation's seat is held for the server's --seat-ttl, and the first bots of
    # the run, who connect first, use them.
    created = create_rooms(url, rooms) if rooms > 0 else []
    opts = dict(
        url=url,
        count=count,
        behaviours=behaviours,
        verify=verify,
        duration=duration,
        warmup=warmup,
        join_timeout=join_timeout,
        seed=seed,
        churn_stay=churn_stay,
        drop_every=drop_every,
        follow_every=follow_every,
        rooms=created,
        matchmake=matchmake,
    )
    raise_open_file_limit(count + 256)
    procs = max(1, min(procs, count))
    started = time.monotonic()
    if procs == 1:
        r = _make_runner(opts, 0, count)
        r.run_until(time.monotonic() + join_timeout, r.all_joined)
        t0 = time.monotonic()
        joined_s = t0 - started
        if on_window:
            on_window(t0 + warmup, t0 + warmup + duration)
        _play_window(r, t0, opts)
        parts = [r.report()]
    else:
        ctx = multiprocessing.get_context("spawn")  # fork is unsafe where threads run
        pipes, children = [], []
        share, extra = divmod(count, procs)
        first = 0
        for i in range(procs):
            n = share + (1 if i < extra else 0)
            parent_end, child_end = ctx.Pipe()
            p = ctx.Process(target=_child, args=(opts, first, n, child_end), daemon=True)
            p.start()
            child_end.close()
            pipes.append(parent_end)
            children.append(p)
            first += n
        deadline = time.monotonic() + join_timeout + 5
        for conn in pipes:
            if conn.poll(max(0.0, deadline - time.monotonic())):
                conn.recv()
        t0 = time.monotonic() + 0.05
        joined_s = t0 - started
        for conn in pipes:
            conn.send(("go", t0))
        if on_window:
            on_window(t0 + warmup, t0 + warmup + duration)
        parts = []
        end = t0 + warmup + duration + 15
        for conn, p in zip(pipes, children, strict=True):
            if conn.poll(max(0.0, end - time.monotonic())):
                kind, report = conn.recv()
                parts.append(report)
            p.join(timeout=max(0.1, end - time.monotonic()))
            if p.is_alive():
                p.kill()
    out = merge(parts)
    out["join_s"] = joined_s
    out["behaviour"] = behaviour
    out["processes"] = procs
    return out


def format_summary(rep: dict[str, Any], per_bot: bool) -> str:
    def f(v: Any, spec: str = ".1f") -> str:
        return "-" if v is None else format(v, spec)

    lines = []
    if per_bot:
        lines.append(
            f"{'bot':>8} {'behaviour':>9} {'conn':>4} {'snap/s':>7} {'rtt p50':>8} {'rtt p99':>8} "
            f"{'in B/s':>9} {'out B/s':>8} {'held':>5} {'shots':>5} {'hits':>5} {'K':>3} {'D':>3} "
            f"{'errors':>6}  {'room':<15} close codes"
        )
        for b in rep["per_bot"]:
            lines.append(
                f"{b['name']:>8} {b['behaviour'] + ('*' if b['verify'] else ''):>9} "
                f"{b['connects']:>4} {f(b['snapshots_per_s']):>7} {f(b['rtt_ms_p50'], '.2f'):>8} "
                f"{f(b['rtt_ms_p99'], '.2f'):>8} {b['bytes_in_per_s']:>9.0f} {b['bytes_out_per_s']:>8.0f} "
                f"{f(b['held_mean']):>5} {b['shots']:>5} {b['hits']:>5} {b['kills']:>3} {b['deaths']:>3} "
                f"{sum(b['errors'].values()):>6}  {b['room'] or '-':<15} {b['close_codes'] or ''}"
            )
        lines.append("(* = decodes every message and verifies its mirror)")
    w = rep["window_s"]
    lines += [
        f"bots: {rep['bots']} ({rep['behaviour']}), connected at the end of the window: {rep['connected']}, "
        f"connections made: {rep['connects']}, all joined in {rep['join_s']:.1f} s, "
        f"{rep['processes']} process(es)",
        f"window: {w:.1f} s; snapshots/s per bot: median {f(rep['snapshots_per_s_median'], '.2f')}, "
        f"p1 {f(rep['snapshots_per_s_p1'], '.2f')}; inter-snapshot interval p99 "
        f"{f(rep['interval_ms_p99'])} ms (kernel arrival {f(rep['interval_ms_p99_kernel'])} ms), "
        f"max {f(rep['interval_ms_max'])} ms",
        f"RTT (ping): p50 {f(rep['rtt_ms_p50'], '.2f')} ms, p99 {f(rep['rtt_ms_p99'], '.2f')} ms",
        f"bytes/s in {rep['bytes_in_per_s']:.0f} "
        f"({rep['bytes_in_per_s'] / max(1, rep['bots']):.0f} per bot), "
        f"out {rep['bytes_out_per_s']:.0f}; snapshots verified: {rep['verified_snapshots']} "
        f"({rep['checksums_matched']} checksums matched, {rep['resyncs']} resyncs asked), "
        f"mirrored (verified or tracked): {rep['mirrored_snapshots']}, "
        f"bytes per moving entity per delta: {f(rep['bytes_per_moving_entity'], '.2f')}",
        f"per mirrored snapshot: {f(rep['held_mean'])} entities held (the view), "
        f"{f(rep['moving_mean'])} of them moved; per mirroring bot: snapshots "
        f"{f(rep['snapshot_bytes_per_s'], '.0f')} B/s, "
        f"scoreboards {f(rep['scoreboard_bytes_per_s'], '.0f')} B/s "
        f"({f(rep['scoreboards_per_s'], '.1f')}/s)",
        f"errors: {rep['errors']} {rep['errors_by_kind'] or ''}; close codes: {rep['close_codes'] or '-'}",
        f"bot CPU: {rep['cpu_s']:.2f} s = {f(rep['cpu_per_wall'], '.2f')} of a core",
    ]
    if any(b["behaviour"] == "drop" for b in rep["per_bot"]):
        lines.append(
            f"drop: {rep['resumes']} resumes, {rep['failed_resumes']} failed; reconnect latency "
            f"(cut to first snapshot) p50 {f(rep['resume_ms_p50'], '.2f')} ms, "
            f"p99 {f(rep['resume_ms_p99'], '.2f')} ms, max {f(rep['resume_ms_max'], '.2f')} ms"
        )
    spec = rep["spectate"]
    if spec["bots"]:
        lines.append(
            f"spectators: {spec['bots']} ({spec['connected']} connected at the end), snapshots/s "
            f"median {f(spec['snapshots_per_s_median'], '.2f')}, "
            f"min {f(spec['snapshots_per_s_min'], '.2f')}; "
            f"{spec['follows']} follows, {spec['followings']} followings ({spec['follow_switches']} "
            f"switches, {spec['follows_refused']} refused), followed player held in "
            f"{spec['followed_held']} snapshots, missing in {spec['followed_missing']} "
            f"(and in {spec['followed_late']} first snapshots after a switch, made before it); "
            f"{spec['scoreboards']} scoreboards, {spec['retries']} quick spectates retried; "
            f"closed by the server or sent an ERROR: {spec['closed_by_server']}"
        )
    fight = rep["fight"]
    if fight["bots"]:
        lines.append(
            f"fight ({fight['bots']} bots), in the window: {fight['shots']} shots, {fight['hits']} hits "
            f"({fight['hits'] / max(1, fight['shots']):.0%}), {fight['kills']} kills, "
            f"{fight['deaths']} deaths; "
            f"whole run: {fight['total_shots']} shots, {fight['total_hits']} hits, "
            f"{fight['total_kills']} kills, {fight['total_deaths']} deaths"
        )
    lines += room_lines(rep, per_room=per_bot)
    lines += [f"  {s}" for s in rep["error_samples"][:10]]
    return "\n".join(lines)


def room_lines(rep: dict[str, Any], per_room: bool) -> list[str]:
    """The rooms' part of the summary: their spread, isolation, and with `per_room` (or up to 20
    rooms) a line per room."""
    summary = rep["rooms"]
    size, rate = summary["bots_per_room"], summary["snapshots_per_bot_s"]

    def f(v: Any, spec: str = ".2f") -> str:
        return "-" if v is None else format(v, spec)

    lines = [
        f"rooms: {summary['count']}, bots per room min {f(size['min'], 'd')} median {f(size['median'], 'g')} "
        f"max {f(size['max'], 'd')}; snapshots/s per bot in a room: min {f(rate['min'])} median "
        f"{f(rate['median'])}; isolation: {rep['isolation_violations']} entities of another room "
        f"sent to a bot; {summary['foreign_names']} spawns named after no bot of the run"
    ]
    if per_room or summary["count"] <= 20:
        for room, r in sorted(summary["rooms"].items()):
            bots = r["bots"]
            names = ", ".join(bots[:8]) + (f" and {len(bots) - 8} more" if len(bots) > 8 else "")
            lines.append(
                f"  room {room}: {len(bots)} bots, {r['snapshots']} snapshots "
                f"({f(r['snapshots_per_bot_s'])}/s per bot): {names}"
            )
    return lines


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m client_demo.bots", description=__doc__.split("\n")[0])
    p.add_argument("--url", default="ws://127.0.0.1:8000/ws")
    p.add_argument("--count", type=int, default=10, help="bots (default %(default)s)")
    p.add_argument("--duration", type=float, default=10.0, help="measured seconds (default %(default)s)")
    p.add_argument("--warmup", type=float, default=0.0, help="seconds after all joined before measuring")
    p.add_argument(
        "--behaviour",
        default="wander",
        help="wander|chase|idle|churn|fight|host|drop|spectate|ball, or a comma list dealt out in turn, "
        "NAME*K for K in a row (default %(default)s); host: creates a private room over HTTP "
        "before each connection, joins it, leaves after --churn-stay and does it again (room "
        "churn); drop: wanders, cuts its connection (a reset, no close frame) every --drop-every "
        "seconds and resumes at once with its session token; spectate: watches a room (its room "
        "of --rooms, or quick spectate) with no entity, acknowledges each snapshot with an ACK "
        "and follows another player of the scoreboard every --follow-every seconds; ball (for "
        "--game ball): runs behind the ball and kicks it at the other team's goal",
    )
    p.add_argument(
        "--rooms",
        type=int,
        default=0,
        help="create K rooms over HTTP first and deal the bots out to them in turn, each with a "
        "seat (the server's --creates-per-minute must allow K, its --seats-per-address K + 64); "
        "0: quick play, which a server run with --room-size spreads over rooms by itself "
        "(default %(default)s)",
    )
    p.add_argument(
        "--matchmake",
        action="store_true",
        help="every player reserves a seat with POST /matchmake/quick before each connection and "
        "connects where the answer says: over a cluster's processes (python -m gameserver --redis); "
        "by default it joins by a HELLO with no room (quick play)",
    )
    p.add_argument(
        "--churn-stay",
        default="1,3",
        help="seconds a churn or host bot stays before it leaves, MIN,MAX (default %(default)s)",
    )
    p.add_argument(
        "--drop-every",
        default="2,4",
        help="seconds a drop bot plays before it cuts its connection, MIN,MAX (default %(default)s)",
    )
    p.add_argument(
        "--follow-every",
        default="2,4",
        help="seconds a spectate bot follows one player before it asks for another, MIN,MAX "
        "(default %(default)s)",
    )
    p.add_argument("--procs", type=int, default=1, help="processes to spread the bots over")
    p.add_argument("--verify", type=int, default=1, help="bots that decode and mirror every delta")
    p.add_argument("--join-timeout", type=float, default=30.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", action="store_true", help="print the merged report as JSON")
    p.add_argument("--per-bot", action="store_true", help="a line per bot in the summary")
    return p


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    try:
        low, high = (float(x) for x in a.churn_stay.split(","))
    except ValueError:
        print(f"error: --churn-stay takes MIN,MAX in seconds, not {a.churn_stay!r}", file=sys.stderr)
        return 2
    try:
        drop_low, drop_high = (float(x) for x in a.drop_every.split(","))
    except ValueError:
        print(f"error: --drop-every takes MIN,MAX in seconds, not {a.drop_every!r}", file=sys.stderr)
        return 2
    try:
        follow_low, follow_high = (float(x) for x in a.follow_every.split(","))
    except ValueError:
        print(f"error: --follow-every takes MIN,MAX in seconds, not {a.follow_every!r}", file=sys.stderr)
        return 2

    def announce(start: float, end: float) -> None:
        if a.json:
            print(f"#window {start:.6f} {end:.6f}", flush=True)

    try:
        rep = run_bots(
            a.url,
            a.count,
            a.duration,
            behaviour=a.behaviour,
            procs=a.procs,
            verify=a.verify,
            warmup=a.warmup,
            join_timeout=a.join_timeout,
            seed=a.seed,
            on_window=announce,
            churn_stay=(low, high),
            rooms=a.rooms,
            drop_every=(drop_low, drop_high),
            follow_every=(follow_low, follow_high),
            matchmake=a.matchmake,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if a.json:
        print(json.dumps(rep))
    else:
        print(format_summary(rep, a.per_bot or a.count <= 20))
    churning = any(b in a.behaviour for b in AWAY)  # such bots may be between connections
    return 1 if rep["errors"] or rep["connected"] < rep["bots"] and not churning else 0
