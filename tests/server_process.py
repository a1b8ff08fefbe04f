"""A real server in a subprocess on 127.0.0.1 with an ephemeral port, for end-to-end tests."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
URL_LINE = re.compile(r"gameserver on http://([\d.]+):(\d+)/")


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.01) -> Any:
    """Poll `predicate` until it returns something truthy; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def _die_with_parent() -> None:
    """In the child: SIGTERM when the test process dies, so an interrupted run leaks no server."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


class ServerProcess:
    def __init__(self, *args: str, map_name: str | None = "none", env: dict[str, str] | None = None) -> None:
        # The protocol tests play in the empty world, where everyone sees everyone. None passes
        # no --map: the server as the README starts it, on its own default map.
        map_args = [] if map_name is None else ["--map", map_name]
        self.args = ["--port", "0", "--log-level", "info", *map_args, *args]
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0
        self.stderr_lines: list[str] = []
        self.env = env or {}  # added to the environment of the server

    def start(self) -> ServerProcess:
        env = dict(os.environ, PYTHONUNBUFFERED="1", **self.env)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gameserver", *self.args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            preexec_fn=_die_with_parent,
        )
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # the server prints its address first
        m = URL_LINE.search(line)
        if not m:
            self.proc.kill()
            raise AssertionError(f"server did not start: {line!r} {''.join(self.stderr_lines)}")
        self.port = int(m.group(2))
        return self

    def _drain_stderr(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        try:
            for line in self.proc.stderr:
                self.stderr_lines.append(line)
        except ValueError:  # closed by stop()
            pass

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def health(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.http + "/healthz", timeout=5) as r:
            data: dict[str, Any] = json.loads(r.read())
            return data

    def stop(self, timeout: float = 5.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("server did not exit after SIGTERM") from None
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()
        return self.proc.returncode

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def first_answer(url: str, msg: Any) -> tuple[Any, tuple[int, str | None] | None]:
    """The server's first answer to a HELLO (`msg`), and the close (code, reason) if it
    refused it; a WELCOME's connection is closed at once."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    from gameserver import codec
    from gameserver.messages import Welcome

    async with connect(url) as ws:
        await ws.send(codec.encode_client(msg))
        first = codec.decode_server(await asyncio.wait_for(ws.recv(), 5))
        if isinstance(first, Welcome):
            return first, None
        try:
            await asyncio.wait_for(ws.recv(), 5)
        except ConnectionClosed:
            pass
        assert ws.close_code is not None
        return first, (ws.close_code, ws.close_reason)
