"""Wire messages of protocol v1, as frozen values.

These classes know nothing about msgpack: gameserver.codec owns the byte layout, the limits
and the validation. docs/protocol.md is the reference for every field, type and unit.
"""

from __future__ import annotations

import enum
from typing import Any, NamedTuple

import attr

PROTOCOL_VERSION = 1


class MsgType(enum.IntEnum):
    """The first element of every message array."""

    # client -> server
    HELLO = 1
    INPUT = 2
    PING = 3
    FOLLOW = 4  # spectators: whom to follow
    ACK = 5  # the newest snapshot tick held, without an input (spectators)
    RESYNC = 6  # what I hold disagrees with a snapshot's checksum: send me a full snapshot
    # server -> client
    WELCOME = 10
    SNAPSHOT = 11
    PONG = 12
    ERROR = 13
    GOODBYE = 14
    SCOREBOARD = 15
    FOLLOWING = 16  # spectators: whom they follow now


# --- client -> server ---------------------------------------------------------------------


@attr.s(auto_attribs=True, frozen=True, slots=True)
class Hello:
    version: int
    name: str
    session_token: str | None = None  # reserved for reconnection
    room: str | None = None  # the room to join; None: quick play (or the seat's room)
    seat: str | None = None  # a seat reserved over HTTP (matchmaking)
    spectate: bool = False  # watch the room: no entity, no inputs


class Input(NamedTuple):
    """A named tuple, unlike the other messages: every player sends one every tick, and a tuple
    is built in about half the time of a frozen attrs class."""

    seq: int
    move_x: float
    move_y: float
    aim: float  # radians
    buttons: int
    ack_tick: int | None  # newest snapshot tick the client holds
    render_tick: int | None = None  # server tick the client was drawing others at (lag compensation)


@attr.s(auto_attribs=True, frozen=True, slots=True)
class Ping:
    client_time: float


@attr.s(auto_attribs=True, frozen=True, slots=True)
class Follow:
    """A spectator asks to follow a player; None: the server picks (the scoreboard's leader)."""

    entity_id: int | None


@attr.s(auto_attribs=True, frozen=True, slots=True)
class Ack:
    """The newest snapshot tick the client holds, for a client that sends no inputs."""

    tick: int


@attr.s(auto_attribs=True, frozen=True, slots=True)
class Resync:
    """The client's copy disagrees with the server's (a snapshot's checksum did not match, or
    a delta did not apply): the next snapshot is to be full."""


ClientMessage = Hello | Input | Ping | Follow | Ack | Resync


# --- server -> client ---------------------------------------------------------------------


@attr.s(auto_attribs=True, frozen=True, slots=True)
class Welcome:
    version: int
    entity_id: int  # 0: a spectator, who has no entity
    tick_rate: int
    snapshot_rate: int
    session_token: str
    room: str
    tick: int
    rules: dict[str, float] = attr.ib(factory=dict, hash=False)
    map: str | None = None  # the map's name: its Tiled file is /assets/maps/<map>.tmj
    schema: dict[str, Any] | None = attr.ib(default=None, hash=False)  # gameserver.schema's to_wire()


class Spawn(NamedTuple):
    """An entity the client did not hold at the baseline, in full: one value per field of its
    kind, in the order the game's schema declares them (gameserver.schema), positions in quanta.
    A newer server may send more values: those past the fields a client knows are ignored."""

    id: int
    kind: int
    values: tuple[Any, ...]


class Change(NamedTuple):
    """Changed fields of an entity the client holds: bit i of `mask` is the i-th changing field
    of its kind (gameserver.schema), `values` one per bit set, in bit order; a position's value
    is its change in quanta, the others are absolute.

    A named tuple, like Input: a verifying client decodes one per moving entity per snapshot,
    and a frozen attrs class took three times as long to build (340 against 113 ns)."""

    id: int
    mask: int
    values: tuple[Any, ...]


@attr.s(auto_attribs=True, frozen=True, slots=True)
class Snapshot:
    tick: int
    baseline: int | None  # None: a full snapshot, drop everything held
    last_seq: int | None  # newest input sequence applied for this player
    spawns: tuple[Spawn, ...] = ()
    changes: tuple[Change, ...] = ()
    removals: tuple[int, ...] = ()
    shots: tuple[Shot, ...] = ()  # fired since the previous snapshot tick, by entities in view
    # the checksum of everything the client holds once this snapshot is applied, on some
    # snapshots only (gameserver.codec.entity_checksum() says how it is computed)
    checksum: int | None = None


@attr.s(auto_attribs=True, frozen=True, slots=True)
class Shot:
    shooter: int
    hit: int | None  # the entity hit, or None for a miss


@attr.s(auto_attribs=True, frozen=True, slots=True)
class ScoreLine:
    id: int
    name: str
    score: int
    deaths: int
    away: bool = False  # its connection dropped; kept for a resume


@attr.s(auto_attribs=True, frozen=True, slots=True)
class Scoreboard:
    lines: tuple[ScoreLine, ...]  # best first


@attr.s(auto_attribs=True, frozen=True, slots=True)
class Pong:
    client_time: float
    tick: int


@attr.s(auto_attribs=True, frozen=True, slots=True)
class Error:
    code: str
    message: str


@attr.s(auto_attribs=True, frozen=True, slots=True)
class Goodbye:
    code: str
    message: str


@attr.s(auto_attribs=True, frozen=True, slots=True)
class Following:
    """Whom a spectator follows now; None while the room has no player."""

    entity_id: int | None


ServerMessage = Welcome | Snapshot | Pong | Error | Goodbye | Scoreboard | Following
