"""A game's own input fields: declared once in its schema, checked by the server from the
declaration (the generated fast path and the checked reading agree), handed to step() by name,
sent in WELCOME, and a value out of its declared range closes that player alone."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rover import Rover
from server_process import ServerProcess
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from gameserver import codec
from gameserver.codec import ErrorCode, InputCodec, ProtocolError
from gameserver.game import FLAGS, FLOAT, INT, MOVE_AIM_BUTTONS, InputField, Kind, Schema, position
from gameserver.messages import Ack, Error, Hello, Input, Snapshot, Welcome
from gameserver.replication import Mirror
from gameserver.testing import Match

INPUTS = Rover.schema.codecs.inputs


def outcome(decode: Any, data: bytes) -> tuple[Any, ...]:
    """What a decoder made of the bytes: the message, its type and fields, or its refusal."""
    try:
        msg = decode(data)
    except ProtocolError as exc:
        return ("refused", exc.error, exc.detail)
    return ("ok", type(msg), tuple(msg) if isinstance(msg, tuple) else msg)


values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.integers(-(2**33), 2**33),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-1.5, 1.5),
    st.text(max_size=3),
)


@given(st.lists(values, min_size=0, max_size=7), st.sampled_from([2, 5, 3, 9]))
@settings(max_examples=3000)
def test_the_generated_decoder_and_the_checked_reading_agree(fields: list[Any], kind: int) -> None:
    """Whatever array a client sends, the fast path gives what the slow path (every field
    checked by name) gives: the same input, or the same refusal."""
    data = msgpack.packb([kind, *fields])
    fast = outcome(INPUTS.decode_client, data)
    slow = outcome(lambda d: codec._decode_client(d, INPUTS), data)
    assert fast == slow


@given(
    st.integers(0, 2**32 - 1),
    st.floats(0.0, 1.0),
    st.integers(-1, 1),
    st.integers(0, 1),
    st.none() | st.integers(0, 2**31 - 1),
    st.none() | st.integers(0, 2**31 - 1),
)
def test_an_input_of_the_declared_fields_round_trips(
    seq: int, throttle: float, steer: int, horn: int, ack: int | None, render: int | None
) -> None:
    # an INPUTS.type, which decode_client's annotation (a ClientMessage) does not name
    got: Any = INPUTS.decode_client(INPUTS.encode(seq, [throttle, steer, horn], ack, render))
    assert type(got) is INPUTS.type
    assert (got.seq, got.throttle, got.steer, got.horn, got.ack_tick, got.render_tick) == (
        seq,
        throttle,
        steer,
        horn,
        ack,
        render,
    )


@pytest.mark.parametrize(
    ("fields", "detail"),
    [
        ([1, 0.5, 2, 0, None], "steer must be in -1..1"),
        ([1, 1.5, 0, 0, None], "throttle must be a finite number in 0..1"),
        ([1, 0.5, 0, 2, None], "horn must be in 0..1"),
        ([1, 0.5, 0.0, 0, None], "steer must be an integer"),
        ([1, 0.5, True, 0, None], "steer must be an integer"),
        ([1, "x", 0, 0, None], "throttle must be a number"),
        ([1, 0.5, 0, None], "input has 5 fields, got 4"),
        ([1, 0.5, 0, 0, None, None, 1], "input has 5 fields, got 7"),
        ([2**32, 0.5, 0, 0, None], "seq must be in 0..4294967295"),
    ],
)
def test_a_value_the_declaration_refuses_is_named(fields: list[Any], detail: str) -> None:
    with pytest.raises(ProtocolError) as refused:
        INPUTS.decode_client(msgpack.packb([2, *fields]))
    assert refused.value.error is ErrorCode.INVALID_MESSAGE and refused.value.detail == detail


def test_an_integer_is_taken_for_a_float_field_and_other_messages_decode_as_usual() -> None:
    got: Any = INPUTS.decode_client(msgpack.packb([2, 7, 1, -1, 1, 3]))  # an INPUTS.type
    assert got.throttle == 1.0 and type(got.throttle) is float and got.steer == -1 and got.ack_tick == 3
    assert INPUTS.decode_client(msgpack.packb([5, 9])) == Ack(9)
    hello = INPUTS.decode_client(msgpack.packb([1, 1, "ann", None, None]))
    assert isinstance(hello, Hello) and hello.name == "ann"


def test_the_standard_fields_keep_the_standard_decoder_and_type() -> None:
    standard = Schema((Kind(1, "p", (position("x"), position("y"))),), MOVE_AIM_BUTTONS).codecs.inputs
    assert standard.standard and standard.type is Input and standard.decode_client is codec.decode_client
    assert standard.encode(3, [1.0, 0.0, 0.5, 1], 2) == codec.encode_input(3, 1.0, 0.0, 0.5, 1, 2)
    assert not INPUTS.standard


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ((InputField("seq", INT, 0, 1),), "input seq: the name is INPUT's own field"),
        ((InputField("ack_tick", INT, 0, 1),), "input ack_tick: the name is INPUT's own field"),
        (tuple(InputField(f"f{i}", FLAGS, 0, 1) for i in range(11)), "at most 10 input fields"),
        ((InputField("a", FLOAT, 0, 1), InputField("a", INT, 0, 1)), "input field names repeat"),
    ],
)
def test_a_schema_refuses_input_fields_an_input_cannot_carry(
    inputs: tuple[InputField, ...], message: str
) -> None:
    from gameserver.schema import SchemaError

    with pytest.raises(SchemaError, match=message):
        Schema((Kind(1, "p", (position("x"), position("y"))),), inputs)


def test_ten_fields_fit_and_none_is_allowed() -> None:
    ten = InputCodec([InputField(f"f{i}", INT, 0, 9) for i in range(10)])
    got: Any = ten.decode_client(ten.encode(1, list(range(10)), None, 4))  # a ten.type
    assert tuple(got) == (1, *range(10), None, 4)
    none = InputCodec([])
    got = none.decode_client(none.encode(5, [], 2))
    assert tuple(got) == (5, 2, None)


def test_step_gets_the_games_own_fields_by_name() -> None:
    match = Match(Rover)
    ann, bo = match.join("ann"), match.join("bo")
    ann.input(throttle=0.5, steer=1, horn=1)
    bo.input(1.0)  # by position: throttle; the others 0
    match.tick()
    assert isinstance(match.game, Rover)
    (a_id, a_cmd), (b_id, b_cmd) = match.game.received
    assert (a_id, b_id) == (ann.entity_id, bo.entity_id)
    assert (a_cmd.seq, a_cmd.throttle, a_cmd.steer, a_cmd.horn) == (1, 0.5, 1, 1)
    assert (b_cmd.throttle, b_cmd.steer, b_cmd.horn) == (1.0, 0, 0)
    assert ann.mirror.values(ann.entity_id)["honks"] == 1
    assert bo.mirror.values(bo.entity_id)["x"] > ann.mirror.values(ann.entity_id)["x"] > 0


def test_a_value_out_of_its_declared_range_closes_that_player_alone() -> None:
    match = Match(Rover)
    ann, bo = match.join("ann"), match.join("bo")
    match.tick()
    ann.input(steer=2)
    for _ in range(10):
        bo.input(throttle=1.0)
        match.tick()
    assert ann.closed == (1007, "invalid_message")
    assert Error("invalid_message", "steer must be in -1..1") in ann.messages
    assert bo.closed is None and bo.mirror.values(bo.entity_id)["x"] == 10 * 2 * 8  # 2 units a tick


def test_welcome_carries_the_input_fields() -> None:
    match = Match(Rover)
    ann = match.join("ann")
    assert ann.welcome is not None and ann.welcome.schema is not None
    assert ann.welcome.schema["inputs"] == [
        {"name": "throttle", "type": "float", "min": 0.0, "max": 1.0},
        {"name": "steer", "type": "int", "min": -1, "max": 1},
        {"name": "horn", "type": "flags", "min": 0, "max": 1},
    ]
    assert Schema.from_wire(ann.welcome.schema).inputs == Rover.schema.inputs


def test_the_server_takes_a_games_own_inputs_over_websockets(monkeypatch: pytest.MonkeyPatch) -> None:
    """`--game rover:Rover`: a client that reads the input fields from WELCOME drives its rover;
    a value out of range gets ERROR invalid_message naming the field, and close 1007; the other
    client keeps playing."""
    tests = str(Path(__file__).parent)
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([*paths, tests]))

    async def play(url: str) -> tuple[list[dict[str, Any]], int, Error, int | None]:
        async with connect(url) as a, connect(url) as b:
            welcomes: list[Welcome] = []
            for ws, name in ((a, "ann"), (b, "bo")):
                await ws.send(codec.encode_client(Hello(1, name)))
                while True:
                    msg = codec.decode_server(await asyncio.wait_for(ws.recv(), 5))
                    if isinstance(msg, Welcome):
                        welcomes.append(msg)
                        break
            wire = welcomes[0].schema
            assert wire is not None
            schema = Schema.from_wire(wire)
            inputs = schema.codecs.inputs  # the client's own codec, from WELCOME alone
            mirror = Mirror(schema)
            seq = 0
            ann = welcomes[0].entity_id
            for _ in range(300):
                msg = codec.decode_server(await asyncio.wait_for(a.recv(), 5))
                if not isinstance(msg, Snapshot):
                    continue
                mirror.apply(msg)
                seq += 1
                await a.send(inputs.encode(seq, [1.0, 0, 1], msg.tick))
                if ann in mirror.rows and mirror.values(ann)["x"] >= 20 * 8:
                    break
            else:
                raise AssertionError("ann's rover never drove 20 units")
            honks = mirror.values(ann)["honks"]
            await b.send(inputs.encode(1, [0.5, 5, 0], None))  # steer 5: out of -1..1
            error = None
            try:
                while True:
                    msg = codec.decode_server(await asyncio.wait_for(b.recv(), 5))
                    if isinstance(msg, Error):
                        error = msg
            except ConnectionClosed:
                pass
            assert error is not None
            # ann still plays after bo's fault
            before = mirror.values(ann)["x"]
            while mirror.values(ann)["x"] < before + 8 * 8:
                msg = codec.decode_server(await asyncio.wait_for(a.recv(), 5))
                if isinstance(msg, Snapshot):
                    mirror.apply(msg)
                    seq += 1
                    await a.send(inputs.encode(seq, [1.0, 0, 0], msg.tick))
            return wire["inputs"], honks, error, b.close_code

    with ServerProcess("--game", "rover:Rover") as server:
        assert server.health()["game"] == "rover"
        inputs, honks, error, close_code = asyncio.run(play(server.ws_url))
    assert [f["name"] for f in inputs] == ["throttle", "steer", "horn"]
    assert honks > 0
    assert error == Error("invalid_message", "steer must be in -1..1") and close_code == 1007
