"""python -m gameserver as a command: a port it cannot listen on is a one-line error and code 2."""

from __future__ import annotations

import socket
import subprocess
import sys

from server_process import ROOT, ServerProcess

# Small caps, so that the open-file limit of any machine allows them without a warning line.
SMALL = ["--map", "none", "--max-players", "4", "--max-spectators", "0"]


def run_server(*args: str) -> subprocess.CompletedProcess[str]:
    """The server started in the foreground; it must exit by itself."""
    return subprocess.run(
        [sys.executable, "-m", "gameserver", *SMALL, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_refused(r: subprocess.CompletedProcess[str], port: int, reason: str) -> None:
    assert r.returncode == 2, r.stderr
    assert r.stdout == ""  # it never printed its address
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr  # no traceback
    assert lines[0].startswith("python -m gameserver: error: "), lines[0]
    assert f":{port}" in lines[0] and reason in lines[0], lines[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_a_second_server_on_the_port_of_another_exits_2() -> None:
    """Both on a port named, not 0: eventlet sets SO_REUSEPORT on those unless told not to, and
    with it the second server would start and take every other connection of the first one's."""
    with ServerProcess(*SMALL[2:], "--port", str(free_port())) as first:
        r = run_server("--port", str(first.port))
        assert_refused(r, first.port, "the port is in use")
        assert first.health()["status"] == "ok"
        assert first.proc is not None and first.proc.poll() is None


def test_a_port_another_program_listens_on_exits_2() -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        r = run_server("--port", str(port))
    assert_refused(r, port, "the port is in use")


def test_an_address_not_of_this_machine_exits_2() -> None:
    r = run_server("--host", "192.0.2.1", "--port", "0")  # TEST-NET-1: never a local address
    assert_refused(r, 0, "192.0.2.1")
