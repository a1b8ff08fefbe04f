"""Rooms and matchmaking end to end: a real server on 127.0.0.1, real HTTP and WebSocket clients."""

from __future__ import annotations

import asyncio
import collections
import http.client
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from arena_records import name_of
from server_process import ServerProcess, first_answer, wait_for
from websockets.asyncio.client import connect

from gameserver import codec
from gameserver.messages import Error, Goodbye, Hello, Input, Snapshot, Welcome


def request(
    server: ServerProcess, method: str, path: str, body: bytes | None = None, source: str = "127.0.0.1"
) -> Any:
    """(status, headers, decoded JSON body) of one HTTP request from the `source` address."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10, source_address=(source, 0))
    try:
        conn.request(method, path, body=body)
        r = conn.getresponse()
        data = r.read()
        assert r.getheader("Content-Type") == "application/json", (r.status, data)
        return r.status, dict(r.getheaders()), json.loads(data)
    finally:
        conn.close()


def post(server: ServerProcess, path: str, obj: Any = None) -> tuple[int, dict[str, Any]]:
    status, _, body = request(server, "POST", path, b"" if obj is None else json.dumps(obj).encode())
    return status, body


# --- HTTP ------------------------------------------------------------------------------------


def test_bad_matchmaking_requests_get_a_4xx_with_a_json_error_that_names_the_problem() -> None:
    with ServerProcess(
        "--max-rooms", "3", "--creates-per-minute", "2", "--unlimited-addresses", "", map_name="yard"
    ) as s:
        cases: list[tuple[str, str, bytes | None, int, str]] = [
            ("POST", "/matchmake/quick", b"{not json", 400, "invalid_json"),
            ("POST", "/matchmake/quick", b"\xff\xfe{}", 400, "invalid_json"),
            ("POST", "/matchmake/quick", b"[1, 2]", 400, "invalid_json"),
            ("POST", "/matchmake/quick", b'{"map": 7}', 400, "invalid_request"),
            ("POST", "/matchmake/quick", b'{"mode": "x"}', 400, "invalid_request"),
            ("POST", "/matchmake/create", b'{"private": "yes"}', 400, "invalid_request"),
            ("POST", "/matchmake/join", b"{}", 400, "invalid_request"),
            ("POST", "/matchmake/join", b'{"room": ""}', 400, "invalid_request"),
            ("POST", "/matchmake/quick", b'{"map": "atlantis"}', 400, "unknown_map"),
            ("POST", "/matchmake/create", b'{"map": "../../etc/passwd"}', 400, "unknown_map"),
            ("POST", "/matchmake/quick", b'{"map": "' + b"x" * 2000 + b'"}', 413, "request_too_big"),
            ("POST", "/matchmake/join", b'{"room": "r-000000000000"}', 404, "room_not_found"),
            ("POST", "/matchmake/leave", b"{}", 404, "not_found"),
            ("GET", "/matchmake/quick", None, 405, "method_not_allowed"),
            ("POST", "/rooms", b"{}", 405, "method_not_allowed"),
            ("GET", "/rooms?map=atlantis", None, 400, "unknown_map"),
        ]
        for method, path, body, status, code in cases:
            got, headers, answer = request(s, method, path, body)
            assert (got, answer["error"]) == (status, code), (path, body, answer)
            assert answer["message"] and headers["Access-Control-Allow-Origin"] == "*"
        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
        conn.request("OPTIONS", "/matchmake/create", headers={"Origin": "http://elsewhere.test"})
        preflight = conn.getresponse()
        preflight.read()
        conn.close()
        assert preflight.status == 204 and preflight.getheader("Access-Control-Allow-Methods") == "POST"
        # a body sent in chunks is held to the same limit
        _, _, answer = request(s, "POST", "/matchmake/quick", iter([b"{" * 600, b" " * 600]))  # type: ignore[arg-type]
        assert answer["error"] == "request_too_big"
        # per-address creation budget: 2 a minute, then 429 with Retry-After
        assert post(s, "/matchmake/create", {"map": "yard"})[0] == 200
        assert post(s, "/matchmake/create", {"private": True})[0] == 200
        status, headers, answer = request(s, "POST", "/matchmake/create", b"{}")
        assert (status, answer["error"]) == (429, "rate_limited") and int(headers["Retry-After"]) >= 1
        # --max-rooms 3: the third room can still be opened by quick play on another map, the
        # fourth cannot
        assert post(s, "/matchmake/quick", {"map": "arena"})[0] == 200
        status, answer = post(s, "/matchmake/quick", {"map": "none"})
        assert (status, answer["error"]) == (503, "too_many_rooms")
        assert s.health()["rooms"] == 3
        # and the server is unaffected: a player still joins
        welcome, refused = asyncio.run(first_answer(s.ws_url, Hello(1, "after")))
        assert refused is None and isinstance(welcome, Welcome)


def test_the_listing_shows_public_rooms_with_their_players_and_seats() -> None:
    with ServerProcess("--room-size", "3", map_name="yard") as s:
        status, public = post(s, "/matchmake/create", {"map": "arena"})
        assert status == 200 and public["map"] == "arena" and public["max_players"] == 3
        assert public["url"] == f"ws://127.0.0.1:{s.port}/ws" and public["expires_in"] == 15.0
        status, private = post(s, "/matchmake/create", {"private": True})
        assert status == 200 and private["private"] is True and private["map"] == "yard"
        _, _, listing = request(s, "GET", "/rooms")
        assert listing["default_map"] == "yard" and {"arena", "none", "yard"} <= set(listing["maps"])
        (room,) = listing["rooms"]
        assert room["id"] == public["room"] and (room["players"], room["reserved"]) == (0, 1)
        assert room["map"] == "arena" and room["max_players"] == 3 and room["created"] > 1.7e9

        welcome, _ = asyncio.run(
            first_answer(s.ws_url, Hello(1, "ann", None, public["room"], public["seat"]))
        )
        assert welcome.room == public["room"] and welcome.map == "arena"
        _, _, listing = request(s, "GET", "/rooms?map=arena")
        assert [(r["players"], r["reserved"]) for r in listing["rooms"]] in ([(1, 0)], [(0, 0)])
        assert request(s, "GET", "/rooms?map=yard")[2]["rooms"] == []  # the yard room is private


# --- HELLO -----------------------------------------------------------------------------------


def test_hello_refusals_for_rooms_have_their_own_codes_and_close_codes() -> None:
    with ServerProcess("--room-size", "1", "--room-idle", "0.3", map_name="yard") as s:
        _, seat = post(s, "/matchmake/create", {})

        async def scenario() -> None:
            # a used seat, then a seat for another room than HELLO names
            first, _ = await first_answer(s.ws_url, Hello(1, "a", None, None, seat["seat"]))
            assert isinstance(first, Welcome) and first.room == seat["room"]
            again, closed = await first_answer(s.ws_url, Hello(1, "b", None, None, seat["seat"]))
            assert (
                isinstance(again, Error) and again.code == "invalid_seat" and closed == (4403, "invalid_seat")
            )
            # the player above left when its connection closed; the room is empty and is
            # disposed within --room-idle 0.3 s
            wait_for(lambda: s.health()["rooms_disposed"] == 1, 5, "the empty room to be disposed")
            gone, closed = await first_answer(s.ws_url, Hello(1, "c", None, seat["room"]))
            assert (
                isinstance(gone, Error) and gone.code == "room_disposed" and closed == (4410, "room_disposed")
            )
            missing, closed = await first_answer(s.ws_url, Hello(1, "d", None, "r-000000000000"))
            assert isinstance(missing, Error) and closed == (4404, "room_not_found")
            # a full room: one player holds it (room size 1)
            _, other = post(s, "/matchmake/create", {})
            async with connect(s.ws_url) as ws:
                await ws.send(codec.encode_client(Hello(1, "e", None, other["room"], other["seat"])))
                assert isinstance(codec.decode_server(await ws.recv()), Welcome)
                full, closed = await first_answer(s.ws_url, Hello(1, "f", None, other["room"]))
                assert isinstance(full, Error) and closed == (4409, "room_full")
                status, answer = post(s, "/matchmake/join", {"room": other["room"]})
                assert (status, answer["error"]) == (409, "room_full")

        asyncio.run(scenario())


def test_players_of_one_room_never_see_another_rooms_entities() -> None:
    """Two rooms of 3 on the empty world (everyone in a room sees everyone in it), everyone
    moving: each player's snapshots only ever hold the names of its own room."""
    with ServerProcess("--room-size", "3") as s:

        async def player(name: str, seen: dict[str, set[str]], rooms: dict[str, str]) -> None:
            async with connect(s.ws_url) as ws:
                await ws.send(codec.encode_client(Hello(1, name)))
                welcome = codec.decode_server(await ws.recv())
                assert isinstance(welcome, Welcome)
                rooms[name] = welcome.room
                seq = 0
                while len(seen[name]) < 3 or seq < 60:
                    msg = codec.decode_server(await asyncio.wait_for(ws.recv(), 5))
                    if isinstance(msg, Snapshot):
                        seen[name].update(name_of(spawn) for spawn in msg.spawns)
                        seq += 1
                        await ws.send(codec.encode_client(Input(seq, 1.0, 0.5, 0.0, 0, msg.tick)))

        async def everyone() -> tuple[dict[str, set[str]], dict[str, str]]:
            seen: dict[str, set[str]] = collections.defaultdict(set)
            rooms: dict[str, str] = {}
            await asyncio.wait_for(asyncio.gather(*(player(f"p{i}", seen, rooms) for i in range(6))), 30)
            return seen, rooms

        seen, rooms = asyncio.run(everyone())
    by_room: dict[str, set[str]] = collections.defaultdict(set)
    for name, room in rooms.items():
        by_room[room].add(name)
    assert sorted(len(names) for names in by_room.values()) == [3, 3]
    for name, room in rooms.items():
        assert seen[name] == by_room[room], (name, seen[name], by_room[room])


# --- never overfilled, never duplicated ------------------------------------------------------


def test_hundreds_of_concurrent_quick_plays_fill_rooms_exactly_and_open_no_needless_room() -> None:
    with ServerProcess(
        "--room-size", "8", "--max-players", "1000", "--seats-per-address", "1000", map_name="yard"
    ) as s:
        with ThreadPoolExecutor(max_workers=100) as pool:
            answers = list(pool.map(lambda _: post(s, "/matchmake/quick", {}), range(300)))
        assert all(status == 200 for status, _ in answers), [a for a in answers if a[0] != 200][:3]
        per_room = collections.Counter(body["room"] for _, body in answers)
        assert len(per_room) == 38 and max(per_room.values()) == 8  # 300 = 37 x 8 + 4
        assert sorted(per_room.values())[0] == 4
        health = s.health()
        assert health["rooms"] == 38 and health["seats_reserved"] == 300


def test_hundreds_of_concurrent_joins_never_overfill_a_room() -> None:
    """200 WebSocket HELLOs naming one room of 10 at once, while 100 HTTP joins ask for seats in
    it: exactly 10 get in (players and seats), every other one is refused room_full."""
    with ServerProcess("--room-size", "10", "--max-players", "1000", "--seats-per-address", "1000") as s:
        _, created = post(s, "/matchmake/create", {})  # the creator's seat is one of the 10
        room = created["room"]

        async def held(i: int, results: list[str]) -> None:
            async with connect(s.ws_url) as ws:
                await ws.send(codec.encode_client(Hello(1, f"h{i}", None, room)))
                msg = codec.decode_server(await asyncio.wait_for(ws.recv(), 10))
                assert isinstance(msg, Welcome | Error | Goodbye), msg
                results.append("in" if isinstance(msg, Welcome) else msg.code)
                if isinstance(msg, Welcome):
                    await asyncio.sleep(3)  # hold the place while the others try

        async def stampede() -> list[str]:
            results: list[str] = []
            loop = asyncio.get_running_loop()
            with ThreadPoolExecutor(max_workers=50) as pool:
                seats = [
                    loop.run_in_executor(pool, post, s, "/matchmake/join", {"room": room}) for _ in range(100)
                ]
                await asyncio.gather(*(held(i, results) for i in range(200)), *seats)
                http_in = sum(1 for f in seats if f.result()[0] == 200)
                http_full = sum(1 for f in seats if f.result()[1].get("error") == "room_full")
            results.extend(["seat"] * http_in + ["room_full"] * http_full)
            return results

        results = asyncio.run(stampede())
        counts = collections.Counter(results)
        assert counts["in"] + counts["seat"] == 9, counts  # 10 places, the creator holds one
        assert counts["room_full"] == 300 - 9, counts
        assert s.health()["players"] <= 10


def test_one_address_cannot_hold_every_seat() -> None:
    """Seats waiting for their HELLO are bounded per address: one address asking for seats
    over and over is refused (429) at --seats-per-address, and the seats it holds keep no one
    else out; a HELLO frees its seat's place in the count."""
    with ServerProcess("--seats-per-address", "4", "--max-players", "8", map_name="yard") as s:
        for _ in range(4):
            status, _, seat = request(s, "POST", "/matchmake/quick", b"{}", source="127.0.0.2")
            assert status == 200
        status, headers, answer = request(
            s, "POST", "/matchmake/join", json.dumps({"room": seat["room"]}).encode(), source="127.0.0.2"
        )
        assert (status, answer["error"]) == (429, "rate_limited") and int(headers["Retry-After"]) >= 1
        assert request(s, "POST", "/matchmake/create", b"{}", source="127.0.0.2")[0] == 429
        # another address still gets seats, and players still join
        status, _, other = request(s, "POST", "/matchmake/quick", b"{}", source="127.0.0.3")
        assert status == 200
        welcome, refused = asyncio.run(
            first_answer(s.ws_url, Hello(1, "x", None, other["room"], other["seat"]))
        )
        assert refused is None and isinstance(welcome, Welcome)
        # the flooding address used one of its seats: it may ask for one more
        welcome, _ = asyncio.run(first_answer(s.ws_url, Hello(1, "y", None, None, seat["seat"])))
        assert isinstance(welcome, Welcome)
        assert request(s, "POST", "/matchmake/quick", b"{}", source="127.0.0.2")[0] == 200


@pytest.mark.parametrize("hello_first", [True, False])
def test_quick_play_over_hello_and_over_http_share_the_rooms(hello_first: bool) -> None:
    with ServerProcess("--room-size", "2", map_name="yard") as s:

        async def scenario() -> tuple[str, str]:
            async with connect(s.ws_url) as ws:
                if hello_first:
                    await ws.send(codec.encode_client(Hello(1, "first")))
                    welcome = codec.decode_server(await ws.recv())
                    _, seat = post(s, "/matchmake/quick", {})
                    return welcome.room, seat["room"]  # type: ignore[union-attr]
                _, seat = post(s, "/matchmake/quick", {})
                await ws.send(codec.encode_client(Hello(1, "second")))
                welcome = codec.decode_server(await ws.recv())
                return seat["room"], welcome.room  # type: ignore[union-attr]

        a, b = asyncio.run(scenario())
        assert a == b
