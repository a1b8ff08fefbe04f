"""GET /metrics: Prometheus' exposition of the server's state, read from a real server process
while players join, play, are refused and leave; and the tick histogram's buckets."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import websockets
from prometheus_client.parser import text_string_to_metric_families
from server_process import ServerProcess, wait_for
from websockets.asyncio.client import ClientConnection, connect

from gameserver import codec
from gameserver.config import Config
from gameserver.messages import Hello, Input, Snapshot, Welcome
from gameserver.server import GameServer
from gameserver.tick import TICK_BUCKETS, ManualClock, TickScheduler

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(server: ServerProcess) -> Samples:
    """Every sample /metrics answers, by (name, labels)."""
    with urllib.request.urlopen(server.http + "/metrics", timeout=5) as r:
        text = r.read().decode()
    return parse(text)


def parse(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sample's value; 0 for a labelled counter that has not counted yet."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def histogram(samples: Samples, name: str) -> tuple[list[tuple[float, float]], float, float]:
    """(le, cumulative count) of each bucket in order, the count and the sum."""
    buckets = sorted(
        (float(dict(labels)["le"]), v) for (n, labels), v in samples.items() if n == name + "_bucket"
    )
    return buckets, samples[(name + "_count", frozenset())], samples[(name + "_sum", frozenset())]


def until(server: ServerProcess, predicate: Callable[[Samples], bool], what: str) -> Samples:
    """Scrape until `predicate` holds of the samples (5 s at most); the samples that did."""
    found: list[Samples] = []

    def check() -> bool:
        samples = scrape(server)
        found[:] = [samples]
        return predicate(samples)

    wait_for(check, 5, what, interval=0.02)
    return found[0]


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def play(ws: ClientConnection) -> None:
    """Acknowledge every snapshot with an input, until the connection ends."""
    seq = 0
    try:
        async for data in ws:
            msg = codec.decode_server(data)
            if isinstance(msg, Snapshot):
                seq += 1
                await ws.send(codec.encode_client(Input(seq, 1.0, 0.0, 0.0, 0, msg.tick)))
    except websockets.ConnectionClosed:
        pass


async def joined(url: str, name: str) -> tuple[ClientConnection, asyncio.Task[None]]:
    ws = await connect(url)
    await ws.send(codec.encode_client(Hello(1, name)))
    welcome = codec.decode_server(await asyncio.wait_for(ws.recv(), 5))
    assert isinstance(welcome, Welcome), welcome
    return ws, asyncio.get_running_loop().create_task(play(ws))


async def refused(url: str, hello: Hello) -> tuple[int, str]:
    """Send this HELLO and read until the server closes: its close code and reason."""
    async with connect(url) as ws:
        await ws.send(codec.encode_client(hello))
        with pytest.raises(websockets.ConnectionClosed):
            async with asyncio.timeout(5):
                while True:
                    await ws.recv()
        rcvd = ws.protocol.close_rcvd
        assert rcvd is not None, "no close frame from the server"
        return rcvd.code, rcvd.reason


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with ServerProcess("--tick", "30") as s:
        yield s


# --- the endpoint ------------------------------------------------------------------------


def test_metrics_are_prometheus_text_with_help_and_our_prefix(server: ServerProcess) -> None:
    with urllib.request.urlopen(server.http + "/metrics", timeout=5) as r:
        assert r.status == 200
        assert r.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        assert r.headers["Cache-Control"] == "no-store"
        body = r.read()
        assert int(r.headers["Content-Length"]) == len(body)
    families = list(text_string_to_metric_families(body.decode()))
    names = {f.name for f in families}
    assert {
        "gameserver_players",
        "gameserver_players_away",
        "gameserver_spectators",
        "gameserver_rooms",
        "gameserver_seats_reserved",
        "gameserver_websockets_open",
        "gameserver_rooms_created",
        "gameserver_rooms_disposed",
        "gameserver_rooms_failed",
        "gameserver_resumes",
        "gameserver_resyncs",
        "gameserver_ticks",
        "gameserver_tick_duration_seconds",
        "gameserver_tick_overruns",
        "gameserver_ticks_skipped",
        "gameserver_websocket_sent_bytes",
        "gameserver_websocket_received_bytes",
        "gameserver_websocket_closes",
        "gameserver_refusals",
    } <= names
    for family in families:
        assert family.name.startswith("gameserver_"), family.name
        assert family.documentation, f"{family.name} has no help text"
    samples = parse(body.decode())
    assert value(samples, "gameserver_tick_rate_hertz") == 30
    assert value(samples, "gameserver_build_info", build=server.health()["build"]) == 1


def test_head_answers_the_headers_and_other_methods_are_refused(server: ServerProcess) -> None:
    request = urllib.request.Request(server.http + "/metrics", method="HEAD")
    with urllib.request.urlopen(request, timeout=5) as r:
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        assert int(r.headers["Content-Length"]) > 0 and r.read() == b""
    for method in ("POST", "PUT", "DELETE"):
        request = urllib.request.Request(server.http + "/metrics", data=b"", method=method)
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(request, timeout=5)
        assert info.value.code == 405 and info.value.headers["Allow"] == "GET, HEAD"
        assert json.loads(info.value.read())["error"] == "method_not_allowed"
        info.value.close()


def test_a_scraper_that_asks_for_openmetrics_gets_it(server: ServerProcess) -> None:
    request = urllib.request.Request(
        server.http + "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    )
    with urllib.request.urlopen(request, timeout=5) as r:
        assert r.headers["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
        text = r.read().decode()
    assert text.endswith("# EOF\n") and "gameserver_ticks_total" in text


# --- the values move as they should --------------------------------------------------------


def test_players_bytes_ticks_and_closes_move(server: ServerProcess) -> None:
    before = scrape(server)
    players = value(before, "gameserver_players")
    ticks_before, count_before, _ = histogram(before, "gameserver_tick_duration_seconds")
    normal = {"code": "1000", "reason": "peer"}
    dropped = {"code": "none", "reason": "peer_closed"}

    async def scenario() -> None:
        (alice, a_task), (bob, b_task) = (
            await joined(server.ws_url, "alice"),
            await joined(server.ws_url, "bob"),
        )
        both = await asyncio.to_thread(
            until, server, lambda s: value(s, "gameserver_players") == players + 2, "two players to join"
        )
        assert value(both, "gameserver_websockets_open") >= 2 and value(both, "gameserver_rooms") >= 1
        # snapshots go out, inputs come in, ticks are counted
        sent = value(both, "gameserver_websocket_sent_bytes_total")
        received = value(both, "gameserver_websocket_received_bytes_total")
        later = await asyncio.to_thread(
            until,
            server,
            lambda s: (
                value(s, "gameserver_websocket_sent_bytes_total") > sent
                and value(s, "gameserver_websocket_received_bytes_total") > received
                and histogram(s, "gameserver_tick_duration_seconds")[1] > count_before + 30
            ),
            "bytes both ways and a second of ticks",
        )
        assert value(both, "gameserver_websocket_sent_bytes_total") > value(
            before, "gameserver_websocket_sent_bytes_total"
        )
        buckets, count, total = histogram(later, "gameserver_tick_duration_seconds")
        assert [le for le, _ in buckets] == [*TICK_BUCKETS, float("inf")]
        counts = [n for _, n in buckets]
        assert counts == sorted(counts) and counts[-1] == count  # cumulative, +Inf is every tick
        assert total > 0 and count <= value(later, "gameserver_ticks_total")
        # a close frame of 1000, and a TCP connection cut with none
        await alice.close(1000)
        bob.transport.abort()
        for task in (a_task, b_task):
            await task
        gone = await asyncio.to_thread(
            until,
            server,
            lambda s: (
                value(s, "gameserver_websocket_closes_total", **normal)
                == value(before, "gameserver_websocket_closes_total", **normal) + 1
                and value(s, "gameserver_websocket_closes_total", **dropped)
                == value(before, "gameserver_websocket_closes_total", **dropped) + 1
            ),
            "both closes counted",
        )
        # alice left; bob dropped, and is kept for a resume
        assert value(gone, "gameserver_players") == players + 1
        assert value(gone, "gameserver_players_away") == value(before, "gameserver_players_away") + 1

    run(scenario())
    assert ticks_before  # the histogram was there from the start


@pytest.mark.parametrize(
    "hello, close_code, code",
    [
        (Hello(1, "lost", room="r-000000000000"), 4404, "room_not_found"),
        (Hello(99, "future"), 1002, "unsupported_version"),
        (Hello(1, "forger", seat="not-a-seat"), 4403, "invalid_seat"),
    ],
)
def test_a_refused_hello_is_counted_by_its_code_and_its_close(
    server: ServerProcess, hello: Hello, close_code: int, code: str
) -> None:
    refusal = {"stage": "hello", "status": str(close_code), "code": code}
    close = {"code": str(close_code), "reason": code}
    before = scrape(server)
    assert run(refused(server.ws_url, hello)) == (close_code, code)
    until(
        server,
        lambda s: (
            value(s, "gameserver_refusals_total", **refusal)
            == value(before, "gameserver_refusals_total", **refusal) + 1
            and value(s, "gameserver_websocket_closes_total", **close)
            == value(before, "gameserver_websocket_closes_total", **close) + 1
        ),
        f"the {code} refusal and its close to be counted",
    )


def test_http_refusals_are_counted_by_stage_status_and_code(server: ServerProcess) -> None:
    handshake = {"stage": "handshake", "status": "400", "code": "websocket_required"}
    unknown_room = {"stage": "matchmaking", "status": "404", "code": "room_not_found"}
    wrong_method = {"stage": "matchmaking", "status": "405", "code": "method_not_allowed"}
    before = scrape(server)
    requests = [
        (urllib.request.Request(server.http + "/ws"), 400),  # no upgrade
        (urllib.request.Request(server.http + "/matchmake/join", data=b'{"room": "r-000000000000"}'), 404),
        (urllib.request.Request(server.http + "/matchmake/quick"), 405),  # a GET
    ]
    for request, status in requests:
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(request, timeout=5)
        assert info.value.code == status
        info.value.close()
    after = scrape(server)
    for labels in (handshake, unknown_room, wrong_method):
        assert value(after, "gameserver_refusals_total", **labels) == (
            value(before, "gameserver_refusals_total", **labels) + 1
        ), labels


def test_a_handshake_past_the_connection_cap_is_counted_as_server_full() -> None:
    """--max-players 1 and --max-spectators 0 hold 65 WebSockets; the 66th handshake gets 503."""
    full = {"stage": "handshake", "status": "503", "code": "server_full"}

    async def scenario(s: ServerProcess) -> None:
        held = [await connect(s.ws_url) for _ in range(65)]
        with pytest.raises(websockets.InvalidStatus) as info:
            await connect(s.ws_url)
        assert info.value.response.status_code == 503
        samples = await asyncio.to_thread(scrape, s)
        assert value(samples, "gameserver_refusals_total", **full) == 1
        assert value(samples, "gameserver_websockets_open") == 65
        for ws in held:
            await ws.close()

    with ServerProcess("--max-players", "1", "--max-spectators", "0", "--hello-timeout", "30") as s:
        run(scenario(s))


# --- in process ----------------------------------------------------------------------------


def test_tick_durations_land_in_their_buckets() -> None:
    clock = ManualClock(0.0)
    work = [0.00005, 0.00009, 0.003, 0.2, 2.0]
    durations = iter(work)

    def step() -> None:
        clock.advance(next(durations))

    s = TickScheduler(period=0.1, step=step, clock=clock, max_catch_up=1)
    for _ in work:
        clock.now = max(clock.now, s.next_deadline or 0.0)
        s.run_due()
    assert s.ticks == len(work)
    by_bound = dict(zip([*TICK_BUCKETS, float("inf")], s.bucket_counts, strict=True))
    assert by_bound[0.0001] == 2 and by_bound[0.005] == 1 and by_bound[0.25] == 1
    assert by_bound[float("inf")] == 1 and sum(s.bucket_counts) == 5
    assert s.duration_sum == pytest.approx(sum(work))


def test_close_labels_stay_within_known_codes_and_reasons() -> None:
    """A peer's unusual close code, and eventlet's frame errors (English sentences), are counted
    together, so that no client can grow the table; the exposition names them."""
    server = GameServer(Config())
    try:
        loop = server.sockets
        loop.count_close((3999, ""), "peer_closed")  # a peer's close frame of an unusual code
        loop.count_close((3998, ""), "peer_closed")
        loop.count_close((1002, "Received a frame of an unknown opcode"), "closed")
        loop.count_close((1008, "hello_timeout"), "closed")
        loop.count_close(None, "send_failed")
        assert loop.closes == {
            (-1, "peer"): 2,
            (1002, "frame_error"): 1,
            (1008, "hello_timeout"): 1,
            (0, "send_failed"): 1,
        }
        body, content_type = server.metrics.exposition("")
        assert content_type.startswith("text/plain; version=0.0.4")
        samples = parse(body.decode())
        assert value(samples, "gameserver_websocket_closes_total", code="other", reason="peer") == 2
        assert value(samples, "gameserver_websocket_closes_total", code="none", reason="send_failed") == 1
        assert value(samples, "gameserver_websocket_closes_total", code="1002", reason="frame_error") == 1
    finally:
        server.sockets.epoll.close()
