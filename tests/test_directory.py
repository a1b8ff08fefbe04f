"""The rooms of one process and matchmaking's decisions, with no sockets and no clock."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gameserver import codec
from gameserver.codec import ErrorCode
from gameserver.directory import DISPOSED_REMEMBERED, Directory, MatchError
from gameserver.games.arena import Arena
from gameserver.maps import GameMap
from gameserver.messages import Hello, Scoreboard, ScoreLine, Welcome
from gameserver.room import Member, Room
from gameserver.world import Entity


def make_room(room_id: str, map_name: str, game_map: GameMap | None, max_players: int) -> Room:
    return Room(room_id=room_id, game_map=game_map, max_players=max_players)


def directory(**kw: object) -> Directory:
    args: dict[str, object] = dict(
        maps={"none": None, "small": None}, default_map="none", make_room=make_room, room_size=4
    )
    args.update(kw)
    return Directory(**args)  # type: ignore[arg-type]


def entities_of(room: Room) -> dict[int, Entity]:
    """The entities of a room's world (these rooms play the arena)."""
    assert isinstance(room.game, Arena)
    return room.game.world.entities


def refused(error: ErrorCode, call: object, *args: object) -> MatchError:
    with pytest.raises(MatchError) as info:
        call(*args)  # type: ignore[operator]
    assert info.value.error is error, info.value
    return info.value


def test_quick_play_fills_the_fullest_open_room_then_opens_another() -> None:
    d = directory()
    rooms = [d.join(Hello(1, f"p{i}"), 0.0)[0] for i in range(9)]
    assert [len(r.members) for r in dict.fromkeys(rooms)] == [4, 4, 1]
    assert len(d.rooms) == 3 and d.players == 9
    # a player leaves the first room: the next quick play fills it, not the third
    first = rooms[0]
    d.leave(first, next(iter(first.members.values())), 1.0)
    room, _ = d.join(Hello(1, "late"), 1.0)
    assert room is first and len(first.members) == 4


def test_quick_play_prefers_the_fullest_room_and_the_oldest_on_a_tie() -> None:
    d = directory()
    a = d.rooms[d.create(None, False, 0.0, "x").room_id]
    b = d.rooms[d.create(None, False, 0.0, "x").room_id]
    d.reserve(b.room_id, 0.0)
    assert d.rooms[d.quick(None, 0.0).room_id] is b  # b holds 2 seats, a 1
    assert d.rooms[d.quick(None, 0.0).room_id] is b  # b is full now (4)
    assert d.rooms[d.quick(None, 0.0).room_id] is a
    c = d.rooms[d.create(None, False, 0.0, "x").room_id]
    d.reserve(c.room_id, 0.0)
    assert c.taken == a.taken == 2
    assert d.rooms[d.quick(None, 0.0).room_id] is a  # a tie: the older room


def test_seats_count_toward_the_room_and_are_used_once() -> None:
    d = directory()
    seats = [d.quick("small", 0.0) for _ in range(4)]
    room_id = seats[0].room_id
    assert {s.room_id for s in seats} == {room_id} and d.reserved == 4
    refused(ErrorCode.ROOM_FULL, d.reserve, room_id, 0.0)
    refused(ErrorCode.ROOM_FULL, d.join, Hello(1, "x", None, room_id), 0.0)
    room, member = d.join(Hello(1, "a", None, None, seats[0].token), 1.0)
    assert room.room_id == room_id and member.entity_id in room.members and d.reserved == 3
    assert d.rooms[room_id].map_name == "small"
    refused(ErrorCode.INVALID_SEAT, d.join, Hello(1, "b", None, None, seats[0].token), 1.0)
    refused(ErrorCode.INVALID_SEAT, d.join, Hello(1, "b", None, "r-000000000000", seats[1].token), 1.0)
    refused(ErrorCode.INVALID_SEAT, d.join, Hello(1, "b", None, None, "never-issued"), 1.0)


def test_an_expired_seat_is_refused_and_frees_its_place() -> None:
    d = directory(seat_ttl=15.0)
    seat = d.create(None, False, 0.0, "x")
    refused(ErrorCode.INVALID_SEAT, d.join, Hello(1, "late", None, None, seat.token), 15.0)
    d.sweep(15.0)
    assert d.reserved == 0 and d.rooms[seat.room_id].taken == 0


def test_private_rooms_are_not_listed_nor_quick_played_but_joined_by_id() -> None:
    d = directory()
    private = d.create("small", True, 0.0, "x")
    public = d.create("small", False, 0.0, "x")
    assert [r["id"] for r in d.listing()] == [public.room_id]
    assert d.quick("small", 0.0).room_id == public.room_id
    room, _ = d.join(Hello(1, "friend", None, private.room_id), 0.0)
    assert room.room_id == private.room_id
    listing = d.listing("small")
    assert listing[0]["players"] == 0 and listing[0]["reserved"] == 2 and listing[0]["max_players"] == 4
    assert d.listing("none") == []


def test_an_empty_room_is_disposed_after_room_idle_and_its_id_is_answered_disposed() -> None:
    d = directory(room_idle=30.0)
    room, member = d.join(Hello(1, "a"), 0.0)
    d.leave(room, member, 10.0)
    d.sweep(39.0)
    assert room.room_id in d.rooms  # 29 s empty
    d.sweep(40.0)
    assert room.room_id not in d.rooms and d.disposed_total == 1
    refused(ErrorCode.ROOM_DISPOSED, d.join, Hello(1, "b", None, room.room_id), 41.0)
    assert refused(ErrorCode.ROOM_DISPOSED, d.reserve, room.room_id, 41.0).status == 410
    assert refused(ErrorCode.ROOM_NOT_FOUND, d.reserve, "r-000000000000", 41.0).status == 404
    # a quick play now opens a new room, with a new id
    again, _ = d.join(Hello(1, "c"), 42.0)
    assert again.room_id != room.room_id


def test_a_room_kept_alive_by_a_seat_is_not_disposed() -> None:
    d = directory(room_idle=1.0, seat_ttl=15.0)
    seat = d.create(None, False, 0.0, "x")
    d.sweep(5.0)
    d.sweep(10.0)
    assert seat.room_id in d.rooms
    d.sweep(15.0)  # the seat expires; the room is empty from now on
    d.sweep(16.0)
    assert seat.room_id not in d.rooms


def test_disposed_ids_are_remembered_up_to_a_bound() -> None:
    d = directory(
        room_idle=0.0,
        max_rooms=DISPOSED_REMEMBERED + 10,
        creates_per_minute=10**9,
        max_players=10**6,
        seats_per_address=10**6,
    )
    first = d.create(None, False, 0.0, "x").room_id
    for _ in range(DISPOSED_REMEMBERED):
        d.create(None, False, 0.0, "x")
    d.seats.clear()
    for hosted in d:
        hosted.seats.clear()
    d.sweep(1.0)
    d.sweep(2.0)
    assert len(d.disposed) == DISPOSED_REMEMBERED == len(d.disposed_ids)
    refused(ErrorCode.ROOM_NOT_FOUND, d.reserve, first, 3.0)  # the oldest was forgotten


def test_the_server_wide_cap_counts_players_and_seats_of_every_room() -> None:
    d = directory(max_players=5)
    d.join(Hello(1, "a"), 0.0)
    d.create("small", True, 0.0, "x")
    d.quick("small", 0.0)
    d.join(Hello(1, "b"), 0.0)
    d.join(Hello(1, "c"), 0.0)
    assert d.players + d.reserved == 5
    refused(ErrorCode.SERVER_FULL, d.join, Hello(1, "d"), 0.0)
    assert refused(ErrorCode.SERVER_FULL, d.quick, None, 0.0).status == 503


def test_too_many_rooms_and_unknown_maps_are_refused_with_their_codes() -> None:
    d = directory(max_rooms=2)
    d.create(None, False, 0.0, "x")
    d.create(None, True, 0.0, "x")
    err = refused(ErrorCode.SERVER_FULL, d.create, None, False, 0.0, "x")
    assert (err.status, err.code) == (503, "too_many_rooms")
    err = refused(ErrorCode.INVALID_MESSAGE, d.quick, "atlantis", 0.0)
    assert (err.status, err.code) == (400, "unknown_map") and "none, small" in err.message


def test_creating_rooms_is_limited_per_address() -> None:
    d = directory(creates_per_minute=3, max_rooms=100)
    for _ in range(3):
        d.create(None, False, 0.0, "10.0.0.1")
    err = refused(ErrorCode.RATE_LIMITED, d.create, None, False, 1.0, "10.0.0.1")
    assert err.status == 429 and err.retry_after >= 1
    d.create(None, False, 1.0, "10.0.0.2")  # another address has its own budget
    d.create(None, False, 21.0, "10.0.0.1")  # one back after 20 s (3 a minute)
    refused(ErrorCode.RATE_LIMITED, d.create, None, False, 21.0, "10.0.0.1")


def test_seats_waiting_are_limited_per_address_and_freed_by_use_expiry_or_disposal() -> None:
    d = directory(seats_per_address=2, room_size=10, seat_ttl=15.0, room_idle=0.0)
    used = d.quick(None, 0.0, "a")
    d.create(None, True, 0.0, "a")
    for call, args in ((d.quick, (None, 0.0, "a")), (d.reserve, (used.room_id, 0.0, "a"))):
        assert refused(ErrorCode.RATE_LIMITED, call, *args).status == 429
    d.quick(None, 0.0, "b")  # another address
    d.join(Hello(1, "p", None, None, used.token), 1.0)  # a HELLO uses one
    d.quick(None, 1.0, "a")
    d.sweep(15.0)  # the seats taken at 0 expire
    assert dict(d.seats_by_address) == {"a": 1}
    d.sweep(15.5)  # the private room is empty: disposed (room_idle 0)
    assert len(d.rooms) == 1
    d.sweep(16.0)
    assert not d.seats_by_address and d.reserved == 0


def test_room_size_comes_from_the_flag_else_the_map_else_the_server_cap() -> None:
    d = directory(room_size=0, max_players=50)
    assert d.size_for("none") == 50
    d2 = directory(room_size=8, max_players=50)
    assert d2.size_for("none") == 8
    d3 = directory(room_size=100, max_players=50)
    assert d3.size_for("none") == 50


def test_a_room_whose_tick_raises_is_closed_alone() -> None:
    d = directory()
    healthy, a = d.join(Hello(1, "a"), 0.0)
    broken = d.rooms[d.create(None, False, 0.0, "x").room_id].room
    _, b = d.join(Hello(1, "b", None, broken.room_id), 0.0)
    _, c = d.join(Hello(1, "c", None, broken.room_id), 0.0)

    # A fault inside this room's tick: an inbox holding something that is not an input (works
    # on the compiled build too, where a room's attributes cannot be swapped for stand-ins).
    b.inbox.append(None)  # type: ignore[arg-type]
    due = d.tick(0.0)
    assert b in due and c in due
    for m in (b, c):
        assert m.close_request == (1011, "internal_error") and m.pending is None
    assert broken.room_id not in d.rooms and d.failed_total == 1
    refused(ErrorCode.ROOM_DISPOSED, d.join, Hello(1, "d", None, broken.room_id), 0.0)
    # the healthy room goes on ticking and sending
    for _ in range(3):
        d.tick(0.0)
    assert healthy.tick_no == 4 and a.close_request is None and a.pending is not None
    # the failed room's players still count until their connections end
    assert d.players == 3
    d.leave(broken, b, 1.0)
    d.leave(broken, c, 1.0)
    assert d.players == 1


def test_rooms_without_players_do_not_tick() -> None:
    d = directory()
    seat = d.create(None, False, 0.0, "x")
    d.tick(0.0)
    assert d.rooms[seat.room_id].room.tick_no == 0


# Any sequence of quick plays, reservations, creates, joins by seat or id, leaves and expiries:
# no room ever holds more players and seats than its size, and quick play never opens a room
# while an open public room of its map has a free place.
operation = st.one_of(
    st.tuples(st.just("quick"), st.sampled_from(["none", "small"])),
    st.tuples(st.just("hello_quick"), st.just("none")),
    st.tuples(st.just("create"), st.booleans()),
    st.tuples(st.just("reserve"), st.integers(0, 20)),
    st.tuples(st.just("hello_room"), st.integers(0, 20)),
    st.tuples(st.just("use_seat"), st.integers(0, 40)),
    st.tuples(st.just("leave"), st.integers(0, 60)),
    st.tuples(st.just("time"), st.sampled_from([0.5, 5.0, 20.0])),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(operation, max_size=120))
def test_rooms_are_never_overfilled_and_quick_play_never_duplicates(
    ops: list[tuple[str, str | float]],
) -> None:
    d = directory(room_size=3, max_players=20, max_rooms=8, seat_ttl=15.0, room_idle=10.0)
    now = 0.0
    seats: list[str] = []
    members: list[tuple[Room, Member]] = []
    ids: list[str] = []
    for kind, arg in ops:
        try:
            if kind == "quick":
                map_name = str(arg)
                open_before = [h for h in d if h.map_name == map_name and not h.private and h.free > 0]
                seat = d.quick(map_name, now)
                if open_before:
                    assert seat.room_id in {h.room_id for h in open_before}, "a needless new room"
                seats.append(seat.token)
            elif kind == "hello_quick":
                open_before = [h for h in d if h.map_name == "none" and not h.private and h.free > 0]
                room, m = d.join(Hello(1, "q"), now)
                if open_before:
                    assert room.room_id in {h.room_id for h in open_before}, "a needless new room"
                members.append((room, m))
            elif kind == "create":
                seat = d.create(None, bool(arg), now, "x")
                seats.append(seat.token)
            elif kind == "reserve" and ids:
                seats.append(d.reserve(ids[int(arg) % len(ids)], now).token)
            elif kind == "hello_room" and ids:
                members.append(d.join(Hello(1, "r", None, ids[int(arg) % len(ids)]), now))
            elif kind == "use_seat" and seats:
                token = seats.pop(int(arg) % len(seats))
                members.append(d.join(Hello(1, "s", None, None, token), now))
            elif kind == "leave" and members:
                room, m = members.pop(int(arg) % len(members))
                d.leave(room, m, now)
            elif kind == "time":
                now += float(arg)
                d.tick(now)
        except MatchError:
            pass
        d.creates_per_minute = 10**6
        ids.extend(h.room_id for h in d if h.room_id not in ids)
        for hosted in d:
            assert hosted.taken <= hosted.room.max_players == 3
        assert d.players + d.reserved <= 20 and len(d.rooms) <= 8
        assert d.players == sum(len(h.room.members) for h in d)
        assert d.reserved == sum(len(h.seats) for h in d)


# --- a drop is not a leave: sessions, the grace window, resuming -------------------------------


def test_a_dropped_player_is_kept_and_resumes_as_the_same_entity_with_a_new_token() -> None:
    d = directory(grace=20.0)
    room, m = d.join(Hello(1, "ann"), 0.0)
    ent = entities_of(room)[m.entity_id]
    ent.score, ent.hp = 3, 50
    token = m.session_token
    selector, _, verifier = token.partition(".")
    assert len(verifier) >= 22 and len(selector) == 16  # 128 random bits behind a lookup id
    d.leave(room, m, 1.0, keep=True)
    assert m.entity_id not in room.members and m.entity_id in entities_of(room)
    assert room.away[m.entity_id].since == 1.0 and d.players == 1 and d.rooms[room.room_id].taken == 1
    d.sweep(20.9)
    again_room, back = d.join(Hello(1, "ignored", token), 21.0 - 0.1)
    assert again_room is room and back.entity_id == m.entity_id
    assert (ent.score, ent.hp, back.name) == (3, 50, "ann")
    assert entities_of(room)[back.entity_id] is ent
    assert back.held_tick is None and back.last_received_seq is None  # a full snapshot, seq afresh
    assert back.session_token != token and not room.away and d.players == 1 and d.resumed_total == 1
    welcome = codec.decode_server(back.control[0])
    assert isinstance(welcome, Welcome) and welcome.entity_id == m.entity_id
    assert welcome.session_token == back.session_token
    # a token works once: the one before is refused as soon as the client acknowledges a
    # snapshot, which shows it had the WELCOME with the new one
    back.ack_tick = 1
    refused(ErrorCode.SESSION_EXPIRED, d.join, Hello(1, "ann", token), 22.0)


def test_a_welcome_lost_with_its_connection_does_not_strand_the_player() -> None:
    d = directory()
    room, m = d.join(Hello(1, "ann"), 0.0)
    m.ack_tick = 0
    held = m.session_token  # what the client holds
    d.leave(room, m, 1.0, keep=True)
    _, lost = d.join(Hello(1, "ann", held), 2.0)  # its WELCOME never arrives
    d.leave(room, lost, 3.0, keep=True)
    _, again = d.join(Hello(1, "ann", held), 4.0)  # the token the client still holds
    assert again.entity_id == m.entity_id and d.players == 1 and len(entities_of(room)) == 1
    d.leave(room, again, 5.0, keep=True)  # lost again: still good
    _, third = d.join(Hello(1, "ann", held), 6.0)
    assert third.entity_id == m.entity_id
    refused(ErrorCode.SESSION_EXPIRED, d.join, Hello(1, "ann", lost.session_token + "x"), 6.5)
    third.ack_tick = 5  # it had this WELCOME: the old token is done
    refused(ErrorCode.SESSION_EXPIRED, d.join, Hello(1, "ann", held), 7.0)
    _, fourth = d.join(Hello(1, "ann", third.session_token), 8.0)
    assert fourth.entity_id == m.entity_id


def test_past_the_grace_window_a_dropped_player_leaves() -> None:
    d = directory(grace=20.0)
    room, m = d.join(Hello(1, "ann"), 0.0)
    d.leave(room, m, 1.0, keep=True)
    d.sweep(21.0)
    assert m.entity_id in room.away  # 20 s exactly: still kept
    d.sweep(21.5)
    assert m.entity_id not in entities_of(room) and not room.away and d.players == 0
    err = refused(ErrorCode.SESSION_EXPIRED, d.join, Hello(1, "ann", m.session_token), 22.0)
    assert err.error.close_code == 4401


def test_a_leave_on_purpose_or_no_grace_removes_the_player_at_once() -> None:
    for grace, keep in ((20.0, False), (0.0, True)):
        d = directory(grace=grace)
        room, m = d.join(Hello(1, "ann"), 0.0)
        d.leave(room, m, 1.0, keep=keep)
        assert m.entity_id not in entities_of(room) and d.players == 0 and not d.sessions
        refused(ErrorCode.SESSION_EXPIRED, d.join, Hello(1, "ann", m.session_token), 2.0)


def test_a_new_connection_with_the_token_takes_the_session_over() -> None:
    d = directory()
    room, old = d.join(Hello(1, "ann"), 0.0)
    _, new = d.join(Hello(1, "ann", old.session_token), 1.0)
    assert new.entity_id == old.entity_id and room.members[old.entity_id] is new
    assert old.close_request == (4001, "session_replaced")
    assert old in d.tick(1.1)  # its goodbye goes out with the next tick's sends
    # the old connection's end changes nothing for the new one
    d.leave(room, old, 2.0, keep=True)
    assert room.members[old.entity_id] is new and not room.away and d.players == 1


def test_tokens_are_checked_whole() -> None:
    d = directory()
    _, m = d.join(Hello(1, "ann"), 0.0)
    selector, _, verifier = m.session_token.partition(".")
    for wrong in (selector, f"{selector}.", f"{selector}.{verifier[:-1]}x", "x" * 40, f".{verifier}"):
        refused(ErrorCode.SESSION_EXPIRED, d.join, Hello(1, "ann", wrong), 1.0)
    assert d.players == 1


def test_the_scoreboard_marks_a_dropped_player_away() -> None:
    d = directory()
    room, a = d.join(Hello(1, "ann"), 0.0)
    _, b = d.join(Hello(1, "bob"), 0.0)
    d.tick(0.0)
    for _ in range(40):  # past the scoreboard's once-a-second pace
        d.tick(0.0)
    d.leave(room, b, 1.0, keep=True)
    lines: list[ScoreLine] = []
    for _ in range(40):
        d.tick(1.0)
        for data in a.take_outgoing():
            msg = codec.decode_server(data)
            if isinstance(msg, Scoreboard):
                lines = list(msg.lines)
    assert {(ln.name, ln.away) for ln in lines} == {("ann", False), ("bob", True)}


def test_a_disposed_rooms_sessions_end_with_it() -> None:
    d = directory()
    room, a = d.join(Hello(1, "ann"), 0.0)
    d.leave(room, a, 0.0, keep=True)
    d.fail(d.rooms[room.room_id], 1.0)
    assert d.players == 0 and not d.sessions
    refused(ErrorCode.SESSION_EXPIRED, d.join, Hello(1, "ann", a.session_token), 2.0)


def test_the_listing_counts_players_away_among_the_players() -> None:
    d = directory()
    room, a = d.join(Hello(1, "ann"), 0.0)
    d.join(Hello(1, "bob"), 0.0)
    d.leave(room, a, 1.0, keep=True)
    (line,) = d.listing()
    assert (line["players"], line["away"], line["reserved"]) == (2, 1, 0)


def test_unlimited_addresses_are_not_held_to_the_per_address_limits() -> None:
    d = directory(creates_per_minute=1, seats_per_address=1, max_rooms=100, unlimited_addresses={"127.0.0.1"})
    for _ in range(5):  # a reverse proxy on this machine speaks for many clients
        d.create(None, False, 0.0, "127.0.0.1")
    d.create(None, False, 0.0, "10.0.0.1")
    refused(ErrorCode.RATE_LIMITED, d.quick, None, 0.0, "10.0.0.1")  # its one seat is waiting


def test_players_kept_after_a_drop_are_bounded_per_address() -> None:
    """Dropping and coming back as a new player over and over must not fill the server with
    kept players: past away_per_address, a drop from that address is a leave."""
    d = directory(room_size=10, away_per_address=2, unlimited_addresses={"127.0.0.1"})
    joined = [d.join(Hello(1, f"p{i}"), 0.0) for i in range(6)]
    for room, member in joined[:3]:
        d.leave(room, member, 1.0, keep=True, address="10.0.0.9")
    room = joined[0][0]
    assert len(room.away) == 2 and d.players == 5 and d.away_by_address["10.0.0.9"] == 2
    for room, member in joined[3:5]:  # another address, and an unlimited one, keep theirs
        d.leave(room, member, 1.0, keep=True, address="127.0.0.1")
    assert len(room.away) == 4
    d.leave(*joined[5], 1.0, keep=True, address="10.0.0.9")  # one too many: removed at once
    assert joined[5][1].entity_id not in room.away and d.away_by_address["10.0.0.9"] == 2
    # a resume frees its place in the count; so does the end of the grace window
    first = joined[0][1]
    d.join(Hello(1, "p0", first.session_token), 2.0)
    assert d.away_by_address["10.0.0.9"] == 1
    d.sweep(1.0 + d.grace + 1.0)
    assert not room.away and not d.away_by_address
    r, m = d.join(Hello(1, "q"), 30.0)
    d.leave(r, m, 30.0, keep=True, address="10.0.0.9")
    assert m.entity_id in r.away and d.away_by_address["10.0.0.9"] == 1
