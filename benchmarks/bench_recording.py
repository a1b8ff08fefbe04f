"""`python -m benchmarks.bench_recording`: what recording a room (--record) costs its tick, and
how many bytes it writes (docs/benchmarks.md, "Recording").

An arena room in the empty world with N players (`--players`), each moving and aiming at random
every tick, as benchmarks.micro plays it: the same ticks timed with a
Recorder on the room and without, in alternating blocks so that the machine's drift falls on
both, with the garbage collector steered as the server steers it (off in the tick, run between
ticks: server.GcSteering). Printed: the tick's median and mean time each way and their ratios,
the collections' time between ticks, the packing's time (take(), which the server runs outside
the tick), and the recording's bytes per player-tick and per second.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import warnings

from benchmarks.micro import make_room, play_tick
from gameserver.games.arena import Arena
from gameserver.recording import Recorder, game_spec

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
    a = p.parse_args(argv)
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


if __name__ == "__main__":
    raise SystemExit(main())
