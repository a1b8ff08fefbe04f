"""`python -m benchmarks.bench_checksum`: what the snapshots' checksums cost (docs/benchmarks.md,
"Checksums"): the bytes they add per client and second, and the tick's time on the ticks that
carry them.

Two arena rooms with the same seed and N players (`--players`), fed the same random inputs (every
player moving and aiming at random every tick, as benchmarks.micro plays it), tick by tick in
turn: one with checksums once a second (--checksum-every 1), one with none. Their worlds stay the
same, so every difference in bytes is the checksums'. Printed: bytes per client per second each
way, and the tick's median time on the ticks that carry a checksum and on the others, each way.
With --view the rooms have the arena's view (1280 x 720), so each client's checksum is of its
own view; without, everyone holds everything and one checksum serves every client.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time

from gameserver.messages import Input
from gameserver.room import Member, Room
from gameserver.world import Rules


def _room(players: int, checksum_every: int, view: bool) -> tuple[Room, list[Member]]:
    rules = Rules(view_width=1280.0, view_height=720.0) if view else Rules(view_width=0.0, view_height=0.0)
    room = Room(
        tick_rate=30, max_players=players + 1, seed=1, checksum_every=checksum_every, options={"rules": rules}
    )
    members = [room.join(f"p{i}") for i in range(players)]
    for m in members:
        m.take_outgoing()
    return room, members


def main(argv: list[str] | None = None) -> int:
    doc = __doc__.split("\n\n")[0]
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_checksum", description=doc)
    p.add_argument("--players", type=int, default=400, help="players in each room (default %(default)s)")
    p.add_argument("--seconds", type=int, default=20, help="simulated seconds (default %(default)s)")
    p.add_argument("--view", action="store_true", help="the arena's view: each client holds what is near it")
    a = p.parse_args(argv)
    rooms = {every: _room(a.players, every, a.view) for every in (0, 30)}
    rng = random.Random(3)
    sent = {0: 0, 30: 0}
    times: dict[tuple[int, bool], list[float]] = {(e, c): [] for e in (0, 30) for c in (False, True)}
    for tick in range(1, 30 * a.seconds + 1):
        moves = []
        for _ in range(a.players):
            angle = rng.uniform(0, 2 * math.pi)
            moves.append((math.cos(angle), math.sin(angle), angle))
        for every, (room, members) in rooms.items():
            for m, (mx, my, aim) in zip(members, moves, strict=True):
                room.receive(m, Input((m.last_received_seq or 0) + 1, mx, my, aim, 0, m.held_tick))
            t0 = time.perf_counter()
            ready = room.tick()
            times[every, tick % 30 == 0].append(time.perf_counter() - t0)
            for m in ready:
                sent[every] += sum(map(len, m.take_outgoing()))
    a_room, b_room = rooms[0][0], rooms[30][0]
    assert a_room.game.state_hash() == b_room.game.state_hash(), "the two rooms went apart"
    per_client = {e: sent[e] / a.seconds / a.players for e in sent}
    seen = "a view each" if a.view else "everyone sees everyone"
    print(f"{a.players} players, {a.seconds} s at 30 Hz, {seen}")
    print(
        f"bytes per client per second: {per_client[0]:.1f} without checksums, {per_client[30]:.1f} with; "
        f"added {per_client[30] - per_client[0]:.2f} B/s"
    )
    for carries in (True, False):
        off = statistics.median(times[0, carries]) * 1000
        on = statistics.median(times[30, carries]) * 1000
        what = "ticks that carry a checksum" if carries else "the other ticks"
        print(f"tick median, {what}: {off:.3f} ms without, {on:.3f} ms with; with/without {on / off:.3f}")
    mean_off = statistics.fmean(times[0, True] + times[0, False])
    mean_on = statistics.fmean(times[30, True] + times[30, False])
    print(f"tick mean over all ticks: with/without {mean_on / mean_off:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
