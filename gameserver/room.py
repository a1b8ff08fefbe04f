"""One match: its game, its members, their inboxes and outboxes, and the body of one tick.

Invariants:
- Pure: no sockets, no clock, no sleeping. A test drives it tick by tick with tick().
- The room knows no game: it drives the one it was made with through gameserver.game's hooks,
  and replicates the game's rows as the game's schema says. A hook that raises, or rows that
  break the schema, are a GameFault that the room's tick raises (the directory closes the room).
- Readers only append to a member: an input as it came (receive_input()), which the tick
  decodes right before it applies it, or a message decoded at once (receive_bytes()). Only
  tick() drains inboxes and moves the world, so inputs take effect at tick boundaries, in
  sequence order, at most `rules.max_inputs_per_tick` per tick and one per tick sustained.
- tick() never sends: it leaves each member's newest snapshot in a latest-wins slot
  (Member.pending) and says which members have something to send. take_snapshot() (or
  take_outgoing(), with the control messages) hands the transport what to send and records
  the snapshot's tick as the member's new baseline: the transport is ordered, so what was
  handed to the socket is what the client will hold next.
- A member whose acknowledgements lag more than `max_lag_ticks` behind is closed (too_slow),
  so a client that stops reading costs one pending snapshot and never stalls the tick.
"""

from __future__ import annotations

import logging
import secrets
from collections import deque
from collections.abc import Callable, Collection
from typing import Any, cast

import attr

from gameserver import codec
from gameserver.codec import ErrorCode, ProtocolError, decode_client
from gameserver.game import Game, GameFault, Setup, check_rows
from gameserver.grid import QUANTA
from gameserver.maps import GameMap
from gameserver.messages import (
    PROTOCOL_VERSION,
    Ack,
    ClientMessage,
    Error,
    Follow,
    Following,
    Goodbye,
    Input,
    Ping,
    Pong,
    Resync,
    Welcome,
)
from gameserver.recording import Recorder
from gameserver.replication import Grid, Replicator, View
from gameserver.schema import RowFault, Schema

INBOX_LIMIT = 8  # queued inputs per member; the oldest are dropped past it
# The input credit grows by one a tick up to this bank, and a tick spends at most the game's
# max_inputs_per_tick of it: after a stall (the network held the inputs back, then delivered
# them at once) the queue drains at up to that many a tick. With a bank no larger than the burst
# it never did: one input a tick arriving and one applied left a queue, and its delay, standing.
CREDIT_BANK = INBOX_LIMIT
RAW_INPUT_LIMIT = 8  # inputs waiting undecoded for the tick; past it they are decoded at once
# Messages other than snapshots (PONG, SCOREBOARD, FOLLOWING) waiting to be sent per member;
# past it more are dropped (a closing ERROR or GOODBYE always gets in). The transport sends them
# after every read pass (at most 16 messages a pass), so only a client that is not taking what
# it is sent (its socket full) fills it: room for a pass and more, bounded whatever it sends.
CONTROL_LIMIT = 64
STALE_SNAPSHOTS = 8  # a slow reader's baseline older than this many snapshots: a full one instead

log = logging.getLogger(__name__)


class RoomFull(Exception):
    pass


EMPTY_BODY = codec.encode_snapshot_body([], [], [])  # no spawns, changes or removals
SCOREBOARD_TOP = 10


class ScoreboardUpdate:
    """One scoreboard for everyone: the best SCOREBOARD_TOP lines, shared bytes, and for a
    player outside them the same lines plus its own, so the message stays small at any N."""

    def __init__(self, ranked: list[tuple[int, str, int, int, int]]) -> None:
        self.top = ranked[:SCOREBOARD_TOP]
        self.by_id = {line[0]: line for line in ranked[SCOREBOARD_TOP:]}
        self.shared = codec.encode_scoreboard(self.top)

    def for_member(self, entity_id: int) -> bytes:
        own = self.by_id.get(entity_id)
        if own is None:
            return self.shared
        return codec.encode_scoreboard([*self.top, own])


@attr.s(auto_attribs=True, slots=True, eq=False)
class Member:
    entity_id: int  # 0: a spectator, which has no entity
    name: str
    session_token: str
    joined_tick: int
    inbox: list[Input] = attr.ib(init=False, factory=list)  # at most INBOX_LIMIT, oldest first
    raw_inputs: list[bytes] = attr.ib(init=False, factory=list)  # see Room.receive_input()
    last_received_seq: int | None = attr.ib(init=False, default=None)
    last_applied_seq: int | None = attr.ib(init=False, default=None)
    credit: int = attr.ib(init=False, default=0)
    msg_tokens: int = attr.ib(init=False, default=0)  # whole messages: small ints, never allocated
    ack_tick: int | None = attr.ib(init=False, default=None)
    held_tick: int | None = attr.ib(init=False, default=None)  # baseline for the next delta
    # RESYNC: the next snapshot is full; the tick of the last one taken (at most one a second)
    resync: bool = attr.ib(init=False, default=False)
    resync_tick: int | None = attr.ib(init=False, default=None)
    # latest wins: the tick and the snapshot in parts (head, last_seq, body, shots), whose
    # concatenation is the message; the body is the same bytes object for every member
    pending: tuple[int, tuple[bytes, bytes, bytes, bytes]] | None = attr.ib(init=False, default=None)
    # with interest management: the entities the client holds, and those in the pending snapshot
    held_view: set[int] = attr.ib(init=False, factory=set)
    pending_view: set[int] = attr.ib(init=False, factory=set)
    control: deque[bytes] = attr.ib(init=False, factory=deque)
    close_request: tuple[int, str] | None = attr.ib(init=False, default=None)
    link: Any = attr.ib(init=False, default=None)  # the transport's handle; opaque here
    # counters, for stats and tests
    inputs_dropped: int = attr.ib(init=False, default=0)
    snapshots_skipped: int = attr.ib(init=False, default=0)
    snapshots_taken: int = attr.ib(init=False, default=0)
    resyncs: int = attr.ib(init=False, default=0)  # RESYNCs taken (a full snapshot followed)
    resyncs_ignored: int = attr.ib(init=False, default=0)  # within a second of the one before
    # a spectator: no entity (entity_id 0); it follows a player
    spectator: bool = attr.ib(default=False, kw_only=True)
    follow: int | None = attr.ib(init=False, default=None)  # the entity followed, if any
    # whose view it gets with interest management: its own entity's, or the followed one's (0: none)
    view_of: int = attr.ib(init=False, default=0)

    @property
    def closing(self) -> bool:
        return self.close_request is not None

    def queue_control(self, data: bytes) -> None:
        if len(self.control) < CONTROL_LIMIT:
            self.control.append(data)

    def request_close(self, error: ErrorCode, message: str, *, goodbye: bool = False) -> None:
        """Queue the error (or goodbye) message; the transport sends it, then closes."""
        if self.close_request is not None:
            return
        msg = Goodbye(error.code, message) if goodbye else Error(error.code, message)
        self.control.append(codec.encode_server(msg))  # always room for the last word
        self.pending = None
        self.close_request = (error.close_code, error.code)

    def take_outgoing(self) -> list[bytes]:
        """For the transport: control messages first, then the newest snapshot, if any."""
        out = list(self.control)
        self.control.clear()
        snapshot = self.take_snapshot()
        if snapshot is not None:
            out.append(snapshot)
        return out

    def take_snapshot(self) -> bytes | None:
        """The newest snapshot, handed to the socket: from now on the client holds its tick."""
        parts = self.take_snapshot_parts()
        return None if parts is None else b"".join(parts)

    def take_snapshot_parts(self) -> tuple[bytes, bytes, bytes, bytes] | None:
        """take_snapshot() in parts, left unjoined: the transport joins them once, behind its
        frame header, instead of copying a joined snapshot again."""
        pending = self.pending
        if pending is None:
            return None
        self.pending = None
        self.held_tick = pending[0]
        self.held_view = self.pending_view
        self.snapshots_taken += 1
        return pending[1]


@attr.s(auto_attribs=True, slots=True, eq=False)
class Away:
    """A player whose connection dropped: kept for a while, so it can come back."""

    entity_id: int
    name: str
    since: float  # when it dropped, on the directory's clock
    acknowledged: bool = False  # its client acknowledged a snapshot: it had its WELCOME
    address: str = ""  # the client address it dropped from: kept players are bounded per address


def _default_game() -> type[Game]:
    from gameserver.games import DEFAULT, load_game  # the games sit on top of this layer

    return load_game(DEFAULT)


@attr.s(auto_attribs=True, slots=True, eq=False)
class Room:
    tick_rate: int = 30
    snapshot_rate: int = 30
    max_players: int = 1000
    max_lag_seconds: float = 5.0
    skip_idle_snapshots: bool = True  # no snapshot when nothing a client holds changed (1/s heartbeat)
    # Snapshots of ticks that are multiples of this carry the checksum of what the client holds
    # (sent even when nothing changed); None: the tick rate (once a second); 0: none.
    checksum_every: int | None = None
    seed: int = 0
    game_map: GameMap | None = None
    room_id: str = attr.ib(factory=lambda: "r-" + secrets.token_hex(6))
    # the game played here (gameserver.games: the arena when none is named) and its options
    game_type: type[Game] = attr.ib(factory=_default_game, kw_only=True)
    options: dict[str, Any] = attr.ib(factory=dict, kw_only=True)
    game: Game = attr.ib(init=False)
    schema: Schema = attr.ib(init=False)
    replicator: Replicator = attr.ib(init=False)
    _schema_wire: dict[str, Any] = attr.ib(init=False)  # WELCOME's
    _rules_wire: dict[str, float] = attr.ib(init=False)  # WELCOME's
    _burst: int = attr.ib(init=False)  # the game's max_inputs_per_tick
    # The game's INPUT (gameserver.codec.InputCodec): the type its step() receives, and the
    # decoder of every client message; _custom_decode is None for the standard input fields,
    # which the tick decodes with codec.decode_client() itself (compiled, a direct call).
    input_type: type[Any] = attr.ib(init=False)
    decode_client: Callable[[bytes | str], ClientMessage] = attr.ib(init=False)
    _custom_decode: Callable[[bytes | str], ClientMessage] | None = attr.ib(init=False)
    members: dict[int, Member] = attr.ib(init=False, factory=dict)  # by entity id
    # players whose connection dropped, kept (entity in the game, sent no inputs) for a resume
    away: dict[int, Away] = attr.ib(init=False, factory=dict)  # by entity id
    spectators: list[Member] = attr.ib(init=False, factory=list)  # few: bounded by the directory
    shots: list[tuple[int, int | None]] = attr.ib(init=False, factory=list)  # since last snapshot
    _roster: int = attr.ib(init=False, default=0)  # bumped on every join and leave
    resyncs_total: int = attr.ib(init=False, default=0)  # RESYNCs taken, for /metrics
    _scores_shown: tuple[int, int] | None = attr.ib(init=False, default=None)
    _scores_tick: int = attr.ib(init=False, default=-(10**9))
    view: View | None = attr.ib(init=False, default=None)  # None: everyone sees everyone
    grid: Grid | None = attr.ib(init=False, default=None)
    # An input's payload from what the transport handed to receive_input(): the server's
    # transport hands over the WebSocket frame, still masked; by default, the payload itself.
    unwrap: Callable[[bytes], bytes] = attr.ib(default=bytes, kw_only=True)
    # what the game is given, kept for a replay (gameserver.recording; --record); None: nothing
    recorder: Recorder | None = attr.ib(default=None, kw_only=True)

    def __attrs_post_init__(self) -> None:
        if self.tick_rate % self.snapshot_rate:
            raise ValueError("snapshot_rate must divide tick_rate")
        if self.checksum_every is None:
            self.checksum_every = self.tick_rate
        elif self.checksum_every % self.snapshot_every:
            raise ValueError("checksum_every must be a multiple of the ticks between snapshots")
        setup = Setup(tick_rate=self.tick_rate, seed=self.seed, game_map=self.game_map, options=self.options)
        self.game = self._hook("setup", self.game_type, setup)
        self.schema = self.game_type.schema
        self.replicator = Replicator(schema=self.schema)
        self._schema_wire = self.schema.to_wire()
        self._rules_wire = dict(self._hook("rules", self.game.rules))
        self._burst = self.game.max_inputs_per_tick
        inputs = self.schema.codecs.inputs
        self.input_type = inputs.type
        self.decode_client = inputs.decode_client
        self._custom_decode = None if inputs.standard else inputs.decode_client
        r = self._hook("view", self.game.view)
        if r is not None:
            q = QUANTA
            w_in = round((r.width / 2 + r.margin) * q)
            h_in = round((r.height / 2 + r.margin) * q)
            band = round(r.hysteresis * q)
            self.view = View(w_in, h_in, w_in + band, h_in + band)
            # Strips half the smaller view extent high: a view spans about six of them, and only
            # the entities of the two or three across its top and bottom edges are checked one
            # by one (a third or a quarter of that height measured no faster at N = 200-1000).
            self.grid = Grid(cell=max(1, min(w_in, h_in) // 2))

    def _hook(self, hook: str, call: Callable[..., Any], *args: Any) -> Any:
        """Call one of the game's hooks; what it raises becomes a GameFault that names it."""
        try:
            return call(*args)
        except GameFault:
            raise
        except Exception as exc:
            raise GameFault(f"{self.game_type.name}.{hook} raised {type(exc).__name__}: {exc}") from exc

    @property
    def tick_no(self) -> int:
        return self.game.tick

    @property
    def snapshot_every(self) -> int:
        return self.tick_rate // self.snapshot_rate

    @property
    def max_lag_ticks(self) -> int:
        return max(1, round(self.max_lag_seconds * self.tick_rate))

    @property
    def msg_rate_per_tick(self) -> int:
        # Four messages per tick sustained (one input plus pings and slack), bursts of a second.
        return 4

    @property
    def msg_burst(self) -> int:
        return 4 * self.tick_rate

    # --- membership -------------------------------------------------------------------

    def join(self, name: str, session_token: str | None = None) -> Member:
        """Add a player; its welcome message is the first thing in its outbox."""
        if len(self.members) + len(self.away) >= self.max_players:
            raise RoomFull(f"the room holds {self.max_players} players")
        eid = self._hook("join", self.game.join, name)
        if type(eid) is not int or eid < 1 or eid in self.members or eid in self.away:
            raise GameFault(f"{self.game_type.name}.join returned {eid!r}, not a new positive entity id")
        if self.recorder is not None:
            self.recorder.join(name, eid)
        return self._admit(eid, name, session_token or secrets.token_urlsafe(16))

    def resume(self, entity_id: int, session_token: str) -> Member:
        """The player of an entity kept since its connection dropped (drop()) comes back: the
        same entity, score and hp; a new member, so the next snapshot is full and its input
        sequence starts afresh. Raises KeyError when the entity is not kept."""
        away = self.away.pop(entity_id)
        return self._admit(away.entity_id, away.name, session_token)

    def drop(self, member: Member, since: float, address: str = "") -> None:
        """The member's connection ended without a goodbye: its entity stays in the world (not
        moving: no inputs come) until resume() or expire_away(). `since`: the caller's clock."""
        if self.members.get(member.entity_id) is member:
            del self.members[member.entity_id]
            self.away[member.entity_id] = Away(
                member.entity_id, member.name, since, member.ack_tick is not None, address
            )
            self._roster += 1

    def expire_away(self, before: float) -> list[Away]:
        """Remove the entities kept since before `before`; what was kept of them."""
        gone = [away for away in self.away.values() if away.since < before]
        for away in gone:
            eid = away.entity_id
            del self.away[eid]
            self._hook("leave", self.game.leave, eid)
            if self.recorder is not None:
                self.recorder.leave(eid)
            self._roster += 1
        return gone

    def _admit(self, entity_id: int, name: str, session_token: str) -> Member:
        m = Member(entity_id, name, session_token=session_token, joined_tick=self.tick_no)
        m.view_of = entity_id
        m.credit = 1
        m.msg_tokens = self.msg_burst
        self.members[entity_id] = m
        self._roster += 1
        m.control.append(self._welcome(m))
        return m

    def _welcome(self, m: Member) -> bytes:
        welcome = Welcome(
            version=PROTOCOL_VERSION,
            entity_id=m.entity_id,
            tick_rate=self.tick_rate,
            snapshot_rate=self.snapshot_rate,
            session_token=m.session_token,
            room=self.room_id,
            tick=self.tick_no,
            rules=self._rules_wire,
            map=self.game_map.name if self.game_map is not None else None,
            schema=self._schema_wire,
        )
        return codec.encode_server(welcome)

    def leave(self, member: Member) -> None:
        if self.members.pop(member.entity_id, None) is not None:
            self._roster += 1
            self._hook("leave", self.game.leave, member.entity_id)
            if self.recorder is not None:
                self.recorder.leave(member.entity_id)

    # --- spectators --------------------------------------------------------------------

    def watch(self, name: str) -> Member:
        """Add a spectator: a member with no entity (entity_id 0) that sends no inputs and
        follows a player. Its WELCOME (entity 0, no session token) and its first FOLLOWING are
        the first things in its outbox."""
        m = Member(0, name, session_token="", joined_tick=self.tick_no, spectator=True)
        m.msg_tokens = self.msg_burst
        self.spectators.append(m)
        m.control.append(self._welcome(m))
        self._follow(m, None, answer=True)
        m.queue_control(self._scoreboard().shared)  # the players only get it when it changes
        return m

    def unwatch(self, member: Member) -> bool:
        """Remove a spectator; False when it was not one of this room's."""
        for i, m in enumerate(self.spectators):
            if m is member:
                del self.spectators[i]
                return True
        return False

    def spectator_input(self, member: Member, wrapped: bytes) -> None:
        """receive_input() for a spectator: refused."""
        raise ProtocolError(ErrorCode.SPECTATOR_INPUT, "a spectator sends no inputs")

    def spectator_bytes(self, member: Member, payload: bytes) -> None:
        """receive_bytes() for a spectator: FOLLOW, ACK and PING; an INPUT is refused."""
        msg = self.decode_client(payload)
        if member.raw_inputs or type(msg) is self.input_type:
            raise ProtocolError(ErrorCode.SPECTATOR_INPUT, "a spectator sends no inputs")
        self.receive(member, msg)

    def _is_player(self, entity_id: int | None) -> bool:
        return entity_id is not None and (entity_id in self.members or entity_id in self.away)

    def _follow(self, m: Member, wanted: int | None, *, answer: bool) -> None:
        """Point a spectator at the player it asked for, if that is a player of the room; else
        keep the one it follows, or, when that one is gone, the scoreboard's leader. Queues a
        FOLLOWING when the target changed, or always with `answer`."""
        if self._is_player(wanted):
            target = wanted
        elif self._is_player(m.follow):
            target = m.follow
        else:
            target = self._leader()
        if answer or target != m.follow:
            if target != m.follow:
                # a snapshot built around the one followed before would reach the client after
                # this FOLLOWING: the next one is built around the new one instead
                m.pending = None
            m.follow = target
            m.view_of = target or 0
            m.queue_control(codec.encode_server(Following(target)))

    def _leader(self) -> int | None:
        """The player at the top of the scoreboard (most kills, fewest deaths, oldest)."""
        best: tuple[int, int, int] | None = None
        for eid in [*self.members, *self.away]:
            score, deaths = self._hook("score", self.game.score, eid)
            key = (-score, deaths, eid)
            if best is None or key < best:
                best = key
        return best[2] if best is not None else None

    # --- from the readers -------------------------------------------------------------

    def charge(self, member: Member) -> None:
        """Count one message, or one WebSocket control frame (ping, pong), against the member's
        message rate. Raises ProtocolError (rate_limited)."""
        if member.msg_tokens < 1:
            raise ProtocolError(ErrorCode.RATE_LIMITED, "too many messages")
        member.msg_tokens -= 1

    def receive_input(self, member: Member, wrapped: bytes) -> None:
        """Take one INPUT from a member as the transport got it (self.unwrap() gives its
        payload). Raises ProtocolError (close the peer).

        It waits, undecoded, for the tick, which unwraps, decodes and applies it in one go: the
        member, the message and the decoded input are then reached together, once, instead of
        on arrival and again in the tick, after the kernel's and every other player's work has
        pushed them out of the cache. Past RAW_INPUT_LIMIT waiting, it is taken at once.
        """
        if len(member.raw_inputs) < RAW_INPUT_LIMIT:
            member.raw_inputs.append(wrapped)
        else:
            self.receive_bytes(member, self.unwrap(wrapped))

    def receive_bytes(self, member: Member, payload: bytes) -> None:
        """Decode and take one message from a member at once, after the inputs that wait for
        the tick (in order of arrival: sequence order is the rule). Raises ProtocolError."""
        raw = member.raw_inputs
        if raw:
            try:
                for wrapped in raw:
                    self.receive(member, self.decode_client(self.unwrap(wrapped)))
            finally:
                raw.clear()
        self.receive(member, self.decode_client(payload))

    def receive(self, member: Member, msg: ClientMessage) -> None:
        """Take one decoded message from a member. Raises ProtocolError (close the peer)."""
        if member.msg_tokens < 1:  # charge(), written out: every player, every tick
            raise ProtocolError(ErrorCode.RATE_LIMITED, "too many messages")
        member.msg_tokens -= 1
        if type(msg) is not self.input_type:
            self._receive_other(member, msg)
            return
        # An input (every player, every tick: kept to one function call, and each field read
        # once, by index: every game's input type has seq first and ack_tick, render_tick last).
        fields = cast(tuple[Any, ...], msg)
        ack, held, seq = fields[-2], member.held_tick, fields[0]
        if ack is not None and held is not None:
            # A client can only acknowledge what it was sent; a larger claim is capped.
            if ack > held:
                ack = held
            if member.ack_tick is None or ack > member.ack_tick:
                member.ack_tick = ack
        if member.last_received_seq is not None and seq <= member.last_received_seq:
            member.inputs_dropped += 1  # stale or repeated: sequence order is the rule
            return
        member.last_received_seq = seq
        inbox = member.inbox
        if len(inbox) == INBOX_LIMIT:
            member.inputs_dropped += 1  # the oldest makes room
            del inbox[0]
        inbox.append(cast(Input, msg))

    def _receive_other(self, member: Member, msg: ClientMessage) -> None:
        """A message other than an input, already charged."""
        if type(msg) is Ping:
            member.queue_control(codec.encode_server(Pong(msg.client_time, self.tick_no)))
        elif type(msg) is Ack:
            held = member.held_tick
            if held is not None:  # as an input's ack_tick: at most what it was sent
                ack = msg.tick if msg.tick < held else held
                if member.ack_tick is None or ack > member.ack_tick:
                    member.ack_tick = ack
        elif type(msg) is Resync:
            last = member.resync_tick
            if last is None or self.game.tick - last >= self.tick_rate:
                member.resync = True
                member.resync_tick = self.game.tick
                member.resyncs += 1
                self.resyncs_total += 1
            else:
                member.resyncs_ignored += 1  # one a second: a full snapshot is on its way
        elif type(msg) is Follow:
            if not member.spectator:
                raise ProtocolError(ErrorCode.INVALID_MESSAGE, "follow is for spectators")
            self._follow(member, msg.entity_id, answer=True)
        else:
            raise ProtocolError(ErrorCode.UNEXPECTED_HELLO, "hello was already received")

    # --- the tick ---------------------------------------------------------------------

    def tick(self) -> list[Member]:
        """Advance one tick; returns the members with something new to send. Raises GameFault
        when the game fails (its step raises, or its rows break its schema)."""
        try:
            return self._tick()
        except RowFault as fault:
            raise GameFault(f"{self.game_type.name}: {fault}") from None

    def _tick(self) -> list[Member]:
        burst = self._burst
        rate, cap = self.msg_rate_per_tick, self.msg_burst
        commands: dict[int, list[Input]] = {}
        refused: list[Member] = []
        unwrap, receive, custom = self.unwrap, self.receive, self._custom_decode
        for eid, m in self.members.items():
            if m.raw_inputs:  # as in receive_bytes(): every player, every tick
                raw = m.raw_inputs
                try:
                    if m.close_request is None:
                        for wrapped in raw:
                            if custom is None:
                                receive(m, decode_client(unwrap(wrapped)))
                            else:
                                receive(m, custom(unwrap(wrapped)))
                except ProtocolError as exc:
                    log.info("entity %d: %s: %s", eid, exc.error.code, exc.detail)
                    m.request_close(exc.error, exc.detail)
                    refused.append(m)
                except Exception:  # a fault of ours closes this player only, as in the transport
                    log.exception("entity %d: internal error; closing the connection", eid)
                    m.request_close(ErrorCode.INTERNAL_ERROR, "the server failed serving this connection")
                    refused.append(m)
                raw.clear()
            if m.credit < CREDIT_BANK:
                m.credit += 1
            if m.msg_tokens < cap:
                tokens = m.msg_tokens + rate
                m.msg_tokens = tokens if tokens < cap else cap
            inbox = m.inbox
            if inbox and m.close_request is None:
                n = len(inbox)
                if n <= m.credit and n <= burst:  # nearly always: one input, one credit
                    cmds = inbox
                    m.inbox = []
                else:
                    n = m.credit if m.credit < burst else burst
                    cmds = inbox[:n]
                    del inbox[:n]
                m.credit -= len(cmds)
                m.last_applied_seq = cmds[-1][0]  # seq, first in every game's input type
                commands[eid] = cmds
        game = self.game
        recorder = self.recorder
        recorded = dict(commands) if recorder is not None else None  # as given, whatever step does
        self._hook("step", game.step, commands)
        if recorder is not None:
            recorder.step(recorded, game)
        events = self._hook("events", game.events)
        tick = game.tick
        if events:
            self.shots.extend(events)

        snapshot = tick % self.snapshot_every == 0
        receivers: Collection[Member] = self.members.values()
        if self.spectators:
            receivers = [*receivers, *self._spectators_tick(snapshot, cap, rate, refused)]
        view, grid = self.view, self.grid
        scoreboard = None
        shots_all = codec.NO_SHOTS
        shot_items: list[tuple[int, bytes]] = []
        if snapshot:
            rows = game.rows
            if self.replicator.current is not None and rows is self.replicator.current.rows:
                raise GameFault(
                    f"{self.game_type.name}.step left rows the same dict: make a new one each step"
                )
            frame = self.replicator.capture(tick, rows)
            if self.replicator.new_ids:
                check_rows(game, frame.rows, self.replicator.new_ids)
            if grid is not None:
                grid.rebuild(frame)
            scoreboard = self._scoreboard_if_changed(tick)
            shots = self.shots
            self.shots = []
            if shots and view is None:
                shots_all = codec.encode_shots(shots)
            elif shots:  # each player gets those of the shooters it sees, each packed once
                shot_items = list(zip([s[0] for s in shots], codec.shot_items(shots), strict=True))
        body_for = self.replicator.body_for
        bodies: dict[int | None, tuple[bytes, bytes]] = {}  # body_for() by baseline, this tick
        view_body_for = self.replicator.view_body_for
        pack_seq = codec.pack_optional_int
        lag_floor = tick - self.max_lag_ticks
        # Each baseline held costs one delta build a tick, shared by those who hold it. A client
        # that has not taken its last snapshot and holds one older than STALE_SNAPSHOTS
        # snapshots gets the full snapshot instead, so readers stuck at many different old
        # ticks cost at most that many builds. (One that is idle holds an old tick too, but
        # it took everything it was sent.)
        stale = tick - STALE_SNAPSHOTS * self.snapshot_every
        heartbeat = self.tick_rate if self.skip_idle_snapshots else 0
        every = self.checksum_every
        checksum_tick = snapshot and every and tick % every == 0
        checksum_heads: dict[bytes, bytes] = {}  # by head: the same with the array one longer
        ready: list[Member] = []
        for m in receivers:
            if m.close_request is not None:
                continue
            acked = m.ack_tick if m.ack_tick is not None else m.joined_tick
            if acked < lag_floor:
                m.request_close(ErrorCode.TOO_SLOW, f"no acknowledgement for {self.max_lag_ticks} ticks")
                ready.append(m)
                continue
            if snapshot:
                if m.pending is not None:
                    m.snapshots_skipped += 1
                if scoreboard is not None:
                    m.queue_control(scoreboard.for_member(m.entity_id))
                resync = m.resync
                if resync:
                    m.resync = False
                if view is None:
                    held = m.held_tick
                    if (held is not None and held < stale and m.pending is not None) or resync:
                        held = None  # behind and not reading, or asked: the full snapshot, shared
                    shared = bodies.get(held)
                    if shared is None:
                        shared = bodies[held] = body_for(held)
                    head, body = shared
                    tail = shots_all
                    seen = m.pending_view
                else:
                    assert grid is not None
                    seen = view.visible(frame, grid, m.view_of, m.held_view)
                    # baseline None (asked for): a full snapshot, whatever is held
                    head, body = view_body_for(None if resync else m.held_tick, m.held_view, seen)
                    tail = codec.NO_SHOTS
                    if shot_items:
                        tail = codec.join_shots([b for sid, b in shot_items if sid in seen])
                if checksum_tick:
                    # Sent even when nothing changed (so this is the heartbeat too): the client
                    # checks what it holds, and asks for a full snapshot when it differs.
                    replicator = self.replicator
                    total = replicator.frame_checksum() if view is None else replicator.checksum(seen)
                    longer = checksum_heads.get(head)
                    if longer is None:
                        longer = checksum_heads[head] = codec.with_checksum_head(head)
                    head = longer
                    tail = tail + pack_seq(total)
                elif (
                    body == EMPTY_BODY
                    and tail == codec.NO_SHOTS
                    and m.pending is None
                    and m.held_tick is not None
                    and tick - m.held_tick < heartbeat
                    and not resync
                ):
                    # Nothing the client holds changed: no snapshot, but one a second anyway,
                    # so that its clock, acknowledgements and last_seq keep moving. Inputs that
                    # changed nothing need no reconciliation: the prediction already agrees.
                    if m.control:
                        ready.append(m)
                    continue
                if view is not None:
                    m.pending_view = seen
                m.pending = (tick, (head, pack_seq(m.last_applied_seq), body, tail))
                ready.append(m)
            elif m.control:
                ready.append(m)
        ready.extend(refused)
        return ready

    def _spectators_tick(self, snapshot: bool, cap: int, rate: int, refused: list[Member]) -> list[Member]:
        """The spectators' part of a tick before the snapshots: their message budget, inputs
        refused, and on snapshot ticks a new player to follow when theirs is gone. The
        spectators to snapshot with the players."""
        for m in self.spectators:
            if m.close_request is not None:
                continue
            if m.raw_inputs:  # the transport's fast path took an input aside, as a player's
                m.raw_inputs.clear()
                m.request_close(ErrorCode.SPECTATOR_INPUT, "a spectator sends no inputs")
                refused.append(m)
                continue
            if m.msg_tokens < cap:
                m.msg_tokens = min(cap, m.msg_tokens + rate)
            if snapshot and not self._is_player(m.follow):
                self._follow(m, None, answer=False)
        return self.spectators

    def _scoreboard_if_changed(self, tick: int) -> ScoreboardUpdate | None:
        """The scoreboard, when kills, deaths or players changed, at most once a second."""
        key = (self._roster, self._hook("scores_version", self.game.scores_version))
        if key == self._scores_shown or tick - self._scores_tick < self.tick_rate:
            return None
        self._scores_shown = key
        self._scores_tick = tick
        return self._scoreboard()

    def _scoreboard(self) -> ScoreboardUpdate:
        here = [(m.entity_id, m.name, 0) for m in self.members.values()]
        gone = [(a.entity_id, a.name, 1) for a in self.away.values()]
        score = self.game.score
        lines: list[tuple[int, str, int, int, int]] = []
        for eid, name, away in here + gone:
            points, deaths = self._hook("score", score, eid)
            lines.append((eid, name, points, deaths, away))
        lines.sort(key=lambda ln: (-ln[2], ln[3], ln[0]))
        return ScoreboardUpdate(lines)

    def close_all(self, error: ErrorCode, message: str) -> list[Member]:
        everyone = [*self.members.values(), *self.spectators]
        for m in everyone:
            m.request_close(error, message, goodbye=True)
        return everyone
