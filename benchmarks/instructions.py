"""Instructions per player-tick of the server's own code, counted by valgrind: a figure that
does not move with the VM's hour, for changes too small for the load benchmark to resolve.

    python -m benchmarks.instructions                 # the tick, 800 players
    python -m benchmarks.instructions --part io       # read, tick and send, 400 players
    python -m benchmarks.instructions --part decode   # one part of the tick alone

Each part runs in-process with no clock and no hub, twice under `valgrind --tool=callgrind`
(5 and 25 ticks, `PYTHONHASHSEED=0`), and the difference is divided by 20 ticks and the player
count: start-up cancels out, and the figure repeats to the instruction. Instructions are not
time (a cache miss costs no instruction), so a change that counts fewer still has to show in
pairs (`python -m benchmarks.pair`) before it is called faster.

Parts:
- tick: each player's masked input frame left on its member as the transport leaves it,
  `Room.tick()`, each snapshot joined behind its frame header as the sender does;
- io: the same through real code and sockets (socketpairs, kernel time not counted): each
  player's peer sends its input, one `SocketLoop.serve()` pass reads them, the room ticks,
  `GameServer.send_due()` sends, and the peers read (their recv and send count too);
- unmask, decode, step: `unmask_frame`, `decode_client` and `World.step` alone.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import random
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from gameserver import codec
from gameserver.masking import xor_mask
from gameserver.messages import Hello, Input

PARTS = ("tick", "io", "unmask", "decode", "step")
FEWER, MORE = 5, 25  # ticks of the two runs
MASK = b"\x11\x22\x33\x44"


def input_frames(players: int, ticks: int, seed: int = 3) -> list[list[bytes]]:
    """Per tick, one masked input frame per player: full speed in a random direction, aiming
    along it, acknowledging the tick before."""
    rng = random.Random(seed)
    out = []
    for t in range(ticks):
        row = []
        for _ in range(players):
            a = rng.uniform(0, 2 * math.pi)
            payload = codec.encode_client(Input(t + 1, math.cos(a), math.sin(a), a, 0, t or None))
            row.append(bytes((0x82, 0x80 | len(payload))) + MASK + xor_mask(payload, MASK))
        out.append(row)
    return out


def workload(part: str, players: int, ticks: int) -> Callable[[], Any]:
    """What to count: set up here, run by the returned function. Frames for MORE ticks are
    always made, so that both runs do the same set-up."""
    from gameserver import transport
    from gameserver.room import Room

    frames = input_frames(players, MORE)
    if part == "io":
        return _io_workload(players, ticks, frames)
    room = Room(
        tick_rate=30, snapshot_rate=30, max_players=players + 1, seed=1, unwrap=transport.unmask_frame
    )
    members = [room.join(f"p{i}") for i in range(players)]
    for m in members:
        m.take_outgoing()
    if part == "unmask":
        return lambda: [transport.unmask_frame(f) for t in range(ticks) for f in frames[t]]
    payloads = [[transport.unmask_frame(f) for f in row] for row in frames]
    if part == "decode":
        return lambda: [codec.decode_client(p) for t in range(ticks) for p in payloads[t]]
    if part == "step":
        inputs = [
            {m.entity_id: [codec.decode_client(p)] for m, p in zip(members, row, strict=True)}
            for row in payloads
        ]
        world = room.game.world  # type: ignore[attr-defined]
        return lambda: [world.step(inputs[t]) for t in range(ticks)]

    def tick() -> None:
        for t in range(ticks):
            for m, f in zip(members, frames[t], strict=True):
                m.raw_inputs.append(f)  # as the transport leaves an input for the tick
            for m in room.tick():
                parts = m.take_snapshot_parts()
                if parts is not None:
                    head, seq, body, shots = parts
                    header = transport.binary_header(len(head) + len(seq) + len(body) + len(shots))
                    b"".join((header, head, seq, body, shots))
        assert all(m.last_applied_seq == ticks and m.held_tick == room.tick_no for m in members)

    return tick


def _io_workload(players: int, ticks: int, frames: list[list[bytes]]) -> Callable[[], Any]:
    from eventlet.green import socket as green_socket
    from eventlet.websocket import RFC6455WebSocket

    from gameserver.config import Config
    from gameserver.server import GameServer

    server = GameServer(Config(send_timeout=60, hello_timeout=60, max_lag=600))
    peers = []
    for i in range(players):
        ours, theirs = green_socket.socketpair()
        # from a loopback address, as local tools are: no per-address cap on the players
        conn = server.sockets.adopt(RFC6455WebSocket(ours, {}, version=13), "127.0.0.1")
        room, member = server.directory.join(Hello(1, f"p{i}"), 0.0)  # everyone in one room
        member.control.clear()
        conn.attach(room, member)  # as after a hello
        peers.append((member, theirs))

    def io() -> None:
        poll = server.sockets.epoll.poll
        for t in range(ticks):
            for (_, theirs), f in zip(peers, frames[t], strict=True):
                theirs.fd.send(f)
            server.sockets.serve(poll(0, 1024))
            server._due.extend(room.tick())
            server.send_due()
            for _, theirs in peers:
                theirs.fd.recv(1 << 20)
        # every input applied, every snapshot handed to its socket
        assert all(m.last_applied_seq == ticks and m.held_tick == room.tick_no for m, _ in peers)
        server.sockets.close()  # once a run: the same in both counts
        for _, theirs in peers:
            theirs.close()

    return io


def count(part: str, players: int, ticks: int) -> int:
    """Instructions of one run of `ticks` ticks under callgrind."""
    cmd = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        "-m",
        "benchmarks.instructions",
        "--part",
        part,
        "--players",
        str(players),
        "--run",
        str(ticks),
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise RuntimeError(f"no count from valgrind:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.instructions", description=__doc__.split("\n")[0])
    ap.add_argument("--part", choices=PARTS, default="tick")
    ap.add_argument("--players", type=int, help="default: 800, or 400 for io")
    ap.add_argument("--run", type=int, metavar="TICKS", help=argparse.SUPPRESS)  # the counted process
    args = ap.parse_args(argv)
    players = args.players or (400 if args.part == "io" else 800)
    if args.run is not None:
        run = workload(args.part, players, args.run)
        gc.disable()  # as the server steers it: no collection inside a tick
        run()
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (Debian: apt-get install valgrind)")
    fewer, more = count(args.part, players, FEWER), count(args.part, players, MORE)
    per = (more - fewer) / ((MORE - FEWER) * players)
    python = sys.version.split()[0]
    print(f"{args.part}: {per:,.0f} instructions per player-tick ({players} players, Python {python})")


if __name__ == "__main__":
    main()
