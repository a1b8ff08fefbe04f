"""The browser client's pure logic, run by Node's built-in test runner (tests/js/*.test.mjs),
and the checks that tie it to the Python server: the fixtures Node tests against are what the
server computes today, and what the page encodes is what the server's codec accepts.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import attrs
import js_fixtures
import pytest
from rover import Rover

from gameserver import codec
from gameserver.messages import Ack, Follow, Hello, Input, Ping, Welcome

ROOT = Path(__file__).resolve().parent.parent
JS_TESTS = ROOT / "tests" / "js"
VENDOR = ROOT / "client_demo" / "vendor" / "msgpack"

NODE = shutil.which("node")
# CI sets GAMESERVER_REQUIRE_BROWSER=1: there the browser client's tests must run, Node's included.
REQUIRED = os.environ.get("GAMESERVER_REQUIRE_BROWSER") == "1"
needs_node = pytest.mark.skipif(
    NODE is None and not REQUIRED, reason="node is not installed (apt-get install nodejs)"
)


def _run_node(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    if NODE is None:
        pytest.fail("GAMESERVER_REQUIRE_BROWSER=1 but node is not installed (apt-get install nodejs)")
    return subprocess.run([NODE, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


@needs_node
def test_node_unit_tests_pass() -> None:
    files = sorted(str(p.relative_to(ROOT)) for p in JS_TESTS.glob("*.test.mjs"))
    assert len(files) >= 5, files
    result = _run_node("--test", *files)
    summary = [line for line in result.stdout.splitlines() if line.startswith("# ")]
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "# fail 0" in summary, summary
    passed = next(int(line.split()[2]) for line in summary if line.startswith("# pass"))
    assert passed >= 25, summary


def test_step_fixture_is_what_the_server_computes_today() -> None:
    """rules.js is tested against this file; it must follow gameserver/world.py."""
    fresh = js_fixtures.generate()["step_cases.json"]
    committed = (JS_TESTS / "fixtures" / "step_cases.json").read_text()
    assert json.loads(committed) == json.loads(fresh), "run: python tests/js_fixtures.py"


def test_collision_fixture_is_what_the_server_computes_today() -> None:
    """collision.js is tested against this file; it must follow gameserver/collision.py."""
    fresh = js_fixtures.generate()["collision_cases.json"]
    committed = (JS_TESTS / "fixtures" / "collision_cases.json").read_text()
    assert json.loads(committed) == json.loads(fresh), "run: python tests/js_fixtures.py"


def test_ball_step_fixture_is_what_the_server_computes_today() -> None:
    """js/ball/rules.js is tested against this file; it must follow gameserver/games/ball.py."""
    fresh = js_fixtures.generate()["ball_step_cases.json"]
    committed = (JS_TESTS / "fixtures" / "ball_step_cases.json").read_text()
    assert json.loads(committed) == json.loads(fresh), "run: python tests/js_fixtures.py"


def _comparable(b64: str) -> object:
    """A recorded message, with the welcome's random session token and room id blanked."""
    msg = codec.decode_server(base64.b64decode(b64))
    if isinstance(msg, Welcome):
        return attrs.evolve(msg, session_token="-", room="-")
    return base64.b64decode(b64)


def test_snapshot_fixture_is_what_the_server_sends_today() -> None:
    """mirror.js is tested against these recorded streams; they must follow the server."""
    fresh = json.loads(js_fixtures.generate()["snapshots.json"])
    committed = json.loads((JS_TESTS / "fixtures" / "snapshots.json").read_text())
    assert fresh.keys() == committed.keys()
    for name in fresh:
        a, b = fresh[name]["messages"], committed[name]["messages"]
        assert len(a) == len(b), f"{name}: run python tests/js_fixtures.py"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert _comparable(x["bytes"]) == _comparable(y["bytes"]), f"{name} message {i}"
            assert x.get("rows") == y.get("rows"), f"{name} message {i}"


def test_schema_fixture_is_what_the_server_sends_today() -> None:
    """mirror.js is tested against these streams of games other than the arena (a field a later
    version appends, a second kind): they must follow the server's encoder and Python mirror."""
    fresh = json.loads(js_fixtures.generate()["schema_streams.json"])
    committed = json.loads((JS_TESTS / "fixtures" / "schema_streams.json").read_text())
    assert fresh == committed, "run: python tests/js_fixtures.py"


@needs_node
def test_the_server_accepts_what_the_page_encodes() -> None:
    result = _run_node(str(JS_TESTS / "encode_samples.mjs"), timeout=30)
    assert result.returncode == 0, result.stderr
    samples = {k: bytes.fromhex(v) for k, v in json.loads(result.stdout).items()}
    assert codec.decode_client(samples["hello"]) == Hello(1, "Zoë 3", None, None)
    seated = Hello(1, "Zoë 3", None, "r-3f9c01a2b4d5", "XHxdGMTbaLZHfZXP_gGLVw")
    assert codec.decode_client(samples["hello_seat"]) == seated
    assert codec.decode_client(samples["input_idle"]) == Input(1, 0.0, 0.0, 0.0, 0, None)
    move = codec.decode_client(samples["input_move"])
    assert isinstance(move, Input)
    assert (move.seq, move.move_x, move.move_y, move.buttons, move.ack_tick, move.render_tick) == (
        2**32 - 1,
        -1.0,
        1.0,
        1,
        2**31 - 1,
        12,
    )
    assert move.aim == math.atan2(-1, -1)
    frac = codec.decode_client(samples["input_fraction"])
    assert frac == Input(77, 0.25, -0.5, math.pi, 255, 0)
    assert codec.decode_client(samples["ping"]) == Ping(123456.789)
    watching = Hello(1, "Zoë 3", None, "r-3f9c01a2b4d5", None, spectate=True)
    assert codec.decode_client(samples["hello_spectate"]) == watching
    assert codec.decode_client(samples["hello_spectate_quick"]) == Hello(1, "Zoë 3", spectate=True)
    assert codec.decode_client(samples["follow"]) == Follow(7)
    assert codec.decode_client(samples["follow_any"]) == Follow(None)
    rover: Any = Rover.schema.codecs.inputs.decode_client(samples["input_fields"])  # the rover's INPUT type
    assert tuple(rover) == (9, 0.75, -1, 1, 5, 3)  # steer clamped to its range, horn a bit
    assert codec.decode_client(samples["ack"]) == Ack(2**31 - 1)


def test_vendored_msgpack_is_the_published_build() -> None:
    """client_demo/vendor/msgpack holds @msgpack/msgpack's files unchanged (see its README)."""
    lines = (VENDOR / "SHA256SUMS").read_text().split("\n")
    listed = {}
    for line in filter(None, lines):
        digest, name = line.split(maxsplit=1)
        listed[name] = digest
    present = {str(p.relative_to(VENDOR)) for p in (VENDOR / "dist.esm").rglob("*.mjs")}
    assert present == set(listed)
    for name, digest in listed.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
    version = (VENDOR / "VERSION").read_text().split()
    assert version[:2] == ["@msgpack/msgpack", "3.1.3"]
    assert "ISC" in (VENDOR / "README.md").read_text()
    assert "Permission to use, copy, modify" in (VENDOR / "LICENSE").read_text()
