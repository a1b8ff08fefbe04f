"""A real redis-server of the tests' own, on 127.0.0.1 and a free port, with persistence off.

The tests that need one are skipped when redis-server is not installed (`apt-get install
redis-server`), unless GAMESERVER_REQUIRE_REDIS=1 (CI), where a missing one fails them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest
import redis
from server_process import _die_with_parent

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def require_redis() -> None:
    if not os.path.exists(REDIS_SERVER):
        reason = "redis-server is not installed (apt-get install redis-server)"
        if os.environ.get("GAMESERVER_REQUIRE_REDIS") == "1":
            pytest.fail(f"GAMESERVER_REQUIRE_REDIS=1 but {reason}")
        pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class RedisServer:
    """`with RedisServer() as r:` a fresh, empty Redis at r.url until the block ends."""

    def __init__(self) -> None:
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.dir = tempfile.TemporaryDirectory(prefix="gameserver-redis-")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

    def start(self) -> RedisServer:
        require_redis()
        for _ in range(5):  # a port found free may be taken before redis-server binds it
            self.port = _free_port()
            args = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
            self.proc = subprocess.Popen(
                [REDIS_SERVER, *args, "--dir", self.dir.name],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,
            )
            deadline = time.monotonic() + 10
            while self.proc.poll() is None and time.monotonic() < deadline:
                try:
                    if self.client().ping():
                        return self
                except redis.ConnectionError:
                    time.sleep(0.02)
            self.stop()
        raise AssertionError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.dir.cleanup()
