"""The Agones adapter (--agones) against a stand-in for the SDK sidecar's REST API
(tests/agones_standin.py: the real sidecar runs only in a Kubernetes pod)."""

from __future__ import annotations

import asyncio
import http.client
import json
import signal
import socket

from agones_standin import AgonesStandIn
from redis_server import RedisServer, require_redis
from server_process import ServerProcess, wait_for
from websockets.asyncio.client import connect

from gameserver import codec
from gameserver.messages import Hello, Input, Snapshot, Welcome


def counter(standin: AgonesStandIn, name: str) -> tuple[int, int]:
    c = standin.counters[name]
    return c["count"], c["capacity"]


def test_ready_once_listening_then_health_the_counters_and_shutdown_after_the_drain() -> None:
    with (
        AgonesStandIn() as standin,
        ServerProcess(
            "--agones",
            "--agones-health",
            "0.2",
            "--drain-timeout",
            "10",
            "--max-players",
            "40",
            "--max-rooms",
            "7",
            env={"AGONES_SDK_HTTP_PORT": str(standin.port)},
        ) as s,
    ):
        wait_for(lambda: standin.state == "Ready", 5, "Ready")
        wait_for(lambda: len(standin.calls("/health")) >= 3, 5, "three Health calls")
        assert counter(standin, "rooms") == (0, 7) and counter(standin, "players") == (0, 40)

        async def play() -> None:
            async with connect(s.ws_url) as ws:
                await ws.send(codec.encode_client(Hello(1, "ada")))
                assert isinstance(codec.decode_server(await asyncio.wait_for(ws.recv(), 5)), Welcome)
                loop = asyncio.get_running_loop()

                def drained_while_playing() -> None:
                    wait_for(lambda: counter(standin, "players") == (1, 40), 5, "the player counted")
                    assert counter(standin, "rooms")[0] == 1
                    assert s.proc is not None
                    s.proc.send_signal(signal.SIGTERM)
                    wait_for(lambda: s.health()["status"] == "draining", 5, "the drain")
                    healthy = len(standin.calls("/health"))
                    wait_for(lambda: len(standin.calls("/health")) > healthy + 2, 5, "Health while draining")
                    assert standin.state == "Ready" and not standin.calls("/shutdown")

                job = loop.run_in_executor(None, drained_while_playing)
                seq = 0
                while not job.done():
                    msg = codec.decode_server(await asyncio.wait_for(ws.recv(), 5))
                    if isinstance(msg, Snapshot):
                        seq += 1
                        await ws.send(codec.encode_client(Input(seq, 0.0, 0.0, 0.0, 0, msg.tick)))
                await job
            # ada leaves: the drain ends, the goodbyes are said, then Shutdown

        asyncio.run(play())
        assert s.proc is not None and s.proc.wait(10) == 0
        assert standin.state == "Shutdown"
        (shutdown_at, _), *more = standin.calls("/shutdown")
        assert more == []
        assert all(at < shutdown_at for at, _ in standin.calls("/ready"))


def test_a_sidecar_that_answers_late_gets_ready_and_an_undeclared_counter_is_left_alone() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with ServerProcess("--agones", "--agones-health", "0.2", env={"AGONES_SDK_HTTP_PORT": str(port)}) as s:
        wait_for(
            lambda: any("agones: the SDK sidecar did not answer" in line for line in s.stderr_lines),
            5,
            "the first Ready to fail",
        )
        standin = AgonesStandIn(counters=("players",), port=port)
        with standin:
            wait_for(lambda: standin.state == "Ready", 5, "Ready from a sidecar that came late")
            wait_for(lambda: counter(standin, "players") == (0, 1000), 5, "the players' capacity")
            wait_for(
                lambda: any("declares no counter 'rooms'" in line for line in s.stderr_lines),
                5,
                "one warning",
            )
            rooms_calls = len(standin.calls("/v1beta1/counters/rooms"))
            wait_for(lambda: len(standin.calls("/health")) >= 3, 5, "Health")
            assert len(standin.calls("/v1beta1/counters/rooms")) == rooms_calls == 1


def test_in_a_cluster_players_are_sent_to_the_address_agones_gave() -> None:
    require_redis()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with RedisServer() as redis, AgonesStandIn() as standin:
        standin.game_port = port
        server = ServerProcess(
            "--redis",
            redis.url,
            "--public-url",
            "agones",
            "--agones",
            env={"AGONES_SDK_HTTP_PORT": str(standin.port)},
        )
        server.args[server.args.index("--port") + 1] = str(port)
        with server as s:
            assert s.port == port
            assert s.health()["cluster"]["url"] == f"ws://127.0.0.1:{port}/ws"
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("POST", "/matchmake/quick", body=b"{}")
            offer = json.loads(conn.getresponse().read())
            conn.close()
            assert offer["url"] == f"ws://127.0.0.1:{port}/ws"
            wait_for(lambda: standin.state == "Ready", 5, "Ready")
