"""The room and replication, driven tick by tick with no sockets and no clock."""

from __future__ import annotations

import msgpack
import pytest
from arena_records import changed, name_of
from hypothesis import given, settings
from hypothesis import strategies as st

from client_demo.bots.tracker import Tracker
from gameserver import codec
from gameserver.codec import ErrorCode, ProtocolError
from gameserver.combat import FIRE
from gameserver.games.arena import Arena
from gameserver.messages import (
    Error,
    Input,
    Ping,
    Pong,
    Scoreboard,
    ScoreLine,
    ServerMessage,
    Shot,
    Snapshot,
    Welcome,
)
from gameserver.replication import Frame, Grid, Mirror, View, delta_body
from gameserver.room import INBOX_LIMIT, RAW_INPUT_LIMIT, Member, Room, RoomFull
from gameserver.schema import Kind, Schema, angle, integer, position, text
from gameserver.world import SCHEMA, Entity, Rules


class Client:
    """What a well-behaved client keeps: a mirror rebuilt from what it was sent."""

    def __init__(self, room: Room, name: str) -> None:
        self.room = room
        self.member = room.join(name)
        self.mirror = Mirror(SCHEMA)
        self.tracker = Tracker()  # what a fighting bot keeps, from the same bytes
        self.seq = 0
        self.received: list[ServerMessage] = []

    @property
    def entity(self) -> Entity:
        """The arena's entity of this player."""
        game = self.room.game
        assert isinstance(game, Arena)
        return game.world.entities[self.member.entity_id]

    def read(self) -> list[ServerMessage]:
        raw = self.member.take_outgoing()
        msgs = [codec.decode_server(b) for b in raw]
        for m, data in zip(msgs, raw, strict=True):
            if isinstance(m, Snapshot):
                self.mirror.apply(m)
                self.tracker.apply(data)
        self.received.extend(msgs)
        return msgs

    def send_input(self, mx: float = 0.0, my: float = 0.0, aim: float = 0.0) -> None:
        self.seq += 1
        # as the transport hands it over: the input's bytes, decoded by the next tick
        data = codec.encode_client(Input(self.seq, mx, my, aim, 0, self.mirror.tick))
        self.room.receive_input(self.member, data)


def test_join_sends_welcome_then_full_snapshot() -> None:
    room = Room()
    a = Client(room, "a")
    room.tick()
    welcome, board, snap = a.read()
    assert isinstance(welcome, Welcome) and welcome.entity_id == a.member.entity_id
    assert board == Scoreboard((ScoreLine(a.member.entity_id, "a", 0, 0),))
    assert welcome.rules["speed"] == 150.0 and welcome.tick_rate == 30
    assert isinstance(snap, Snapshot) and snap.baseline is None and [name_of(s) for s in snap.spawns] == ["a"]


def test_one_moves_the_other_sees_it() -> None:
    room = Room()
    a, b = Client(room, "a"), Client(room, "b")
    room.tick()
    a.read(), b.read()
    x0 = b.mirror.rows[a.member.entity_id][0]
    for _ in range(10):
        a.send_input(1.0, 0.0)
        b.send_input()
        room.tick()
        a.read(), b.read()
    assert b.mirror.rows[a.member.entity_id][0] == x0 + 10 * 40  # 5 units a tick, 8 quanta a unit
    last = b.received[-1]
    assert isinstance(last, Snapshot) and last.baseline == last.tick - 1
    last_a = a.received[-1]
    assert isinstance(last_a, Snapshot) and last_a.last_seq == 10


def test_inputs_apply_in_order_bounded_per_tick() -> None:
    room = Room()
    a = Client(room, "a")
    room.tick()
    a.read()
    x0 = a.entity.x
    for _ in range(6):
        a.send_input(1.0, 0.0)
    room.tick()
    # The credit refills one input a tick up to max_inputs_per_tick (3): after an idle tick a
    # late burst catches up, but the sustained rate is one input, one tick of movement, a tick.
    assert a.member.last_applied_seq == 3
    assert a.entity.x == x0 + 3 * 5.0
    room.tick()
    assert a.member.last_applied_seq == 4
    room.tick(), room.tick()
    assert a.member.last_applied_seq == 6 and a.entity.x == x0 + 6 * 5.0


def test_after_a_stall_the_queued_inputs_catch_up_and_leave_no_standing_queue() -> None:
    room = Room()
    a = Client(room, "a")
    room.tick()
    a.read()
    for _ in range(10):  # the network holds a's inputs back for 10 ticks...
        room.tick()
    for _ in range(7):  # ...then delivers 7 at once (and the 8th with the tick below)
        a.send_input(1.0, 0.0)
    applied = []
    for _ in range(8):  # and one a tick after, as a client sends them
        a.send_input(1.0, 0.0)
        room.tick()
        applied.append(a.member.last_applied_seq)
    # at most 3 a tick until the queue is empty, then each input in the tick it arrived
    assert applied == [3, 6, 9, 11, 12, 13, 14, 15]
    assert a.member.inbox == [] and a.member.inputs_dropped == 0
    # the sustained rate stays one a tick: two a tick only fill the queue, whose oldest drop
    a.entity.x = x0 = 100.0
    for _ in range(20):
        a.send_input(1.0, 0.0)
        a.send_input(1.0, 0.0)
        room.tick()
    assert a.entity.x - x0 <= 20 * 5.0 and a.member.inputs_dropped >= 12  # 5 units an input


def test_stale_sequence_numbers_and_full_inbox_are_dropped() -> None:
    room = Room()
    a = Client(room, "a")
    room.receive(a.member, Input(5, 0, 0, 0, 0, None))
    room.receive(a.member, Input(5, 1, 0, 0, 0, None))
    room.receive(a.member, Input(3, 1, 0, 0, 0, None))
    assert [i.seq for i in a.member.inbox] == [5] and a.member.inputs_dropped == 2
    for seq in range(6, 6 + INBOX_LIMIT):
        room.receive(a.member, Input(seq, 0, 0, 0, 0, None))
    assert len(a.member.inbox) == INBOX_LIMIT and a.member.inbox[0].seq == 6


def test_an_input_waits_as_bytes_and_the_next_tick_applies_it() -> None:
    room = Room()
    a = Client(room, "a")
    room.tick()
    a.read()
    x0 = a.entity.x
    a.send_input(1.0, 0.0)
    assert len(a.member.raw_inputs) == 1 and not a.member.inbox  # not decoded yet
    room.tick()
    assert a.member.raw_inputs == [] and a.member.last_applied_seq == 1
    assert a.entity.x == x0 + 5.0


def test_a_bad_input_is_refused_by_the_tick_and_nobody_else_notices() -> None:
    room = Room()
    a, b = Client(room, "a"), Client(room, "b")
    room.tick()
    a.read(), b.read()
    x0 = b.entity.x
    room.receive_input(a.member, msgpack.packb([2, "one", 0, 0, 0, 0, None]))
    b.send_input(1.0, 0.0)
    ready = room.tick()
    assert a.member in ready and a.member.close_request == (1007, "invalid_message")
    assert [m.code for m in a.read() if isinstance(m, Error)] == ["invalid_message"]
    assert b.entity.x == x0 + 5.0 and b.member.close_request is None
    assert any(isinstance(m, Snapshot) for m in b.read())


def test_a_fault_decoding_in_the_tick_closes_that_player_only(monkeypatch: pytest.MonkeyPatch) -> None:
    room = Room()
    a, b = Client(room, "a"), Client(room, "b")
    room.tick()
    a.read(), b.read()
    receive = Room.receive

    def receive_or_fail(self: Room, member: Member, msg: object) -> None:
        if member is a.member:
            raise RuntimeError("a bug")
        receive(self, member, msg)  # type: ignore[arg-type]

    monkeypatch.setattr(Room, "receive", receive_or_fail)
    a.send_input(1.0, 0.0)
    b.send_input(1.0, 0.0)
    ready = room.tick()
    assert a.member in ready and a.member.close_request == (1011, "internal_error")
    assert b.member.last_applied_seq == 1 and b.member.close_request is None


def test_inputs_past_the_waiting_limit_are_decoded_at_once_and_in_order() -> None:
    room = Room()
    a = Client(room, "a")
    for _ in range(RAW_INPUT_LIMIT):
        a.send_input()
    assert len(a.member.raw_inputs) == RAW_INPUT_LIMIT and not a.member.inbox
    a.send_input()  # one more: what waits is taken first, then this one
    assert a.member.raw_inputs == [] and a.member.last_received_seq == RAW_INPUT_LIMIT + 1
    assert [i.seq for i in a.member.inbox] == list(
        range(RAW_INPUT_LIMIT + 2 - INBOX_LIMIT, RAW_INPUT_LIMIT + 2)
    )
    a.send_input()
    a.send_input()
    room.tick()
    assert a.member.last_received_seq == RAW_INPUT_LIMIT + 3 and a.member.raw_inputs == []
    assert a.member.inputs_dropped == RAW_INPUT_LIMIT + 3 - INBOX_LIMIT


def test_a_ping_as_bytes_is_answered_at_once() -> None:
    room = Room()
    a = Client(room, "a")
    a.read()
    room.receive_bytes(a.member, codec.encode_client(Ping(2.5)))
    assert a.read() == [Pong(2.5, room.tick_no)]


def test_ping_gets_pong_through_the_outbox() -> None:
    room = Room()
    a = Client(room, "a")
    a.read()
    room.receive(a.member, Ping(12.5))
    assert a.read() == [Pong(12.5, room.tick_no)]


def test_flooding_is_rate_limited() -> None:
    room = Room(tick_rate=30)
    a = Client(room, "a")
    with pytest.raises(ProtocolError) as info:
        for _ in range(1000):
            room.receive(a.member, Ping(0.0))
    assert info.value.error is ErrorCode.RATE_LIMITED


def test_an_input_flood_is_rate_limited_though_inputs_wait_for_the_tick() -> None:
    room = Room(tick_rate=30)
    a = Client(room, "a")
    with pytest.raises(ProtocolError) as info:
        for _ in range(1000):
            a.send_input(1.0, 0.0)
    assert info.value.error is ErrorCode.RATE_LIMITED
    # charged within RAW_INPUT_LIMIT of their arrival (when the waiting ones overflow), not
    # only by the tick
    assert a.seq <= room.msg_burst + 1 + RAW_INPUT_LIMIT


def test_a_client_that_never_acknowledges_is_dropped_and_costs_one_slot() -> None:
    room = Room(tick_rate=30, max_lag_seconds=1.0)
    a, silent = Client(room, "a"), Client(room, "silent")
    for _ in range(30):
        a.send_input()
        room.tick()
        a.read()
        assert silent.member.pending is not None  # latest wins: one snapshot, never a queue
        assert not silent.member.closing
    a.send_input()
    room.tick()
    assert silent.member.closing and silent.member.close_request == (1008, "too_slow")
    out = [codec.decode_server(b) for b in silent.member.take_outgoing()]
    assert isinstance(out[-1], Error) and out[-1].code == "too_slow"
    assert not a.member.closing


def test_skipped_snapshots_make_the_next_delta_cover_the_gap() -> None:
    room = Room()
    a, b = Client(room, "a"), Client(room, "b")
    room.tick()
    a.read(), b.read()
    held = b.mirror.tick
    for _ in range(5):
        a.send_input(0.0, 1.0)
        room.tick()
        a.read()  # b does not read: its slot is overwritten each tick
    (snap,) = b.read()
    assert isinstance(snap, Snapshot) and snap.baseline == held and snap.tick == held + 5  # type: ignore[operator]
    assert b.mirror.as_rows() == room.replicator.frames[snap.tick].rows
    assert b.member.snapshots_skipped == 4


def test_baseline_older_than_history_gets_a_full_snapshot() -> None:
    room = Room()
    room.replicator.history_len = 4
    a, b = Client(room, "a"), Client(room, "b")
    room.tick()
    b.read()
    for _ in range(10):
        room.tick()
        a.read()
    (snap,) = b.read()
    assert isinstance(snap, Snapshot) and snap.baseline is None and len(snap.spawns) == 2


def test_delta_bodies_are_built_once_per_baseline_not_per_player() -> None:
    room = Room()
    clients = [Client(room, f"p{i}") for i in range(20)]
    room.tick()
    for c in clients:
        c.read()
    built = room.replicator.bodies_built
    for c in clients:
        c.send_input(1.0, 0.0)
    room.tick()
    for c in clients:
        c.read()
    assert room.replicator.bodies_built == built + 1


def test_room_full() -> None:
    room = Room(max_players=2)
    Client(room, "a"), Client(room, "b")
    with pytest.raises(RoomFull):
        room.join("c")


def test_snapshot_rate_below_tick_rate() -> None:
    room = Room(tick_rate=30, snapshot_rate=10, skip_idle_snapshots=False)
    a = Client(room, "a")
    ticks = []
    for _ in range(9):
        room.tick()
        ticks += [m.tick for m in a.read() if isinstance(m, Snapshot)]
    assert ticks == [3, 6, 9]


# --- the mirror property ---------------------------------------------------------------

op = st.one_of(
    st.tuples(st.just("join")),
    st.tuples(st.just("leave"), st.integers(0, 7)),
    st.tuples(st.just("move"), st.integers(0, 7), st.floats(-1, 1), st.floats(-1, 1)),
    st.tuples(st.just("tick"), st.lists(st.booleans(), min_size=8, max_size=8)),
)


@given(st.lists(op, max_size=60), st.integers(2, 40))
@settings(max_examples=300, deadline=None)
def test_client_mirror_equals_server_view(ops: list[tuple], history: int) -> None:  # type: ignore[type-arg]
    """Any joins, leaves, moves and skipped snapshots: what a client rebuilds from what it was
    sent equals the server's state for that tick."""
    room = Room(tick_rate=30)
    room.replicator.history_len = history
    clients: list[Client] = []
    for o in ops:
        if o[0] == "join" and len(clients) < 8:
            clients.append(Client(room, f"p{len(clients)}"))
        elif o[0] == "leave" and clients:
            c = clients.pop(o[1] % len(clients))
            room.leave(c.member)
        elif o[0] == "move" and clients:
            clients[o[1] % len(clients)].send_input(o[2], o[3])
        elif o[0] == "tick":
            room.tick()
            for c, reads in zip(clients, o[1], strict=False):
                if reads:
                    for m in c.read():
                        if isinstance(m, Snapshot):
                            frame = room.replicator.frames[m.tick]
                            assert frame is not None and c.mirror.as_rows() == frame.rows
    room.tick()
    arena = room.game
    assert isinstance(arena, Arena)
    world_rows = {e.id: e.row() for e in arena.world.entities.values()}
    for c in clients:
        c.read()  # perhaps no snapshot (nothing changed), but then what it holds is current
        assert c.mirror.as_rows() == world_rows


def test_member_outbox_never_grows_past_one_snapshot() -> None:
    room = Room()
    a = Client(room, "a")
    m: Member = a.member
    for _ in range(100):
        room.tick()
    # the welcome and the first scoreboard, and the newest snapshot: nothing piles up
    assert m.pending is not None and len(m.control) == 2


# --- interest management -----------------------------------------------------------------

VIEW_RULES = Rules(view_width=400.0, view_height=300.0, view_margin=50.0, view_hysteresis=40.0)


def _place(room: Room, client: Client, x: float, y: float) -> None:
    client.entity.x, client.entity.y = x, y


def test_a_player_receives_exactly_the_entities_in_its_view() -> None:
    room = Room(options={"rules": VIEW_RULES})
    me, near, edge, far = (Client(room, n) for n in ("me", "near", "edge", "far"))
    _place(room, me, 1000, 1000)
    _place(room, near, 1100, 1050)
    _place(room, edge, 1000 + 200 + 50, 1000)  # right on the inner edge: half width + margin
    _place(room, far, 1000 + 200 + 51, 1000)
    room.tick()
    me.read()
    assert set(me.mirror.rows) == {me.member.entity_id, near.member.entity_id, edge.member.entity_id}
    assert far.member.entity_id not in me.mirror.rows


def test_crossing_the_edge_within_the_hysteresis_band_does_not_flicker() -> None:
    room = Room(options={"rules": VIEW_RULES})
    me, other = Client(room, "me"), Client(room, "other")
    _place(room, me, 1000, 1000)
    _place(room, other, 1000 + 240, 1000)  # inside the inner edge at 250
    room.tick()
    me.read(), other.read()
    assert other.member.entity_id in me.mirror.rows
    spawns = removals = 0
    for i in range(20):  # wander between 245 and 285: past the inner edge, inside the outer (290)
        other.send_input(1.0 if i % 2 == 0 else -1.0, 0.0)
        me.send_input()
        room.tick()
        for m in me.read():
            if isinstance(m, Snapshot):
                spawns += len(m.spawns)
                removals += len(m.removals)
        other.read()
        _place(room, other, 1000 + (245 if i % 2 else 285), 1000)
    assert spawns == 0 and removals == 0
    _place(room, other, 1000 + 300, 1000)  # past the outer edge: removed once
    room.tick()
    (snap,) = [m for m in me.read() if isinstance(m, Snapshot)]
    assert snap.removals == (other.member.entity_id,)


def test_view_records_are_encoded_once_per_entity_not_per_player() -> None:
    room = Room(options={"rules": VIEW_RULES})
    clients = [Client(room, f"p{i}") for i in range(10)]
    for i, c in enumerate(clients):
        _place(room, c, 1000 + i, 1000)  # all see all
    room.tick()
    for c in clients:
        c.read()
        c.send_input(1.0, 0.0)
    rep = room.replicator
    room.tick()
    # Everyone holds the previous snapshot: one set of change records for all ten, built once.
    assert rep._previous_changes is not None and len(rep._previous_changes[0]) == 10
    assert rep._change_chunks == {}
    for c in clients:
        c.read()
        assert c.mirror.as_rows() == room.replicator.frames[room.tick_no].rows


def test_when_most_stand_still_each_view_gets_exactly_the_movers_changes() -> None:
    room = Room(options={"rules": VIEW_RULES})
    clients = [Client(room, f"p{i}") for i in range(10)]
    for i, c in enumerate(clients):
        _place(room, c, 1000 + 20 * i, 1000)  # all see all
    far = Client(room, "far")
    _place(room, far, 3000, 3000)  # sees none of them
    room.tick()
    for c in [*clients, far]:
        c.read()
    movers = {clients[2].member.entity_id, clients[7].member.entity_id}
    clients[2].send_input(1.0, 0.0)
    clients[7].send_input(0.0, -1.0)
    room.tick()
    changed = room.replicator._previous_changes
    assert changed is not None and changed[2] == movers  # the path for a few movers was taken
    current = room.replicator.current
    assert current is not None
    for c in clients:
        (snap,) = [m for m in c.read() if isinstance(m, Snapshot)]
        assert {ch.id for ch in snap.changes} == movers
        assert c.mirror.as_rows() == {e: current.rows[e] for e in c.member.held_view}
    # nothing it holds changed: no snapshot this tick (a heartbeat comes once a second)
    assert not [m for m in far.read() if isinstance(m, Snapshot)]
    assert set(far.mirror.rows) == {far.member.entity_id}


def test_a_tracker_keeps_what_a_mirror_keeps_through_moves_and_turns() -> None:
    """A fighting bot's Tracker reads each kind of change record as the Mirror does: moves
    without a turn, moves with one, turns alone and stops."""
    room = Room()
    clients = [Client(room, f"p{i}") for i in range(3)]
    room.tick()
    for c in clients:
        c.read()
    # (move x, move y, aim) per tick; each client plays them from its own offset
    plan = [
        (0.6, 0.8, 0.9),
        (0.6, 0.8, 0.9),
        (-0.6, 0.8, 2.2),
        (0.0, 0.0, 3.0),
        (1.0, 0.0, 3.0),
        (0.0, 1.0, 3.0),
    ]
    kinds: set[tuple[bool, bool, bool]] = set()  # (x moved, y moved, turned) of each record
    for t in range(2 * len(plan)):
        for i, c in enumerate(clients):
            c.send_input(*plan[(t + i) % len(plan)])
        room.tick()
        for c in clients:
            for m in c.read():
                if isinstance(m, Snapshot):
                    for ch in m.changes:
                        fields = changed(ch)
                        kinds.add(("x" in fields, "y" in fields, "angle" in fields))
            assert c.tracker.rows == c.mirror.rows and c.tracker.tick == c.mirror.tick
    moves = {(True, True, False), (True, False, False), (False, True, False)}  # both axes, x, y
    assert moves | {(True, True, True), (False, False, True)} <= kinds  # a move with a turn, a turn


@given(st.lists(op, max_size=60), st.integers(2, 40), st.integers(0, 3))
@settings(max_examples=200, deadline=None)
def test_client_mirror_equals_its_view(ops: list[tuple], history: int, layout: int) -> None:  # type: ignore[type-arg]
    """With interest management: what a client rebuilds equals the server's rows of the
    entities in its view at that tick, through joins, leaves, moves, edge crossings and skips."""
    rules = Rules(view_width=200.0, view_height=160.0, view_margin=20.0, view_hysteresis=30.0)
    room = Room(tick_rate=30, options={"rules": rules})
    room.replicator.history_len = history
    clients: list[Client] = []
    for o in ops:
        if o[0] == "join" and len(clients) < 8:
            c = Client(room, f"p{len(clients)}")
            _place(room, c, 1000.0 + 90 * ((len(clients) + layout) % 4), 1000.0 + 70 * (len(clients) // 4))
            clients.append(c)
        elif o[0] == "leave" and clients:
            room.leave(clients.pop(o[1] % len(clients)).member)
        elif o[0] == "move" and clients:
            clients[o[1] % len(clients)].send_input(o[2], o[3])
        elif o[0] == "tick":
            for _ in range(4):  # a few ticks of movement between reads: entities cross edges
                room.tick()
            for c, reads in zip(clients, o[1], strict=False):
                if reads:
                    for m in c.read():
                        if isinstance(m, Snapshot):
                            frame = room.replicator.frames[m.tick]
                            assert c.mirror.as_rows() == {e: frame.rows[e] for e in c.member.held_view}
                            assert c.member.entity_id in c.mirror.rows
                            assert c.tracker.rows == c.mirror.rows and c.tracker.tick == m.tick


def test_shots_ride_in_snapshots_and_a_kill_updates_every_scoreboard() -> None:
    room = Room()
    a, b, c = Client(room, "a"), Client(room, "b"), Client(room, "c")
    a.entity.x, a.entity.y = 500.0, 500.0
    b.entity.x, b.entity.y = 700.0, 500.0
    c.entity.x, c.entity.y = 500.0, 1500.0
    room.tick()
    for cl in (a, b, c):
        cl.read()
    shots: list[Shot] = []
    boards: list[Scoreboard] = []
    for _ in range(60):
        a.seq += 1
        room.receive(a.member, Input(a.seq, 0.0, 0.0, 0.0, FIRE, a.mirror.tick))
        room.tick()
        for m in c.read():
            if isinstance(m, Snapshot):
                shots.extend(m.shots)
            elif isinstance(m, Scoreboard):
                boards.append(m)
        a.read(), b.read()
        if boards:
            break
    a_id, b_id = a.member.entity_id, b.member.entity_id
    assert shots[:4] == [Shot(a_id, b_id)] * 4  # four hits of 25 kill
    assert boards[-1].lines[0] == ScoreLine(a_id, "a", 1, 0)
    assert ScoreLine(b_id, "b", 0, 1) in boards[-1].lines
    assert c.mirror.values(b_id)["hp"] == 0  # b's hp, as c sees it


def test_idle_clients_get_a_heartbeat_not_a_snapshot_a_tick() -> None:
    room = Room(tick_rate=30)
    a, b = Client(room, "a"), Client(room, "b")
    got: list[int] = []

    def play(ticks: int, b_moves: bool) -> None:
        for _ in range(ticks):
            a.send_input()  # idle inputs still acknowledge
            b.send_input(1.0 if b_moves else 0.0, 0.0)
            room.tick()
            got.extend(m.tick for m in a.read() if isinstance(m, Snapshot))
            b.read()

    b.entity.x = 100.0
    play(60, b_moves=True)
    assert len(got) == 60  # b moves: a snapshot every tick
    got.clear()
    play(90, b_moves=False)  # nobody moves: one a second, however many inputs arrive
    assert got == [got[0], got[0] + 30, got[0] + 60]
    got.clear()
    play(1, b_moves=True)
    assert got == [room.tick_no]  # and b's next step goes out at once


def test_the_scoreboard_is_bounded_and_carries_your_own_line() -> None:
    from gameserver.room import SCOREBOARD_TOP

    room = Room(tick_rate=30)
    clients = [Client(room, f"p{i}") for i in range(SCOREBOARD_TOP + 5)]
    room.tick()
    boards = {c.member.entity_id: [m for m in c.read() if isinstance(m, Scoreboard)] for c in clients}
    first = clients[0].member.entity_id
    last = clients[-1].member.entity_id
    assert len(boards[first][0].lines) == SCOREBOARD_TOP
    assert len(boards[last][0].lines) == SCOREBOARD_TOP + 1 and boards[last][0].lines[-1].id == last
    late = Client(room, "late")  # the roster changed, but not a second has passed
    for _ in range(29):
        room.tick()
        assert not [m for m in late.read() if isinstance(m, Scoreboard)]
    room.tick()
    assert [m for m in late.read() if isinstance(m, Scoreboard)]


@given(
    st.lists(st.tuples(st.integers(0, 4000), st.integers(0, 4000)), min_size=1, max_size=80),
    st.integers(1, 300),
    st.integers(1, 300),
    st.integers(0, 100),
    st.integers(1, 400),
    st.data(),
)
@settings(max_examples=300, deadline=None)
def test_view_visible_is_exactly_the_rectangle_rule(
    points: list[tuple[int, int]], half_w: int, half_h: int, band: int, cell: int, data: st.DataObject
) -> None:
    """Strips are cut by bisection without checking each entity; the result must be exactly
    what checking every entity against the two rectangles gives."""
    rows = {i: (x, y, 0, 100, 1, f"e{i}") for i, (x, y) in enumerate(points)}
    frame = Frame(tick=1, rows=rows)
    grid = Grid(cell=cell)
    grid.rebuild(frame)
    view = View(half_w, half_h, half_w + band, half_h + band)
    me = data.draw(st.sampled_from(sorted(rows)))
    held = set(data.draw(st.lists(st.sampled_from(sorted(rows)), max_size=20)))
    ex, ey = rows[me][0], rows[me][1]
    expected = {
        i
        for i, (x, y, *_) in rows.items()
        if (abs(x - ex) <= half_w and abs(y - ey) <= half_h)
        or (i in held and abs(x - ex) <= half_w + band and abs(y - ey) <= half_h + band)
    }
    assert view.visible(frame, grid, me, held) == expected


# the rows below, as a schema of this test's own (the arena's player today; the arena may change)
LAYOUT = Schema(
    (
        Kind(
            1,
            "player",
            (text("name", 24), position("x"), position("y"), angle("angle"), integer("hp", 0, 100)),
        ),
    )
)
_rows = st.dictionaries(
    st.integers(1, 40),
    st.tuples(
        st.integers(0, 200_000),
        st.integers(0, 200_000),
        st.just(1),
        st.just("p"),
        st.integers(0, 255),
        st.integers(0, 100),
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(old=_rows, new=_rows, same=st.sets(st.integers(1, 40)))
def test_a_delta_body_holds_the_change_records_change_items_gives(
    old: dict[int, tuple[int, int, int, str, int, int]],
    new: dict[int, tuple[int, int, int, str, int, int]],
    same: set[int],
) -> None:
    """delta_body() and the views' records (the schema's generated code) hold the records the
    schema's rules give, read plainly (Schema.change_items(), Schema.spawn_record())."""
    for eid in same & old.keys() & new.keys():
        new[eid] = old[eid]  # an unchanged entity keeps its row tuple, as the world does
    base, cur = Frame(tick=1, rows=old), Frame(tick=2, rows=new)
    unpacker = msgpack.Unpacker()
    unpacker.feed(delta_body(base, cur, LAYOUT.codecs))
    spawns, flat, removals = list(unpacker)
    want: list[int] = []
    for eid, row in new.items():
        if eid in old:
            want.extend(LAYOUT.change_items(eid, old[eid], row) or [])
            assert LAYOUT.codecs.change_items(eid, old[eid], row) == LAYOUT.change_items(eid, old[eid], row)
    assert flat == want
    assert spawns == [LAYOUT.spawn_record(eid, row) for eid, row in new.items() if eid not in old]
    assert removals == [eid for eid in old if eid not in new]


def test_readers_stuck_at_old_baselines_share_one_full_snapshot() -> None:
    """Each baseline held costs a delta build; slow readers stuck at different old ticks get
    the full snapshot instead, one body for all of them, and a reader that keeps up a delta."""
    from gameserver.room import STALE_SNAPSHOTS

    room = Room()
    a, b, c = Client(room, "a"), Client(room, "b"), Client(room, "c")
    for t in range(STALE_SNAPSHOTS + 6):
        for cl in (a, b, c):
            cl.send_input(mx=1.0 if t % 2 else -1.0)
        a.read()  # a takes every snapshot (the last one is left pending, to look at)
        room.tick()
        if t < 2:
            b.read()  # b stops reading at tick 2, c at tick 4
        if t < 4:
            c.read()
    assert a.member.pending is not None and b.member.pending is not None and c.member.pending is not None
    tick_a, parts_a = a.member.pending
    _, parts_b = b.member.pending
    _, parts_c = c.member.pending
    full = codec.encode_snapshot_head(tick_a, None)
    assert parts_b[0] == parts_c[0] == full and parts_b[2] is parts_c[2]
    assert parts_a[0] != full  # a delta for the one that keeps up
    snap = codec.decode_server(b"".join(parts_b))
    assert isinstance(snap, Snapshot) and {s.id for s in snap.spawns} == {
        a.member.entity_id,
        b.member.entity_id,
        c.member.entity_id,
    }
    b.read()  # a full snapshot replaces what b held
    assert set(b.mirror.rows) == {a.member.entity_id, b.member.entity_id, c.member.entity_id}
