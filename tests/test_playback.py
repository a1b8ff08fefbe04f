"""Playback files (python -m gameserver.replay FILE --export OUT): a recording as the messages a
spectator is sent, which the Python mirror and the browser's playback page
(client_demo/playback.html) decode as they decode the server's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

import msgpack
import pytest
from server_process import ROOT, ServerProcess
from test_browser import ARTIFACTS, WAIT_MS, Player, browser  # noqa: F401  (browser: the fixture)
from test_recording import play, replay_command, yard

from client_demo.bots import run_bots
from gameserver.codec import decode_server
from gameserver.games.arena import Arena
from gameserver.games.ball import Ball
from gameserver.messages import Scoreboard, Snapshot, Welcome
from gameserver.replay import PLAYBACK_FORMAT, replay, state
from gameserver.replication import Mirror
from gameserver.schema import Schema


def load_playback(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = msgpack.unpackb(path.read_bytes(), raw=False, strict_map_key=False)
    assert data["format"] == PLAYBACK_FORMAT and data["version"] == 1
    return data


def mirrored(playback: dict[str, Any], until: int) -> tuple[Mirror, list[Any]]:
    """The Python mirror after the playback's snapshots up to tick `until`, and the messages
    read on the way, decoded."""
    messages = [decode_server(m) for m in playback["messages"]]
    welcome = messages[0]
    assert isinstance(welcome, Welcome) and welcome.entity_id == 0 and welcome.schema == playback["schema"]
    mirror = Mirror(Schema.from_wire(welcome.schema))
    for msg in messages[1:]:
        if isinstance(msg, Snapshot):
            if msg.tick > until:
                break
            mirror.apply(msg)
    return mirror, messages


def export(recording: Path, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return replay_command(recording, "--export", str(out), *args)


@pytest.mark.parametrize("until", [1, 81, 121, 160, 240])  # 81, 121: a leave, a join after the step
def test_the_exported_snapshots_mirror_the_state_the_replay_prints_at_a_tick(
    tmp_path: Path, until: int
) -> None:
    recording = tmp_path / "arena.gsrec"
    play(Arena, recording, game_map=yard())  # five players, a leave at tick 81, a join at 121
    out = tmp_path / "arena.gsplay"
    done = export(recording, out)
    assert done.returncode == 0, done.stderr
    assert f"to {out}" in done.stdout and "exported 240 snapshots (ticks 1..240, 30 a second)" in done.stdout
    playback = load_playback(out)
    assert (playback["game"], playback["map"], playback["tick_rate"], playback["snapshot_rate"]) == (
        "arena",
        "yard",
        30,
        30,
    )
    assert playback["rules"]["quanta"] == 8 and playback["first_tick"] == 1 and playback["last_tick"] == 240
    printed = replay_command(recording, "--until", str(until))
    assert printed.returncode == 0, printed.stderr
    state = json.loads(printed.stdout.strip().splitlines()[-1])
    mirror, messages = mirrored(playback, until)
    assert mirror.tick == until
    assert {str(eid): row for eid, row in sorted(mirror.rows.items())} == state["rows"]
    snapshots = [m for m in messages if isinstance(m, Snapshot)]
    assert snapshots[0].baseline is None and all(
        s.baseline == before.tick for before, s in zip(snapshots, snapshots[1:], strict=False)
    )
    # the arena's shots come with the snapshots, and the scoreboard names the players
    assert any(s.shots for s in snapshots)
    boards = [m for m in messages if isinstance(m, Scoreboard)]
    assert boards and {ln.name for ln in boards[0].lines} == {f"p{i}" for i in range(5)}
    assert "late" in {ln.name for ln in boards[-1].lines} and "p0" not in {ln.name for ln in boards[-1].lines}


def test_an_export_at_a_lower_snapshot_rate_and_one_stopped_at_a_tick(tmp_path: Path) -> None:
    recording = tmp_path / "ball.gsrec"
    hashes = play(Ball, recording)
    out = tmp_path / "ball.gsplay"
    done = export(recording, out, "--snapshot-rate", "10", "--until", "150")
    assert done.returncode == 0, done.stderr
    playback = load_playback(out)
    assert (playback["game"], playback["map"], playback["snapshot_rate"]) == ("ball", None, 10)
    assert playback["last_tick"] == 150 and playback["first_tick"] == 3
    mirror, messages = mirrored(playback, 150)
    ticks = [m.tick for m in messages if isinstance(m, Snapshot)]
    assert all(t % 3 == 0 for t in ticks)
    halfway = replay(recording, until=150)
    assert halfway.room is not None and halfway.room.game.state_hash() == hashes[150]
    assert mirror.as_rows() == halfway.room.game.rows
    # the ball game's rows change at a leave and a join at once: the replay stopped at a tick
    # holds the state its snapshot shows, not the leave or join recorded after its step
    full = tmp_path / "full.gsplay"
    assert export(recording, full).returncode == 0
    for tick in (81, 121):
        at = replay(recording, until=tick)
        assert at.room is not None and at.room.game.state_hash() == hashes[tick]
        assert mirrored(load_playback(full), tick)[0].as_rows() == at.room.game.rows


def test_a_bad_export_is_a_clear_error(tmp_path: Path) -> None:
    recording = tmp_path / "arena.gsrec"
    play(Arena, recording, ticks=30)
    bad_rate = export(recording, tmp_path / "x.gsplay", "--snapshot-rate", "7")
    assert bad_rate.returncode == 2 and "does not divide the tick rate 30" in bad_rate.stderr
    assert "Traceback" not in bad_rate.stderr
    nowhere = export(recording, tmp_path / "no" / "such" / "dir.gsplay")
    assert nowhere.returncode == 2 and "No such file or directory" in nowhere.stderr
    junk = tmp_path / "junk.gsrec"
    junk.write_bytes(b"not a recording at all")
    refused = export(junk, tmp_path / "y.gsplay")
    assert (
        refused.returncode == 2 and "not a recording" in refused.stderr and "Traceback" not in refused.stderr
    )
    alone = subprocess.run(
        [sys.executable, "-m", "gameserver.replay", str(recording), "--snapshot-rate", "10"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert alone.returncode == 2 and "--snapshot-rate goes with --export" in alone.stderr


# --- the playback page in a real browser ---------------------------------------------------------

BOTS = 4
RECORD_SECONDS = 6.0


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """An arena match on the yard recorded by a real server while bots fight, join and leave,
    and its playback file: (recording, playback)."""
    here = tmp_path_factory.mktemp("playback")
    record = here / "recordings"
    with ServerProcess("--record", str(record), map_name="yard") as s:
        report = run_bots(s.ws_url, BOTS, RECORD_SECONDS, behaviour="fight,fight,churn,wander", verify=1)
        assert report["errors"] == 0
    (recording,) = record.glob("*.gsrec")
    out = here / "match.gsplay"
    done = export(recording, out)
    assert done.returncode == 0, done.stderr
    return recording, out


def replayed_rows(recording: Path, tick: int) -> dict[str, list[Any]]:
    done = replay(recording, until=tick)
    assert done.tick == tick
    rows: dict[str, list[Any]] = state(done)["rows"]
    return rows


# A static file server that lets any origin fetch: a process of its own, since this process may
# hold eventlet's hub (tests that run a GameServer in process) and playwright's greenlets, with
# which http.server's threads here have hung.
FILE_SERVER = """
import functools, http.server, sys
class Handler(http.server.SimpleHTTPRequestHandler):
    def end_headers(self):
        self.send_header("Access-Control-Allow-Origin", "*")
        super().end_headers()
    def log_message(self, *args):
        pass
httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=sys.argv[1]))
print(httpd.server_address[1], flush=True)
httpd.serve_forever()
"""


class FileServer:
    """The files of a directory over HTTP on 127.0.0.1, to any origin (the page fetches from it)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def __enter__(self) -> FileServer:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", FILE_SERVER, str(self.root)], stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        self.url = f"http://127.0.0.1:{int(self.proc.stdout.readline())}"
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


class PlaybackPage(Player):
    def load(self, path: Path) -> None:
        self.page.set_input_files("#file", str(path))
        self.wait("() => game.state === 'loaded'")

    def rate(self, ticks: float) -> float:
        """Ticks a second of the page's clock while it plays on for `ticks` ticks."""
        t0, ms0 = self.eval("game.clock()")
        self.wait("t => game.playhead >= t", t0 + ticks)
        t1, ms1 = self.eval("game.clock()")
        return float((t1 - t0) / (ms1 - ms0) * 1000)


@pytest.mark.browser
def test_the_playback_page_draws_the_replayed_state_and_pauses_steps_and_changes_speed(
    browser: Any,  # noqa: F811
    recorded: tuple[Path, Path],
) -> None:
    recording, out = recorded
    with ServerProcess(map_name="yard") as srv:
        page = PlaybackPage(browser, f"{srv.http}/playback.html?paused=1")
        try:
            page.wait("() => window.game && game.state === 'idle'")
            page.load(out)
            header = page.eval("game.header")
            assert (header["game"], header["map"], header["tick_rate"], header["snapshot_rate"]) == (
                "arena",
                "yard",
                30,
                30,
            )
            page.wait("() => game.map.status === 'loaded'")
            ticks: list[int] = page.eval("game.ticks")
            assert ticks == sorted(ticks) and ticks[-1] - ticks[0] >= 30 * (RECORD_SECONDS - 1)
            assert page.eval("[game.paused, game.tick]") == [True, ticks[0]]

            # at a tick, the page holds the replay's state and draws its players there
            i = len(ticks) // 2
            page.eval("t => game.seek(t)", ticks[i])
            assert page.eval("game.tick") == ticks[i]
            rows = replayed_rows(recording, ticks[i])
            assert len(rows) >= 2 and page.eval("game.rows") == rows
            drawn = page.eval("game.entities")
            quanta = page.eval("game.rules.quanta")
            assert {eid: (e["x"], e["y"], e["name"]) for eid, e in drawn.items()} == {
                eid: (row[0] / quanta, row[1] / quanta, row[3]) for eid, row in rows.items()
            }

            # paused, the tick holds while frames are drawn
            frames = page.eval("game.frames")
            page.wait("f => game.frames >= f + 10", frames)
            assert page.eval("[game.tick, game.playhead, game.paused]") == [ticks[i], ticks[i], True]

            # a step is exactly one snapshot, either way, each with the replay's state
            assert page.eval("game.step(1)") == ticks[i + 1]
            assert page.eval("[game.tick, game.index, game.paused]") == [ticks[i + 1], i + 1, True]
            assert page.eval("game.rows") == replayed_rows(recording, ticks[i + 1])
            page.page.locator("#back").click()
            assert page.eval("game.tick") == ticks[i] and page.eval("game.rows") == rows
            page.page.locator("#forward").click()
            assert page.eval("game.tick") == ticks[i + 1]

            # played, the playhead runs at the tick rate times the speed chosen
            page.eval("t => game.seek(t)", ticks[0])
            page.page.locator("#play").click()
            page.wait("() => !game.paused")
            one = page.rate(15)
            page.page.select_option("#speed", "4")
            page.wait("() => game.speed === 4")
            four = page.rate(60)
            assert abs(one - 30) < 1.5 and abs(four - 120) < 6, (one, four)
            page.eval("game.setSpeed(0.25)")
            quarter = page.rate(3)
            assert abs(quarter - 7.5) < 0.5, quarter
            # and it stops at the end
            page.eval("game.setSpeed(4)")
            page.wait("() => game.ended", timeout=int(RECORD_SECONDS / 4 * 1000) + WAIT_MS)
            assert page.eval("game.tick") == ticks[-1]
            ARTIFACTS.mkdir(exist_ok=True)
            page.page.screenshot(path=str(ARTIFACTS / "playback.png"))
        finally:
            page.close()


@pytest.mark.browser
def test_the_playback_page_fetches_a_file_by_url_and_says_what_is_wrong_with_one(
    browser: Any,  # noqa: F811
    recorded: tuple[Path, Path],
    tmp_path: Path,
) -> None:
    _, out = recorded
    (tmp_path / "match.gsplay").write_bytes(out.read_bytes())
    (tmp_path / "junk.gsplay").write_bytes(b"\x93\x01\x02\x03")
    with ServerProcess(map_name="yard") as srv, FileServer(tmp_path) as files:
        page = PlaybackPage(browser, f"{srv.http}/playback.html?file={files.url}/match.gsplay&speed=2")
        try:
            page.wait("() => game.state === 'loaded' && game.speed === 2 && !game.paused")
            assert page.eval("game.source") == f"{files.url}/match.gsplay"
            page.wait("() => game.tick > game.ticks[0]")
        finally:
            page.close()
        page = PlaybackPage(browser, f"{srv.http}/playback.html?file={files.url}/junk.gsplay")
        try:
            page.wait("() => game.state === 'failed'")
            assert "not a playback file" in page.eval("game.error")
            assert "not a playback file" in page.page.inner_text("#status")
        finally:
            page.close()
        page = PlaybackPage(browser, f"{srv.http}/playback.html?file={files.url}/missing.gsplay")
        try:
            page.wait("() => game.state === 'failed'")
            assert "HTTP 404" in page.eval("game.error")
        finally:
            page.close()


@pytest.mark.browser
def test_the_playback_page_plays_ball_with_the_ball_games_renderer(
    browser: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    recording = tmp_path / "ball.gsrec"
    play(Ball, recording)
    out = tmp_path / "ball.gsplay"
    assert export(recording, out).returncode == 0
    with ServerProcess("--game", "ball", map_name=None) as srv:
        page = PlaybackPage(browser, f"{srv.http}/playback.html?paused=1")
        try:
            page.load(out)
            assert page.eval("[game.header.game, game.map.status, game.camera]") == ["ball", "none", None]
            ticks: list[int] = page.eval("game.ticks")
            for tick in (ticks[0], ticks[len(ticks) // 3], ticks[-1]):
                page.eval("t => game.seek(t)", tick)
                assert page.eval("game.rows") == replayed_rows(recording, tick)
            page.wait("() => game.frames >= 3")
            assert "Red" in page.page.inner_text("#hud") and "Blue" in page.page.inner_text("#hud")
        finally:
            page.close()
