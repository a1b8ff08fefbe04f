"""`python -m gameserver.localcluster`: a cluster on this machine, for development and benchmarks.

It starts a Redis of its own (redis-server on a free port of 127.0.0.1, persistence off), unless
`--redis` names one, then K server processes (`--processes`, by default one per core), each on
its own port (`--port`, `--port`+1, ...; with `--port 0` each takes a free one) and each with
`--redis`. Any of them answers matchmaking and serves the demo page; since that page may be sent
to a room on another process (another port, so another Origin), they take WebSockets from any
page (`--allowed-origins '*'`) unless the flags after `--` say otherwise. It prints one line per
process, `process N: http://HOST:PORT/`, then `cluster ready: ...`. Ctrl-C or SIGTERM stops what
it started: the servers first (each says goodbye to its clients), then its Redis.

Flags after `--` go to every server:
    python -m gameserver.localcluster --processes 2 -- --tick 30 --map yard

A server that exits on its own (a crash, a kill) is reported and the others go on.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from types import FrameType

URL_LINE = re.compile(r"gameserver on (http://\S+?/)")
START_TIMEOUT = 30.0  # seconds for Redis, then each server, to be ready
STOP_TIMEOUT = 10.0  # seconds each server has to stop after SIGTERM before it is killed


class ClusterError(Exception):
    """Something the cluster needs did not start (exit code 2)."""


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class LocalCluster:
    def __init__(
        self, processes: int, port: int, host: str, redis: str | None, server_args: Sequence[str]
    ) -> None:
        self.processes = processes
        self.port = port
        self.host = host
        self.redis_url = redis
        self.server_args = list(server_args)
        self.redis: subprocess.Popen[bytes] | None = None
        self.servers: list[subprocess.Popen[str]] = []
        self.urls: list[str] = []
        self._redis_dir: tempfile.TemporaryDirectory[str] | None = None

    def start(self) -> None:
        if self.redis_url is None:
            self.redis_url = self._start_redis()
        for i in range(self.processes):
            port = 0 if self.port == 0 else self.port + i
            args = ["--host", self.host, "--port", str(port), "--redis", self.redis_url]
            if not any(
                a == "--allowed-origins" or a.startswith("--allowed-origins=") for a in self.server_args
            ):
                # the demo page of one process opens its WebSocket at another (another port: another
                # Origin) when the room is there
                args += ["--allowed-origins", "*"]
            args += self.server_args
            proc = subprocess.Popen(
                [sys.executable, "-m", "gameserver", *args],
                stdout=subprocess.PIPE,
                text=True,
                env=dict(os.environ, PYTHONUNBUFFERED="1"),
            )
            self.servers.append(proc)
            assert proc.stdout is not None
            line = proc.stdout.readline()  # a server prints its address first, or exits
            match = URL_LINE.search(line)
            if match is None:
                code = proc.wait(START_TIMEOUT)
                raise ClusterError(f"process {i + 1} did not start (exit code {code}); its error is above")
            self.urls.append(match.group(1))
            print(f"process {i + 1}: {match.group(1)}", flush=True)
        print(
            f"cluster ready: {self.processes} processes on {self.redis_url}; matchmaking and the demo at "
            f"{self.urls[0]} (or any process); Ctrl-C stops them all",
            flush=True,
        )

    def _start_redis(self) -> str:
        server = shutil.which("redis-server")
        if server is None:
            raise ClusterError(
                "redis-server is not installed (apt-get install redis-server), and no --redis was given"
            )
        self._redis_dir = tempfile.TemporaryDirectory(prefix="gameserver-cluster-")
        port = _free_port("127.0.0.1")
        args = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.redis = subprocess.Popen(
            [server, *args, "--dir", self._redis_dir.name],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not _redis_answers(port):
            if self.redis.poll() is not None or time.monotonic() > deadline:
                raise ClusterError(f"redis-server did not start on port {port}")
            time.sleep(0.05)
        return f"redis://127.0.0.1:{port}/0"

    def watch(self, stop: list[int]) -> None:
        """Until a signal lands in `stop`: report servers that exit on their own."""
        reported: set[int] = set()
        while not stop:
            for i, proc in enumerate(self.servers):
                code = proc.poll()
                if code is not None and i not in reported:
                    reported.add(i)
                    print(f"process {i + 1} ({self.urls[i]}) exited with code {code}", flush=True)
            time.sleep(0.2)

    def stop(self) -> None:
        for proc in self.servers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.servers:
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        if self.redis is not None and self.redis.poll() is None:
            self.redis.terminate()
            try:
                self.redis.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.redis.kill()
                self.redis.wait()
        if self._redis_dir is not None:
            self._redis_dir.cleanup()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m gameserver.localcluster",
        description="K server processes and a Redis on this machine, as one cluster; "
        "flags after -- go to every server.",
    )
    p.add_argument(
        "--processes",
        type=int,
        default=os.cpu_count() or 1,
        help="server processes (default: one per core, %(default)s)",
    )
    p.add_argument(
        "--port",
        type=int,
        default=8000,
        help="the first process's port, the next on the next ones; 0: free ports (default %(default)s)",
    )
    p.add_argument(
        "--host", default="127.0.0.1", help="address every process listens on (default %(default)s)"
    )
    p.add_argument(
        "--redis", metavar="URL", help="a Redis to use (default: start one on a free port of 127.0.0.1)"
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    server_args: list[str] = []
    if "--" in args:
        cut = args.index("--")
        args, server_args = args[:cut], args[cut + 1 :]
    parser = build_parser()
    ns = parser.parse_args(args)
    if not 1 <= ns.processes <= 64:
        parser.error(f"--processes must be between 1 and 64, got {ns.processes}")
    for flag in ("--port", "--host", "--redis"):
        if any(a == flag or a.startswith(flag + "=") for a in server_args):
            parser.error(f"{flag} is set per process by the cluster: give it before --")
    cluster = LocalCluster(ns.processes, ns.port, ns.host, ns.redis, server_args)
    stop: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.append(signum)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        cluster.start()
        cluster.watch(stop)
    except ClusterError as exc:
        print(f"python -m gameserver.localcluster: error: {exc}", file=sys.stderr)
        return 2
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
