"""benchmarks/floor_server.py, the benchmark's floor: a real client gets a welcome and snapshots."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys

from server_process import ROOT
from websockets.asyncio.client import connect

from gameserver import codec
from gameserver.messages import Hello, Snapshot, Welcome


def test_the_floor_server_welcomes_a_player_and_sends_it_a_snapshot_every_tick() -> None:
    with subprocess.Popen(
        [
            sys.executable,
            "-m",
            "benchmarks.floor_server",
            "--port",
            "0",
            "--entities",
            "300",
            "--seconds",
            "30",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        _play_against(proc)


def _play_against(proc: subprocess.Popen[str]) -> None:
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the process's first line, or "" if it died
        match = re.search(r"127\.0\.0\.1:(\d+)", line)
        assert match, f"no address in {line!r}"

        async def play() -> list[Snapshot]:
            async with connect(
                f"ws://127.0.0.1:{match[1]}/ws", compression=None, open_timeout=5, close_timeout=0.1
            ) as ws:
                await ws.send(codec.encode_client(Hello(1, "floor")))
                welcome = codec.decode_server(await asyncio.wait_for(ws.recv(), 5))
                assert isinstance(welcome, Welcome) and welcome.tick_rate == 30
                snaps = []
                for _ in range(4):
                    msg = codec.decode_server(await asyncio.wait_for(ws.recv(), 5))
                    assert isinstance(msg, Snapshot)
                    snaps.append(msg)
                return snaps

        snaps = asyncio.run(play())
        assert [s.tick for s in snaps] == list(range(snaps[0].tick, snaps[0].tick + 4))
        assert [s.last_seq for s in snaps] == list(
            range(snaps[0].last_seq or 0, (snaps[0].last_seq or 0) + 4)
        )
        assert all(len(s.changes) == 300 and not s.spawns for s in snaps)
    finally:
        proc.kill()
        proc.wait()
