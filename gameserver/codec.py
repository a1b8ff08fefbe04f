"""Bytes <-> messages for protocol v1: the one Python definition of the wire format.

Invariants:
- One WebSocket binary message is one msgpack array whose first element is a MsgType.
- decode_client() and decode_server() raise ProtocolError and nothing else, whatever the
  bytes: msgpack's own errors, wrong types, out-of-range numbers, NaN, bools posing as ints
  and ext types all end up as a ProtocolError with a stable code and a WebSocket close code.
- Decoding is bounded: msgpack's length limits are set small, so a few bytes cannot expand
  into megabytes, and nothing here loops over more elements than the limits allow.
"""

from __future__ import annotations

import collections
import enum
import functools
import math
import sys
import unicodedata
import zlib
from collections.abc import Callable
from typing import Any

import msgpack

from gameserver.messages import (
    PROTOCOL_VERSION,
    Ack,
    Change,
    ClientMessage,
    Error,
    Follow,
    Following,
    Goodbye,
    Hello,
    Input,
    MsgType,
    Ping,
    Pong,
    Resync,
    Scoreboard,
    ScoreLine,
    ServerMessage,
    Shot,
    Snapshot,
    Spawn,
    Welcome,
)

# Limits of what a client may send (docs/protocol.md, "Limits").
MAX_CLIENT_MESSAGE_BYTES = 512
MAX_NAME_CHARS = 24
MAX_TOKEN_CHARS = 64
MAX_ROOM_CHARS = 32
MAX_SEQ = 2**32 - 1
MAX_TICK = 2**31 - 1
MAX_AIM = 2 * math.pi
MAX_BUTTONS = 255
CHECKSUM_MAX = 2**32 - 1  # a snapshot's checksum is a sum modulo 2**32
# letters and symbols that draw nothing (Hangul fillers, the blank Braille pattern): a name made
# of them, or of combining marks alone, would show as nobody
BLANK_LOOKING = frozenset("\u115f\u1160\u3164\uffa0\u2800")
MAX_FLOAT = sys.float_info.max  # the largest finite float64

_CLIENT_LIMITS: dict[str, int] = dict(
    max_str_len=MAX_TOKEN_CHARS * 4,
    max_bin_len=0,
    max_array_len=16,
    max_map_len=0,
    max_ext_len=0,
)
# What a server may send to our bots and tests; snapshots of large rooms are long arrays.
_SERVER_LIMITS: dict[str, int] = dict(
    max_str_len=4096,
    max_bin_len=0,
    max_array_len=1 << 22,
    max_map_len=64,
    max_ext_len=0,
)


class Close(enum.IntEnum):
    """WebSocket close codes used by the server (RFC 6455, section 7.4.1)."""

    NORMAL = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    UNSUPPORTED_DATA = 1003
    INVALID_DATA = 1007
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    INTERNAL_ERROR = 1011
    TRY_AGAIN_LATER = 1013
    # Application codes (RFC 6455 leaves 4000-4999 to applications): 4000 + the HTTP status
    # matchmaking answers for the same fault.
    SESSION_REPLACED = 4001
    SESSION_EXPIRED = 4401
    MISDIRECTED = 4421  # HTTP 421 Misdirected Request: another process holds it
    SEAT_REFUSED = 4403
    ROOM_NOT_FOUND = 4404
    ROOM_FULL = 4409
    ROOM_GONE = 4410


class ErrorCode(enum.Enum):
    """Stable error codes; the value is (wire code, close code)."""

    HELLO_REQUIRED = ("hello_required", Close.PROTOCOL_ERROR)
    UNEXPECTED_HELLO = ("unexpected_hello", Close.PROTOCOL_ERROR)
    UNSUPPORTED_VERSION = ("unsupported_version", Close.PROTOCOL_ERROR)
    TEXT_FRAME = ("text_frame", Close.UNSUPPORTED_DATA)
    UNKNOWN_TYPE = ("unknown_type", Close.UNSUPPORTED_DATA)
    INVALID_MSGPACK = ("invalid_msgpack", Close.INVALID_DATA)
    INVALID_MESSAGE = ("invalid_message", Close.INVALID_DATA)
    MESSAGE_TOO_BIG = ("message_too_big", Close.MESSAGE_TOO_BIG)
    RATE_LIMITED = ("rate_limited", Close.POLICY_VIOLATION)
    TOO_SLOW = ("too_slow", Close.POLICY_VIOLATION)
    HELLO_TIMEOUT = ("hello_timeout", Close.POLICY_VIOLATION)
    SERVER_FULL = ("server_full", Close.TRY_AGAIN_LATER)
    SERVER_SHUTDOWN = ("server_shutdown", Close.GOING_AWAY)
    INTERNAL_ERROR = ("internal_error", Close.INTERNAL_ERROR)
    ROOM_NOT_FOUND = ("room_not_found", Close.ROOM_NOT_FOUND)
    ROOM_FULL = ("room_full", Close.ROOM_FULL)
    ROOM_DISPOSED = ("room_disposed", Close.ROOM_GONE)
    INVALID_SEAT = ("invalid_seat", Close.SEAT_REFUSED)
    SESSION_EXPIRED = ("session_expired", Close.SESSION_EXPIRED)
    SESSION_REPLACED = ("session_replaced", Close.SESSION_REPLACED)
    WRONG_PROCESS = ("wrong_process", Close.MISDIRECTED)
    SPECTATOR_INPUT = ("spectator_input", Close.POLICY_VIOLATION)
    TOO_MANY_CONNECTIONS = ("too_many_connections", Close.TRY_AGAIN_LATER)

    @property
    def code(self) -> str:
        return self.value[0]

    @property
    def close_code(self) -> int:
        return int(self.value[1])


class ProtocolError(Exception):
    """The peer broke the protocol: report `error.code` and close with `error.close_code`."""

    def __init__(self, error: ErrorCode, detail: str) -> None:
        super().__init__(f"{error.code}: {detail}")
        self.error = error
        self.detail = detail


def _invalid(detail: str) -> ProtocolError:
    return ProtocolError(ErrorCode.INVALID_MESSAGE, detail)


# --- field checks: each returns the value or raises ProtocolError --------------------------


def _int(value: Any, name: str, lo: int, hi: int) -> int:
    if type(value) is not int:  # bool is an int subclass; msgpack true is not a number
        raise _invalid(f"{name} must be an integer")
    if not lo <= value <= hi:
        raise _invalid(f"{name} must be in {lo}..{hi}")
    return value


def _opt_int(value: Any, name: str, lo: int, hi: int) -> int | None:
    return None if value is None else _int(value, name, lo, hi)


def _float(value: Any, name: str, lo: float, hi: float) -> float:
    if type(value) is int:
        value = float(value)
    elif type(value) is not float:
        raise _invalid(f"{name} must be a number")
    number: float = value
    if not lo <= number <= hi:  # also false for NaN
        raise _invalid(f"{name} must be a finite number in {lo:g}..{hi:g}")
    return number


def _finite(value: Any, name: str) -> float:
    """A number with no range of its own: any finite value (a PING's client_time)."""
    if type(value) is int:
        value = float(value)  # msgpack's ints (at most 2**64 - 1) are all within float64's range
    elif type(value) is not float:
        raise _invalid(f"{name} must be a number")
    number: float = value
    if not -MAX_FLOAT <= number <= MAX_FLOAT:  # false for NaN and the infinities
        raise _invalid(f"{name} must be a finite number")
    return number


def _str(value: Any, name: str, lo: int, hi: int) -> str:
    if type(value) is not str:
        raise _invalid(f"{name} must be a string")
    if not lo <= len(value) <= hi:
        raise _invalid(f"{name} must have {lo}..{hi} characters")
    return value


def _opt_str(value: Any, name: str, hi: int) -> str | None:
    return None if value is None else _str(value, name, 1, hi)


def _name(value: Any) -> str:
    name = _str(value, "name", 1, MAX_NAME_CHARS)
    if not name.isprintable() or name.strip() != name:
        raise _invalid("name must be printable, without leading or trailing spaces")
    if not any(unicodedata.category(c)[0] in "LNPS" and c not in BLANK_LOOKING for c in name):
        raise _invalid("name must have a letter, digit, punctuation or symbol that shows")
    return name


def _list(value: Any, name: str) -> list[Any]:
    if type(value) is not list:
        raise _invalid(f"{name} must be an array")
    return value


def _unpack(data: bytes | str, limits: dict[str, int]) -> list[Any]:
    if type(data) is not bytes:
        raise ProtocolError(ErrorCode.TEXT_FRAME, "binary frames only")
    try:
        value = msgpack.unpackb(data, strict_map_key=True, raw=False, **limits)
    except Exception as exc:  # msgpack raises ValueError subclasses, TypeError and others
        raise ProtocolError(
            ErrorCode.INVALID_MSGPACK, f"not one valid msgpack value ({type(exc).__name__})"
        ) from None
    if type(value) is not list or not value:
        raise _invalid("a message is a non-empty array")
    if type(value[0]) is not int:
        raise _invalid("the first element must be the message type")
    return value


def _has_map_bin_or_ext(value: Any) -> bool:
    """Whether a decoded value holds a map, a bin or an ext anywhere. The client's limits allow
    none, but msgpack's length limits only refuse those with contents: an empty map, bin or ext
    decodes as {}, b"" or ExtType(code, b""). Bounded: a value holds at most one object per
    byte of its message."""
    stack = [value]
    while stack:
        v = stack.pop()
        t = type(v)
        if t is list:
            stack.extend(v)
        elif t is dict or t is bytes or t is msgpack.ExtType:
            return True
    return False


def _unpack_client(data: bytes | str) -> list[Any]:
    """_unpack() with the client's limits, under which a map, a bin or an ext, even empty, is
    invalid_msgpack before anything else is said of the message."""
    try:
        return _unpack(data, _CLIENT_LIMITS)
    except ProtocolError as refused:
        if refused.error is ErrorCode.INVALID_MESSAGE and type(data) is bytes:
            # Not an array with its type first: decoded again (an error path), to tell an
            # empty map, bin or ext (a value outside the limits) from a wrong shape.
            if _has_map_bin_or_ext(msgpack.unpackb(data, strict_map_key=True, raw=False, **_CLIENT_LIMITS)):
                raise _no_map_bin_or_ext() from None
        raise


def _no_map_bin_or_ext() -> ProtocolError:
    return ProtocolError(ErrorCode.INVALID_MSGPACK, "a client message holds no map, bin or ext")


def _arity(fields: list[Any], n: int, what: str) -> None:
    if len(fields) != n:
        raise _invalid(f"{what} has {n - 1} fields, got {len(fields) - 1}")


def _at_least(fields: list[Any], n: int, what: str) -> None:
    """A server message may have fields past those this version knows: they are ignored."""
    if len(fields) < n:
        raise _invalid(f"{what} has at least {n - 1} fields, got {len(fields) - 1}")


def _schema(value: Any) -> dict[str, Any] | None:
    """WELCOME's schema: a map (gameserver.schema.Schema.from_wire() reads it), or nil."""
    if value is not None and type(value) is not dict:
        raise _invalid("schema must be a map")
    return value


# --- client -> server ----------------------------------------------------------------------


# Every INPUT starts with one of these bytes (a msgpack array of 7 or 8 fields), then INPUT_TYPE.
INPUT_ARRAY_HEADS = (0x97, 0x98)
INPUT_TYPE = int(MsgType.INPUT)
ACK_TYPE = int(MsgType.ACK)

# The inline check below needs no limits of its own: unpackb bounds every length by the input's
# (at most MAX_CLIENT_MESSAGE_BYTES), and whatever is not a well-formed input is decoded again,
# with _CLIENT_LIMITS, by _decode_client. (Passing the limits costs time on every input, and so
# does a functools.partial; arrays come as tuples, which unpack without a slice.)
_unpackb = msgpack.unpackb
_MIN_AIM = -MAX_AIM  # a name, not a negation every input
_new_input = functools.partial(tuple.__new__, Input)  # Input(...) without its Python __new__
_new_change = functools.partial(tuple.__new__, Change)  # the same for Change
RESYNC = Resync()  # it has no fields: one value serves every client


def decode_client(data: bytes | str) -> ClientMessage:
    """Decode one message from a client. Raises ProtocolError only."""
    if type(data) is bytes and len(data) <= MAX_CLIENT_MESSAGE_BYTES:
        # The message every player sends every tick, checked inline when every field has
        # its usual type; anything else takes _decode_client(), which names the fault.
        try:
            v = _unpackb(data, use_list=False)  # strict_map_key=True and raw=False: the defaults
        except Exception:
            v = None
        if type(v) is tuple:
            if len(v) == 7:
                kind, seq, mx, my, aim, buttons, ack = v
                render = None
            elif len(v) == 8:
                kind, seq, mx, my, aim, buttons, ack, render = v
            elif len(v) == 2 and v[0] == ACK_TYPE and type(v[1]) is int and 0 <= v[1] <= MAX_TICK:
                return Ack(v[1])  # a spectator's, every snapshot: as cheap as an input
            else:
                kind = None
            if (
                kind == INPUT_TYPE
                and type(seq) is int
                and 0 <= seq <= MAX_SEQ
                and type(mx) is float
                and -1.0 <= mx <= 1.0
                and type(my) is float
                and -1.0 <= my <= 1.0
                and type(aim) is float
                and _MIN_AIM <= aim <= MAX_AIM
                and type(buttons) is int
                and 0 <= buttons <= MAX_BUTTONS
                and (ack is None or (type(ack) is int and 0 <= ack <= MAX_TICK))
                and (render is None or (type(render) is int and 0 <= render <= MAX_TICK))
            ):
                return _new_input((seq, mx, my, aim, buttons, ack, render))
    return _decode_client(data)


def _decode_client(data: bytes | str, inputs: InputCodec | None = None) -> ClientMessage:
    if len(data) > MAX_CLIENT_MESSAGE_BYTES:
        raise ProtocolError(ErrorCode.MESSAGE_TOO_BIG, f"over {MAX_CLIENT_MESSAGE_BYTES} bytes")
    v = _unpack_client(data)
    try:
        return _client_message(v, inputs)
    except ProtocolError:
        # A message that holds a map, a bin or an ext never decodes (every field's type is
        # checked and every arity is exact), so this is looked for only once it is refused,
        # and the messages that decode pay nothing for it.
        if _has_map_bin_or_ext(v):
            raise _no_map_bin_or_ext() from None
        raise


def decode_hello(data: bytes | str) -> Hello:
    """Decode the first message of a connection, which must be a HELLO. Raises ProtocolError only.

    Bytes that are not a message get the codes decode_client() gives them; a message of any
    other type, known or not, whatever its fields, is hello_required.
    """
    if len(data) > MAX_CLIENT_MESSAGE_BYTES:
        raise ProtocolError(ErrorCode.MESSAGE_TOO_BIG, f"over {MAX_CLIENT_MESSAGE_BYTES} bytes")
    v = _unpack_client(data)
    if _has_map_bin_or_ext(v):  # once a connection: checked before the type, as it is after
        raise _no_map_bin_or_ext()
    if v[0] != MsgType.HELLO:
        raise ProtocolError(ErrorCode.HELLO_REQUIRED, "the first message must be hello")
    return _hello(v)


def _client_message(v: list[Any], inputs: InputCodec | None = None) -> ClientMessage:
    """A client message from its decoded array, every field checked; raises ProtocolError.
    An INPUT is read by `inputs` (a game's own input fields), by default the standard ones."""
    kind = v[0]
    if kind == MsgType.INPUT:
        return input_fields(v) if inputs is None else inputs.read(v)
    if kind == MsgType.PING:
        _arity(v, 2, "ping")
        return Ping(client_time=_finite(v[1], "client_time"))
    if kind == MsgType.ACK:
        _arity(v, 2, "ack")
        return Ack(tick=_int(v[1], "ack_tick", 0, MAX_TICK))
    if kind == MsgType.RESYNC:
        _arity(v, 1, "resync")
        return RESYNC
    if kind == MsgType.FOLLOW:
        _arity(v, 2, "follow")
        return Follow(entity_id=_opt_int(v[1], "entity_id", 1, MAX_SEQ))
    if kind == MsgType.HELLO:
        return _hello(v)
    raise ProtocolError(ErrorCode.UNKNOWN_TYPE, f"unknown client message type {kind}")


def _hello(v: list[Any]) -> Hello:
    if len(v) not in (6, 7):
        _arity(v, 5, "hello")  # seat and spectate, the 6th and 7th fields, may be left out
    spectate = v[6] if len(v) == 7 else False
    if type(spectate) is not bool:
        raise _invalid("spectate must be true or false")
    hello = Hello(
        version=_int(v[1], "version", 0, 2**16),
        name=_name(v[2]),
        session_token=_opt_str(v[3], "session_token", MAX_TOKEN_CHARS),
        room=_opt_str(v[4], "room", MAX_ROOM_CHARS),
        seat=_opt_str(v[5], "seat", MAX_TOKEN_CHARS) if len(v) >= 6 else None,
        spectate=spectate,
    )
    if spectate and (hello.session_token is not None or hello.seat is not None):
        raise _invalid("a spectator has no session token and no seat")
    return hello


def input_fields(v: list[Any]) -> Input:
    """An input from its decoded array, every field checked; raises ProtocolError."""
    if len(v) != 8:
        _arity(v, 7, "input")  # render_tick, the 8th field, may be left out
    return Input(
        seq=_int(v[1], "seq", 0, MAX_SEQ),
        move_x=_float(v[2], "move_x", -1.0, 1.0),
        move_y=_float(v[3], "move_y", -1.0, 1.0),
        aim=_float(v[4], "aim", -MAX_AIM, MAX_AIM),
        buttons=_int(v[5], "buttons", 0, MAX_BUTTONS),
        ack_tick=_opt_int(v[6], "ack_tick", 0, MAX_TICK),
        render_tick=_opt_int(v[7], "render_tick", 0, MAX_TICK) if len(v) == 8 else None,
    )


# --- a game's own input fields -------------------------------------------------------------

# The input fields of the arena, which most games share (gameserver.schema.MOVE_AIM_BUTTONS):
# name, type, min, max. A game that declares exactly these is decoded by decode_client(), above,
# into an Input; any other declaration gets an InputCodec generated for it (input_codec()).
STANDARD_INPUTS: tuple[tuple[str, str, float, float], ...] = (
    ("move_x", "float", -1.0, 1.0),
    ("move_y", "float", -1.0, 1.0),
    ("aim", "float", -MAX_AIM, MAX_AIM),
    ("buttons", "flags", 0, MAX_BUTTONS),
)
# An INPUT is [2, seq, *fields, ack_tick] or [..., render_tick]: a fixarray (at most 15 items)
MAX_INPUT_FIELDS = 10
_INPUT_NAMES = ("seq", "ack_tick", "render_tick")  # taken by the message itself


class InputCodec:
    """A game's INPUT, from its declared fields (name, type, min, max; type "float", "int" or
    "flags"): `type` is the named tuple the game's step() receives (seq, the fields in
    declaration order, ack_tick, render_tick), `decode_client` decodes any client message as
    decode_client() does with these input fields, `read` checks an INPUT's decoded array and
    `encode` writes one. Floats accept integers (as floats); ints and flags take integers only;
    every value must lie in its field's min..max.
    """

    def __init__(self, fields: Any) -> None:
        self.fields: tuple[tuple[str, str, float, float], ...] = tuple(
            (f.name, f.type, float(f.min), float(f.max)) for f in fields
        )
        if len(self.fields) > MAX_INPUT_FIELDS:
            raise ValueError(f"at most {MAX_INPUT_FIELDS} input fields")
        for name, _, _, _ in self.fields:
            if name in _INPUT_NAMES or name.startswith("_"):
                raise ValueError(f"input field {name!r}: the name is the message's own")
        self.standard = self.fields == tuple((n, t, float(lo), float(hi)) for n, t, lo, hi in STANDARD_INPUTS)
        if self.standard:
            self.type: type[Any] = Input
            self.decode_client: Callable[[bytes | str], ClientMessage] = decode_client
            self.source = ""
            return
        names = [name for name, _, _, _ in self.fields]
        self.type = collections.namedtuple(  # type: ignore[misc]
            "Input", ["seq", *names, "ack_tick", "render_tick"], defaults=(None,)
        )
        self.source = self._generate()
        namespace: dict[str, Any] = {
            "_unpackb": _unpackb,
            "_slow": _decode_client,
            "_new": functools.partial(tuple.__new__, self.type),
            "codec": self,
            "Ack": Ack,
            "INPUT_TYPE": INPUT_TYPE,
            "ACK_TYPE": ACK_TYPE,
            "MAX_CLIENT_MESSAGE_BYTES": MAX_CLIENT_MESSAGE_BYTES,
            "MAX_SEQ": MAX_SEQ,
            "MAX_TICK": MAX_TICK,
        }
        exec(compile(self.source, f"<inputs {', '.join(names)}>", "exec"), namespace)
        self.decode_client = namespace["decode_client"]

    def _generate(self) -> str:
        """decode_client() of these fields: the same inline check of the common case, with each
        field's type and range written in, and the same slow path that names the fault."""
        n = len(self.fields)
        values = [f"f{i}" for i in range(n)]
        head = ", ".join(["kind", "seq", *values, "ack"])
        checks = ["kind == INPUT_TYPE", "type(seq) is int", "0 <= seq <= MAX_SEQ"]
        for value, (_, kind, lo, hi) in zip(values, self.fields, strict=True):
            if kind == "float":
                checks.append(f"type({value}) is float and {lo!r} <= {value} <= {hi!r}")
            else:
                checks.append(f"type({value}) is int and {int(lo)} <= {value} <= {int(hi)}")
        checks.append("(ack is None or (type(ack) is int and 0 <= ack <= MAX_TICK))")
        checks.append("(render is None or (type(render) is int and 0 <= render <= MAX_TICK))")
        condition = "\n                and ".join(checks)
        fields = ", ".join(["seq", *values, "ack", "render"])
        return f"""\
def decode_client(data):
    if type(data) is bytes and len(data) <= MAX_CLIENT_MESSAGE_BYTES:
        try:
            v = _unpackb(data, use_list=False)
        except Exception:
            v = None
        if type(v) is tuple:
            if len(v) == {n + 3}:
                {head} = v
                render = None
            elif len(v) == {n + 4}:
                {head}, render = v
            elif len(v) == 2 and v[0] == ACK_TYPE and type(v[1]) is int and 0 <= v[1] <= MAX_TICK:
                return Ack(v[1])
            else:
                kind = None
            if (
                {condition}
            ):
                return _new(({fields}))
    return _slow(data, codec)
"""

    def read(self, v: list[Any]) -> Any:
        """An input from its decoded array, every field checked; raises ProtocolError."""
        n = len(self.fields)
        if len(v) != n + 4:
            _arity(v, n + 3, "input")  # render_tick, the last field, may be left out
        values: list[Any] = [_int(v[1], "seq", 0, MAX_SEQ)]
        for i, (name, kind, lo, hi) in enumerate(self.fields, start=2):
            if kind == "float":
                values.append(_float(v[i], name, lo, hi))
            else:
                values.append(_int(v[i], name, int(lo), int(hi)))
        values.append(_opt_int(v[n + 2], "ack_tick", 0, MAX_TICK))
        values.append(_opt_int(v[n + 3], "render_tick", 0, MAX_TICK) if len(v) == n + 4 else None)
        return self.type(*values)

    def encode(self, seq: int, values: Any, ack_tick: int | None, render_tick: int | None = None) -> bytes:
        """An INPUT of these fields: `values` in declaration order, as they are."""
        fields = [INPUT_TYPE, seq, *values, ack_tick]
        if render_tick is not None:
            fields.append(render_tick)
        data: bytes = _packer.pack(fields)
        return data


def encode_client(msg: ClientMessage) -> bytes:
    if isinstance(msg, Input):
        return encode_input(*msg)  # the fields as they are (see encode_input)
    if isinstance(msg, Ping):
        return _pack([MsgType.PING, msg.client_time])
    if isinstance(msg, Hello):
        fields = [MsgType.HELLO, msg.version, msg.name, msg.session_token, msg.room]
        if msg.seat is not None or msg.spectate:
            fields.append(msg.seat)
        if msg.spectate:
            fields.append(True)
        return _pack(fields)
    if isinstance(msg, Follow):
        return _pack([MsgType.FOLLOW, msg.entity_id])
    if isinstance(msg, Ack):
        return _pack([MsgType.ACK, msg.tick])
    if isinstance(msg, Resync):
        return _pack([MsgType.RESYNC])
    raise TypeError(f"not a client message: {msg!r}")


def encode_input(
    seq: int,
    move_x: int | float,
    move_y: int | float,
    aim: int | float,
    buttons: int,
    ack_tick: int | None,
    render_tick: int | None = None,
) -> bytes:
    """encode_client(Input(...)) from the fields, with no Input made: bots send one every tick.

    A whole number goes out as msgpack's int (one byte for 0 or 1). The numbers are typed
    `int | float`, not `float`, because compiled (dev.py --compiled) a `float` is a C double and
    an int passed as one would go out as a 9-byte float.
    """
    fields = [INPUT_TYPE, seq, move_x, move_y, aim, buttons, ack_tick]
    if render_tick is not None:
        fields.append(render_tick)
    data: bytes = _packer.pack(fields)
    return data


# --- server -> client ----------------------------------------------------------------------

_packer = msgpack.Packer()


def _pack(value: Any) -> bytes:
    data: bytes = _packer.pack(value)
    return data


def encode_snapshot_head(tick: int, baseline: int | None) -> bytes:
    """A snapshot up to its baseline field: the part that is the same for every player."""
    head: bytes = _packer.pack_array_header(8)
    return head + _pack(MsgType.SNAPSHOT) + _pack(tick) + _pack(baseline)


# One int or nil: a snapshot's last_seq, the only per-player field, goes between head and body.
# The packer's own method, with no call of ours around it: every player, every tick.
pack_optional_int: Callable[[int | None], bytes] = _packer.pack


# A snapshot that carries its checksum is an array of 9: the same head but for its first byte
# (a fixarray of 8 becomes one of 9), and the checksum packed after the shots.
CHECKSUM_ARRAY = b"\x99"


def with_checksum_head(head: bytes) -> bytes:
    """encode_snapshot_head()'s bytes for a snapshot that ends with a checksum."""
    return CHECKSUM_ARRAY + head[1:]


def entity_checksum(record: list[Any]) -> int:
    """One entity's part of a snapshot's checksum: the CRC-32 (zlib's) of its spawn record
    `[id, kind, *values]` packed by msgpack in its smallest form, as a spawn sends it. The
    checksum of what a client holds is the sum of its entities' parts, modulo 2**32, so that it
    depends on no order (docs/protocol.md, "Checksums")."""
    return zlib.crc32(_packer.pack(record))


def encode_snapshot_header(tick: int, baseline: int | None, last_seq: int | None) -> bytes:
    """The head of a snapshot; encode_snapshot_body() bytes follow it."""
    return encode_snapshot_head(tick, baseline) + _pack(last_seq)


def spawn_record(s: Spawn) -> list[Any]:
    return [s.id, s.kind, *s.values]


def change_record(c: Change) -> list[Any]:
    """A change as it stands in the flat changes array: id, mask, then the masked values."""
    return [c.id, c.mask, *c.values]


def encode_snapshot_body(spawns: list[list[Any]], flat_changes: list[int], removals: list[int]) -> bytes:
    """Spawns as spawn_record() lists, changes already flattened, removals as ids.
    encode_shots() follows, as the last element."""
    return _pack(spawns) + _pack(flat_changes) + _pack(removals)


NO_SHOTS = b"\x90"  # an empty array


def encode_shots(shots: list[tuple[int, int | None]]) -> bytes:
    """The snapshot's last element: flat (shooter, hit) pairs, 0 for a miss."""
    if not shots:
        return NO_SHOTS
    flat: list[int] = []
    for shooter, hit in shots:
        flat.append(shooter)
        flat.append(hit or 0)
    return _pack(flat)


def shot_items(shots: list[tuple[int, int | None]]) -> list[bytes]:
    """Each shot's two items of encode_shots(), packed once for every player that sees it."""
    return [_pack(shooter) + _pack(hit or 0) for shooter, hit in shots]


def join_shots(items: list[bytes]) -> bytes:
    """encode_shots() of the shots whose shot_items() these are, in this order."""
    if not items:
        return NO_SHOTS
    header: bytes = _packer.pack_array_header(2 * len(items))
    return header + b"".join(items)


def encode_spawn(record: list[Any]) -> bytes:
    """One spawn record, to stand in a spawns array built by encode_snapshot_body_parts()."""
    return _pack(record)


def encode_items(items: list[int]) -> bytes:
    """Ints packed one after another, with no array header: a piece of the flat changes array."""
    return b"".join([_pack(i) for i in items])


def encode_snapshot_body_parts(
    spawn_chunks: list[bytes], n_change_items: int, change_chunks: list[bytes], removals: list[int]
) -> bytes:
    """The same bytes as encode_snapshot_body(), from records encoded once and shared."""
    return b"".join(
        [
            _packer.pack_array_header(len(spawn_chunks)),
            *spawn_chunks,
            _packer.pack_array_header(n_change_items),
            *change_chunks,
            _pack(removals),
        ]
    )


def encode_scoreboard(lines: list[tuple[int, str, int, int, int]]) -> bytes:
    return _pack([MsgType.SCOREBOARD, [list(line) for line in lines]])


def encode_server(msg: ServerMessage) -> bytes:
    if isinstance(msg, Snapshot):
        flat: list[int] = []
        for c in msg.changes:
            flat.extend(change_record(c))
        head = encode_snapshot_head(msg.tick, msg.baseline)
        return (
            (head if msg.checksum is None else with_checksum_head(head))
            + _pack(msg.last_seq)
            + encode_snapshot_body([spawn_record(s) for s in msg.spawns], flat, list(msg.removals))
            + encode_shots([(s.shooter, s.hit) for s in msg.shots])
            + (b"" if msg.checksum is None else _pack(msg.checksum))
        )
    if isinstance(msg, Scoreboard):
        return encode_scoreboard([(ln.id, ln.name, ln.score, ln.deaths, int(ln.away)) for ln in msg.lines])
    if isinstance(msg, Welcome):
        return _pack(
            [
                MsgType.WELCOME,
                msg.version,
                msg.entity_id,
                msg.tick_rate,
                msg.snapshot_rate,
                msg.session_token,
                msg.room,
                msg.tick,
                dict(msg.rules),
                msg.map,
                msg.schema,
            ]
        )
    if isinstance(msg, Pong):
        return _pack([MsgType.PONG, msg.client_time, msg.tick])
    if isinstance(msg, Following):
        return _pack([MsgType.FOLLOWING, msg.entity_id])
    if isinstance(msg, Error):
        return _pack([MsgType.ERROR, msg.code, msg.message])
    if isinstance(msg, Goodbye):
        return _pack([MsgType.GOODBYE, msg.code, msg.message])
    raise TypeError(f"not a server message: {msg!r}")


_FIELD_MIN, _FIELD_MAX = -(2**31), 2**31
_MAX_MASK = 2**31 - 1
_MAX_TEXT = 255


def _value(v: Any, name: str) -> Any:
    """A spawn's or a change's value: an int within +-2**31, or a string (a text field)."""
    if type(v) is int:
        if not _FIELD_MIN <= v <= _FIELD_MAX:
            raise _invalid(f"{name} must be in {_FIELD_MIN}..{_FIELD_MAX}")
        return v
    if type(v) is str:
        if len(v) > _MAX_TEXT:
            raise _invalid(f"{name} must have at most {_MAX_TEXT} characters")
        return v
    raise _invalid(f"{name} must be an integer or a string")


def _spawn(rec: Any) -> Spawn:
    r = _list(rec, "spawn")
    if len(r) < 2:
        raise _invalid("a spawn has an id and a kind")
    return Spawn(
        _int(r[0], "id", 0, MAX_SEQ),
        _int(r[1], "kind", 1, 255),
        tuple(_value(v, "a spawn's value") for v in r[2:]),
    )


def _changes(flat: list[Any]) -> tuple[Change, ...]:
    """The change records (id, mask, then one value per bit set) as Changes. Which field a bit
    stands for is the schema's to say (gameserver.schema); how many values follow is not.

    Verifying bots decode every record of every snapshot, so a record of two in-range ints (a
    move) is taken in a few operations; any other goes through _change(), which names the fault.
    """
    out: list[Change] = []
    i, n = 0, len(flat)
    while i < n:
        if i + 2 > n:
            raise _invalid("a change record is cut short")
        eid = flat[i]
        mask = flat[i + 1]
        if mask == 3 and type(mask) is int and type(eid) is int and 0 <= eid <= MAX_SEQ and i + 4 <= n:
            dqx = flat[i + 2]  # the common record: two ints
            dqy = flat[i + 3]
            if (
                type(dqx) is int
                and type(dqy) is int
                and _FIELD_MIN <= dqx <= _FIELD_MAX
                and _FIELD_MIN <= dqy <= _FIELD_MAX
            ):
                out.append(_new_change((eid, 3, (dqx, dqy))))
                i += 4
                continue
        change, i = _change(flat, i, n)
        out.append(change)
    return tuple(out)


def _change(flat: list[Any], i: int, n: int) -> tuple[Change, int]:
    """One change record from flat[i:], every field checked; and where the next one starts."""
    eid = _int(flat[i], "id", 0, MAX_SEQ)
    mask = _int(flat[i + 1], "mask", 1, _MAX_MASK)
    i += 2
    count = bin(mask).count("1")
    if i + count > n:
        raise _invalid("a change record is cut short")
    values = tuple(_value(v, "a change's value") for v in flat[i : i + count])
    return Change(eid, mask, values), i + count


def decode_server(data: bytes | str) -> ServerMessage:
    """Decode one message from the server (bots, tests). Raises ProtocolError only."""
    v = _unpack(data, _SERVER_LIMITS)
    kind = v[0]
    if kind == MsgType.SNAPSHOT:
        _at_least(v, 8, "snapshot")
        shots = _list(v[7], "shots")
        if len(shots) % 2:
            raise _invalid("shots are (shooter, hit) pairs")
        return Snapshot(
            tick=_int(v[1], "tick", 0, MAX_TICK),
            baseline=_opt_int(v[2], "baseline", 0, MAX_TICK),
            last_seq=_opt_int(v[3], "last_seq", 0, MAX_SEQ),
            spawns=tuple(_spawn(s) for s in _list(v[4], "spawns")),
            changes=_changes(_list(v[5], "changes")),
            removals=tuple(_int(r, "removal", 0, MAX_SEQ) for r in _list(v[6], "removals")),
            shots=tuple(
                Shot(_int(shots[i], "shooter", 1, MAX_SEQ), _int(shots[i + 1], "hit", 0, MAX_SEQ) or None)
                for i in range(0, len(shots), 2)
            ),
            checksum=_opt_int(v[8], "checksum", 0, CHECKSUM_MAX) if len(v) > 8 else None,
        )
    if kind == MsgType.SCOREBOARD:
        _at_least(v, 2, "scoreboard")
        lines = []
        for line in _list(v[1], "lines"):
            ln = _list(line, "score line")
            if len(ln) < 4:  # later fields are for later versions: ignored
                raise _invalid("a score line has at least 4 fields")
            lines.append(
                ScoreLine(
                    _int(ln[0], "id", 0, MAX_SEQ),
                    _str(ln[1], "name", 0, MAX_NAME_CHARS),
                    _int(ln[2], "score", 0, MAX_SEQ),
                    _int(ln[3], "deaths", 0, MAX_SEQ),
                    _int(ln[4], "away", 0, 1) == 1 if len(ln) > 4 else False,
                )
            )
        return Scoreboard(tuple(lines))
    if kind == MsgType.WELCOME:
        _at_least(v, 10, "welcome")
        rules = v[8]
        if type(rules) is not dict or not all(
            type(k) is str and type(x) in (int, float) for k, x in rules.items()
        ):
            raise _invalid("rules must map names to numbers")
        return Welcome(
            version=_int(v[1], "version", 0, 2**16),
            entity_id=_int(v[2], "entity_id", 0, MAX_SEQ),
            tick_rate=_int(v[3], "tick_rate", 1, 1000),
            snapshot_rate=_int(v[4], "snapshot_rate", 1, 1000),
            session_token=_str(v[5], "session_token", 0, MAX_TOKEN_CHARS),  # "": a spectator
            room=_str(v[6], "room", 1, MAX_ROOM_CHARS),
            tick=_int(v[7], "tick", 0, MAX_TICK),
            rules=rules,
            map=_opt_str(v[9], "map", 64),
            schema=_schema(v[10]) if len(v) > 10 else None,
        )
    if kind == MsgType.PONG:
        _at_least(v, 3, "pong")
        return Pong(
            client_time=_finite(v[1], "client_time"),
            tick=_int(v[2], "tick", 0, MAX_TICK),
        )
    if kind == MsgType.FOLLOWING:
        _at_least(v, 2, "following")
        return Following(entity_id=_opt_int(v[1], "entity_id", 1, MAX_SEQ))
    if kind in (MsgType.ERROR, MsgType.GOODBYE):
        _at_least(v, 3, "error")
        cls = Error if kind == MsgType.ERROR else Goodbye
        return cls(code=_str(v[1], "code", 1, 64), message=_str(v[2], "message", 0, 1024))
    raise ProtocolError(ErrorCode.UNKNOWN_TYPE, f"unknown server message type {kind}")


__all__ = [
    "PROTOCOL_VERSION",
    "Close",
    "ErrorCode",
    "InputCodec",
    "ProtocolError",
    "decode_client",
    "decode_hello",
    "decode_server",
    "encode_client",
    "encode_input",
    "encode_server",
    "encode_snapshot_body",
    "encode_snapshot_head",
    "encode_snapshot_header",
    "pack_optional_int",
]
