"""The eventlet edge: the WSGI app (demo files, /ws, /healthz) and each connection's reader
and writer green threads.

Invariants:
- Only this module and gameserver.server import eventlet.
- Per connection, the reader (the WSGI green thread) decodes and hands messages to the room;
  it yields after every message that found more input waiting, so a flooding client cannot
  starve the process.
- After each tick the server's sender green thread writes each due snapshot with one
  non-blocking send (send_now). What a socket does not take goes to that connection's writer
  green thread, which sends it under `send_timeout`; past it the TCP socket is cut, since a
  frame may be half written (eventlet#332). eventlet's per-socket send lock orders the two.
- The size cap is per message, not per frame: eventlet's max_frame_length alone lets
  fragments add up without bound, so the message buffer enforces the total too.
- Every refusal carries a stable code: an error message, then a close frame whose code is the
  WebSocket close code and whose reason is the error code.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import os
import socket
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import eventlet
import eventlet.queue
import eventlet.websocket
from eventlet.websocket import FailedConnectionError, RFC6455WebSocket

from gameserver import codec
from gameserver.codec import MAX_CLIENT_MESSAGE_BYTES, ErrorCode, ProtocolError
from gameserver.messages import PROTOCOL_VERSION, Error, Hello
from gameserver.room import Member, RoomFull

if TYPE_CHECKING:
    from gameserver.server import GameServer

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]


def apply_mask(data: bytes, mask: tuple[int, ...], length: int | None = None, offset: int = 0) -> bytes:
    """XOR `data` with the 4-byte mask, starting `offset` bytes into it.

    eventlet's own version builds one bytes object per byte (about 28 us for a 100 B input);
    one big-integer XOR does the same work in a couple of microseconds.
    """
    if length is None:
        length = len(data)
    if length == 0:
        return b""
    key = bytes(mask[(offset + i) % 4] for i in range(4))
    reps = (key * (length // 4 + 1))[:length]
    return (int.from_bytes(data[:length], "big") ^ int.from_bytes(reps, "big")).to_bytes(length, "big")


class BufferedSocket:
    """The green socket under one WebSocket, read in one large recv instead of three per frame.

    eventlet's frame parser asks for 2 bytes, then the mask, then the payload: three system
    calls per 20-byte input. Reading whatever is there in one call and serving the parser from
    that buffer leaves one. `buffered` tells the reader that more input is already waiting.
    """

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._raw = sock.fd  # the non-blocking OS socket under the green one
        self._buf = b""
        self._pos = 0

    def recv(self, n: int) -> bytes:
        if self._pos >= len(self._buf):
            while True:
                try:
                    # Wait in the hub first: after a message, the next one is rarely there yet,
                    # so trying recv first would mostly cost a failed system call. Waiting
                    # always switches to the hub, so a flood cannot starve the others.
                    self._sock._read_trampoline()  # eventlet's own wait: timeouts, closes
                    data = self._raw.recv(65536)
                    break
                except BlockingIOError:
                    continue
                except OSError:
                    return b""
            if not data:
                return b""
            self._buf, self._pos = data, 0
        out = self._buf[self._pos : self._pos + n]
        self._pos += len(out)
        return out

    @property
    def buffered(self) -> int:
        return len(self._buf) - self._pos

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class CappedMessage(RFC6455WebSocket.Message):  # type: ignore[misc]
    """A message buffer that refuses to grow past max_frame_length in total, over all fragments."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.size = 0

    def push(self, data: bytes, final: bool = False) -> None:
        self.size += len(data)
        if self.size > self.max_frame_length:
            too_big = ErrorCode.MESSAGE_TOO_BIG
            raise FailedConnectionError(too_big.close_code, too_big.code)
        super().push(data, final)


def harden(ws: RFC6455WebSocket, max_message: int) -> None:
    """Per-message size cap, buffered reads, fast unmasking and no Nagle on one WebSocket."""
    ws.socket = BufferedSocket(ws.socket)
    ws.max_frame_length = max_message
    ws.Message = CappedMessage
    ws._apply_mask = apply_mask
    recv_frame = ws._recv_frame

    def recv_frame_with_stable_reason(message: Any = None) -> Any:
        try:
            return recv_frame(message=message)
        except FailedConnectionError as exc:
            if exc.status == ErrorCode.MESSAGE_TOO_BIG.close_code:  # eventlet's own frame check
                raise FailedConnectionError(exc.status, ErrorCode.MESSAGE_TOO_BIG.code) from None
            raise

    ws._recv_frame = recv_frame_with_stable_reason
    try:
        # Nagle's algorithm would hold a small snapshot back until the previous one is
        # acknowledged: up to a delayed-ACK timeout (40 ms or more) on a real network.
        ws.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        pass
    # eventlet closes the socket right after its close frame when it fails a connection; a peer
    # still sending then gets a reset and can lose the frame. Keep the socket open to drain.
    ws.close = lambda close_data=None: send_close(ws, *(close_data or (1000, "")))


def send_close(ws: RFC6455WebSocket, code: int, reason: str) -> None:
    """Send the close frame and stop sending; the socket stays open to read the peer's answer.

    Closing the socket at once would answer the peer's unread data with a TCP reset, which can
    make the peer lose our close frame and its code.
    """
    ws._send_closing_frame(close_data=(code, reason), ignore_send_errors=True)
    try:
        ws.socket.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def hard_close(ws: RFC6455WebSocket) -> None:
    """Cut the TCP connection without a close frame (the socket may hold half a frame)."""
    ws.websocket_closed = True
    try:
        ws.socket.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        ws.socket.close()
    except OSError:
        pass


class Connection:
    """One player's socket: a reader (the calling green thread) and a writer green thread."""

    def __init__(self, server: GameServer, ws: RFC6455WebSocket) -> None:
        self.server = server
        self.ws = ws
        self.member: Member | None = None
        self.wake: eventlet.queue.LightQueue = eventlet.queue.LightQueue(maxsize=1)
        self.writer: Any = None
        # Bytes the sender could not write without waiting; while set, this connection's
        # send lock is held on the writer's behalf and only the writer may send.
        self.remainder: bytes | None = None
        self.peer = ws.environ.get("REMOTE_ADDR", "?")

    # --- reader ----------------------------------------------------------------------

    def run(self) -> None:
        cfg = self.server.config
        harden(self.ws, MAX_CLIENT_MESSAGE_BYTES)
        try:
            hello = self._read_hello(cfg.hello_timeout)
            if hello is None:
                return
            try:
                self.member = self.server.room.join(hello.name)
            except RoomFull as exc:
                self._refuse(ErrorCode.SERVER_FULL, str(exc))
                return
            self.server.connections[self.member.entity_id] = self
            log.info("%s joined as entity %d (%s)", self.peer, self.member.entity_id, hello.name)
            self.writer = eventlet.spawn(self._write)
            self.notify()
            self._read_loop()
        finally:
            self._finish()

    def _read_hello(self, timeout: float) -> Hello | None:
        data = None
        with eventlet.Timeout(timeout, False):
            data = self._wait()
            if data is None:
                return None
        if data is None:
            self._refuse(ErrorCode.HELLO_TIMEOUT, f"no hello within {timeout:g} s")
            return None
        try:
            msg = codec.decode_client(data)
        except ProtocolError as exc:
            self._refuse(exc.error, exc.detail)
            return None
        if not isinstance(msg, Hello):
            self._refuse(ErrorCode.HELLO_REQUIRED, "the first message must be hello")
            return None
        if msg.version != PROTOCOL_VERSION:
            self._refuse(
                ErrorCode.UNSUPPORTED_VERSION,
                f"this server speaks protocol {PROTOCOL_VERSION}, not {msg.version}",
            )
            return None
        return msg

    def _read_loop(self) -> None:
        assert self.member is not None
        room = self.server.room
        member = self.member
        sock: BufferedSocket = self.ws.socket
        while True:
            data = self._wait()
            if data is None:
                return  # the peer closed, or the writer cut the connection
            if member.closing:
                eventlet.sleep(0)
                continue  # drain until the peer answers our close frame (bounded by the writer)
            try:
                msg = codec.decode_client(data)
                if isinstance(msg, Hello):
                    raise ProtocolError(ErrorCode.UNEXPECTED_HELLO, "hello was already received")
                room.receive(member, msg)
            except ProtocolError as exc:
                log.info("%s entity %d: %s", self.peer, member.entity_id, exc)
                member.request_close(exc.error, exc.detail)
            if member.control:
                self.notify()
            if sock.buffered:
                # More was already waiting: yield, so a flood cannot starve the tick and the
                # others. Every read from the socket waits in the hub, which yields too.
                eventlet.sleep(0)

    def _wait(self) -> bytes | str | None:
        """The next message, or None when the connection is gone."""
        try:
            data: bytes | str | None = self.ws.wait()
        except Exception as exc:  # eventlet raises on bad UTF-8 / deflate after closing
            log.debug("%s: receive failed: %r", self.peer, exc)
            return None
        return data

    def _refuse(self, error: ErrorCode, detail: str) -> None:
        """Before join: the error message and the close frame, sent from this green thread."""
        log.info("%s refused: %s: %s", self.peer, error.code, detail)
        timeout = self.server.config.send_timeout
        try:
            with eventlet.Timeout(timeout):
                self.ws.send(codec.encode_server(Error(error.code, detail)))
                send_close(self.ws, error.close_code, error.code)
        except (eventlet.Timeout, OSError):
            pass
        self._drain(timeout)
        hard_close(self.ws)

    def _drain(self, timeout: float) -> None:
        """Read and drop what the peer still sends until it closes, for at most `timeout`."""
        with eventlet.Timeout(timeout, False):
            try:
                while self.ws.socket.recv(65536):
                    eventlet.sleep(0)
            except OSError:
                pass

    def _finish(self) -> None:
        member = self.member
        if member is None:
            return
        if self.writer is not None:
            self.writer.kill()
        if member.close_request is None:
            member.close_request = (1000, "peer_closed")
        reason = member.close_request[1]
        self._drain(self.server.config.send_timeout)
        hard_close(self.ws)
        self.server.room.leave(member)
        self.server.connections.pop(member.entity_id, None)
        log.info("%s entity %d left (%s)", self.peer, member.entity_id, reason)

    # --- writer ----------------------------------------------------------------------

    def notify(self) -> None:
        """Wake the writer; called by the tick and the reader, never blocks."""
        try:
            self.wake.put_nowait(None)
        except eventlet.queue.Full:
            pass

    def send_now(self) -> None:
        """Write what is due as far as the socket takes it without waiting.

        Called by the server's sender green thread after each tick, for every connection that
        has something new: with a socket that keeps up (nearly always) one non-blocking send
        does it, with no wake-up and no switch to this connection's writer. Whatever the socket
        does not take, and anything while the writer is busy or closing, is the writer's job.
        """
        member = self.member
        ws = self.ws
        if member is None or member.close_request is not None or self.remainder is not None:
            self.notify()
            return
        lock = ws._sendlock
        if not lock.acquire(blocking=False):  # the writer (or a pong) is mid-frame
            self.notify()
            return
        out = member.take_outgoing()
        if not out:
            lock.release()
            return
        data = b"".join([ws._pack_message(d) for d in out])  # eventlet's framing
        try:
            sent = ws.socket.fd.send(data)
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            lock.release()
            log.debug("%s: send failed: %r", self.peer, exc)
            hard_close(ws)
            return
        self.server.bytes_out += sent
        if sent == len(data):
            lock.release()
        else:
            self.remainder = data[sent:]  # the lock passes to the writer with the remainder
            self.notify()

    def _write(self) -> None:
        assert self.member is not None
        member = self.member
        ws = self.ws
        timeout = self.server.config.send_timeout
        try:
            while True:
                self.wake.get()
                if self.remainder is not None:
                    with eventlet.Timeout(timeout):
                        ws.socket.sendall(self.remainder)
                    self.server.bytes_out += len(self.remainder)
                    self.remainder = None
                    ws._sendlock.release()
                for data in member.take_outgoing():
                    with eventlet.Timeout(timeout):
                        ws.send(data)
                    self.server.bytes_out += len(data)
                if member.close_request is not None:
                    with eventlet.Timeout(timeout):
                        send_close(ws, *member.close_request)
                    # The reader drains until the peer answers; a peer that never does is cut.
                    eventlet.sleep(timeout)
                    hard_close(ws)
                    return
        except eventlet.Timeout:
            log.info("%s: send blocked for %.1f s; cutting the connection", self.peer, timeout)
            member.request_close(ErrorCode.TOO_SLOW, "send timed out")
            hard_close(ws)
        except OSError as exc:
            log.debug("%s: send failed: %r", self.peer, exc)
            hard_close(ws)


# --- HTTP --------------------------------------------------------------------------------


class WebApp:
    """One WSGI callable: /ws, /healthz, and the demo's static files."""

    def __init__(self, server: GameServer) -> None:
        self.server = server
        self.static_roots = {
            "/assets/": Path(server.config.assets_dir).resolve(),
            "/": Path(server.config.static_dir).resolve(),
        }
        ws_app = eventlet.websocket.WebSocketWSGI.configured(self._handle_ws, support_legacy_versions=False)
        ws_app.max_frame_length = MAX_CLIENT_MESSAGE_BYTES  # configured() can't set it (eventlet#728)
        self.ws_app = ws_app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == "/ws":
            return self._websocket(environ, start_response)
        if method not in ("GET", "HEAD"):
            return _text(start_response, "405 Method Not Allowed", "GET only\n")
        if path == "/healthz":
            body = json.dumps(self.server.health(), sort_keys=True).encode()
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
        if upgrade and "HTTP_SEC_WEBSOCKET_VERSION" not in environ:
            # Legacy Hixie-75/76 handshakes: eventlet would speak them by default.
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
            return _text(
                start_response,
                "400 Bad Request",
                "websocket_required: /ws speaks WebSocket protocol v1, see docs/protocol.md\n",
            )
        if not self.server.config.permessage_deflate:
            environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
        result: Iterable[bytes] = self.ws_app(environ, start_response)
        return result

    def _handle_ws(self, ws: RFC6455WebSocket) -> None:
        Connection(self.server, ws).run()

    def _static(self, path: str, start_response: StartResponse, head: bool) -> Iterable[bytes]:
        for prefix, root in self.static_roots.items():
            if path.startswith(prefix):
                rel = path[len(prefix) :] or "index.html"
                target = Path(os.path.realpath(root / rel))
                if target.is_dir():
                    target = target / "index.html"
                if (target == root or root in target.parents) and target.is_file():
                    return _file(start_response, target, head)
                break
        return _text(start_response, "404 Not Found", "not found\n")


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
