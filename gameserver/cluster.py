"""Rooms on many processes: one directory in Redis, and seats that the owning process checks
alone.

With `--redis URL`, the processes of one game share a directory in Redis. Each process
registers with a heartbeat and a time to live; each room is listed with a time to live that
its owner refreshes. Matchmaking on any process decides in one Redis script (atomic: Redis
runs one script at a time) which room takes the player, or which process opens a new room,
and reserves the seat there; the client then connects straight to the owning process. The
seat is a signed token that names its room, its process and its expiry: the owner checks it
with no call to Redis, so a HELLO never waits on Redis.

Invariants:
- Redis counts a room's players (as its owner last wrote them) and its live seats; a seat
  stays counted until its owner writes the player it became, in one write with the new count,
  or until it expires. So no decision counts fewer than a room holds: quick play, create and
  join never overfill a room, and concurrent quick plays never open a second room of a map
  while one has a free place.
- A process that stops beating (killed, frozen, cut from Redis) leaves the directory within
  `ttl`: its registration, its rooms' listings and their seats all carry expiries; what has
  expired is never offered, and the keys themselves expire, so nothing stale stays.
- A room that no player has reached yet lives in Redis alone, until its last seat expires. Its
  owner opens it when the first seat's HELLO comes.
- Every time compared in Redis is Redis's own clock (TIME). A seat's expiry is also in its
  token, checked by the owner's wall clock: the machines' clocks must agree to well within
  the seat's time to live (--seat-ttl).
- Each call is bounded by the rooms listed: scripts read the rooms of one map, or of the
  processes alive, never a scan of the keyspace.
- Pure: no eventlet here. The runtime gives the Registry a Redis client (redis-py with a green
  socket, server.py) and calls ClusterAgent.beat() from a green thread.

Keys, under the prefix (--redis-prefix, `gameserver:`):
    proc:<pid>    hash: url, game, draining, max_players, max_rooms; expires with the beat
    procs         sorted set: process ids by when their registration expires
    rooms:<pid>   set: the room ids of a process
    room:<rid>    hash: proc, map, private, size, players, created; expires with its owner's
                  beat (a room no player has reached: with its last seat)
    seats:<rid>   sorted set: seat ids by expiry
    open:<map>    sorted set: public room ids of a map by when their listing expires
    cluster       hash: game, maps: what every process of the cluster must agree on
    secret        the key seats are signed with, made by the first process
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import struct
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import attr

from gameserver.codec import ErrorCode
from gameserver.directory import Directory, MatchError

log = logging.getLogger(__name__)

# The seat token: seat id, room id, process id, expiry (Unix seconds), map index, flags, then
# the first MAC_BYTES of its HMAC-SHA256; base64url: 43 characters, within HELLO's 64.
SEAT = struct.Struct(">6s6s4sIBB")
MAC_BYTES = 10
SEAT_CHARS = len(base64.urlsafe_b64encode(bytes(SEAT.size + MAC_BYTES)).rstrip(b"="))
PRIVATE = 1  # the flag of a private room
MARGIN_MS = 5000  # a seat counts this long past its expiry in Redis: its owner writes its use
BEATS_PER_TTL = 5  # a process beats this many times per time to live
ROOM_ID = "r-%s"  # and 12 hex digits (6 bytes), as a process's own room ids


class DirectoryUnavailable(Exception):
    """Redis did not answer: matchmaking answers 503 directory_unavailable."""


@attr.s(auto_attribs=True, frozen=True, slots=True)
class Claim:
    """What a seat token says: the owner opens `room_id` on `map_name` if it has not yet."""

    seat_id: str
    room_id: str
    process_id: str
    expires: int  # Unix seconds
    map_name: str
    private: bool


class SeatSigner:
    """Seat tokens signed with the cluster's secret. `maps`: the map names, in the order every
    process of the cluster has them (a token carries the map's index)."""

    def __init__(self, secret: bytes, maps: Sequence[str]) -> None:
        self.secret = secret
        self.maps = list(maps)
        self.index = {name: i for i, name in enumerate(self.maps)}

    def sign(self, claim: Claim) -> str:
        flags = PRIVATE if claim.private else 0
        body = SEAT.pack(
            bytes.fromhex(claim.seat_id),
            bytes.fromhex(claim.room_id[2:]),
            bytes.fromhex(claim.process_id),
            claim.expires,
            self.index[claim.map_name],
            flags,
        )
        mac = hmac.new(self.secret, body, hashlib.sha256).digest()[:MAC_BYTES]
        return base64.urlsafe_b64encode(body + mac).rstrip(b"=").decode()

    def open(self, token: str) -> Claim | None:
        """The claim of a token this cluster signed; None for anything else."""
        if len(token) != SEAT_CHARS:
            return None
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except ValueError:
            return None
        body, mac = raw[: SEAT.size], raw[SEAT.size :]
        if not hmac.compare_digest(mac, hmac.new(self.secret, body, hashlib.sha256).digest()[:MAC_BYTES]):
            return None
        seat_id, room, process, expires, map_index, flags = SEAT.unpack(body)
        if map_index >= len(self.maps):
            return None
        return Claim(
            seat_id=seat_id.hex(),
            room_id=ROOM_ID % room.hex(),
            process_id=process.hex(),
            expires=expires,
            map_name=self.maps[map_index],
            private=bool(flags & PRIVATE),
        )


class ClusterSeats:
    """The owner's side of the seats: a HELLO's seat is checked here, with no call to Redis
    (Directory.claims). A seat works once: used seat ids are kept until they expire."""

    def __init__(self, signer: SeatSigner, process_id: str) -> None:
        self.signer = signer
        self.process_id = process_id
        self.used: dict[str, int] = {}  # seat id -> expiry (Unix seconds)
        self._expiring: deque[tuple[int, str]] = deque()

    def claim(self, token: str, room_id: str | None, wall_now: float) -> Claim:
        claim = self.signer.open(token)
        if claim is None:
            raise MatchError(
                403, ErrorCode.INVALID_SEAT, "the seat is not one this cluster gave: reserve another"
            )
        if claim.process_id != self.process_id:
            why = "the seat is for another process of the cluster: connect to the url matchmaking gave"
            raise MatchError(403, ErrorCode.INVALID_SEAT, why)
        if room_id is not None and room_id != claim.room_id:
            raise MatchError(403, ErrorCode.INVALID_SEAT, f"the seat is not for room {room_id}")
        self._forget(wall_now)
        if claim.expires <= wall_now or claim.seat_id in self.used:
            raise MatchError(403, ErrorCode.INVALID_SEAT, "the seat is used or expired: reserve another")
        self.used[claim.seat_id] = claim.expires
        self._expiring.append((claim.expires, claim.seat_id))
        return claim

    def _forget(self, wall_now: float) -> None:
        expiring = self._expiring
        while expiring and expiring[0][0] <= wall_now:
            self.used.pop(expiring.popleft()[1], None)


# --- the scripts ---------------------------------------------------------------------------
# Each runs alone in Redis. ARGV[1] is always the prefix. They read and write keys they name
# from their arguments, so they are for one Redis server (or a primary with replicas), not for
# Redis Cluster's sharding.

_LUA_COMMON = """
local p = ARGV[1]
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- make a key expire at `at` (ms) unless it already lives longer
local function extend(key, at)
  if redis.call('PTTL', key) < 0 then
    redis.call('PEXPIREAT', key, at)
  else
    redis.call('PEXPIREAT', key, at, 'GT')
  end
end
-- a process that takes players: {url, draining, max_players, max_rooms}, or nil
local function open_proc(pid)
  local v = redis.call('HMGET', p .. 'proc:' .. pid, 'url', 'draining', 'max_players', 'max_rooms')
  if not v[1] or v[2] == '1' then return nil end
  return v
end
-- a room's players and live seats (the expired ones go)
local function taken(rid, now)
  local skey = p .. 'seats:' .. rid
  redis.call('ZREMRANGEBYSCORE', skey, '-inf', now)
  return tonumber(redis.call('HGET', p .. 'room:' .. rid, 'players') or '0') + redis.call('ZCARD', skey)
end
-- a process's rooms, and their players and seats (ids of rooms gone leave its set)
local function load(pid, now)
  local key = p .. 'rooms:' .. pid
  local n, total = 0, 0
  for _, rid in ipairs(redis.call('SMEMBERS', key)) do
    if redis.call('EXISTS', p .. 'room:' .. rid) == 1 then
      n = n + 1
      total = total + taken(rid, now)
    else
      redis.call('SREM', key, rid)
    end
  end
  return n, total
end
-- the process with the fewest players and seats that has room for a new room; `prefer` wins a tie
local function pick(now, prefer)
  local best, best_url, best_total
  for _, pid in ipairs(redis.call('ZRANGEBYSCORE', p .. 'procs', now, '+inf')) do
    local v = open_proc(pid)
    if v then
      local n, total = load(pid, now)
      if n < tonumber(v[4]) and total < tonumber(v[3]) then
        if best == nil or total < best_total or (total == best_total and pid == prefer) then
          best, best_url, best_total = pid, v[1], total
        end
      end
    end
  end
  return best, best_url
end
local function add_seat(rid, map, private, seat_id, expires)
  local at = expires + __MARGIN__
  redis.call('ZADD', p .. 'seats:' .. rid, expires, seat_id)
  extend(p .. 'seats:' .. rid, at)
  extend(p .. 'room:' .. rid, at)
  if private ~= '1' then
    redis.call('ZADD', p .. 'open:' .. map, 'GT', at, rid)
    extend(p .. 'open:' .. map, at)
  end
end
-- a process's rooms, their seats and listings, and its set of them: gone
local function forget_rooms(pid)
  local key = p .. 'rooms:' .. pid
  for _, rid in ipairs(redis.call('SMEMBERS', key)) do
    local map = redis.call('HGET', p .. 'room:' .. rid, 'map')
    if map then redis.call('ZREM', p .. 'open:' .. map, rid) end
    redis.call('DEL', p .. 'room:' .. rid, p .. 'seats:' .. rid)
  end
  redis.call('DEL', key)
end
-- a room no player has reached yet: it lives until `at` (ms) unless a seat or its owner's beat
-- keeps it longer
local function new_room(pid, rid, map, private, size, now, at)
  local key = p .. 'room:' .. rid
  if redis.call('EXISTS', key) == 1 then return false end
  redis.call('HSET', key, 'proc', pid, 'map', map, 'private', private, 'size', size,
    'players', 0, 'created', now)
  redis.call('SADD', p .. 'rooms:' .. pid, rid)
  extend(p .. 'rooms:' .. pid, at)
  return true
end
""".replace("__MARGIN__", str(MARGIN_MS))

# quick play: ARGV p, map, new room id, seat id, seat ttl (ms), size, this process's id
_QUICK = (
    _LUA_COMMON
    + """
local map, new_rid, seat_id = ARGV[2], ARGV[3], ARGV[4]
local seat_ttl, size, self_pid = tonumber(ARGV[5]), ARGV[6], ARGV[7]
local now = now_ms()
local okey = p .. 'open:' .. map
redis.call('ZREMRANGEBYSCORE', okey, '-inf', now)
local best, best_taken, best_room
local loads = {}
for _, rid in ipairs(redis.call('ZRANGE', okey, 0, -1)) do
  local room = redis.call('HMGET', p .. 'room:' .. rid, 'proc', 'size')
  if not room[1] then
    redis.call('ZREM', okey, rid)
  else
    local v = open_proc(room[1])
    if v then
      local t = taken(rid, now)
      if t < tonumber(room[2]) and (best == nil or t > best_taken) then
        local total = loads[room[1]]
        if total == nil then
          local _
          _, total = load(room[1], now)
          loads[room[1]] = total
        end
        if total < tonumber(v[3]) then
          best, best_taken, best_room = rid, t, {room[1], v[1], room[2]}
        end
      end
    end
  end
end
local expires = now + seat_ttl
if best then
  add_seat(best, map, '0', seat_id, expires)
  return {best, best_room[1], best_room[2], best_taken, best_room[3], expires, 0}
end
local pid, url = pick(now, self_pid)
if not pid then return {'err', 'server_full'} end
if not new_room(pid, new_rid, map, '0', size, now, expires + __MARGIN__) then
  return {'err', 'retry'}
end
add_seat(new_rid, map, '0', seat_id, expires)
return {new_rid, pid, url, 0, size, expires, 1}
""".replace("__MARGIN__", str(MARGIN_MS))
)

# create: ARGV p, map, private ('0'/'1'), new room id, seat id, seat ttl (ms), size, this process
_CREATE = (
    _LUA_COMMON
    + """
local map, private, new_rid, seat_id = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local seat_ttl, size, self_pid = tonumber(ARGV[6]), ARGV[7], ARGV[8]
local now = now_ms()
local pid, url = pick(now, self_pid)
if not pid then return {'err', 'server_full'} end
local expires = now + seat_ttl
if not new_room(pid, new_rid, map, private, size, now, expires + __MARGIN__) then
  return {'err', 'retry'}
end
add_seat(new_rid, map, private, seat_id, expires)
return {new_rid, pid, url, 0, size, expires, 1}
""".replace("__MARGIN__", str(MARGIN_MS))
)

# join by id: ARGV p, room id, seat id, seat ttl (ms)
_JOIN = (
    _LUA_COMMON
    + """
local rid, seat_id, seat_ttl = ARGV[2], ARGV[3], tonumber(ARGV[4])
local now = now_ms()
local room = redis.call('HMGET', p .. 'room:' .. rid, 'proc', 'size', 'map', 'private')
if not room[1] then return {'err', 'room_not_found'} end
local v = open_proc(room[1])
if not v then return {'err', 'room_not_found'} end
local t = taken(rid, now)
if t >= tonumber(room[2]) then return {'err', 'room_full'} end
local _, total = load(room[1], now)
if total >= tonumber(v[3]) then return {'err', 'server_full'} end
local expires = now + seat_ttl
add_seat(rid, room[3], room[4], seat_id, expires)
return {rid, room[1], v[1], t, room[2], expires, 0, room[3], room[4]}
"""
)

# a process's beat: ARGV p, pid, ttl (ms), url, game, draining, max_players, max_rooms, the
# seats' secret, the maps (comma-joined), then
# n and n rooms held (rid, map, private, size, players), then m and m seats used (rid, seat
# id), then k and k rooms given up (rid, map). Answers each held room's live seats.
_BEAT = (
    _LUA_COMMON
    + """
local pid, ttl = ARGV[2], tonumber(ARGV[3])
local now = now_ms()
local till = now + ttl
local pkey = p .. 'proc:' .. pid
redis.call('HSET', pkey, 'url', ARGV[4], 'game', ARGV[5], 'draining', ARGV[6],
  'max_players', ARGV[7], 'max_rooms', ARGV[8])
redis.call('PEXPIREAT', pkey, till)
redis.call('ZADD', p .. 'procs', till, pid)
extend(p .. 'procs', till)
-- the processes whose registration expired (killed, frozen, cut off): their rooms go, seats
-- on their way or not (their set outlives the registration by a ttl for this)
for _, dead in ipairs(redis.call('ZRANGEBYSCORE', p .. 'procs', '-inf', now)) do
  forget_rooms(dead)
end
redis.call('ZREMRANGEBYSCORE', p .. 'procs', '-inf', now)
-- what every process shares, again after a restart of Redis that lost it
redis.call('SET', p .. 'secret', ARGV[9], 'NX')
redis.call('HSETNX', p .. 'cluster', 'game', ARGV[5])
redis.call('HSETNX', p .. 'cluster', 'maps', ARGV[10])
local rkey = p .. 'rooms:' .. pid
local n = tonumber(ARGV[11])
local i = 12 + 5 * n
-- the seats used: each became a player, whom the room's count below includes
local m = tonumber(ARGV[i]); i = i + 1
for s = 1, m do
  redis.call('ZREM', p .. 'seats:' .. ARGV[i], ARGV[i + 1])
  i = i + 2
end
-- the rooms held: their players, and an expiry of one ttl, or of their last seat's if later
local seats = {}
i = 12
for r = 1, n do
  local rid, map, private, size, players = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  i = i + 5
  local key, skey = p .. 'room:' .. rid, p .. 'seats:' .. rid
  if redis.call('EXISTS', key) == 0 then
    redis.call('HSET', key, 'created', now)
  end
  redis.call('HSET', key, 'proc', pid, 'map', map, 'private', private, 'size', size, 'players', players)
  redis.call('ZREMRANGEBYSCORE', skey, '-inf', now)
  seats[r] = redis.call('ZCARD', skey)
  local at = till
  if seats[r] > 0 then
    at = math.max(till, tonumber(redis.call('ZRANGE', skey, -1, -1, 'WITHSCORES')[2]) + __MARGIN__)
    redis.call('PEXPIREAT', skey, at)
  end
  redis.call('PEXPIREAT', key, at)
  redis.call('SADD', rkey, rid)
  if private ~= '1' then
    redis.call('ZADD', p .. 'open:' .. map, at, rid)
    extend(p .. 'open:' .. map, at)
  end
end
redis.call('PEXPIREAT', rkey, till + ttl)
-- the rooms given up: gone, unless a seat is on its way (the room then waits for it)
i = 13 + 5 * n + 2 * m
local k = tonumber(ARGV[i]); i = i + 1
for g = 1, k do
  local rid, map = ARGV[i], ARGV[i + 1]
  i = i + 2
  local skey = p .. 'seats:' .. rid
  redis.call('ZREMRANGEBYSCORE', skey, '-inf', now)
  if redis.call('ZCARD', skey) > 0 then
    redis.call('HSET', p .. 'room:' .. rid, 'players', 0)
    redis.call('SADD', rkey, rid)
  else
    redis.call('DEL', p .. 'room:' .. rid, skey)
    redis.call('ZREM', p .. 'open:' .. map, rid)
    redis.call('SREM', rkey, rid)
  end
end
-- the listings that expired, of every map: a killed process's rooms leave them here too
local maps = redis.call('HGET', p .. 'cluster', 'maps') or ''
for map in string.gmatch(maps, '[^,]+') do
  redis.call('ZREMRANGEBYSCORE', p .. 'open:' .. map, '-inf', now)
end
return seats
""".replace("__MARGIN__", str(MARGIN_MS))
)

# a process leaves: ARGV p, pid
_LEAVE = (
    _LUA_COMMON
    + """
local pid = ARGV[2]
forget_rooms(pid)
redis.call('DEL', p .. 'proc:' .. pid)
redis.call('ZREM', p .. 'procs', pid)
return 1
"""
)

# the public rooms of the processes alive: ARGV p, map ('' for every map). Answers, per room:
# id, map, players, seats, size, created, process, url, draining
_LISTING = (
    _LUA_COMMON
    + """
local want = ARGV[2]
local now = now_ms()
local out = {}
for _, pid in ipairs(redis.call('ZRANGEBYSCORE', p .. 'procs', now, '+inf')) do
  local v = redis.call('HMGET', p .. 'proc:' .. pid, 'url', 'draining')
  if v[1] then
    for _, rid in ipairs(redis.call('SMEMBERS', p .. 'rooms:' .. pid)) do
      local r = redis.call('HMGET', p .. 'room:' .. rid, 'map', 'private', 'players', 'size', 'created')
      if r[1] and r[2] ~= '1' and (want == '' or r[1] == want) then
        local skey = p .. 'seats:' .. rid
        redis.call('ZREMRANGEBYSCORE', skey, '-inf', now)
        table.insert(out, {rid, r[1], tonumber(r[3]), redis.call('ZCARD', skey), tonumber(r[4]),
          tonumber(r[5]), pid, v[1], v[2]})
      end
    end
  end
end
return out
"""
)

# joining the cluster: ARGV p, game, maps (comma-joined), a new secret, a new process id.
# Answers the secret and the process id, or {'err', what disagrees}.
_REGISTER = (
    _LUA_COMMON
    + """
local game, maps = ARGV[2], ARGV[3]
local ckey = p .. 'cluster'
local now = now_ms()
local live = redis.call('ZCOUNT', p .. 'procs', now, '+inf')
local have = redis.call('HMGET', ckey, 'game', 'maps')
if have[1] and live > 0 and (have[1] ~= game or have[2] ~= maps) then
  return {'err', have[1], have[2]}
end
redis.call('HSET', ckey, 'game', game, 'maps', maps)
redis.call('SET', p .. 'secret', ARGV[4], 'NX')
if redis.call('EXISTS', p .. 'proc:' .. ARGV[5]) == 1 then return {'err', 'taken'} end
return {redis.call('GET', p .. 'secret'), ARGV[5]}
"""
)


@attr.s(auto_attribs=True, frozen=True, slots=True)
class Offer:
    """A seat matchmaking reserved: the answer to POST /matchmake/* (docs/protocol.md)."""

    room_id: str
    map_name: str
    private: bool
    seat: str
    expires_in: float
    url: str
    players: int  # players and seats before this one
    max_players: int


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class Registry:
    """This process's part of the directory in Redis: its registration and beat, and
    matchmaking's decisions for the whole cluster.

    `client`: a redis-py client (a green one in the server); `errors`: the exceptions that
    mean Redis did not answer (its ConnectionError and TimeoutError: under eventlet, those
    of the green copy of redis-py); each becomes DirectoryUnavailable."""

    def __init__(
        self,
        client: Any,
        *,
        prefix: str,
        url: str,
        game: str,
        maps: Sequence[str],
        max_players: int,
        max_rooms: int,
        ttl: float,
        seat_ttl: float,
        errors: tuple[type[BaseException], ...],
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.url = url
        self.game = game
        self.maps = list(maps)
        self.max_players = max_players
        self.max_rooms = max_rooms
        self.ttl_ms = int(ttl * 1000)
        self.seat_ttl_ms = int(seat_ttl * 1000)
        self.errors = errors
        self.draining = False
        self.process_id = ""
        self.secret = ""  # hex, from register()
        self.signer: SeatSigner | None = None
        scripts = (_QUICK, _CREATE, _JOIN, _BEAT, _LEAVE, _LISTING, _REGISTER)
        (
            self._quick,
            self._create,
            self._join,
            self._beat,
            self._leave,
            self._listing,
            self._register,
        ) = (client.register_script(s) for s in scripts)

    def _call(self, script: Any, *args: object) -> Any:
        try:
            return script(args=[self.prefix, *args])
        except self.errors as exc:
            raise DirectoryUnavailable(f"the directory (Redis) did not answer: {exc}") from None

    def register(self) -> SeatSigner:
        """Join the cluster: check that its live processes play the same game on the same maps,
        take a process id, learn the seats' secret. Raises ValueError when they disagree."""
        for _ in range(8):
            pid = secrets.token_hex(4)
            answer = self._call(self._register, self.game, ",".join(self.maps), secrets.token_hex(32), pid)
            if _text(answer[0]) == "err":
                if _text(answer[1]) == "taken":
                    continue
                raise ValueError(
                    f"the cluster's processes play {_text(answer[1])!r} on maps {_text(answer[2])}; "
                    f"this one {self.game!r} on {','.join(self.maps)}"
                )
            self.process_id = pid
            self.secret = _text(answer[0])
            self.signer = SeatSigner(bytes.fromhex(self.secret), self.maps)
            return self.signer
        raise ValueError("no free process id")  # 8 collisions of 32 random bits: never

    def beat(
        self,
        rooms: Sequence[tuple[str, str, bool, int, int]],
        used: Sequence[tuple[str, str]],
        gone: Sequence[tuple[str, str]],
    ) -> list[int]:
        """Refresh this process and its rooms (id, map, private, size, players); write the
        seats used since the last beat (room id, seat id) and give up the rooms gone (id,
        map). The live seats of each room held, in order."""
        args: list[object] = [
            self.process_id,
            self.ttl_ms,
            self.url,
            self.game,
            int(self.draining),
            self.max_players,
            self.max_rooms,
            self.secret,
            ",".join(self.maps),
            len(rooms),
        ]
        for rid, map_name, private, size, players in rooms:
            args += (rid, map_name, int(private), size, players)
        args.append(len(used))
        for pair in used:
            args += pair
        args.append(len(gone))
        for pair in gone:
            args += pair
        return [int(n) for n in self._call(self._beat, *args)]

    def process_url(self, process_id: str) -> str | None:
        """The WebSocket URL of a process alive, or None."""
        try:
            url = self.client.hget(f"{self.prefix}proc:{process_id}", "url")
        except self.errors as exc:
            raise DirectoryUnavailable(f"the directory (Redis) did not answer: {exc}") from None
        return None if url is None else _text(url)

    def leave(self) -> None:
        """Out of the directory at once, with every room of this process (a clean stop)."""
        self._call(self._leave, self.process_id)

    # --- matchmaking ---------------------------------------------------------------------

    def quick(self, map_name: str, size: int) -> Offer:
        """A seat in the fullest public room of the map with a free place on a process that
        takes players, or in a new room on the process with the fewest players."""
        seat_id = _seat_id()
        answer = self._call(
            self._quick, map_name, _room_id(), seat_id, self.seat_ttl_ms, size, self.process_id
        )
        return self._offer(answer, seat_id, map_name, False)

    def create(self, map_name: str, private: bool, size: int) -> Offer:
        """A new room, on the process with the fewest players, and a seat in it."""
        seat_id = _seat_id()
        answer = self._call(
            self._create, map_name, int(private), _room_id(), seat_id, self.seat_ttl_ms, size, self.process_id
        )
        return self._offer(answer, seat_id, map_name, private)

    def join(self, room_id: str) -> Offer:
        """A seat in the room with this id, wherever it is."""
        seat_id = _seat_id()
        answer = self._call(self._join, room_id, seat_id, self.seat_ttl_ms)
        if _text(answer[0]) == "err":
            raise _refusal(_text(answer[1]), room_id)
        return self._offer(answer, seat_id, _text(answer[7]), _text(answer[8]) == "1")

    def _offer(self, answer: list[Any], seat_id: str, map_name: str, private: bool) -> Offer:
        if _text(answer[0]) == "err":
            raise _refusal(_text(answer[1]), "")
        room_id, pid, url = _text(answer[0]), _text(answer[1]), _text(answer[2])
        taken, size, expires_ms = int(answer[3]), int(answer[4]), int(answer[5])
        assert self.signer is not None, "register() first"
        claim = Claim(
            seat_id=seat_id,
            room_id=room_id,
            process_id=pid,
            expires=-(-expires_ms // 1000),  # whole seconds, rounded up: Redis counts it MARGIN_MS longer
            map_name=map_name,
            private=private,
        )
        return Offer(
            room_id=room_id,
            map_name=map_name,
            private=private,
            seat=self.signer.sign(claim),
            expires_in=self.seat_ttl_ms / 1000,
            url=url,
            players=taken,
            max_players=size,
        )

    def listing(self, map_name: str | None = None) -> list[dict[str, Any]]:
        """The public rooms of every process alive, as GET /rooms lists them."""
        rows = self._call(self._listing, map_name or "")
        return [
            {
                "id": _text(r[0]),
                "map": _text(r[1]),
                "players": int(r[2]),
                "reserved": int(r[3]),
                "max_players": int(r[4]),
                "created": int(r[5]) // 1000,
                "url": _text(r[7]),
                "draining": _text(r[8]) == "1",
            }
            for r in rows
        ]


def _room_id() -> str:
    return ROOM_ID % secrets.token_hex(6)


def _seat_id() -> str:
    return secrets.token_hex(6)


def _refusal(code: str, room_id: str) -> Exception:
    """A script's refusal as matchmaking's answer ("retry": a new room's random id was taken)."""
    if code == "room_not_found":
        return MatchError(404, ErrorCode.ROOM_NOT_FOUND, f"no room {room_id} on a process that takes players")
    if code == "room_full":
        return MatchError(409, ErrorCode.ROOM_FULL, f"room {room_id} is full")
    if code == "server_full":
        return MatchError(503, ErrorCode.SERVER_FULL, "every process of the cluster is full", retry_after=1)
    return DirectoryUnavailable(f"the directory answered {code!r}")


class ClusterAgent:
    """What the runtime's cluster green thread does at each beat (server.py): write this
    process's rooms, their players and the seats used to Redis, give up the rooms disposed,
    and learn each room's live seats (a room with seats on their way is not disposed)."""

    def __init__(self, registry: Registry, directory: Directory) -> None:
        self.registry = registry
        self.directory = directory
        self.reported: dict[str, str] = {}  # room id -> map: the rooms the last beat held
        self.beats = 0
        self.failures = 0

    def beat(self) -> None:
        """One beat. Raises DirectoryUnavailable; what it did not write is written by the next."""
        directory = self.directory
        rooms = [
            (h.room_id, h.map_name, h.private, h.room.max_players, len(h.room.members) + len(h.room.away))
            for h in directory
        ]
        held = {rid: map_name for rid, map_name, *_ in rooms}
        gone = [(rid, map_name) for rid, map_name in self.reported.items() if rid not in held]
        used, directory.seated = directory.seated, []
        self.registry.draining = directory.draining
        try:
            seats = self.registry.beat(rooms, used, gone)
        except DirectoryUnavailable:
            self.failures += 1
            directory.seated[:0] = used
            raise
        self.beats += 1
        self.reported = held
        for (rid, *_), n in zip(rooms, seats, strict=True):
            hosted = directory.rooms.get(rid)
            if hosted is not None:
                hosted.remote_seats = n


class ClusterMatchmaker:
    """POST /matchmake/* and GET /rooms for a process of a cluster: the decisions are the
    Registry's; the map check, the creation budget and the seats waiting per client address
    are this process's, as for a process alone (Directory)."""

    def __init__(self, registry: Registry, directory: Directory, clock: Callable[[], float]) -> None:
        self.registry = registry
        self.directory = directory
        self.clock = clock  # monotonic seconds: when this process's count of a seat ends
        self.seats_by_address: dict[str, int] = {}
        self._expiring: deque[tuple[float, str]] = deque()

    def quick(self, map_name: str | None, address: str) -> Offer:
        name = self.directory.map_named(map_name)
        self._check_seats_of(address)
        return self._count(self.registry.quick(name, self.directory.size_for(name)), address)

    def create(self, map_name: str | None, private: bool, address: str) -> Offer:
        name = self.directory.map_named(map_name)
        self._check_seats_of(address)
        self.directory.charge_creation(address, self.clock())
        return self._count(self.registry.create(name, private, self.directory.size_for(name)), address)

    def join(self, room_id: str, address: str) -> Offer:
        self._check_seats_of(address)
        return self._count(self.registry.join(room_id), address)

    def listing(self, map_name: str | None) -> list[dict[str, Any]]:
        return self.registry.listing(map_name)

    def reconnect(self, token: str) -> str | None:
        """The WebSocket URL of the process that holds a session, if it is alive."""
        owner = self.directory.session_process(token)
        if owner is None:
            return None
        if owner == self.registry.process_id:
            return self.registry.url if self.directory.has_session(token) else None
        return self.registry.process_url(owner)

    def _check_seats_of(self, address: str) -> None:
        directory = self.directory
        if address in directory.unlimited_addresses:
            return
        now = self.clock()
        expiring = self._expiring
        while expiring and expiring[0][0] <= now:
            gone = expiring.popleft()[1]
            left = self.seats_by_address[gone] - 1
            if left:
                self.seats_by_address[gone] = left
            else:
                del self.seats_by_address[gone]
        if self.seats_by_address.get(address, 0) >= directory.seats_per_address:
            raise MatchError(
                429,
                ErrorCode.RATE_LIMITED,
                f"{directory.seats_per_address} seats from this address are waiting for their HELLO",
                retry_after=max(1, round(directory.seat_ttl)),
            )

    def _count(self, offer: Offer, address: str) -> Offer:
        """This process counts the seat against its address until the seat expires (a seat
        used sooner still counts: its use is known only to its owner)."""
        if address not in self.directory.unlimited_addresses:
            self.seats_by_address[address] = self.seats_by_address.get(address, 0) + 1
            self._expiring.append((self.clock() + offer.expires_in, address))
        return offer
