"""Every room of this process, the seats reserved in them, and matchmaking's decisions.

Invariants:
- Pure: no sockets, no eventlet, no clock of its own: every call that needs the time is given
  `now` (monotonic seconds). Each call runs to its end without yielding, so in the server a
  decision and the seat it reserves are one step: concurrent joins never put more than a room's
  `max_players` players and reserved seats in it, and concurrent quick plays never open a second
  room while one has a free place.
- Across every room, players and reserved seats together are at most `max_players`, and there
  are at most `max_rooms` rooms.
- A room id is given to one room only: ids are random and checked against the rooms alive and
  the last DISPOSED_REMEMBERED disposed ones (those also tell `room_disposed` from
  `room_not_found`).
- A room with no players and no seats for `room_idle` seconds is disposed. A room whose tick
  raises is closed alone: its players are told internal_error, it is disposed, and every other
  room ticks on.
- Rooms with no players do not tick: a thousand empty rooms cost the tick nothing.
- A player whose connection drops without a goodbye is kept for `grace` seconds (its entity in
  the world, not moving, holding its place) and comes back with its session token. A token is
  a public selector and a secret verifier (128 random bits), compared in constant time; it
  works once: every WELCOME carries a new one and the old one is forgotten.
- Spectators do not count toward a room's size or `max_players`: at most `spectators_per_room`
  watch one room and `max_spectators` the whole process. They do not keep a room alive: a room
  disposed under them says GOODBYE room_disposed to them. A room with players or spectators
  ticks.
"""

from __future__ import annotations

import collections
import hmac
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import attr

from gameserver.codec import ErrorCode
from gameserver.maps import GameMap
from gameserver.messages import Hello
from gameserver.room import Member, Room

log = logging.getLogger(__name__)

DISPOSED_REMEMBERED = 10_000  # disposed ids answered with room_disposed; older: room_not_found
SWEEP_EVERY = 0.25  # seconds between sweeps of expired seats and idle rooms
CREATORS_REMEMBERED = 4096  # addresses whose creation budget is kept; full budgets are forgotten

# A room for a map: (room id, map name, the map or None for the empty world, players per room)
RoomFactory = Callable[[str, str, GameMap | None, int], Room]


class ClaimedSeat(Protocol):
    """A seat another process of a cluster reserved here (cluster.Claim)."""

    @property
    def seat_id(self) -> str: ...
    @property
    def room_id(self) -> str: ...
    @property
    def map_name(self) -> str: ...
    @property
    def private(self) -> bool: ...


class SeatClaims(Protocol):
    """Checks a cluster's seat tokens (cluster.ClusterSeats): MatchError for a bad one."""

    def claim(self, token: str, room_id: str | None, wall_now: float) -> ClaimedSeat: ...


def _nothing() -> None:
    pass


class MatchError(Exception):
    """A join, quick play or create that cannot be done: `code` is the stable error code,
    `status` the HTTP status matchmaking answers with, `error` what a HELLO is refused with."""

    def __init__(
        self, status: int, error: ErrorCode, message: str, *, code: str | None = None, retry_after: int = 0
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.code = code or error.code
        self.message = message
        self.retry_after = retry_after


@attr.s(auto_attribs=True, slots=True, eq=False)
class Seat:
    token: str
    room_id: str
    expires: float
    address: str = ""  # who asked for it: seats waiting are bounded per address


@attr.s(auto_attribs=True, slots=True, eq=False)
class Session:
    """What a session token stands for: a player of a room, while it plays or is kept."""

    room_id: str
    entity_id: int
    verifier: str
    # the verifier of the token before, good until the client shows it had the WELCOME that
    # replaced it (a WELCOME lost with its connection must not strand the player)
    previous: str | None = None


@attr.s(auto_attribs=True, slots=True, eq=False)
class Hosted:
    """A room as the directory keeps it: the match, and what matchmaking needs to know of it."""

    room: Room
    map_name: str
    private: bool
    created: float  # wall-clock seconds, for the listing
    seats: dict[str, Seat] = attr.ib(factory=dict)
    empty_since: float | None = None
    remote_seats: int = 0  # in a cluster: seats Redis holds for it (cluster.ClusterAgent)

    @property
    def room_id(self) -> str:
        return self.room.room_id

    @property
    def taken(self) -> int:
        """Players (those kept after a drop too) and reserved seats: what counts toward the
        room's size."""
        return len(self.room.members) + len(self.room.away) + len(self.seats) + self.remote_seats

    @property
    def free(self) -> int:
        return self.room.max_players - self.taken


@attr.s(auto_attribs=True, slots=True, eq=False)
class Directory:
    maps: dict[str, GameMap | None]  # by name; None: the empty world
    default_map: str
    make_room: RoomFactory
    max_players: int = 1000  # players and seats across every room
    max_rooms: int = 500
    room_size: int = 0  # players per room; 0: the map's `max_players` property, else max_players
    seat_ttl: float = 15.0
    room_idle: float = 30.0
    creates_per_minute: int = 10  # explicit creates per client address
    seats_per_address: int = 16  # seats waiting for their HELLO, per client address
    # players one client address may leave behind for a resume (0: no cap): dropping and coming
    # back over and over must not fill the server with kept players
    away_per_address: int = 0
    # addresses those limits leave alone (a reverse proxy on this machine, local tools)
    unlimited_addresses: frozenset[str] = frozenset()
    grace: float = 20.0  # seconds a dropped player is kept for a resume; 0: not kept
    spectators_per_room: int = 32  # 0: no spectators
    max_spectators: int = 256  # spectators across every room
    wall_clock: Callable[[], float] = time.time  # the listing's `created`; a cluster seat's expiry
    # In a cluster (cluster.py): the seats are the cluster's, checked by `claims`; a player's
    # HELLO needs one. `seated` holds the (room id, seat id) of each seat used since the
    # ClusterAgent last took them, and `notify` is called when a room's players change.
    claims: SeatClaims | None = None
    process_id: str = ""  # in a cluster: this process's id, the first 8 hex digits of its sessions'
    notify: Callable[[], None] = _nothing
    seated: list[tuple[str, str]] = attr.ib(init=False, factory=list)
    # Draining (drain()): the process is going away; its matches play on, but no new room opens,
    # no seat is reserved, and no player joins but by a session token (a resume).
    draining: bool = attr.ib(init=False, default=False)
    rooms: dict[str, Hosted] = attr.ib(init=False, factory=dict)  # oldest first
    seats: dict[str, Seat] = attr.ib(init=False, factory=dict)
    # members of every room (those of a failed room until their connections end) and the
    # players kept after a drop
    players: int = attr.ib(init=False, default=0)
    spectators: int = attr.ib(init=False, default=0)  # across every room, until they leave
    sessions: dict[str, Session] = attr.ib(init=False, factory=dict)  # by the token's selector
    away_by_address: collections.Counter[str] = attr.ib(init=False, factory=collections.Counter)
    _selectors: dict[tuple[str, int], str] = attr.ib(init=False, factory=dict)  # by (room, entity)
    # the members that must hear from us outside a room's tick (a session taken over)
    _due: list[Member] = attr.ib(init=False, factory=list)
    resumed_total: int = attr.ib(init=False, default=0)
    disposed: deque[str] = attr.ib(init=False, factory=lambda: deque(maxlen=DISPOSED_REMEMBERED))
    disposed_ids: set[str] = attr.ib(init=False, factory=set)
    created_total: int = attr.ib(init=False, default=0)
    disposed_total: int = attr.ib(init=False, default=0)
    failed_total: int = attr.ib(init=False, default=0)
    resyncs_of_disposed: int = attr.ib(init=False, default=0)  # Room.resyncs_total of rooms gone
    seats_by_address: collections.Counter[str] = attr.ib(init=False, factory=collections.Counter)
    # creation budgets: address -> (tokens, when counted)
    _budgets: dict[str, tuple[float, float]] = attr.ib(init=False, factory=dict)
    _next_sweep: float = attr.ib(init=False, default=0.0)

    def __attrs_post_init__(self) -> None:
        if self.default_map not in self.maps:
            raise ValueError(f"the default map {self.default_map!r} is not among {sorted(self.maps)}")

    # --- sizes ----------------------------------------------------------------------------

    def size_for(self, map_name: str) -> int:
        """Players per room on this map: --room-size, else the map's `max_players`, else all."""
        if self.room_size:
            return min(self.room_size, self.max_players)
        game_map = self.maps[map_name]
        wanted = game_map.properties.get("max_players") if game_map is not None else None
        if type(wanted) is int and wanted > 0:
            return min(wanted, self.max_players)
        return self.max_players

    @property
    def reserved(self) -> int:
        return len(self.seats)

    def __iter__(self) -> Iterator[Hosted]:
        return iter(self.rooms.values())

    # --- matchmaking -------------------------------------------------------------------

    def quick(self, map_name: str | None, now: float, address: str = "") -> Seat:
        """A seat in the fullest public room of the map with a free place, or in a new one."""
        name = self._map(map_name)
        self._check_draining()
        self._check_server_room()
        self._check_seats_of(address)
        hosted = self._fullest_open(name) or self._open(name, private=False, now=now)
        return self._reserve(hosted, now, address)

    def create(self, map_name: str | None, private: bool, now: float, address: str = "") -> Seat:
        """A new room and a seat in it; explicit creates are limited per client address."""
        name = self._map(map_name)
        self._check_draining()
        self._check_server_room()
        self._check_seats_of(address)
        self.charge_creation(address, now)
        return self._reserve(self._open(name, private=private, now=now), now, address)

    def reserve(self, room_id: str, now: float, address: str = "") -> Seat:
        """A seat in the room with this id (join by id; private rooms too)."""
        hosted = self._find(room_id)
        self._check_draining()
        self._check_room(hosted)
        self._check_server_room()
        self._check_seats_of(address)
        return self._reserve(hosted, now, address)

    def join(self, hello: Hello, now: float) -> tuple[Room, Member]:
        """Seat the player a HELLO brings: back into its session (session token), by its seat,
        by its room id, or by quick play. Raises MatchError; the player's WELCOME is the first
        thing in its outbox."""
        if hello.spectate:
            return self._watch(hello)
        if hello.session_token is not None:
            return self._resume(hello.session_token, now)
        self._check_draining()
        if self.claims is not None:
            hosted = self._claimed(hello, now)
        elif hello.seat is not None:
            seat = self.seats.get(hello.seat)
            if seat is None or seat.expires <= now:
                why = "the seat is unknown, used or expired: reserve another"
                raise MatchError(403, ErrorCode.INVALID_SEAT, why)
            if hello.room is not None and hello.room != seat.room_id:
                raise MatchError(403, ErrorCode.INVALID_SEAT, f"the seat is not for room {hello.room}")
            self._drop_seat(seat)
            hosted = self._find(seat.room_id)
        elif hello.room is not None:
            hosted = self._find(hello.room)
            self._check_room(hosted)
            self._check_server_room()
        else:
            name = self.default_map
            self._check_server_room()
            hosted = self._fullest_open(name) or self._open(name, private=False, now=now)
        token, selector, verifier = self._new_token()
        member = hosted.room.join(hello.name, token)  # the checks above leave it a place
        self._open_session(hosted.room, member.entity_id, selector, verifier)
        self.players += 1
        hosted.empty_since = None
        self.notify()
        return hosted.room, member

    def _claimed(self, hello: Hello, now: float) -> Hosted:
        """The room of a cluster's seat, opened here with its id if no player has reached it."""
        assert self.claims is not None
        if hello.seat is None:
            why = (
                "this server is one process of a cluster: reserve a seat over HTTP "
                "(POST /matchmake/quick, create or join) and connect to the url it gives"
            )
            raise MatchError(403, ErrorCode.INVALID_SEAT, why)
        claim = self.claims.claim(hello.seat, hello.room, self.wall_clock())
        if claim.map_name not in self.maps:
            raise MatchError(403, ErrorCode.INVALID_SEAT, f"this process has no map {claim.map_name!r}")
        self._check_server_room()
        hosted = self.rooms.get(claim.room_id)
        if hosted is None:
            hosted = self._open(claim.map_name, private=claim.private, now=now, room_id=claim.room_id)
        self.seated.append((claim.room_id, claim.seat_id))
        return hosted

    def leave(self, room: Room, member: Member, now: float, *, keep: bool = False, address: str = "") -> None:
        """A player's connection ended: out of its room (which may have been disposed since),
        or, with `keep` (it dropped without a goodbye), kept for `grace` seconds. A spectator's:
        out of its room."""
        if member.spectator:
            if room.unwatch(member):
                self.spectators -= 1
            return
        if room.members.get(member.entity_id) is not member:
            return  # gone already, or its session was taken over by another connection
        hosted = self.rooms.get(room.room_id)
        alive = hosted is not None and hosted.room is room
        if keep and alive and self.grace > 0 and self._may_keep(address):
            room.drop(member, now, address)
            self.away_by_address[address] += 1
            return
        room.leave(member)
        self.players -= 1
        self._close_session(room.room_id, member.entity_id)
        if hosted is not None and alive and not hosted.taken:
            hosted.empty_since = now
        self.notify()

    def _may_keep(self, address: str) -> bool:
        cap = self.away_per_address
        return not cap or address in self.unlimited_addresses or self.away_by_address[address] < cap

    def _release_away(self, address: str) -> None:
        left = self.away_by_address[address] - 1
        if left > 0:
            self.away_by_address[address] = left
        else:
            del self.away_by_address[address]  # the table holds only addresses with players kept

    def _watch(self, hello: Hello) -> tuple[Room, Member]:
        """A spectator into the room it names, or into the public room of the default map with
        the most players."""
        if self.spectators_per_room == 0:
            raise MatchError(409, ErrorCode.ROOM_FULL, "this server takes no spectators")
        if self.spectators >= self.max_spectators:
            raise MatchError(503, ErrorCode.SERVER_FULL, f"the server holds {self.max_spectators} spectators")
        if hello.room is not None:
            hosted = self._find(hello.room)
        else:
            watched = [
                h
                for h in self.rooms.values()
                if h.map_name == self.default_map and not h.private and (h.room.members or h.room.away)
            ]
            if not watched:
                why = f"no public room of {self.default_map} has a player to watch"
                raise MatchError(404, ErrorCode.ROOM_NOT_FOUND, why)
            open_ = [h for h in watched if len(h.room.spectators) < self.spectators_per_room]
            # the most players; the oldest wins a tie
            hosted = max(open_ or watched, key=lambda h: len(h.room.members) + len(h.room.away))
        if len(hosted.room.spectators) >= self.spectators_per_room:
            why = f"room {hosted.room_id} holds {self.spectators_per_room} spectators"
            raise MatchError(409, ErrorCode.ROOM_FULL, why)
        self.spectators += 1
        return hosted.room, hosted.room.watch(hello.name)

    def _resume(self, token: str, now: float) -> tuple[Room, Member]:
        selector, _, verifier = token.partition(".")
        if self.process_id and selector not in self.sessions:
            owner = self.session_process(token)
            if owner is not None and owner != self.process_id:
                why = f"process {owner} holds this session: POST /matchmake/reconnect with it for its url"
                raise MatchError(421, ErrorCode.WRONG_PROCESS, why)
        session = self.sessions.get(selector)
        if session is None or not self._verify(session, verifier.encode()):
            raise MatchError(
                401, ErrorCode.SESSION_EXPIRED, "the session is unknown or expired: join afresh, without it"
            )
        hosted = self.rooms[session.room_id]  # a room's sessions close with it
        room = hosted.room
        old = room.members.get(session.entity_id)
        kept = room.away.get(session.entity_id)
        if kept is not None:
            self._release_away(kept.address)
        if old is not None:  # its connection still looks open: the new one takes over
            room.drop(old, now)  # (and resume() takes it back at once: not counted)
            old.request_close(
                ErrorCode.SESSION_REPLACED, "another connection resumed this session", goodbye=True
            )
            self._due.append(old)
        # The token just used stays good until the client shows it had this WELCOME.
        new_token, _, new_verifier = self._new_token(selector)
        member = room.resume(session.entity_id, new_token)
        if hmac.compare_digest(session.verifier.encode(), verifier.encode()):
            session.previous = session.verifier  # else the client still holds the previous one
        session.verifier = new_verifier
        self.resumed_total += 1
        hosted.empty_since = None
        return room, member

    def _verify(self, session: Session, verifier: bytes) -> bool:
        """The verifier is the session's (in constant time), or the one before it while the
        client has not acknowledged a snapshot since: it may never have had its new token."""
        if hmac.compare_digest(session.verifier.encode(), verifier):
            return True
        if session.previous is None or not hmac.compare_digest(session.previous.encode(), verifier):
            return False
        room = self.rooms[session.room_id].room
        member = room.members.get(session.entity_id)
        if member is not None:
            return member.ack_tick is None
        away = room.away.get(session.entity_id)
        return away is not None and not away.acknowledged

    def _new_token(self, selector: str | None = None) -> tuple[str, str, str]:
        """A session token: a selector that finds its session (kept across resumes) and a
        secret verifier, new every time."""
        if selector is None:
            selector = self._new_selector()
            while selector in self.sessions:
                selector = self._new_selector()
        verifier = secrets.token_urlsafe(16)  # 128 random bits
        return f"{selector}.{verifier}", selector, verifier

    def _new_selector(self) -> str:
        """16 hex digits; in a cluster the first 8 are the process's id, so that any process
        can say where a session is (session_process())."""
        return self.process_id + secrets.token_hex(4) if self.process_id else secrets.token_hex(8)

    def session_process(self, token: str) -> str | None:
        """The id of the process a session token belongs to (in a cluster), from its selector;
        None for a token that is not one."""
        selector = token.partition(".")[0]
        if len(selector) != 16 or not all(c in "0123456789abcdef" for c in selector):
            return None
        return selector[:8]

    def has_session(self, token: str) -> bool:
        """A session of this process has the token's selector (its verifier is the HELLO's to check)."""
        return token.partition(".")[0] in self.sessions

    def _open_session(self, room: Room, entity_id: int, selector: str, verifier: str) -> None:
        self.sessions[selector] = Session(room.room_id, entity_id, verifier)
        self._selectors[(room.room_id, entity_id)] = selector

    def _close_session(self, room_id: str, entity_id: int) -> None:
        selector = self._selectors.pop((room_id, entity_id), None)
        if selector is not None:
            self.sessions.pop(selector, None)

    # --- the tick ---------------------------------------------------------------------------

    def tick(self, now: float) -> list[Member]:
        """Advance every room that has players one tick; the members with something to send.
        A room whose tick raises is closed alone (see module docstring)."""
        due: list[Member] = []
        failed: list[Hosted] | None = None
        for hosted in self.rooms.values():
            room = hosted.room
            if room.members or room.spectators:
                try:
                    due.extend(room.tick())
                except Exception:
                    log.exception("room %s failed at tick %d; closing it", room.room_id, room.tick_no)
                    failed = [hosted] if failed is None else [*failed, hosted]
        if failed is not None:
            for hosted in failed:
                due.extend(self.fail(hosted, now))
        if self._due:
            due.extend(self._due)
            self._due = []
        if now >= self._next_sweep:
            self.sweep(now)
        return due

    def fail(self, hosted: Hosted, now: float) -> list[Member]:
        """Close a room whose tick failed: GOODBYE internal_error to its players, then dispose it."""
        self.failed_total += 1
        members = [*hosted.room.members.values(), *hosted.room.spectators]
        why = "the room failed and was closed; join another"
        for m in members:
            m.request_close(ErrorCode.INTERNAL_ERROR, why, goodbye=True)
        self._dispose(hosted)
        return members

    def sweep(self, now: float) -> None:
        """Expired seats go; rooms empty for room_idle seconds are disposed."""
        self._next_sweep = now + SWEEP_EVERY
        for seat in [s for s in self.seats.values() if s.expires <= now]:
            self._drop_seat(seat)
        idle: list[Hosted] = []
        for hosted in self.rooms.values():
            if hosted.room.away:
                for away in hosted.room.expire_away(now - self.grace):
                    self.players -= 1
                    self._release_away(away.address)
                    self._close_session(hosted.room_id, away.entity_id)
            if hosted.taken:
                hosted.empty_since = None
            elif hosted.empty_since is None:
                hosted.empty_since = now
            elif now - hosted.empty_since >= self.room_idle:
                idle.append(hosted)
        for hosted in idle:
            log.info("room %s disposed after %g s empty", hosted.room_id, self.room_idle)
            self._dispose(hosted)

    def close_all(self, error: ErrorCode, message: str) -> list[Member]:
        out: list[Member] = []
        for hosted in self.rooms.values():
            out.extend(hosted.room.close_all(error, message))
        return out

    # --- the listing -------------------------------------------------------------------

    def listing(self, map_name: str | None = None) -> list[dict[str, Any]]:
        """The public rooms, oldest first (GET /rooms)."""
        return [
            {
                "id": h.room_id,
                "map": h.map_name,
                "players": len(h.room.members) + len(h.room.away),
                "away": len(h.room.away),
                "reserved": len(h.seats),
                "spectators": len(h.room.spectators),
                "max_players": h.room.max_players,
                "created": int(h.created),
            }
            for h in self.rooms.values()
            if not h.private and (map_name is None or h.map_name == map_name)
        ]

    # --- inside ------------------------------------------------------------------------

    def map_named(self, map_name: str | None) -> str:
        """The map a matchmaking request names (None: the default): MatchError unknown_map."""
        return self._map(map_name)

    def _map(self, map_name: str | None) -> str:
        name = self.default_map if map_name is None else map_name
        if name not in self.maps:
            raise MatchError(
                400,
                ErrorCode.INVALID_MESSAGE,
                f"no map {name!r}; this server has {', '.join(sorted(self.maps))}",
                code="unknown_map",
            )
        return name

    def _find(self, room_id: str) -> Hosted:
        hosted = self.rooms.get(room_id)
        if hosted is not None:
            return hosted
        if room_id in self.disposed_ids:
            raise MatchError(410, ErrorCode.ROOM_DISPOSED, f"room {room_id} was disposed; join another")
        raise MatchError(404, ErrorCode.ROOM_NOT_FOUND, f"no room {room_id}")

    def _check_room(self, hosted: Hosted) -> None:
        if hosted.free <= 0:
            size = hosted.room.max_players
            raise MatchError(409, ErrorCode.ROOM_FULL, f"room {hosted.room_id} holds {size} players")

    def drain(self) -> None:
        """The process is going away: its matches play on; nothing new starts (see `draining`)."""
        self.draining = True
        self.notify()

    def _check_draining(self) -> None:
        if self.draining:
            why = "this server is shutting down: its matches end soon; join elsewhere"
            raise MatchError(503, ErrorCode.SERVER_SHUTDOWN, why, retry_after=1)

    def _check_server_room(self) -> None:
        """One more player or seat fits the server's --max-players."""
        if self.players + len(self.seats) >= self.max_players:
            raise MatchError(503, ErrorCode.SERVER_FULL, f"the server holds {self.max_players} players")

    def _fullest_open(self, map_name: str) -> Hosted | None:
        best: Hosted | None = None
        best_taken = -1
        for hosted in self.rooms.values():
            if hosted.map_name == map_name and not hosted.private:
                taken = hosted.taken
                if best_taken < taken < hosted.room.max_players:  # the oldest wins a tie
                    best, best_taken = hosted, taken
        return best

    def _open(self, map_name: str, *, private: bool, now: float, room_id: str = "") -> Hosted:
        """A new room; `room_id`: the id a cluster gave it (else a new one)."""
        if len(self.rooms) >= self.max_rooms:
            raise MatchError(
                503, ErrorCode.SERVER_FULL, f"the server holds {self.max_rooms} rooms", code="too_many_rooms"
            )
        if room_id:
            self.disposed_ids.discard(room_id)  # disposed here while its seats were on their way
        else:
            room_id = "r-" + secrets.token_hex(6)
            while room_id in self.rooms or room_id in self.disposed_ids:
                room_id = "r-" + secrets.token_hex(6)
        room = self.make_room(room_id, map_name, self.maps[map_name], self.size_for(map_name))
        hosted = Hosted(room=room, map_name=map_name, private=private, created=self.wall_clock())
        self.rooms[room_id] = hosted
        self.created_total += 1
        log.info("room %s opened (%s%s)", room_id, map_name, ", private" if private else "")
        return hosted

    def _check_seats_of(self, address: str) -> None:
        if address in self.unlimited_addresses:
            return
        if self.seats_by_address[address] >= self.seats_per_address:
            raise MatchError(
                429,
                ErrorCode.RATE_LIMITED,
                f"{self.seats_per_address} seats from this address are waiting for their HELLO",
                retry_after=max(1, round(self.seat_ttl)),
            )

    def _reserve(self, hosted: Hosted, now: float, address: str = "") -> Seat:
        token = secrets.token_urlsafe(16)
        seat = Seat(token=token, room_id=hosted.room_id, expires=now + self.seat_ttl, address=address)
        self.seats_by_address[address] += 1
        self.seats[seat.token] = seat
        hosted.seats[seat.token] = seat
        hosted.empty_since = None
        return seat

    def _drop_seat(self, seat: Seat) -> None:
        if self.seats.pop(seat.token, None) is not None:
            self._release_address(seat.address)
        hosted = self.rooms.get(seat.room_id)
        if hosted is not None:
            hosted.seats.pop(seat.token, None)

    def _dispose(self, hosted: Hosted) -> None:
        if self.rooms.pop(hosted.room_id, None) is None:
            return
        room = hosted.room
        for entity_id in [*room.members, *room.away]:
            self._close_session(hosted.room_id, entity_id)
        self.players -= len(room.away)  # the members count until their connections end
        for away in room.away.values():
            self._release_away(away.address)
        room.away.clear()
        for m in room.spectators:  # they count until their connections end, too
            if m.close_request is None:
                why = "every player left; the room was disposed"
                m.request_close(ErrorCode.ROOM_DISPOSED, why, goodbye=True)
                self._due.append(m)
        for seat in hosted.seats.values():
            if self.seats.pop(seat.token, None) is not None:
                self._release_address(seat.address)
        hosted.seats.clear()
        if len(self.disposed) == self.disposed.maxlen:
            self.disposed_ids.discard(self.disposed[0])
        self.disposed.append(hosted.room_id)
        self.disposed_ids.add(hosted.room_id)
        self.disposed_total += 1
        self.resyncs_of_disposed += room.resyncs_total
        self.notify()

    @property
    def resyncs_total(self) -> int:
        """RESYNCs taken by every room, the disposed ones included."""
        return self.resyncs_of_disposed + sum(hosted.room.resyncs_total for hosted in self.rooms.values())

    def _release_address(self, address: str) -> None:
        left = self.seats_by_address[address] - 1
        if left > 0:
            self.seats_by_address[address] = left
        else:
            del self.seats_by_address[address]  # the table holds only addresses with seats

    def charge_creation(self, address: str, now: float) -> None:
        """A token bucket per address: `creates_per_minute` at once, refilled at that rate."""
        if address in self.unlimited_addresses:
            return
        cap = float(self.creates_per_minute)
        rate = cap / 60.0
        tokens, at = self._budgets.get(address, (cap, now))
        tokens = min(cap, tokens + (now - at) * rate)
        if tokens < 1.0:
            wait = max(1, int((1.0 - tokens) / rate + 0.999))
            raise MatchError(
                429,
                ErrorCode.RATE_LIMITED,
                f"at most {self.creates_per_minute} rooms a minute from one address",
                retry_after=wait,
            )
        if address not in self._budgets and len(self._budgets) >= CREATORS_REMEMBERED:
            self._forget_full_budgets(now, cap, rate)
        self._budgets[address] = (tokens - 1.0, now)

    def _forget_full_budgets(self, now: float, cap: float, rate: float) -> None:
        """Addresses whose budget has refilled are as good as new: forget them. If none has,
        forget the oldest half, so the table stays bounded under a flood of addresses."""
        full = [a for a, (t, at) in self._budgets.items() if t + (now - at) * rate >= cap]
        if not full:
            full = list(self._budgets)[: len(self._budgets) // 2]
        for address in full:
            del self._budgets[address]
