"""Many processes, one directory in Redis (gameserver.cluster), against a real redis-server.

The Registry's decisions are tested here with plain redis-py clients, as many "processes" in one
test; tests/test_cluster_e2e.py runs real server processes.
"""

from __future__ import annotations

import collections
import itertools
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis_server import RedisServer
from server_process import wait_for

from gameserver.cluster import (
    MARGIN_MS,
    SEAT_CHARS,
    Claim,
    ClusterSeats,
    DirectoryUnavailable,
    Registry,
    SeatSigner,
)
from gameserver.directory import MatchError

MAPS = ["arena", "none", "yard"]
_prefixes = itertools.count()


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture
def prefix() -> str:
    return f"t{next(_prefixes)}:"


def registry(
    server: RedisServer,
    prefix: str,
    url: str,
    *,
    ttl: float = 5.0,
    seat_ttl: float = 15.0,
    max_players: int = 1000,
    max_rooms: int = 100,
) -> Registry:
    r = Registry(
        server.client(),
        prefix=prefix,
        url=url,
        game="arena",
        maps=MAPS,
        max_players=max_players,
        max_rooms=max_rooms,
        ttl=ttl,
        seat_ttl=seat_ttl,
        errors=(redis.ConnectionError, redis.TimeoutError),
    )
    r.register()
    r.beat([], [], [])
    return r


def seats_of(r: Registry) -> ClusterSeats:
    """The seats `r`'s process takes, as its Directory checks them."""
    assert r.signer is not None
    return ClusterSeats(r.signer, r.process_id)


def keys(server: RedisServer, prefix: str) -> set[str]:
    return {k.decode() for k in server.client().scan_iter(prefix + "*")}


# --- seats --------------------------------------------------------------------------------------


def test_a_seat_token_says_its_room_process_expiry_and_map_and_cannot_be_forged() -> None:
    signer = SeatSigner(b"k" * 32, MAPS)
    claim = Claim("0a0b0c0d0e0f", "r-00112233aabb", "deadbeef", int(time.time()) + 15, "yard", True)
    token = signer.sign(claim)
    assert len(token) == SEAT_CHARS <= 64 and signer.open(token) == claim
    assert SeatSigner(b"x" * 32, MAPS).open(token) is None  # another cluster's secret
    flipped = token[:5] + ("A" if token[5] != "A" else "B") + token[6:]
    assert signer.open(flipped) is None
    assert (
        signer.open(token[:-1]) is None and signer.open("") is None and signer.open("!" * SEAT_CHARS) is None
    )


def test_the_owner_takes_a_seat_once_and_only_its_own() -> None:
    signer = SeatSigner(b"k" * 32, MAPS)
    now = time.time()
    seats = ClusterSeats(signer, "deadbeef")

    def token(process: str = "deadbeef", expires: float = now + 15, room: str = "r-00112233aabb") -> str:
        return signer.sign(Claim("0a0b0c0d0e0f", room, process, int(expires), "yard", False))

    def refused(tok: str, room: str | None = None) -> str:
        with pytest.raises(MatchError) as info:
            seats.claim(tok, room, now)
        assert info.value.code == "invalid_seat"
        return info.value.message

    assert "another process" in refused(token(process="cafebabe"))
    assert "expired" in refused(token(expires=now - 1))
    assert "not for room" in refused(token(), "r-ffffffffffff")
    assert "not one this cluster gave" in refused("x" * 22)
    assert seats.claim(token(), "r-00112233aabb", now).room_id == "r-00112233aabb"
    assert "used" in refused(token())
    # a used seat is forgotten once it has expired: the table does not grow
    seats.claim(
        signer.sign(Claim("1a0b0c0d0e0f", "r-00112233aabb", "deadbeef", int(now) + 1, "yard", False)),
        None,
        now,
    )
    seats._forget(now + 20)
    assert seats.used == {}


# --- the directory ------------------------------------------------------------------------------


def test_quick_play_fills_the_fullest_room_across_processes_then_opens_one_on_the_least_loaded(
    redis_server: RedisServer, prefix: str
) -> None:
    a = registry(redis_server, prefix, "ws://a.test/ws")
    b = registry(redis_server, prefix, "ws://b.test/ws")
    first = [a.quick("yard", 3) for _ in range(3)]
    assert {o.room_id for o in first} == {first[0].room_id} and first[0].url == "ws://a.test/ws"
    assert [o.players for o in first] == [0, 1, 2] and first[0].max_players == 3
    fourth = b.quick("yard", 3)  # a's room is full: a new room, on b, which holds no one
    assert fourth.room_id != first[0].room_id and fourth.url == "ws://b.test/ws"
    other_map = a.quick("none", 3)  # the fewest players: b has 1 seat, a 3
    assert other_map.url == "ws://b.test/ws" and other_map.map_name == "none"
    listing = {r["id"]: r for r in a.listing()}
    assert {r["url"] for r in listing.values()} == {"ws://a.test/ws", "ws://b.test/ws"}
    assert listing[first[0].room_id]["reserved"] == 3 and listing[fourth.room_id]["reserved"] == 1
    assert [r["id"] for r in b.listing("none")] == [other_map.room_id]
    # a private room is reached by its id alone
    private = a.create("arena", True, 2)
    assert private.private and private.room_id not in {r["id"] for r in b.listing()}
    joined = b.join(private.room_id)
    assert (joined.room_id, joined.map_name, joined.private, joined.players) == (
        private.room_id,
        "arena",
        True,
        1,
    )
    with pytest.raises(MatchError) as full:
        a.join(private.room_id)
    assert (full.value.status, full.value.code) == (409, "room_full")
    with pytest.raises(MatchError) as missing:
        a.join("r-000000000000")
    assert (missing.value.status, missing.value.code) == (404, "room_not_found")


def test_concurrent_quick_plays_from_many_processes_never_overfill_and_open_no_needless_room(
    redis_server: RedisServer, prefix: str
) -> None:
    processes = [registry(redis_server, prefix, f"ws://p{i}.test/ws") for i in range(4)]
    with ThreadPoolExecutor(max_workers=32) as pool:
        offers = list(pool.map(lambda i: processes[i % 4].quick("yard", 5), range(200)))
    per_room = collections.Counter(o.room_id for o in offers)
    assert len(per_room) == 40 and set(per_room.values()) == {5}
    assert len({o.seat for o in offers}) == 200
    # each room is on one process, and the new rooms spread over all four
    owner = {o.room_id: o.url for o in offers}
    assert all(o.url == owner[o.room_id] for o in offers)
    assert set(collections.Counter(owner.values()).values()) == {10}


def test_the_owner_writes_the_player_a_seat_became_and_gives_up_a_room_it_disposed(
    redis_server: RedisServer, prefix: str
) -> None:
    a = registry(redis_server, prefix, "ws://a.test/ws")
    seat = a.quick("yard", 2)
    claim = seats_of(a).claim(seat.seat, None, time.time())
    # the player joined: one beat writes it, with its seat used
    assert a.beat([(seat.room_id, "yard", False, 2, 1)], [(seat.room_id, claim.seat_id)], []) == [0]
    (room,) = a.listing()
    assert (room["players"], room["reserved"]) == (1, 0)
    second = a.quick("yard", 2)
    assert second.room_id == seat.room_id and second.players == 1
    # the room was disposed here while a seat was on its way: the room waits for that seat
    assert a.beat([], [], [(seat.room_id, "yard")]) == []
    (room,) = a.listing()
    assert (room["id"], room["players"], room["reserved"]) == (seat.room_id, 0, 1)
    # the seat's player came and went; the room is disposed again: now it is gone
    used = seats_of(a).claim(second.seat, None, time.time())
    a.beat([(seat.room_id, "yard", False, 2, 1)], [(seat.room_id, used.seat_id)], [])
    a.beat([], [], [(seat.room_id, "yard")])
    assert a.listing() == []
    assert keys(redis_server, prefix) == {
        f"{prefix}{k}" for k in ("cluster", "secret", "procs", "proc:" + a.process_id)
    }


def test_a_process_that_stops_beating_leaves_the_directory_with_its_rooms_within_its_ttl(
    redis_server: RedisServer, prefix: str
) -> None:
    a = registry(redis_server, prefix, "ws://a.test/ws", ttl=5.0)
    b = registry(redis_server, prefix, "ws://b.test/ws", ttl=1.0, seat_ttl=0.5)
    on_a = a.create("yard", False, 4)
    a.beat([(on_a.room_id, "yard", False, 4, 2)], [], [])  # 2 players and a seat: new rooms go to b
    on_b = b.create("yard", False, 4)
    used = seats_of(b).claim(on_b.seat, None, time.time())
    b.beat([(on_b.room_id, "yard", False, 4, 1)], [(on_b.room_id, used.seat_id)], [])  # a player on b
    waiting = b.create("none", True, 4)  # and a seat on its way to a room no one has reached
    assert on_b.url == waiting.url == "ws://b.test/ws"
    started = time.monotonic()
    # b is killed: it beats no more. Its listing is gone within its ttl (1 s)...
    wait_for(lambda: not any(r["url"] == "ws://b.test/ws" for r in a.listing()), 3.0, "b's rooms to leave")
    assert time.monotonic() - started < 2.0
    offer = a.quick("yard", 4)
    assert offer.url == "ws://a.test/ws" and offer.room_id == on_a.room_id
    with pytest.raises(MatchError):
        a.join(waiting.room_id)

    # ...and every key of b's is gone when the last expires: a room with a seat on its way
    # lives until the seat's expiry and a margin (MARGIN_MS)
    def b_keys() -> set[str]:
        return {
            k
            for k in keys(redis_server, prefix)
            if any(x in k for x in (b.process_id, on_b.room_id, waiting.room_id))
        }

    wait_for(lambda: not b_keys(), 2.0 + MARGIN_MS / 1000, "b's keys to expire")


def test_a_draining_process_is_offered_no_player(redis_server: RedisServer, prefix: str) -> None:
    a = registry(redis_server, prefix, "ws://a.test/ws")
    b = registry(redis_server, prefix, "ws://b.test/ws")
    room = b.create("yard", False, 8)
    b.draining = True
    b.beat([(room.room_id, "yard", False, 8, 1)], [], [])
    for _ in range(3):
        assert a.quick("yard", 8).url == "ws://a.test/ws"
    with pytest.raises(MatchError) as gone:
        a.join(room.room_id)
    assert gone.value.code == "room_not_found"
    assert [r["draining"] for r in a.listing() if r["id"] == room.room_id] == [True]


def test_a_full_cluster_says_server_full(redis_server: RedisServer, prefix: str) -> None:
    a = registry(redis_server, prefix, "ws://a.test/ws", max_players=3, max_rooms=1)
    for _ in range(3):
        a.quick("yard", 8)
    with pytest.raises(MatchError) as full:
        a.quick("yard", 8)
    assert (full.value.status, full.value.code) == (503, "server_full")
    with pytest.raises(MatchError):
        a.create("none", False, 8)  # one room at most


def test_a_process_of_another_game_or_maps_is_refused(redis_server: RedisServer, prefix: str) -> None:
    registry(redis_server, prefix, "ws://a.test/ws")
    other = Registry(
        redis_server.client(),
        prefix=prefix,
        url="ws://c.test/ws",
        game="ball",
        maps=["none"],
        max_players=10,
        max_rooms=10,
        ttl=5,
        seat_ttl=15,
        errors=(redis.ConnectionError,),
    )
    with pytest.raises(ValueError, match="'arena'"):
        other.register()


def test_an_unreachable_redis_is_directory_unavailable(prefix: str) -> None:
    dead = redis.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=1, retry=Retry(NoBackoff(), 1)
    )  # as the server makes it (server.green_redis)
    r = Registry(
        dead,
        prefix=prefix,
        url="ws://a.test/ws",
        game="arena",
        maps=MAPS,
        max_players=10,
        max_rooms=10,
        ttl=5,
        seat_ttl=15,
        errors=(redis.ConnectionError, redis.TimeoutError),
    )
    with pytest.raises(DirectoryUnavailable):
        r.register()


def test_the_directory_rebuilds_itself_from_the_beats_after_redis_loses_everything(
    redis_server: RedisServer, prefix: str
) -> None:
    a = registry(redis_server, prefix, "ws://a.test/ws")
    room = a.create("yard", False, 4)
    a.beat([(room.room_id, "yard", False, 4, 1)], [], [])
    for key in keys(redis_server, prefix):  # Redis restarted with no persistence
        redis_server.client().delete(key)
    a.beat([(room.room_id, "yard", False, 4, 1)], [], [])
    assert [(r["id"], r["players"]) for r in a.listing()] == [(room.room_id, 1)]
    # a process that joins now gets the same secret: its seats are good at a
    b = registry(redis_server, prefix, "ws://b.test/ws")
    offer = b.join(room.room_id)
    assert offer.url == "ws://a.test/ws"
    assert seats_of(a).claim(offer.seat, room.room_id, time.time()).room_id == room.room_id
