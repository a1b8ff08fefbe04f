"""eventlet's WebSocket message buffer, capped over all fragments of a message.

Its own module, outside the compiled build (dev.py): a class derived from one of eventlet's must
stay a Python class, and mypyc cannot tell that eventlet's classes are Python classes.
"""

from __future__ import annotations

from typing import Any

from eventlet.websocket import FailedConnectionError, RFC6455WebSocket

from gameserver.codec import ErrorCode


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
