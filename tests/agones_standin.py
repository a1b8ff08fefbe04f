"""A stand-in for the Agones SDK sidecar's REST API, on 127.0.0.1 and a free port.

The real sidecar (agones-sdk) runs beside the game server in a Kubernetes pod and cannot be
installed on the machines the tests run on. This follows its published REST API, as
googleforgames/agones describes it in sdks/swagger/sdk.swagger.json and beta.swagger.json:
POST /ready, /health, /shutdown, /allocate with the body {}; GET /gameserver; GET and PATCH
/v1beta1/counters/{name}, whose body sets `count` or `capacity` (int64, as JSON strings) or
changes the count by `countDiff`; a counter the GameServer does not declare is 404, a count
outside [0, capacity] is 400. It records every request, and the GameServer's state.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class AgonesStandIn:
    def __init__(self, counters: tuple[str, ...] = ("rooms", "players"), port: int = 0) -> None:
        """`counters`: those the GameServer declares; `port`: 0 for a free one."""
        self.requests: list[tuple[float, str, str, Any]] = []  # (monotonic time, method, path, body)
        self.state = "Scheduled"
        self.counters: dict[str, dict[str, int]] = {name: {"count": 0, "capacity": 1000} for name in counters}
        self.lock = threading.Lock()
        self.address = "127.0.0.1"  # the GameServer's status: where Agones says it is reached
        self.game_port = 7777
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    self._answer(400, {"error": "invalid JSON"})
                    return
                with standin.lock:
                    standin.requests.append((time.monotonic(), method, self.path, body))
                    status, answer = standin.handle(method, self.path, body)
                self._answer(status, answer)

            def do_POST(self) -> None:
                self._serve("POST")

            def do_PATCH(self) -> None:
                self._serve("PATCH")

            def do_GET(self) -> None:
                self._serve("GET")

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port: int = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def handle(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        lifecycle = {"/ready": "Ready", "/health": None, "/shutdown": "Shutdown", "/allocate": "Allocated"}
        if method == "POST" and path in lifecycle:
            if body != {}:
                return 400, {"error": "the body must be {}"}
            new_state = lifecycle[path]
            if new_state is not None and self.state != "Shutdown":
                self.state = new_state
            return 200, {}
        if method == "GET" and path == "/gameserver":
            status = {
                "state": self.state,
                "address": self.address,
                "ports": [{"name": "default", "port": self.game_port}],
            }
            return 200, {"object_meta": {"name": "standin"}, "status": status}
        if path.startswith("/v1beta1/counters/"):
            name = path.rsplit("/", 1)[1]
            counter = self.counters.get(name)
            if counter is None:
                return 404, {"error": f"counter not found: {name}"}
            if method == "PATCH":
                if not isinstance(body, dict) or not body or set(body) - {"count", "capacity", "countDiff"}:
                    return 400, {"error": "a CounterUpdateRequest sets count, capacity or countDiff"}
                try:
                    new = dict(counter)
                    if "capacity" in body:
                        new["capacity"] = int(body["capacity"])
                    if "count" in body:
                        new["count"] = int(body["count"])
                    if "countDiff" in body:
                        new["count"] += int(body["countDiff"])
                except (TypeError, ValueError):
                    return 400, {"error": "int64 values"}
                if not 0 <= new["count"] <= new["capacity"]:
                    return 400, {"error": "OUT_OF_RANGE: count outside [0, capacity]"}
                counter.update(new)
            elif method != "GET":
                return 405, {"error": "GET or PATCH"}
            return 200, {"name": name, "count": str(counter["count"]), "capacity": str(counter["capacity"])}
        return 404, {"error": f"no {method} {path}"}

    def calls(self, path: str) -> list[tuple[float, Any]]:
        with self.lock:
            return [(at, body) for at, method, p, body in self.requests if p == path]

    def __enter__(self) -> AgonesStandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
