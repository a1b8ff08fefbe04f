"""`python -m benchmarks.soak`: the server's memory over minutes of load.

    python -m benchmarks.soak --count 800 --seconds 600 --every 60

The server runs in this process (on CPU 0), so that glibc's own account of its heap can be read
as well as the RSS; N wander bots of the reference scenario play against it from a subprocess
(on CPU 1). Every `--every` seconds it prints the RSS, glibc's heap (`mallinfo2`: its size, what
is in use, what is free), the players and the tick's health; at the end, what `malloc_trim(0)`
gives back. A heap whose in-use part holds still while its free part grows is fragmenting, not
leaking: the RSS grows all the same. A figure-printing benchmark, not a test.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from benchmarks import harness


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks")
        + ("uordblks", "fordblks", "keepcost")
    ]


def _libc() -> Any:
    """glibc, if this is glibc 2.33 or newer (mallinfo2); None otherwise."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _MallInfo2
    except (OSError, AttributeError):
        return None
    return libc


def sample(t: float, server: Any, libc: Any) -> dict[str, Any]:
    stats = server.scheduler.stats()
    row: dict[str, Any] = {
        "t": round(t, 1),
        "players": server.directory.players,
        "rss_mib": harness.rss_kib(os.getpid()) / 1024,
        "overruns": stats["overruns"],
        "tick_ms_p99": stats["tick_ms_p99"],
    }
    if libc is not None:
        m = libc.mallinfo2()
        row |= {
            "heap_mib": m.arena / 2**20,
            "heap_in_use_mib": m.uordblks / 2**20,
            "heap_free_mib": m.fordblks / 2**20,
            "heap_free_chunks": m.ordblks,
        }
    return row


def describe(label: str, row: dict[str, Any]) -> str:
    text = f"{label}: RSS {row['rss_mib']:.1f} MiB"
    if "heap_mib" in row:
        text += (
            f"; glibc heap {row['heap_mib']:.1f} MiB, in use {row['heap_in_use_mib']:.1f}, "
            f"free {row['heap_free_mib']:.1f} in {row['heap_free_chunks']} chunks"
        )
    tick = f"tick p99 {row['tick_ms_p99']:.2f} ms, overruns {row['overruns']}"
    return f"{text}; {row['players']} players, {tick}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, default=800, help="wander bots (default 800)")
    p.add_argument("--seconds", type=float, default=600, help="how long, after all joined (default 600)")
    p.add_argument("--every", type=float, default=60, help="seconds between samples (default 60)")
    p.add_argument("--json", dest="json_out", help="write every sample to this JSON file")
    opts = p.parse_args(argv)
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    import eventlet  # the runtime, as `python -m gameserver` loads it: past the arguments

    from gameserver.config import Config
    from gameserver.server import GameServer

    pin = (os.cpu_count() or 1) >= 2
    cpus = os.sched_getaffinity(0)
    if pin:
        os.sched_setaffinity(0, {0})
    libc = _libc()
    server = GameServer(Config(host="127.0.0.1", port=0, map="none", max_players=opts.count + 64))
    server.start()
    host, port = server.address
    bots = None
    rows: list[dict[str, Any]] = []
    try:
        bots = harness.start_bots(
            f"ws://{host}:{port}/ws", opts.count, "wander", 0, opts.seconds + 60, 2, 1, {1} if pin else None
        )
        deadline = time.monotonic() + 120
        while server.directory.players < opts.count:
            if time.monotonic() > deadline or bots.poll() is not None:
                raise RuntimeError(f"{server.directory.players} of {opts.count} bots joined")
            eventlet.sleep(0.2)
        start = time.monotonic()
        print(f"# {opts.count} wander bots joined; sampling every {opts.every:g} s for {opts.seconds:g} s")
        while True:
            t = time.monotonic() - start
            row = sample(t, server, libc)
            rows.append(row)
            print(describe(f"t={t:.0f} s", row), flush=True)
            if t >= opts.seconds:
                break
            eventlet.sleep(min(opts.every, opts.seconds - t + 0.01))
        if libc is not None:
            libc.malloc_trim(0)
            trimmed = sample(time.monotonic() - start, server, libc)
            print(describe("after malloc_trim(0)", trimmed), flush=True)
            rows.append({**trimmed, "after_malloc_trim": True})
    finally:
        harness.stop_process(bots)
        server.stop()
        os.sched_setaffinity(0, cpus)
    if opts.json_out:
        out = {"machine": harness.machine(), "count": opts.count, "samples": rows}
        Path(opts.json_out).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
