"""The web app: the HTTP routes (matchmaking, /rooms, /healthz, /metrics), the WebSocket
handshake's checks before eventlet upgrades /ws, and the demo's static files.

It depends on what it is given (WebApp's arguments), not on the server object: the server
builds it. Each HTTP request runs on one of eventlet's WSGI green threads; a WebSocket leaves
for the SocketLoop (transport.py) right after its handshake.
"""

from __future__ import annotations

import json
import mimetypes
import os
import time
import urllib.parse
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import eventlet.websocket
from eventlet.websocket import RFC6455WebSocket

from gameserver.cluster import ClusterMatchmaker, DirectoryUnavailable, Offer
from gameserver.config import Config
from gameserver.directory import Directory, MatchError
from gameserver.limits import PerAddress
from gameserver.transport import SocketLoop

StartResponse = Callable[..., Any]


class WebApp:
    """One WSGI callable: /ws, /healthz, /metrics, matchmaking and the demo's static files."""

    def __init__(
        self,
        config: Config,
        directory: Directory,
        sockets: SocketLoop,
        *,
        index_page: str,
        health: Callable[[], dict[str, Any]],
        exposition: Callable[[str], tuple[bytes, str]],
        address: Callable[[], tuple[str, int]],
        cluster: ClusterMatchmaker | None = None,
    ) -> None:
        """`index_page`: what "/" serves (the game's own page); `health`: the /healthz body;
        `exposition`: /metrics' body and content type for an Accept header; `address`: where
        the server listens (the matchmaking answer's url when the Host header is unusable);
        `cluster`: the matchmaking of a cluster of processes (--redis), else the directory's."""
        self.cluster = cluster
        self.config = config
        self.directory = directory
        self.sockets = sockets
        self.health = health
        self.exposition = exposition
        self.address = address
        self.allowed_origins = frozenset(o.rstrip("/").lower() for o in config.allowed_origins)
        # HTTP connections per client address (the handler counts them: server._LeanHttpProtocol)
        self.http_by_address = PerAddress(config.http_per_address, config.unlimited_addresses)
        self.static_roots = {
            "/assets/": Path(config.assets_dir).resolve(),
            "/": Path(config.static_dir).resolve(),
        }
        self.index_page = index_page
        ws_app = eventlet.websocket.WebSocketWSGI.configured(self._handle_ws, support_legacy_versions=False)
        self.ws_app = ws_app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == "/ws":
            return self._websocket(environ, start_response)
        if path.startswith("/matchmake/"):
            return self._matchmake(path[len("/matchmake/") :], method, environ, start_response)
        if path == "/rooms":
            return self._rooms(method, environ, start_response)
        if path == "/metrics":
            return self._metrics(method, environ, start_response)
        if method not in ("GET", "HEAD"):
            return _text(start_response, "405 Method Not Allowed", "GET only\n")
        if path == "/healthz":
            body = json.dumps(self.health(), sort_keys=True).encode()
            start_response(
                "200 OK",
                [
                    ("Content-Type", "application/json"),
                    ("Cache-Control", "no-store"),
                    ("Content-Length", str(len(body))),
                ],
            )
            return [body]
        return self._static(path, start_response, method == "HEAD")

    def _websocket(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        upgrade = environ.get("HTTP_UPGRADE", "").lower() == "websocket"
        sockets = self.sockets
        if upgrade and environ.get("HTTP_SEC_WEBSOCKET_VERSION", "").strip() != "13":
            # Legacy Hixie-75/76 handshakes (no version) and drafts (8 and others): eventlet
            # would speak them.
            sockets.count_refusal("handshake", 426, "unsupported_websocket_version")
            start_response(
                "426 Upgrade Required",
                [
                    ("Sec-WebSocket-Version", "13"),
                    ("Content-Type", "text/plain; charset=utf-8"),
                    ("Connection", "close"),
                ],
            )
            return [b"unsupported_websocket_version: only RFC 6455 WebSockets (version 13)\n"]
        if not upgrade:
            sockets.count_refusal("handshake", 400, "websocket_required")
            return _text(
                start_response,
                "400 Bad Request",
                "websocket_required: /ws speaks WebSocket protocol v1, see docs/protocol.md\n",
            )
        origin = environ.get("HTTP_ORIGIN")
        if origin is not None and not self._origin_allowed(origin, environ.get("HTTP_HOST", "")):
            # A page of another site must not open a WebSocket with its visitor's browser
            # (cross-site WebSocket hijacking): --allowed-origins says which may.
            sockets.count_refusal("handshake", 403, "origin_not_allowed")
            return _text(
                start_response,
                "403 Forbidden",
                f"origin_not_allowed: pages of {origin[:100]} may not connect (--allowed-origins)\n",
            )
        peer = environ.get("REMOTE_ADDR", "?")
        refusal = sockets.refusal(peer)
        if refusal is not None:
            sockets.count_refusal("handshake", 429, "too_many_connections")
            start_response(
                "429 Too Many Requests",
                [
                    ("Retry-After", "5"),
                    ("Content-Type", "text/plain; charset=utf-8"),
                    ("Connection", "close"),
                ],
            )
            return [f"too_many_connections: {refusal}\n".encode()]
        if len(sockets.conns) >= sockets.cap:
            # Refused before the upgrade: a WebSocket refused after it would hold a file until
            # its peer answered, and a flood of them could use up the open-file limit.
            sockets.count_refusal("handshake", 503, "server_full")
            start_response(
                "503 Service Unavailable",
                [
                    ("Retry-After", "5"),
                    ("Content-Type", "text/plain; charset=utf-8"),
                    ("Connection", "close"),
                ],
            )
            return [f"server_full: the server holds {sockets.cap} connections\n".encode()]
        if not self.config.permessage_deflate:
            environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
        result: Iterable[bytes] = self.ws_app(environ, start_response)
        return result

    def _origin_allowed(self, origin: str, host: str) -> bool:
        """The Origin is listed in --allowed-origins (or that is '*'); with none listed, it is
        this server's own: the Origin's host[:port] is the Host the browser asked."""
        allowed = self.allowed_origins
        if allowed:
            return "*" in allowed or origin.rstrip("/").lower() in allowed
        scheme, sep, rest = origin.partition("://")
        return bool(sep) and scheme in ("http", "https") and rest.lower() == host.lower()

    def _handle_ws(self, ws: RFC6455WebSocket) -> None:
        """Hand the socket to the SocketLoop and give this green thread back to the pool."""
        environ = ws.environ
        environ["gameserver.detach"]()
        self.sockets.adopt(ws, environ.get("REMOTE_ADDR", "?"))

    def _metrics(
        self, method: str, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        """The server's state and counters in Prometheus' exposition format (docs/metrics.md),
        read when asked: nothing is added to the tick or to any message's path for it."""
        if method not in ("GET", "HEAD"):
            return _json_error(start_response, 405, "method_not_allowed", "GET /metrics", allow="GET, HEAD")
        body, content_type = self.exposition(environ.get("HTTP_ACCEPT", ""))
        start_response(
            "200 OK",
            [
                ("Content-Type", content_type),
                ("Cache-Control", "no-store"),
                ("Content-Length", str(len(body))),
            ],
        )
        return [] if method == "HEAD" else [body]

    # --- matchmaking (docs/protocol.md, "Rooms") ------------------------------------------

    def _rooms(self, method: str, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if method == "OPTIONS":
            return _preflight(start_response, "GET, HEAD")
        if method not in ("GET", "HEAD"):
            return self._refused(start_response, 405, "method_not_allowed", "GET /rooms", allow="GET, HEAD")
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""), max_num_fields=8)
        wanted = query.get("map", [None])[0]
        directory = self.directory
        if wanted is not None and wanted not in directory.maps:
            return self._refused(start_response, 400, "unknown_map", f"no map {wanted[:40]!r}")
        if self.cluster is not None:
            try:
                rooms = self.cluster.listing(wanted)
            except DirectoryUnavailable as exc:
                return self._refused(start_response, 503, "directory_unavailable", str(exc), retry_after=1)
        else:
            rooms = directory.listing(wanted)
        body = {
            "rooms": rooms,
            "maps": sorted(directory.maps),
            "default_map": directory.default_map,
        }
        return _json(start_response, 200, body, head=method == "HEAD")

    def _matchmake(
        self, action: str, method: str, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        if action not in MATCHMAKE_KEYS:
            return self._refused(
                start_response, 404, "not_found", "POST /matchmake/quick, create, join or reconnect"
            )
        if method == "OPTIONS":
            return _preflight(start_response, "POST")
        if method != "POST":
            where = f"POST /matchmake/{action}"
            return self._refused(start_response, 405, "method_not_allowed", where, allow="POST")
        if action == "reconnect":
            return self._reconnect(environ, start_response)
        try:
            request = _read_request(environ, MATCHMAKE_KEYS[action])
            if action == "join" and "room" not in request:
                raise _BadRequest(400, "invalid_request", 'join needs a room id: {"room": ID}')
            offer = self._offer(action, request, environ)
        except _BadRequest as bad:
            return self._refused(start_response, bad.status, bad.code, bad.message, close=bad.status == 413)
        except MatchError as refused:
            return self._refused(
                start_response, refused.status, refused.code, refused.message, retry_after=refused.retry_after
            )
        except DirectoryUnavailable as exc:
            return self._refused(start_response, 503, "directory_unavailable", str(exc), retry_after=1)
        answer = {
            "room": offer.room_id,
            "map": offer.map_name,
            "private": offer.private,
            "seat": offer.seat,
            "expires_in": offer.expires_in,
            "url": offer.url,
            "players": offer.players,
            "max_players": offer.max_players,
        }
        return _json(start_response, 200, answer)

    def _offer(self, action: str, request: dict[str, Any], environ: dict[str, Any]) -> Offer:
        """The seat `action` reserves: in a cluster by its matchmaking, which may seat the player
        on any process (`url` is that process's); alone by the directory (`url` is this one's)."""
        address = environ.get("REMOTE_ADDR", "")
        cluster = self.cluster
        if cluster is not None:
            if action == "quick":
                return cluster.quick(request.get("map"), address)
            if action == "create":
                return cluster.create(request.get("map"), request.get("private", False), address)
            return cluster.join(request["room"], address)
        directory = self.directory
        now = time.monotonic()
        if action == "quick":
            seat = directory.quick(request.get("map"), now, address)
        elif action == "create":
            seat = directory.create(request.get("map"), request.get("private", False), now, address)
        else:
            seat = directory.reserve(request["room"], now, address)
        hosted = directory.rooms[seat.room_id]
        return Offer(
            room_id=seat.room_id,
            map_name=hosted.map_name,
            private=hosted.private,
            seat=seat.token,
            expires_in=directory.seat_ttl,
            url=f"ws://{self._host(environ)}/ws",
            players=len(hosted.room.members),
            max_players=hosted.room.max_players,
        )

    def _reconnect(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Where a session's player resumes: the url of the process that holds it."""
        try:
            request = _read_request(environ, MATCHMAKE_KEYS["reconnect"])
            if "session" not in request:
                raise _BadRequest(
                    400, "invalid_request", 'reconnect needs a session token: {"session": TOKEN}'
                )
            token = request["session"]
            if self.cluster is not None:
                url = self.cluster.reconnect(token)
            else:
                url = f"ws://{self._host(environ)}/ws" if self.directory.has_session(token) else None
        except _BadRequest as bad:
            return self._refused(start_response, bad.status, bad.code, bad.message, close=bad.status == 413)
        except DirectoryUnavailable as exc:
            return self._refused(start_response, 503, "directory_unavailable", str(exc), retry_after=1)
        if url is None:
            why = "no process holds this session (it expired, or its process is gone): join afresh"
            return self._refused(start_response, 401, "session_expired", why)
        return _json(start_response, 200, {"url": url})

    def _refused(
        self,
        start_response: StartResponse,
        status: int,
        code: str,
        message: str,
        *,
        allow: str = "",
        retry_after: int = 0,
        close: bool = False,
    ) -> list[bytes]:
        """A matchmaking error answer, counted for /metrics."""
        self.sockets.count_refusal("matchmaking", status, code)
        return _json_error(
            start_response, status, code, message, allow=allow, retry_after=retry_after, close=close
        )

    def _host(self, environ: dict[str, Any]) -> str:
        """Where the client reached us (the Host header), if it is a plain host[:port]."""
        host = environ.get("HTTP_HOST", "")
        if host and len(host) <= 255 and HOST_CHARS.issuperset(host):
            return str(host)
        addr, port = self.address()
        return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"

    def _static(self, path: str, start_response: StartResponse, head: bool) -> Iterable[bytes]:
        if len(path) > 1024 or "\0" in path or any(len(part) > 255 for part in path.split("/")):
            return _text(start_response, "404 Not Found", "not found\n")  # no file has such a name
        for prefix, root in self.static_roots.items():
            if path.startswith(prefix):
                rel = path[len(prefix) :] or (self.index_page if prefix == "/" else "index.html")
                target = Path(os.path.realpath(root / rel))
                if target.is_dir():
                    target = target / "index.html"
                if (
                    (target == root or root in target.parents)
                    and target.suffix in STATIC_SUFFIXES
                    and target.is_file()
                ):
                    return _file(start_response, target, head)
                break
        return _text(start_response, "404 Not Found", "not found\n")


# the kinds of file the demo page is made of: the page, its modules, styles, maps and tiles (not
# the Python beside them, nor the vendored library's notes)
STATIC_SUFFIXES = frozenset((".html", ".js", ".mjs", ".css", ".tmj", ".tsj", ".json", ".png", ".svg", ".ico"))
MAX_REQUEST_BYTES = 1024  # a matchmaking request's JSON body
# the keys each matchmaking request may have, and their types
MATCHMAKE_KEYS: dict[str, dict[str, type]] = {
    "quick": {"map": str},
    "create": {"map": str, "private": bool},
    "join": {"room": str},
    "reconnect": {"session": str},
}
MAX_KEY_CHARS = 64  # a map name or a room id
HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]")
HTTP_STATUS = {
    200: "200 OK",
    400: "400 Bad Request",
    401: "401 Unauthorized",
    403: "403 Forbidden",
    404: "404 Not Found",
    405: "405 Method Not Allowed",
    409: "409 Conflict",
    410: "410 Gone",
    413: "413 Content Too Large",
    429: "429 Too Many Requests",
    503: "503 Service Unavailable",
}


class _BadRequest(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _read_request(environ: dict[str, Any], keys: dict[str, type]) -> dict[str, Any]:
    """A matchmaking request's JSON object, each key known and of its type; raises _BadRequest."""
    length = environ.get("CONTENT_LENGTH") or ""
    if length:
        if not length.isdigit():
            raise _BadRequest(400, "invalid_request", "Content-Length is not a number")
        if int(length) > MAX_REQUEST_BYTES:
            raise _BadRequest(413, "request_too_big", f"the body is over {MAX_REQUEST_BYTES} bytes")
    stream = environ.get("wsgi.input")
    raw = stream.read(MAX_REQUEST_BYTES + 1) if stream is not None and (length or _chunked(environ)) else b""
    if len(raw) > MAX_REQUEST_BYTES:
        raise _BadRequest(413, "request_too_big", f"the body is over {MAX_REQUEST_BYTES} bytes")
    if not raw.strip():
        return {}
    try:
        request = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _BadRequest(400, "invalid_json", "the body is not UTF-8 JSON") from None
    if type(request) is not dict:
        raise _BadRequest(400, "invalid_json", "the body must be a JSON object")
    for key, value in request.items():
        kind = keys.get(key)
        if kind is None:
            known = ", ".join(keys)
            raise _BadRequest(400, "invalid_request", f"unknown key {key[:40]!r}; this request takes {known}")
        if type(value) is not kind:
            what = "a string" if kind is str else "a boolean"
            raise _BadRequest(400, "invalid_request", f"{key} must be {what}")
        if type(value) is str and not 1 <= len(value) <= MAX_KEY_CHARS:
            raise _BadRequest(400, "invalid_request", f"{key} must be 1..{MAX_KEY_CHARS} characters")
    return request


def _preflight(start_response: StartResponse, methods: str) -> list[bytes]:
    """The answer to a browser's CORS preflight (a cross-origin request with a JSON body)."""
    start_response(
        "204 No Content",
        [
            ("Access-Control-Allow-Origin", "*"),
            ("Access-Control-Allow-Methods", methods),
            ("Access-Control-Allow-Headers", "Content-Type"),
            ("Access-Control-Max-Age", "600"),
            ("Allow", methods),
            ("Content-Length", "0"),
        ],
    )
    return []


def _chunked(environ: dict[str, Any]) -> bool:
    return "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()


def _json(
    start_response: StartResponse,
    status: int,
    body: Any,
    head: bool = False,
    headers: dict[str, str] | None = None,
) -> list[bytes]:
    data = json.dumps(body, separators=(",", ":")).encode()
    start_response(
        HTTP_STATUS[status],
        [
            ("Content-Type", "application/json"),
            ("Cache-Control", "no-store"),
            ("Content-Length", str(len(data))),
            # Matchmaking is a public API: a page served from elsewhere (the demo's ?server=)
            # may read it; it carries no cookies or credentials.
            ("Access-Control-Allow-Origin", "*"),
            *(headers or {}).items(),
        ],
    )
    return [] if head else [data]


def _json_error(
    start_response: StartResponse,
    status: int,
    code: str,
    message: str,
    *,
    allow: str = "",
    retry_after: int = 0,
    close: bool = False,
) -> list[bytes]:
    headers: dict[str, str] = {}
    if allow:
        headers["Allow"] = allow
    if retry_after:
        headers["Retry-After"] = str(retry_after)
    if close:
        headers["Connection"] = "close"  # the body was not read: the connection cannot go on
    return _json(start_response, status, {"error": code, "message": message}, headers=headers)


def _text(start_response: StartResponse, status: str, text: str) -> list[bytes]:
    body = text.encode()
    start_response(
        status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
    )
    return [body]


def _file(start_response: StartResponse, target: Path, head: bool) -> list[bytes]:
    ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    if target.suffix in (".js", ".mjs"):
        ctype = "text/javascript"
    if ctype.startswith("text/") or ctype == "application/json":
        ctype += "; charset=utf-8"
    body = target.read_bytes()
    start_response(
        "200 OK", [("Content-Type", ctype), ("Content-Length", str(len(body))), ("Cache-Control", "no-cache")]
    )
    return [] if head else [body]
