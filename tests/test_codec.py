"""The wire format: round trips, and nothing but ProtocolError from any bytes."""

from __future__ import annotations

import math
from collections.abc import Callable

import msgpack
import pytest
from arena_records import change, spawn
from hypothesis import given, settings
from hypothesis import strategies as st

from gameserver import codec
from gameserver.codec import ErrorCode, ProtocolError
from gameserver.messages import (
    Change,
    Error,
    Goodbye,
    Hello,
    Input,
    MsgType,
    Ping,
    Pong,
    Scoreboard,
    ScoreLine,
    Shot,
    Snapshot,
    Welcome,
)

CLIENT_MESSAGES = [
    Hello(1, "alice"),
    Hello(1, "Bob the 2nd", session_token="abc", room="lobby"),
    Input(seq=7, move_x=1.0, move_y=-0.5, aim=3.0, buttons=5, ack_tick=120),
    Input(seq=0, move_x=0.0, move_y=0.0, aim=-6.2, buttons=0, ack_tick=None),
    Ping(12345.678),
]
SERVER_MESSAGES = [
    Welcome(1, 3, 30, 30, "token", "r-1", 99, {"speed": 150.0, "quanta": 8}),
    Snapshot(10, None, None, spawns=(spawn(1, "a", 80, 160, 0, 100),)),
    Snapshot(
        11,
        10,
        4,
        changes=(change(1, dqx=-40, dqy=3), change(2, angle=255), change(3, hp=0), change(4, 1, 2, 3, 4)),
        removals=(9, 12),
    ),
    Snapshot(12, 11, None, shots=(Shot(3, None), Shot(4, 3))),
    Scoreboard((ScoreLine(4, "ann", 3, 1), ScoreLine(3, "bo", 0, 2))),
    Pong(1.5, 42),
    Error("invalid_message", "seq must be an integer"),
    Goodbye("server_shutdown", "bye"),
]


@pytest.mark.parametrize("msg", CLIENT_MESSAGES, ids=repr)
def test_client_round_trip(msg: object) -> None:
    assert codec.decode_client(codec.encode_client(msg)) == msg  # type: ignore[arg-type]


@pytest.mark.parametrize("msg", SERVER_MESSAGES, ids=repr)
def test_server_round_trip(msg: object) -> None:
    assert codec.decode_server(codec.encode_server(msg)) == msg  # type: ignore[arg-type]


def test_worked_example_bytes() -> None:
    """The example in docs/protocol.md, byte for byte."""
    data = codec.encode_client(Input(seq=1, move_x=1, move_y=0, aim=0, buttons=0, ack_tick=41))
    assert data.hex(" ") == "97 02 01 01 00 00 00 29"
    snap = codec.encode_server(Snapshot(42, 41, 1, changes=(change(5, dqx=40),)))
    assert snap.hex(" ") == "98 0b 2a 29 01 90 93 05 01 28 90 90"


def _bad(data: bytes) -> ErrorCode:
    with pytest.raises(ProtocolError) as info:
        codec.decode_client(data)
    return info.value.error


@pytest.mark.parametrize(
    "value, error",
    [
        ([MsgType.INPUT, "1", 0, 0, 0, 0, None], ErrorCode.INVALID_MESSAGE),
        ([MsgType.INPUT, True, 0, 0, 0, 0, None], ErrorCode.INVALID_MESSAGE),
        ([MsgType.INPUT, -1, 0, 0, 0, 0, None], ErrorCode.INVALID_MESSAGE),
        ([MsgType.INPUT, 2**32, 0, 0, 0, 0, None], ErrorCode.INVALID_MESSAGE),
        ([MsgType.INPUT, 1, math.nan, 0, 0, 0, None], ErrorCode.INVALID_MESSAGE),
        ([MsgType.INPUT, 1, math.inf, 0, 0, 0, None], ErrorCode.INVALID_MESSAGE),
        ([MsgType.INPUT, 1, 1.5, 0, 0, 0, None], ErrorCode.INVALID_MESSAGE),
        ([MsgType.INPUT, 1, 0, 0, 0, 256, None], ErrorCode.INVALID_MESSAGE),
        ([MsgType.INPUT, 1, 0, 0, 0, 0, -3], ErrorCode.INVALID_MESSAGE),
        ([MsgType.INPUT, 1, 0, 0, 0, 0], ErrorCode.INVALID_MESSAGE),
        ([MsgType.HELLO, 1, "", None, None], ErrorCode.INVALID_MESSAGE),
        ([MsgType.HELLO, 1, " x", None, None], ErrorCode.INVALID_MESSAGE),
        ([MsgType.HELLO, 1, "a\x00b", None, None], ErrorCode.INVALID_MESSAGE),
        ([MsgType.HELLO, 1, "x" * 25, None, None], ErrorCode.INVALID_MESSAGE),
        ([MsgType.PING], ErrorCode.INVALID_MESSAGE),
        ([99], ErrorCode.UNKNOWN_TYPE),
        ([MsgType.WELCOME, 1], ErrorCode.UNKNOWN_TYPE),  # a server message from a client
        ([], ErrorCode.INVALID_MESSAGE),
        ({"type": 1}, ErrorCode.INVALID_MSGPACK),  # maps are refused by the client limits
        (["hello"], ErrorCode.INVALID_MESSAGE),
        (7, ErrorCode.INVALID_MESSAGE),
    ],
)
def test_invalid_values(value: object, error: ErrorCode) -> None:
    assert _bad(msgpack.packb(value)) is error


def test_invalid_bytes() -> None:
    assert _bad(b"") is ErrorCode.INVALID_MSGPACK
    assert _bad(b"\xc1") is ErrorCode.INVALID_MSGPACK  # never used in msgpack
    assert _bad(msgpack.packb([2, 1]) + b"\x00") is ErrorCode.INVALID_MSGPACK  # trailing bytes
    assert _bad(b"\xdd\xff\xff\xff\xff") is ErrorCode.INVALID_MSGPACK  # array of 2**32 claimed
    assert _bad(b"\xd6\xff\x00\x00\x00\x01") is ErrorCode.INVALID_MSGPACK  # timestamp ext
    assert _bad(b"\x91" * 500 + b"\xc0") is ErrorCode.INVALID_MESSAGE  # deep, but within the cap
    assert _bad(b"\x92\x02" + b"\xc4\x01a") is ErrorCode.INVALID_MSGPACK  # bin
    assert _bad(b"\x90" * 600) is ErrorCode.MESSAGE_TOO_BIG
    with pytest.raises(ProtocolError) as info:
        codec.decode_client("[2]")  # a text frame
    assert info.value.error is ErrorCode.TEXT_FRAME


@given(st.binary(max_size=600))
@settings(max_examples=2000)
def test_arbitrary_bytes_raise_only_protocol_error(data: bytes) -> None:
    try:
        codec.decode_client(data)
    except ProtocolError:
        pass
    try:
        codec.decode_server(data)
    except ProtocolError:
        pass


msgpack_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats()
    | st.text(max_size=30)
    | st.binary(max_size=10),
    lambda inner: st.lists(inner, max_size=8) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=30,
)


@given(st.integers(0, 20), st.lists(msgpack_values, max_size=8))
@settings(max_examples=1000)
def test_arbitrary_arrays_raise_only_protocol_error(kind: int, rest: list[object]) -> None:
    data = msgpack.packb([kind, *rest])
    for decode in (codec.decode_client, codec.decode_server):
        try:
            decode(data)
        except ProtocolError:
            pass


@given(
    st.builds(
        Input,
        seq=st.integers(0, 2**32 - 1),
        move_x=st.floats(-1, 1),
        move_y=st.floats(-1, 1),
        aim=st.floats(-2 * math.pi, 2 * math.pi),
        buttons=st.integers(0, 255),
        ack_tick=st.none() | st.integers(0, 2**31 - 1),
        render_tick=st.none() | st.integers(0, 2**31 - 1),
    )
)
def test_any_valid_input_round_trips(msg: Input) -> None:
    assert codec.decode_client(codec.encode_client(msg)) == msg


@given(
    st.lists(
        st.builds(
            change,
            eid=st.integers(0, 5000),
            dqx=st.none() | st.integers(-(2**20), 2**20),
            dqy=st.none() | st.integers(-100, 100),
            angle=st.none() | st.integers(0, 255),
            hp=st.none() | st.integers(0, 100),
        ),
        max_size=20,
    )
)
def test_flat_changes_round_trip(changes: list[Change]) -> None:
    changes = [c for c in changes if c.mask]
    snap = Snapshot(5, 4, 1, changes=tuple(changes))
    assert codec.decode_server(codec.encode_server(snap)) == snap


near_change_fields = (
    st.none()
    | st.booleans()
    | st.integers(-(2**31) - 2, 2**31 + 2)
    | st.sampled_from([-(2**31) - 1, -(2**31), 2**31, 2**31 + 1, 0, 1, 2, 3, 15, 16, 5000])
    | st.floats(allow_nan=False, allow_infinity=False, width=32)
    | st.text(max_size=1)
)


def _changes_or_error(decode: Callable[[list[object]], tuple[Change, ...]], flat: list[object]) -> object:
    try:
        return decode(flat)
    except ProtocolError as exc:
        return exc.error, exc.detail


def _changes_field_by_field(flat: list[object]) -> tuple[Change, ...]:
    out, i = [], 0
    while i < len(flat):
        if i + 2 > len(flat):
            raise ProtocolError(ErrorCode.INVALID_MESSAGE, "a change record is cut short")
        change, i = codec._change(flat, i, len(flat))
        out.append(change)
    return tuple(out)


@given(st.lists(near_change_fields, min_size=0, max_size=9))
@settings(max_examples=2000)
def test_the_quick_change_record_check_agrees_with_the_field_by_field_one(flat: list[object]) -> None:
    """_changes() takes a usual move record (mask 3, two ints) on a fast path; it must accept
    exactly what _change() accepts, with the same result."""
    for candidate in (flat, [7, 3, *flat], [7, 3, 1, *flat]):
        assert _changes_or_error(codec._changes, candidate) == _changes_or_error(
            _changes_field_by_field, candidate
        )


def test_an_input_encodes_the_same_from_its_fields() -> None:
    for render in (None, 40):
        msg = Input(9, 0.5, -1.0, 3.0, 1, 42, render)
        data = codec.encode_input(9, 0.5, -1.0, 3.0, 1, 42, render)
        assert data == codec.encode_client(msg) and codec.decode_client(data) == msg


near_input_fields = (
    st.none()
    | st.booleans()
    | st.integers(-5, 2**32 + 5)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([-1.0, 1.0, -2 * math.pi, 2 * math.pi, 2**31 - 1, 2**31, 255, 256, 0])
    | st.text(max_size=2)
)


@given(st.lists(near_input_fields, min_size=6, max_size=7))
@settings(max_examples=2000)
def test_the_inline_input_check_agrees_with_the_field_by_field_one(fields: list[object]) -> None:
    """decode_client takes usual inputs on a fast path; it must accept exactly what
    input_fields() accepts, with the same result."""
    v = [2, *fields]
    try:
        expected: object = codec.input_fields(v)
    except ProtocolError as exc:
        expected = exc.error
    try:
        got: object = codec.decode_client(msgpack.packb(v))
    except ProtocolError as exc:
        got = exc.error
    assert got == expected


@given(
    st.lists(st.tuples(st.integers(1, 2**31), st.one_of(st.none(), st.integers(1, 2**31))), max_size=40),
    st.data(),
)
@settings(max_examples=300, deadline=None)
def test_shots_picked_from_items_packed_once_are_the_shots_encoded_whole(
    shots: list[tuple[int, int | None]], data: st.DataObject
) -> None:
    """The arena packs each shot once and joins those a player sees: the same bytes as
    encode_shots() of that player's shots."""
    picked = data.draw(st.lists(st.booleans(), min_size=len(shots), max_size=len(shots)))
    items = codec.shot_items(shots)
    mine = [s for s, keep in zip(shots, picked, strict=True) if keep]
    joined = codec.join_shots([b for b, keep in zip(items, picked, strict=True) if keep])
    assert joined == codec.encode_shots(mine)
    assert msgpack.unpackb(joined) == [v for s, h in mine for v in (s, h or 0)]


@pytest.mark.parametrize("name", ["\u0301\u0301", "\u3164", "\u3164\u3164", "\u2800", "\u115f\u1160"])
def test_names_that_show_nothing_are_refused(name: str) -> None:
    with pytest.raises(ProtocolError) as info:
        codec.decode_client(msgpack.packb([1, 1, name, None, None]))
    assert info.value.error is ErrorCode.INVALID_MESSAGE


@pytest.mark.parametrize("name", ["Zoë 3", "é", "李", "🙂", "a\u0301", "---"])
def test_names_that_show_are_taken(name: str) -> None:
    hello = codec.decode_client(msgpack.packb([1, 1, name, None, None]))
    assert isinstance(hello, Hello) and hello.name == name


# --- what docs/protocol.md says, checked field by field (see tests/test_protocol_docs.py) ----


@pytest.mark.parametrize(
    "client_time",
    [0, -1, 1e15 + 1, -1e15 - 1, 1e300, -1e300, 5e-324, 1.7976931348623157e308, -1.7976931348623157e308],
)
def test_ping_takes_any_finite_client_time(client_time: float) -> None:
    """PING's client_time is "any finite value": no range of its own, echoed back in PONG."""
    msg = codec.decode_client(msgpack.packb([MsgType.PING, client_time]))
    assert isinstance(msg, Ping) and msg == Ping(float(client_time))
    pong = codec.decode_server(codec.encode_server(Pong(msg.client_time, 7)))
    assert pong == Pong(float(client_time), 7)


def test_ping_takes_integers_of_any_msgpack_size() -> None:
    for n in (2**64 - 1, -(2**63), 10**16):
        assert codec.decode_client(msgpack.packb([MsgType.PING, n])) == Ping(float(n))


@pytest.mark.parametrize("client_time", [math.inf, -math.inf, math.nan, "1", True, None, [1.0]])
def test_ping_refuses_what_is_not_a_finite_number(client_time: object) -> None:
    assert _bad(msgpack.packb([MsgType.PING, client_time])) is ErrorCode.INVALID_MESSAGE


EMPTY_MAP_BIN_EXT = [
    ("map", b"\x80"),
    ("bin8", b"\xc4\x00"),
    ("bin16", b"\xc5\x00\x00"),
    ("ext8", b"\xc7\x00\x05"),
    ("ext16", b"\xc8\x00\x00\x05"),
]
# each client message as an array, to hide an empty map, bin or ext in
VALID_CLIENT_ARRAYS: list[list[object]] = [
    [MsgType.HELLO, 1, "alice", None, None],
    [MsgType.HELLO, 1, "alice", None, None, None, True],
    [MsgType.INPUT, 1, 0.5, 0, 0, 1, 3],
    [MsgType.INPUT, 1, 0.5, 0, 0, 1, 3, 2],
    [MsgType.PING, 1.5],
    [MsgType.ACK, 3],
    [MsgType.FOLLOW, None],
    [42, 1],  # a type the server does not take
]


def _with_raw(fields: list[object], index: int, raw: bytes, *, replace: bool) -> bytes:
    """The array `fields` packed, with the raw msgpack value `raw` at `index` (replacing the
    field there, or inserted before it)."""
    items = [msgpack.packb(f) for f in fields]
    if replace:
        items[index] = raw
    else:
        items.insert(index, raw)
    return bytes([0x90 + len(items)]) + b"".join(items)


@pytest.mark.parametrize("label, raw", EMPTY_MAP_BIN_EXT, ids=[e[0] for e in EMPTY_MAP_BIN_EXT])
def test_an_empty_map_bin_or_ext_anywhere_is_invalid_msgpack(label: str, raw: bytes) -> None:
    """The limits allow no map, no bin and no ext: an empty one too, wherever it stands, is
    invalid_msgpack (close 1007), as before HELLO as after it."""
    cases = [raw, b"\x91" + raw, b"\x92\x03\x91" + raw]  # alone, as the type, nested
    for fields in VALID_CLIENT_ARRAYS:
        for i in range(len(fields) + 1):
            if i < len(fields):
                cases.append(_with_raw(fields, i, raw, replace=True))
            cases.append(_with_raw(fields, i, raw, replace=False))
    for data in cases:
        assert _bad(data) is ErrorCode.INVALID_MSGPACK, data.hex(" ")
        with pytest.raises(ProtocolError) as info:
            codec.decode_hello(data)
        assert info.value.error is ErrorCode.INVALID_MSGPACK, data.hex(" ")
        assert info.value.error.close_code == 1007


@pytest.mark.parametrize(
    "value",
    [
        [MsgType.INPUT, 1, 0, 0, 0, 0, None],
        [MsgType.INPUT, "one", 0, 0, 0, 0, None],  # and whatever its fields
        [MsgType.INPUT],
        [MsgType.PING, 1.0],
        [MsgType.PING, math.inf],
        [MsgType.ACK, 3],
        [MsgType.FOLLOW, None],
        [MsgType.WELCOME, 1],  # a server message
        [0],
        [42, 1],  # a type the server does not know
        [-1],
        [2**64 - 1, "x"],
    ],
)
def test_any_message_but_hello_first_is_hello_required(value: list[object]) -> None:
    with pytest.raises(ProtocolError) as info:
        codec.decode_hello(msgpack.packb(value))
    assert info.value.error is ErrorCode.HELLO_REQUIRED and info.value.error.close_code == 1002


def test_the_first_message_is_refused_as_the_others_when_it_is_no_message() -> None:
    """Before HELLO as after it: bytes that are not a message keep their own codes."""
    for data, error in [
        (b"\xc1", ErrorCode.INVALID_MSGPACK),
        (msgpack.packb([]), ErrorCode.INVALID_MESSAGE),
        (msgpack.packb(["hello"]), ErrorCode.INVALID_MESSAGE),
        (msgpack.packb(7), ErrorCode.INVALID_MESSAGE),
        (msgpack.packb([MsgType.HELLO, 1, "", None, None]), ErrorCode.INVALID_MESSAGE),
        (b"\x90" * 600, ErrorCode.MESSAGE_TOO_BIG),
    ]:
        with pytest.raises(ProtocolError) as info:
            codec.decode_hello(data)
        assert info.value.error is error, data[:20].hex(" ")
    with pytest.raises(ProtocolError) as info:
        codec.decode_hello("[1]")  # a text frame
    assert info.value.error is ErrorCode.TEXT_FRAME
    hello = Hello(1, "alice", room="r-0123456789ab")
    assert codec.decode_hello(codec.encode_client(hello)) == hello


@given(st.binary(max_size=600))
@settings(max_examples=1000)
def test_decode_hello_raises_only_protocol_error(data: bytes) -> None:
    try:
        msg = codec.decode_hello(data)
    except ProtocolError:
        return
    assert isinstance(msg, Hello)
