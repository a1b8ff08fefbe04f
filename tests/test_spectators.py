"""Spectators: in a room with no entity of their own, following a player. The room and the
directory tick by tick with no sockets, then a real server with real WebSocket clients."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from typing import Any

import pytest
from server_process import ServerProcess
from test_directory import directory, entities_of, refused
from test_reconnect import recv, welcomed
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from gameserver import codec
from gameserver.codec import ErrorCode, ProtocolError
from gameserver.messages import (
    Ack,
    ClientMessage,
    Error,
    Follow,
    Following,
    Goodbye,
    Hello,
    Input,
    Scoreboard,
    ServerMessage,
    Snapshot,
    Welcome,
)
from gameserver.replication import Mirror
from gameserver.room import Member, Room
from gameserver.world import SCHEMA, Rules


class Watcher:
    """A spectator as a well-behaved client keeps it: a mirror, acknowledged."""

    def __init__(self, room: Room, member: Member) -> None:
        self.room = room
        self.member = member
        self.mirror = Mirror(SCHEMA)
        self.following: list[int | None] = []

    def read(self) -> list[ServerMessage]:
        msgs = [codec.decode_server(b) for b in self.member.take_outgoing()]
        for m in msgs:
            if isinstance(m, Snapshot):
                self.mirror.apply(m)
            elif isinstance(m, Following):
                self.following.append(m.entity_id)
        return msgs

    def send(self, msg: ClientMessage) -> None:
        self.room.spectator_bytes(self.member, codec.encode_client(msg))

    def ack(self) -> None:
        assert self.mirror.tick is not None, "no snapshot to acknowledge yet"
        self.send(Ack(self.mirror.tick))


def play(room: Room, ticks: int, *watchers: Watcher) -> None:
    for _ in range(ticks):
        room.tick()
        for w in watchers:
            w.read()
            w.ack()


def test_a_spectator_has_no_entity_takes_no_place_and_sees_every_player() -> None:
    room = Room(max_players=2)
    a, b = room.join("a"), room.join("b")
    for _ in range(100):  # a quiet room: no scoreboard has gone out for seconds
        room.tick()
    w = Watcher(room, room.watch("eve"))
    welcome, following, board = w.read()
    assert isinstance(welcome, Welcome) and welcome.entity_id == 0 and welcome.session_token == ""
    assert following == Following(a.entity_id)  # the leader: no kills yet, the oldest
    assert isinstance(board, Scoreboard) and [ln.name for ln in board.lines] == ["a", "b"]
    assert set(entities_of(room)) == {a.entity_id, b.entity_id}
    play(room, 3, w)
    assert set(w.mirror.rows) == {a.entity_id, b.entity_id}
    snaps = [m for m in [codec.decode_server(b) for b in a.take_outgoing()] if isinstance(m, Snapshot)]
    assert snaps and all(0 not in {s.id for s in snap.spawns} for snap in snaps)
    # the room is full for players, not for spectators
    with pytest.raises(Exception, match="holds 2 players"):
        room.join("c")
    Watcher(room, room.watch("fay"))
    assert len(room.spectators) == 2


def test_a_spectators_snapshots_carry_no_input_sequence_and_need_acks() -> None:
    room = Room(max_lag_seconds=2.0)  # 60 ticks; an idle room sends a heartbeat a second
    room.join("a")
    w = Watcher(room, room.watch("eve"))
    play(room, 100, w)
    assert w.member.close_request is None
    snap = None
    for _ in range(70):  # no more acks
        room.tick()
        for m in w.read():
            if isinstance(m, Snapshot):
                snap = m
    assert snap is not None and snap.last_seq is None
    assert w.member.close_request is not None and w.member.close_request[1] == "too_slow"


def test_follow_switches_an_unknown_id_is_ignored_and_a_leaving_target_is_replaced() -> None:
    room = Room()
    a, b = room.join("a"), room.join("b")
    w = Watcher(room, room.watch("eve"))
    play(room, 1, w)
    w.send(Follow(b.entity_id))
    w.send(Follow(999))  # no such player: answered with the one it follows
    w.send(Follow(None))  # the server picks: it keeps the one followed
    play(room, 1, w)
    assert w.following == [a.entity_id, b.entity_id, b.entity_id, b.entity_id]
    assert w.member.follow == b.entity_id
    room.leave(b)
    play(room, 1, w)
    assert w.following[-1] == a.entity_id
    room.leave(a)
    play(room, 1, w)
    assert w.following[-1] is None and w.mirror.rows == {}
    c = room.join("c")
    play(room, 1, w)
    assert w.following[-1] == c.entity_id


def test_with_a_view_a_spectator_holds_what_the_followed_player_sees() -> None:
    rules = Rules(world_width=4000.0, world_height=4000.0, view_width=400.0, view_height=300.0)
    room = Room(options={"rules": rules})
    a, b = room.join("a"), room.join("b")
    entities = entities_of(room)
    entities[a.entity_id].x, entities[a.entity_id].y = 300.0, 300.0
    entities[b.entity_id].x, entities[b.entity_id].y = 3000.0, 3000.0
    w = Watcher(room, room.watch("eve"))
    play(room, 2, w)
    assert set(w.mirror.rows) == {a.entity_id}
    w.send(Follow(b.entity_id))
    play(room, 2, w)
    assert set(w.mirror.rows) == {b.entity_id}


def test_a_spectators_input_is_refused_and_a_players_follow_too() -> None:
    room = Room()
    a = room.join("a")
    w = Watcher(room, room.watch("eve"))
    data = codec.encode_client(Input(1, 1.0, 0.0, 0.0, 0, None))
    with pytest.raises(ProtocolError) as info:
        w.send(Input(1, 1.0, 0.0, 0.0, 0, None))
    assert info.value.error is ErrorCode.SPECTATOR_INPUT
    with pytest.raises(ProtocolError):
        room.spectator_input(w.member, data)
    # an input the transport took aside, as it does for players, is refused by the tick
    w.member.raw_inputs.append(data)
    assert w.member in room.tick()
    out = [codec.decode_server(b) for b in w.member.take_outgoing()]
    assert Error("spectator_input", "a spectator sends no inputs") in out
    assert w.member.close_request == (1008, "spectator_input")
    with pytest.raises(ProtocolError) as info:
        room.receive_bytes(a, codec.encode_client(Follow(a.entity_id)))
    assert info.value.error is ErrorCode.INVALID_MESSAGE
    room.receive_bytes(a, codec.encode_client(Ack(0)))  # a player may acknowledge without input


def test_the_directory_bounds_spectators_per_room_and_per_server() -> None:
    d = directory(spectators_per_room=2, max_spectators=3)
    room, _ = d.join(Hello(1, "p"), 0.0)
    other, _ = d.join(Hello(1, "q"), 0.0)
    assert other is room
    for i in range(2):
        r, m = d.join(Hello(1, f"s{i}", room=room.room_id, spectate=True), 0.0)
        assert r is room and m.spectator
    refused(ErrorCode.ROOM_FULL, d.join, Hello(1, "s2", room=room.room_id, spectate=True), 0.0)
    assert d.spectators == 2 and d.players == 2
    assert d.listing()[0]["spectators"] == 2 and d.listing()[0]["players"] == 2
    seat = d.create(None, False, 0.0, "x")
    d.join(Hello(1, "s3", room=seat.room_id, spectate=True), 0.0)
    refused(ErrorCode.SERVER_FULL, d.join, Hello(1, "s4", room=seat.room_id, spectate=True), 0.0)
    spectator = room.spectators[0]
    d.leave(room, spectator, 1.0)
    assert d.spectators == 2 and spectator not in room.spectators
    assert d.join(Hello(1, "s5", room=room.room_id, spectate=True), 1.0)[0] is room
    refused(ErrorCode.ROOM_FULL, directory(spectators_per_room=0).join, Hello(1, "s", spectate=True), 0.0)


def test_quick_spectating_watches_the_public_room_with_the_most_players() -> None:
    d = directory()
    refused(ErrorCode.ROOM_NOT_FOUND, d.join, Hello(1, "s", spectate=True), 0.0)
    first, _ = d.join(Hello(1, "a"), 0.0)
    busy = d.rooms[d.create(None, False, 0.0, "x").room_id].room
    hidden = d.rooms[d.create(None, True, 0.0, "x").room_id].room
    for name in ("b", "c"):
        d.join(Hello(1, name, room=busy.room_id), 0.0)
    for name in ("d", "e", "f"):
        d.join(Hello(1, name, room=hidden.room_id), 0.0)
    assert d.join(Hello(1, "s", spectate=True), 0.0)[0] is busy
    assert first is not busy
    # a private room is watched by its id only
    assert d.join(Hello(1, "t", room=hidden.room_id, spectate=True), 0.0)[0] is hidden


def test_spectators_do_not_keep_a_room_and_hear_why_it_went() -> None:
    d = directory(room_idle=5.0)
    room, player = d.join(Hello(1, "a"), 0.0)
    _, spectator = d.join(Hello(1, "s", room=room.room_id, spectate=True), 0.0)
    d.leave(room, player, 1.0)
    assert spectator in d.tick(1.0)  # spectators alone: the room still ticks for them
    assert room.tick_no == 1
    d.tick(7.0)
    assert room.room_id not in d.rooms
    due = d.tick(7.1)
    assert spectator in due
    assert spectator.close_request == (4410, "room_disposed")
    out = [codec.decode_server(b) for b in spectator.take_outgoing()]
    assert isinstance(out[-1], Goodbye) and out[-1].code == "room_disposed"
    d.leave(room, spectator, 7.2)
    assert d.spectators == 0


def test_shutdown_and_a_failed_room_say_goodbye_to_spectators_too() -> None:
    d = directory()
    room, _ = d.join(Hello(1, "a"), 0.0)
    _, spectator = d.join(Hello(1, "s", room=room.room_id, spectate=True), 0.0)
    assert spectator in d.close_all(ErrorCode.SERVER_SHUTDOWN, "bye")
    d2 = directory()
    room2, _ = d2.join(Hello(1, "a"), 0.0)
    _, spectator2 = d2.join(Hello(1, "s", room=room2.room_id, spectate=True), 0.0)
    assert spectator2 in d2.fail(d2.rooms[room2.room_id], 0.0)
    assert spectator2.close_request == (1011, "internal_error")


def test_hello_refuses_a_spectator_with_a_token_or_a_seat() -> None:
    for fields in ([1, 1, "s", "tok.en", None, None, True], [1, 1, "s", None, None, "seat", True]):
        with pytest.raises(ProtocolError) as info:
            codec.decode_client(codec._pack(fields))
        assert info.value.error is ErrorCode.INVALID_MESSAGE
    with pytest.raises(ProtocolError):
        codec.decode_client(codec._pack([1, 1, "s", None, None, None, 1]))  # a bool, not an int


# --- a real server ------------------------------------------------------------------------


async def until(ws: ClientConnection, want: Any, timeout: float = 5.0) -> Any:
    """Read until a message for which `want` is true; acknowledge snapshots as a spectator."""
    deadline = time.monotonic() + timeout
    while True:
        msg = await recv(ws, max(0.01, deadline - time.monotonic()))
        if want(msg):
            return msg
        if isinstance(msg, Snapshot):
            await ws.send(codec.encode_client(Ack(msg.tick)))


def get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())  # type: ignore[no-any-return]


def test_a_spectator_over_websockets_watches_follows_and_is_refused_inputs() -> None:
    with ServerProcess(map_name="yard") as s:

        async def scenario() -> None:
            async with connect(s.ws_url) as ann, connect(s.ws_url) as bob:
                a = await welcomed(ann, Hello(1, "ann"))
                b = await welcomed(bob, Hello(1, "bob"))
                assert a.room == b.room
                async with connect(s.ws_url) as eve:
                    e = await welcomed(eve, Hello(1, "eve", room=a.room, spectate=True))
                    assert (e.entity_id, e.session_token, e.room, e.map) == (0, "", a.room, "yard")
                    assert await recv(eve) == Following(a.entity_id)
                    mirror = Mirror(SCHEMA)
                    board = None
                    while set(mirror.rows) != {a.entity_id, b.entity_id} or board is None:
                        msg = await recv(eve)
                        if isinstance(msg, Snapshot):
                            mirror.apply(msg)
                            await eve.send(codec.encode_client(Ack(msg.tick)))
                        elif isinstance(msg, Scoreboard):
                            board = msg
                    assert {ln.id for ln in board.lines} == {a.entity_id, b.entity_id}
                    await eve.send(codec.encode_client(Follow(b.entity_id)))
                    await until(eve, lambda m: m == Following(b.entity_id))
                    listing = get_json(s.http + "/rooms")["rooms"]
                    assert [(r["players"], r["spectators"]) for r in listing] == [(2, 1)]
                    assert s.health()["spectators"] == 1 and s.health()["players"] == 2
                    await eve.send(codec.encode_client(Input(1, 1.0, 0.0, 0.0, 0, mirror.tick)))
                    err = await until(eve, lambda m: isinstance(m, Error))
                    assert err.code == "spectator_input"
                    with pytest.raises(ConnectionClosed):
                        while True:
                            await recv(eve)
                    assert eve.close_code == 1008
                deadline = asyncio.get_running_loop().time() + 5
                while s.health()["spectators"] != 0:
                    assert asyncio.get_running_loop().time() < deadline
                    await asyncio.sleep(0.02)
                assert s.health()["players"] == 2  # the players played on

        asyncio.run(scenario())


def test_after_a_following_the_next_snapshot_is_built_around_the_new_player() -> None:
    rules = Rules(world_width=4000.0, world_height=4000.0, view_width=400.0, view_height=300.0)
    room = Room(options={"rules": rules})
    a, b = room.join("a"), room.join("b")
    entities = entities_of(room)
    entities[a.entity_id].x, entities[a.entity_id].y = 300.0, 300.0
    entities[b.entity_id].x, entities[b.entity_id].y = 3000.0, 3000.0
    w = Watcher(room, room.watch("eve"))
    play(room, 2, w)
    room.tick()  # a snapshot around a waits to be sent...
    w.send(Follow(b.entity_id))  # ...when the spectator switches to b
    out = w.read()
    assert out == [Following(b.entity_id)]  # not a snapshot around a after it
    room.tick()
    snap = [m for m in w.read() if isinstance(m, Snapshot)]
    assert snap and set(w.mirror.rows) == {b.entity_id}


def test_an_ack_is_decoded_as_cheaply_as_an_input() -> None:
    assert codec.decode_client(codec.encode_client(Ack(2**31 - 1))) == Ack(2**31 - 1)
    with pytest.raises(ProtocolError):
        codec.decode_client(codec._pack([5, 2**31]))  # past the largest tick
    with pytest.raises(ProtocolError):
        codec.decode_client(codec._pack([5, True]))
