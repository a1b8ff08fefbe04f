"""The schema declared once: its rules, the code generated from it, and clients of other versions."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gameserver import codec
from gameserver.messages import Snapshot
from gameserver.replication import DesyncError, Frame, Mirror, delta_body
from gameserver.schema import (
    Field,
    InputField,
    Kind,
    Schema,
    SchemaError,
    angle,
    flags,
    integer,
    position,
    text,
)
from gameserver.world import SCHEMA

# Two kinds unlike each other: a player as the arena's, and a ball that declares y before x,
# with flags and a signed int, and no text.
PLAYER = Kind(
    1, "player", (text("name", 24), position("x"), position("y"), angle("angle"), integer("hp", 0, 100))
)
BALL = Kind(7, "ball", (position("y"), flags("state", 3), position("x"), integer("spin", -50, 50)))
TWO = Schema((PLAYER, BALL), (InputField("kick", "int", 0, 1),))
ONE = Schema((PLAYER,))  # laid out as the arena's player is today, and its own: the arena may change


def player_row(qx: int, qy: int, name: str, ang: int, hp: int) -> tuple[Any, ...]:
    return (qx, qy, 1, name, ang, hp)


def ball_row(qx: int, qy: int, state: int, spin: int) -> tuple[Any, ...]:
    return (qx, qy, 7, state, spin)


_players = st.builds(
    player_row,
    st.integers(0, 100_000),
    st.integers(0, 100_000),
    st.sampled_from(["a", "bo", "Zoë"]),
    st.integers(0, 255),
    st.integers(0, 100),
)
_balls = st.builds(
    ball_row, st.integers(-500, 500), st.integers(0, 9), st.integers(0, 7), st.integers(-50, 50)
)
_rows = st.dictionaries(st.integers(1, 30), _players | _balls, max_size=10)


def test_rows_that_break_the_schema_are_named() -> None:
    assert ONE.check_row((1, 2, 1, "a", 300, 5)) == "player.angle must be in 0..255, not 300"
    assert ONE.check_row((1, 2, 9, "a", 3, 5)) == "kind 9 is not declared"
    assert ONE.check_row((1, 2, 1, "a", 3)) == "a player row has 6 values, not 5"
    assert ONE.check_row((1.5, 2, 1, "a", 3, 5)) == "player.x must be an integer, not 1.5"
    assert (
        ONE.check_row((1, 2, 1, "x" * 25, 3, 5))
        == f"player.name must be at most 24 characters, not {'x' * 25!r}"
    )


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (lambda: Kind(1, "p", (position("x"),)), "every kind has the position fields x and y"),
        (lambda: Kind(0, "p", (position("x"), position("y"))), "id must be in 1..255"),
        (lambda: Kind(1, "p", (position("x"), position("y"), angle("x"))), "field names repeat"),
        (lambda: Kind(1, "p", (position("x"), position("y"), integer("id", 0, 1))), "id and kind"),
        (lambda: Kind(1, "p", (position("x"), integer("y", 0, 9))), "position fields x and y"),
        (lambda: Kind(1, "p", (position("x"), position("y"), integer("hp", 5, 1))), "min <= max"),
        (lambda: Kind(1, "p", (position("x"), position("y"), text("t", 0))), "text of 1..255"),
        (lambda: Field("a b", "int"), "must be an identifier"),
        (lambda: Field("a", "float"), "is not one of"),
        (lambda: flags("f", 40), "1..31 bits"),
        (lambda: Schema(()), "at least one kind"),
        (lambda: Schema((PLAYER, PLAYER)), "unique"),
        (lambda: InputField("move", "float", 1.0, -1.0), "min <= max"),
        (
            lambda: Kind(1, "p", (position("x"), position("y"), *(angle(f"a{i}") for i in range(29)))),
            "at most 30",
        ),
    ],
)
def test_a_declaration_that_breaks_a_rule_is_refused_and_says_which(make: Any, why: str) -> None:
    with pytest.raises(SchemaError, match=why):
        make()


def test_the_schema_welcome_carries_comes_back_as_the_same_schema() -> None:
    for schema in (ONE, TWO, SCHEMA):
        wire = msgpack.unpackb(msgpack.packb(schema.to_wire()))
        assert Schema.from_wire(wire) == schema
    bad: Any
    for bad in (
        None,
        [],
        {"quanta": 8},
        {"quanta": 4, "angle_steps": 256, "kinds": []},
        {**TWO.to_wire(), "kinds": [{}]},
    ):
        with pytest.raises(SchemaError):
            Schema.from_wire(bad)


@settings(max_examples=300, deadline=None)
@given(old=_rows, new=_rows, same=st.sets(st.integers(1, 30)))
def test_the_generated_code_gives_the_records_the_rules_give(
    old: dict[int, tuple[Any, ...]], new: dict[int, tuple[Any, ...]], same: set[int]
) -> None:
    """Schema.codecs is generated source; Schema.spawn_record() and change_items() read the
    rules plainly. For two kinds (one declaring y before x), both give the same records, and a
    mirror of either schema rebuilds the rows from the bytes."""
    for eid in list(new):
        if eid in old and (eid in same or old[eid][2] != new[eid][2]):
            new[eid] = old[eid]  # unchanged (the same tuple), or an entity never changes kind
        elif eid in old and new[eid][2] == PLAYER.id:
            new[eid] = (*new[eid][:3], old[eid][3], *new[eid][4:])  # nor its text
    spawns: list[list[Any]] = []
    flat: list[Any] = []
    TWO.codecs.delta_flat(old, new, spawns, flat)
    want: list[Any] = []
    for eid, row in new.items():
        if eid in old:
            items = TWO.change_items(eid, old[eid], row)
            assert TWO.codecs.change_items(eid, old[eid], row) == items
            want.extend(items or [])
    assert flat == want
    assert spawns == [TWO.spawn_record(eid, row) for eid, row in new.items() if eid not in old]
    assert spawns == [TWO.codecs.spawn_record(eid, row) for eid, row in new.items() if eid not in old]
    # through the bytes to a mirror
    mirror = Mirror(TWO)
    mirror.apply(decoded(Frame(1, old), None))
    assert mirror.as_rows() == old
    mirror.apply(decoded(Frame(2, new), Frame(1, old)))
    assert mirror.as_rows() == new


def decoded(cur: Frame, base: Frame | None, schema: Schema = TWO) -> Snapshot:
    head = codec.encode_snapshot_header(cur.tick, base.tick if base else None, None)
    msg = codec.decode_server(head + delta_body(base, cur, schema.codecs) + codec.NO_SHOTS)
    assert isinstance(msg, Snapshot)
    return msg


def test_a_field_added_at_the_end_leaves_an_older_client_reading_what_it_knows() -> None:
    """A team added to the player, at the end of its declaration: a client that holds the
    schema from before (the arena's) still decodes every snapshot, and reads every field it
    knows right; one with the new schema holds the team too."""
    newer = Schema((Kind(1, "player", (*PLAYER.fields, integer("team", 0, 3))),))
    a0 = (80, 80, 1, "ann", 0, 100, 2)
    a1 = (96, 72, 1, "ann", 5, 90, 3)  # every field changed, the team too
    b = (0, 0, 1, "bo", 0, 100, 1)
    f1, f2, f3 = Frame(1, {1: a0}), Frame(2, {1: a1, 2: b}), Frame(3, {1: (96, 72, 1, "ann", 5, 90, 0), 2: b})
    old, new = Mirror(ONE), Mirror(newer)
    for cur, base in ((f1, None), (f2, f1), (f3, f2)):
        snap = decoded(cur, base, newer)
        old.apply(snap)
        new.apply(snap)
        assert new.as_rows() == cur.rows
        assert old.as_rows() == {eid: row[:6] for eid, row in cur.rows.items()}
    assert new.values(1) == {"name": "ann", "x": 96, "y": 72, "angle": 5, "hp": 90, "team": 0}


def test_a_mirror_refuses_what_its_schema_does_not_allow() -> None:
    m = Mirror(ONE)
    ball = decoded(Frame(1, {4: ball_row(1, 2, 3, 4)}), None)
    with pytest.raises(DesyncError, match="kind 7, which the schema lacks"):
        m.apply(ball)
    short = Snapshot(
        1,
        None,
        None,
        spawns=(ONE.spawn(1, "player", name="a", x=1, y=2, angle=3, hp=4)._replace(values=("a", 1)),),
    )
    with pytest.raises(DesyncError, match="2 values for 5 fields"):
        m.apply(short)
    wrong = Snapshot(1, None, None, spawns=(ONE.spawn(1, "player", name=5, x=1, y=2, angle=3, hp=4),))
    with pytest.raises(DesyncError, match="name must be a string"):
        m.apply(wrong)


def test_decoders_take_the_fields_a_later_version_adds() -> None:
    """Trailing fields of a message, of a spawn, and values of unknown change bits."""
    welcome = msgpack.packb([10, 1, 3, 30, 30, "t", "r-1", 5, {"speed": 1.0}, None, ONE.to_wire(), "later"])
    msg = codec.decode_server(welcome)
    assert Schema.from_wire(msg.schema) == ONE  # type: ignore[union-attr]
    # after the shots: the checksum (nil here), then a field of a later version
    snap = msgpack.packb([11, 6, None, None, [[1, 1, "a", 8, 8, 0, 100, 2]], [], [], [], None, "later"])
    m = Mirror(ONE)
    m.apply(codec.decode_server(snap))  # type: ignore[arg-type]
    delta = msgpack.packb([11, 7, 6, None, [], [1, 1 | 16 | 32, 8, 2, 3], [], []])
    m.apply(codec.decode_server(delta))  # type: ignore[arg-type]
    assert m.as_rows() == {1: (16, 8, 1, "a", 0, 100)}
