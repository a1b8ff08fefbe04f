"""`python -m benchmarks.bench_recording`: what recording a room (--record) costs its tick, and
how many bytes it writes (docs/benchmarks.md, "Recording").

An arena room in the empty world with N players (`--players`), each moving and aiming at random
every tick, as benchmarks.micro plays it: the same ticks timed with a
Recorder on the room and without, in alternating blocks so that the machine's drift falls on
both, with the garbage collector steered as the server steers it (off in the tick, run between
ticks: server.GcSteering). Printed: the tick's median and mean time each way and their ratios,
the collections' time between ticks, the packing's time (take(), which the server runs outside
the tick), and the recording's bytes per player-tick and per second.

With `--bots N`: a real server (python -m gameserver --record DIR) with N bots in one arena room
for `--minutes` (fighting, wandering, leaving and coming back, cutting their connections and
resuming), then the replay of its recording: printed are its ticks, players, joins and leaves,
file size, bytes per player-tick, the replay's time and the state hashes it matched, which must
be all of them (exit code 1 otherwise).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import msgpack

from benchmarks.harness import Server
from benchmarks.micro import make_room, play_tick
from client_demo.bots import run_bots
from gameserver.games.arena import Arena
from gameserver.recording import HASH, JOIN, LEAVE, STEP, Recorder, game_spec, read
from gameserver.replay import replay

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")  # server.py imports it
from gameserver.server import GcSteering  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_recording", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--players", type=int, default=200, help="players in the room (default %(default)s)")
    p.add_argument("--ticks", type=int, default=60, help="ticks per block (default %(default)s)")
    p.add_argument(
        "--blocks", type=int, default=10, help="blocks each way, alternating (default %(default)s)"
    )
    p.add_argument(
        "--bots",
        type=int,
        metavar="N",
        help="instead: N bots in one room of a real server run with --record, then the recording replayed",
    )
    p.add_argument(
        "--minutes", type=float, default=3.0, help="with --bots: minutes the bots play (default %(default)s)"
    )
    a = p.parse_args(argv)
    if a.bots is not None:
        row = bots_replayed(a.bots, a.minutes * 60)
        print(bots_summary(row))
        return 0 if row["hashes_matched"] == row["hashes"] and not row["cut"] else 1
    room, members = make_room(a.players)
    rng = random.Random(3)
    for _ in range(30):  # settled: every player has its baseline
        play_tick(room, members, rng)
    header = {
        "game": game_spec(Arena),
        "seed": 1,
        "tick_rate": 30,
        "map": None,
        "options": {},
        "room": room.room_id,
    }
    times: dict[bool, list[float]] = {False: [], True: []}
    # The collector as the server steers it: off in the tick, run between ticks (timed apart)
    steering = GcSteering()
    steering.start()
    collecting: dict[bool, float] = {False: 0.0, True: 0.0}
    recorded = 0
    ticks_recorded = 0
    packing = 0.0  # seconds in take(): the packing, done outside the tick by the server
    for block in range(2 * a.blocks):
        on = block % 2 == 1
        room.recorder = Recorder(header) if on else None
        for _ in range(a.ticks):
            t0 = time.perf_counter()
            play_tick(room, members, rng)
            t1 = time.perf_counter()
            times[on].append(t1 - t0)
            steering.after_tick(0.0)
            collecting[on] += time.perf_counter() - t1
        if room.recorder is not None:
            t0 = time.perf_counter()
            recorded += len(room.recorder.take())
            packing += time.perf_counter() - t0
            ticks_recorded += a.ticks
    plain, recording = statistics.median(times[False]) * 1000, statistics.median(times[True]) * 1000
    per_player_tick = recorded / (ticks_recorded * a.players)
    print(f"{a.players} players, {a.blocks} blocks of {a.ticks} ticks each way")
    ratio = recording / plain
    mean_ratio = statistics.fmean(times[True]) / statistics.fmean(times[False])
    print(f"tick median: {plain:.3f} ms without recording, {recording:.3f} ms with; with/without {ratio:.3f}")
    steering.stop()
    print(f"tick mean (the state hash every 30th tick included): with/without {mean_ratio:.3f}")
    per = 1e6 / (a.blocks * a.ticks * a.players)
    print(
        f"collections between ticks: {collecting[False] * per:.2f} us per player-tick without, "
        f"{collecting[True] * per:.2f} with"
    )
    print(f"packing, outside the tick: {packing / (ticks_recorded * a.players) * 1e6:.2f} us per player-tick")
    print(
        f"recording: {per_player_tick:.1f} bytes per player-tick, "
        f"{per_player_tick * a.players * 30 / 1024:.0f} KiB/s for this room at 30 Hz "
        "(headers and hashes included)"
    )
    return 0


# Dealt out in turn: fighters and wanderers stay, churners leave and join again as new players,
# droppers cut their connection and resume as the same player (their entity stays meanwhile).
BOT_MIX = "fight,wander,churn,fight,drop"


def bots_replayed(
    count: int,
    seconds: float,
    behaviour: str = BOT_MIX,
    churn_stay: tuple[float, float] = (5.0, 20.0),
    drop_every: tuple[float, float] = (10.0, 30.0),
) -> dict[str, Any]:
    """`count` bots play `seconds` in one arena room of a server run with --record; then its
    recording is read (players, player-ticks) and replayed, timed. The figures, as a dict.
    `churn_stay`, `drop_every`: seconds, MIN and MAX, as the bots' flags of these names."""
    with tempfile.TemporaryDirectory(prefix="bench-recording-") as tmp:
        record = Path(tmp)
        # room for every bot and the churners' comings and goings: one room, whatever the map says
        server = Server(
            [
                "--record",
                str(record),
                "--room-size",
                str(2 * count),
                "--tick",
                "30",
                "--log-level",
                "warning",
            ],
            cpus=None,
        )
        try:
            report = run_bots(
                server.ws_url,
                count,
                seconds,
                behaviour=behaviour,
                verify=1,
                churn_stay=churn_stay,
                drop_every=drop_every,
            )
        finally:
            server.stop()  # SIGTERM: the last of each recording is written
        files = sorted(record.glob("*.gsrec"), key=lambda f: f.stat().st_size)
        if not files:
            raise SystemExit("the server wrote no recording")
        path = files[-1]  # the bots' room
        size = path.stat().st_size
        players: set[int] = set()
        present: set[int] = set()
        player_ticks = joins = leaves = steps = hashes = 0
        with path.open("rb") as f:
            _, records, cut = read(f)
            for r in records:
                if r[0] == STEP:
                    steps += 1
                    player_ticks += len(present)
                elif r[0] == JOIN:
                    joins += 1
                    players.add(r[2])
                    present.add(r[2])
                elif r[0] == LEAVE:
                    leaves += 1
                    present.discard(r[1])
                elif r[0] == HASH:
                    hashes += 1
        t0 = time.perf_counter()
        done = replay(path)
        replay_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        exported = replay(path, export=True).exporter
        assert exported is not None
        playback = msgpack.packb(exported.playback(exported_header(path)), use_bin_type=True)
        export_s = time.perf_counter() - t0
    return {
        "bots": count,
        "seconds": seconds,
        "rooms": len(files),
        "ticks": steps,
        "players": len(players),
        "joins": joins,
        "leaves": leaves,
        "resumes": report["resumes"],
        "bot_errors": report["errors"],
        "bytes": size,
        "player_ticks": player_ticks,
        "bytes_per_player_tick": size / max(1, player_ticks),
        "replay_s": replay_s,
        "replayed_ticks": done.steps,
        "hashes": hashes,
        "hashes_matched": done.hashes,
        "cut": cut[0] or done.cut,
        "export_s": export_s,
        "export_snapshots": exported.snapshots,
        "export_bytes": len(playback),
    }


def exported_header(path: Path) -> dict[str, Any]:
    with path.open("rb") as f:
        return read(f)[0]


def bots_summary(row: dict[str, Any]) -> str:
    return "\n".join(
        [
            f"{row['bots']} bots for {row['seconds']:g} s in {row['rooms']} room(s); "
            f"{row['resumes']} resumes after dropped connections, {row['bot_errors']} bot errors",
            f"recorded: {row['ticks']} ticks ({row['ticks'] / 30:.1f} s at 30 Hz), {row['players']} players "
            f"({row['joins']} joins, {row['leaves']} leaves), {row['bytes']} bytes",
            f"bytes per player-tick: {row['bytes_per_player_tick']:.2f} "
            f"({row['player_ticks']} player-ticks; header and state hashes included)",
            f"replay: {row['replayed_ticks']} ticks in {row['replay_s']:.2f} s "
            f"({row['replayed_ticks'] / row['replay_s']:.0f} ticks/s)",
            f"state hashes matched: {row['hashes_matched']} of {row['hashes']}"
            + ("; the recording was cut short" if row["cut"] else ""),
            f"export (replay --export): {row['export_snapshots']} snapshots, {row['export_bytes']} bytes "
            f"({row['export_bytes'] / max(1, row['player_ticks']):.1f} per player-tick) "
            f"in {row['export_s']:.2f} s",
        ]
    )


if __name__ == "__main__":
    raise SystemExit(main())
