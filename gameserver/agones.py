"""The Agones adapter (--agones): this process as an Agones GameServer, through the SDK
sidecar's REST API (http://localhost:$AGONES_SDK_HTTP_PORT, docs/deploy.md, "Agones").

- Ready, once the server listens (and, with --redis, is listed in the directory); tried again
  at every beat until the sidecar takes it (it may start after the game server).
- Health at every beat (--agones-health seconds).
- The Counters `rooms` and `players` (Agones' Counts and Lists, /v1beta1): their capacity
  (--max-rooms, --max-players) once, their count whenever it changed since the last beat, so
  that an allocation can pack players into the servers that have room (high density). A
  counter the GameServer does not declare (404) is left alone after one warning.
- Shutdown once the server has stopped taking players and said goodbye (after the drain, see
  --drain-timeout), so that Agones removes the GameServer.

Pure: the runtime gives it the HTTP call (server.py: a green one) and calls beat() from a green
thread of its own, never the tick's. The real sidecar cannot run on the machines the tests run
on; tests/agones_standin.py follows its published REST API (sdks/swagger/sdk.swagger.json and
beta.swagger.json of googleforgames/agones).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_PORT = 9358  # the sidecar's REST port when AGONES_SDK_HTTP_PORT is not set
COUNTERS = ("rooms", "players")

# method, path, JSON body -> (HTTP status, decoded JSON answer or None); raises AgonesUnavailable
Call = Callable[[str, str, dict[str, Any]], tuple[int, Any]]


class AgonesUnavailable(Exception):
    """The sidecar did not answer."""


def public_url(call: Call) -> str | None:
    """ws://ADDRESS:PORT/ws from the GameServer's status (GET /gameserver: the node's address
    and the first port Agones gave it), or None before Agones has set them."""
    status, answer = call("GET", "/gameserver", {})
    state = answer.get("status") if status == 200 and isinstance(answer, dict) else None
    if not isinstance(state, dict):
        return None
    address, ports = state.get("address"), state.get("ports")
    if not address or not isinstance(ports, list) or not ports or not isinstance(ports[0], dict):
        return None
    port = ports[0].get("port")
    if not isinstance(port, int | str) or not str(port).isdigit():
        return None
    host = f"[{address}]" if ":" in str(address) else str(address)
    return f"ws://{host}:{port}/ws"


class AgonesAdapter:
    def __init__(self, call: Call, *, max_rooms: int, max_players: int) -> None:
        self.call = call
        self.capacity = {"rooms": max_rooms, "players": max_players}
        self.ready = False
        self.healthy_beats = 0
        self.counted: dict[str, int] = {}  # counter -> the count last taken by the sidecar
        self.capacity_set: set[str] = set()
        self.missing: set[str] = set()  # counters the GameServer does not declare
        self.shut_down = False

    def beat(self, rooms: int, players: int) -> None:
        """Ready until the sidecar takes it, then Health; the counters that changed. Raises
        AgonesUnavailable; the next beat tries again."""
        if not self.ready:
            status, _ = self.call("POST", "/ready", {})
            if status != 200:
                raise AgonesUnavailable(f"POST /ready answered {status}")
            self.ready = True
            log.info("agones: ready")
        else:
            status, _ = self.call("POST", "/health", {})
            if status != 200:
                raise AgonesUnavailable(f"POST /health answered {status}")
            self.healthy_beats += 1
        for name, count in zip(COUNTERS, (rooms, players), strict=True):
            if name in self.missing:
                continue
            if name not in self.capacity_set:
                if not self._counter(name, {"capacity": str(self.capacity[name])}):
                    continue
                self.capacity_set.add(name)
            if self.counted.get(name) != count and self._counter(name, {"count": str(count)}):
                self.counted[name] = count

    def _counter(self, name: str, update: dict[str, Any]) -> bool:
        status, _ = self.call("PATCH", f"/v1beta1/counters/{name}", update)
        if status == 404:
            log.warning("agones: the GameServer declares no counter %r; it is not kept", name)
            self.missing.add(name)
            return False
        if status != 200:
            raise AgonesUnavailable(f"PATCH /v1beta1/counters/{name} answered {status}")
        return True

    def shutdown(self) -> None:
        """The server has stopped: Agones may remove the GameServer."""
        if not self.shut_down:
            status, _ = self.call("POST", "/shutdown", {})
            if status != 200:
                raise AgonesUnavailable(f"POST /shutdown answered {status}")
            self.shut_down = True
            log.info("agones: shutdown")
