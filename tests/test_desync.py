"""Snapshots carry a checksum of what the client holds; a client whose copy differs sends RESYNC
and the next snapshot is full. Pure rooms tick by tick, then a real server and real clients."""

from __future__ import annotations

import asyncio
import urllib.request
import zlib

import msgpack
import pytest
from server_process import ServerProcess
from websockets.asyncio.client import connect

from gameserver import codec
from gameserver.codec import ErrorCode, ProtocolError
from gameserver.games.ball import Ball
from gameserver.messages import Ack, Hello, Input, Resync, Snapshot, Welcome
from gameserver.replication import ChecksumMismatch, Mirror
from gameserver.room import Member, Room
from gameserver.testing import Match
from gameserver.world import SCHEMA, Rules


class Client:
    """A client of a pure room that keeps a Mirror and answers a mismatch with RESYNC."""

    def __init__(self, room: Room, name: str, *, spectator: bool = False) -> None:
        self.room = room
        self.member: Member = room.watch(name) if spectator else room.join(name)
        self.mirror = Mirror(SCHEMA)
        self.seq = 0
        self.snapshots: list[Snapshot] = []
        self.mismatches = 0

    def read(self) -> None:
        for data in self.member.take_outgoing():
            msg = codec.decode_server(data)
            if isinstance(msg, Snapshot):
                self.snapshots.append(msg)
                try:
                    self.mirror.apply(msg)
                except ChecksumMismatch:
                    self.mismatches += 1
                    self.room.receive_bytes(self.member, codec.encode_client(Resync()))

    def step(self, mx: float = 0.0) -> None:
        if self.member.spectator:
            if self.mirror.tick is not None:
                self.room.receive_bytes(self.member, codec.encode_client(Ack(self.mirror.tick)))
            return
        self.seq += 1
        self.room.receive_input(
            self.member, codec.encode_client(Input(self.seq, mx, 0.0, 0.0, 0, self.mirror.tick))
        )


def _current_rows(room: Room) -> dict[int, tuple[object, ...]]:
    assert room.replicator.current is not None
    return room.replicator.current.rows


# where a mirror's row of the arena's player holds its angle: (qx, qy, kind, name, angle, hp)
ANGLE = 4


def play(room: Room, clients: list[Client], ticks: int, mx: float = 1.0) -> None:
    for _ in range(ticks):
        for i, c in enumerate(clients):
            c.step(mx if i % 2 else -mx)
        room.tick()
        for c in clients:
            c.read()


def test_the_checksum_is_the_sum_of_each_entitys_crc32_of_its_spawn_record() -> None:
    room = Room(tick_rate=30)
    clients = [Client(room, n) for n in ("ann", "bob", "cy")]
    play(room, clients, 30)
    carried = [s for s in clients[0].snapshots if s.checksum is not None]
    assert [s.tick for s in carried] == [30]  # once a second: the ticks that are multiples of 30
    # Computed here from the definition in docs/protocol.md, from the server's own rows.
    rows = room.replicator.frames[30].rows
    records = [SCHEMA.codecs.spawn_record(eid, row) for eid, row in rows.items()]
    expected = sum(zlib.crc32(msgpack.packb(r)) for r in records) % 2**32
    assert carried[0].checksum == expected
    assert all(c.mirror.checksums_matched == 1 and c.mismatches == 0 for c in clients)
    # On the wire: an array of 9, the checksum last; the others stay arrays of 8.
    play(room, clients, 29)
    for c in clients:
        c.step(1.0)
    room.tick()
    assert room.tick_no == 60
    last = msgpack.unpackb(clients[0].member.take_outgoing()[-1])
    assert last[:2] == [11, 60] and len(last) == 9 and last[8] == room.replicator.frame_checksum()
    for c in clients:
        c.step(1.0)
    room.tick()
    assert len(msgpack.unpackb(clients[0].member.take_outgoing()[-1])) == 8


def test_a_corrupted_mirror_asks_for_a_resync_and_heals_with_a_full_snapshot() -> None:
    room = Room(tick_rate=30)
    ann, bob = Client(room, "ann"), Client(room, "bob")
    play(room, [ann, bob], 31)
    assert ann.mirror.checksums_matched == 1
    # Something flips one field of bob's entity in ann's copy: nothing in a delta shows it.
    bob_row = ann.mirror.rows[bob.member.entity_id]
    bob_row[ANGLE] = (bob_row[ANGLE] + 7) % 256  # bob does not turn
    play(room, [ann, bob], 29)  # up to tick 60: a checksum
    assert ann.mismatches == 1 and bob.mismatches == 0
    assert ann.member.resyncs == 1
    before = len(ann.snapshots)
    play(room, [ann, bob], 1)
    healed = ann.snapshots[before]
    assert healed.baseline is None  # full: everything held before is dropped
    assert ann.mirror.as_rows() == _current_rows(room)
    play(room, [ann, bob], 30)
    assert ann.mismatches == 1 and ann.mirror.checksums_matched == 2
    assert bob.member.resyncs == 0 and bob.mirror.checksums_matched == 3  # ticks 30, 60, 90


def test_resyncs_are_taken_once_a_second() -> None:
    room = Room(tick_rate=30)
    ann, bob = Client(room, "ann"), Client(room, "bob")
    play(room, [ann, bob], 5)
    fulls: list[int] = []
    for _ in range(60):
        room.receive_bytes(ann.member, codec.encode_client(Resync()))
        before = len(ann.snapshots)
        play(room, [ann, bob], 1)
        fulls += [s.tick for s in ann.snapshots[before:] if s.baseline is None]
    assert ann.member.resyncs == 2 and ann.member.resyncs_ignored == 58
    assert len(fulls) == 2 and fulls[1] - fulls[0] == 30
    assert ann.mirror.as_rows() == _current_rows(room)
    assert bob.member.resyncs == 0 and not any(s.baseline is None for s in bob.snapshots[1:])


def test_with_a_view_each_client_gets_the_checksum_of_its_own_view() -> None:
    rules = Rules(view_width=400.0, view_height=300.0, view_margin=50.0, view_hysteresis=40.0)
    room = Room(tick_rate=30, options={"rules": rules})
    clients = [Client(room, f"p{i}") for i in range(4)]
    game = room.game
    for i, c in enumerate(clients):  # two pairs, far apart
        e = game.world.entities[c.member.entity_id]  # type: ignore[attr-defined]
        e.x, e.y = 500.0 + 1200 * (i // 2) + 50 * (i % 2), 500.0
    watcher = Client(room, "w", spectator=True)
    play(room, [*clients, watcher], 30, mx=0.0)
    sums = {s.checksum for c in clients for s in c.snapshots if s.tick == 30}
    assert len(sums) == 2  # each pair holds its own two entities
    assert all(c.mirror.checksums_matched == 1 and len(c.mirror.rows) == 2 for c in clients)
    assert watcher.mirror.checksums_matched == 1
    # A corrupted view heals with a full snapshot of the view alone.
    far = clients[2]
    del far.mirror.rows[far.member.entity_id]
    play(room, [*clients, watcher], 60, mx=0.0)  # tick 60: the mismatch; 61: full; 90: agreed
    assert far.mismatches == 1 and far.mirror.checksums_matched == 2
    assert set(far.mirror.rows) == {clients[2].member.entity_id, clients[3].member.entity_id}


def test_an_idle_client_gets_its_checksum_as_the_heartbeat() -> None:
    room = Room(tick_rate=30)
    ann, bob = Client(room, "ann"), Client(room, "bob")
    play(room, [ann, bob], 3, mx=0.0)
    start = len(ann.snapshots)
    play(room, [ann, bob], 90, mx=0.0)  # nobody moves
    got = ann.snapshots[start:]
    assert [s.tick for s in got] == [30, 60, 90] and all(s.checksum is not None for s in got)


def test_checksums_can_be_turned_off_and_follow_the_snapshot_rate() -> None:
    room = Room(tick_rate=30, checksum_every=0)
    ann = Client(room, "ann")
    play(room, [ann], 61)
    assert all(s.checksum is None for s in ann.snapshots)
    room = Room(tick_rate=60, snapshot_rate=20, checksum_every=60)
    ann = Client(room, "ann")
    play(room, [ann], 121)
    assert [s.tick for s in ann.snapshots if s.checksum is not None] == [60, 120]
    with pytest.raises(ValueError, match="multiple"):
        Room(tick_rate=60, snapshot_rate=20, checksum_every=10)


def test_a_game_on_the_api_gets_checksums_too() -> None:
    match = Match(Ball)
    ann, bob = match.join("ann"), match.join("bob")
    ann.input(move_x=1.0)
    match.tick(60)
    assert ann.mirror.checksums_matched == 2 and bob.mirror.checksums_matched == 2


def test_resync_on_the_wire() -> None:
    assert codec.encode_client(Resync()) == b"\x91\x06"
    assert codec.decode_client(b"\x91\x06") == Resync()
    for bad in ([6, 1], [6, None]):
        with pytest.raises(ProtocolError) as err:
            codec.decode_client(msgpack.packb(bad))
        assert err.value.error is ErrorCode.INVALID_MESSAGE
    with pytest.raises(ProtocolError) as err:
        codec.decode_hello(b"\x91\x06")
    assert err.value.error is ErrorCode.HELLO_REQUIRED


def _resyncs_taken(metrics: str) -> list[float]:
    return [float(ln.split()[1]) for ln in metrics.splitlines() if ln.startswith("gameserver_resyncs_total ")]


async def _join(url: str, name: str) -> tuple[object, Welcome]:
    ws = await connect(url, max_size=None)
    await ws.send(codec.encode_client(Hello(1, name)))
    welcome = codec.decode_server(await ws.recv())
    assert isinstance(welcome, Welcome)
    return ws, welcome


def test_a_real_client_whose_copy_is_corrupted_heals_while_the_other_plays_on() -> None:
    async def scene(url: str) -> None:
        ann_ws, ann_w = await _join(url, "ann")
        bob_ws, bob_w = await _join(url, "bob")
        mirrors = {"ann": Mirror(SCHEMA), "bob": Mirror(SCHEMA)}
        mismatches = {"ann": 0, "bob": 0}
        full_after_resync: list[int] = []
        corrupted = asyncio.Event()
        healed = asyncio.Event()

        async def run(name: str, ws: object, me: int) -> None:
            seq = 0
            mirror = mirrors[name]
            async for data in ws:  # type: ignore[attr-defined]
                msg = codec.decode_server(data)
                if not isinstance(msg, Snapshot):
                    continue
                if name == "ann" and mismatches["ann"] and msg.baseline is None:
                    full_after_resync.append(msg.tick)
                try:
                    mirror.apply(msg)
                except ChecksumMismatch:
                    mismatches[name] += 1
                    await ws.send(codec.encode_client(Resync()))  # type: ignore[attr-defined]
                if name == "ann" and mirror.checksums_matched == 1 and not corrupted.is_set():
                    mirror.rows[bob_w.entity_id][ANGLE] ^= 0x55  # in ann's copy only
                    corrupted.set()
                if name == "ann" and corrupted.is_set() and full_after_resync and msg.checksum is not None:
                    if mirror.checksums_matched >= 2:
                        healed.set()
                seq += 1
                move = 1.0 if (msg.tick // 30) % 2 else -1.0
                await ws.send(codec.encode_client(Input(seq, move, 0.0, 0.0, 0, msg.tick)))  # type: ignore[attr-defined]

        tasks = [
            asyncio.create_task(run("ann", ann_ws, ann_w.entity_id)),
            asyncio.create_task(run("bob", bob_ws, bob_w.entity_id)),
        ]
        try:
            await asyncio.wait_for(healed.wait(), 10)
        finally:
            for t in tasks:
                t.cancel()
            await ann_ws.close()  # type: ignore[attr-defined]
            await bob_ws.close()  # type: ignore[attr-defined]
        assert mismatches == {"ann": 1, "bob": 0}
        assert mirrors["bob"].checksums_matched >= 2
        assert len(full_after_resync) == 1

    with ServerProcess("--tick", "30") as server:
        asyncio.run(scene(server.ws_url))
        with urllib.request.urlopen(server.http + "/metrics", timeout=5) as r:
            metrics = r.read().decode()
        assert _resyncs_taken(metrics) == [1]


def test_the_checksum_benchmark_measures_five_bytes_a_second(capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks.bench_checksum import main

    assert main(["--players", "12", "--seconds", "2"]) == 0
    out = capsys.readouterr().out
    assert "added 5.00 B/s" in out and "ticks that carry a checksum" in out, out


def test_a_resync_flood_gets_one_full_snapshot_a_second_and_costs_the_others_nothing() -> None:
    """An attacker sends RESYNC at its full message rate (3 a tick) for 3 s next to two players:
    the server takes one a second, the attacker stays connected within the rate, and the players
    get a snapshot every tick throughout."""

    async def scene(url: str) -> tuple[list[int], dict[str, list[int]]]:
        attacker, _ = await _join(url, "mallory")
        players = {name: await _join(url, name) for name in ("ann", "bob")}
        ticks: dict[str, list[int]] = {name: [] for name in players}
        fulls: list[int] = []
        seen_enough = {name: asyncio.Event() for name in players}

        async def play(name: str) -> None:
            ws, _ = players[name]
            seq = 0
            async for data in ws:  # type: ignore[attr-defined]
                msg = codec.decode_server(data)
                if isinstance(msg, Snapshot):
                    ticks[name].append(msg.tick)
                    if len(ticks[name]) >= 90:  # 3 s of the flood, at a snapshot a tick
                        seen_enough[name].set()
                    seq += 1
                    move = 1.0 if (msg.tick // 20) % 2 else -1.0  # always moving: a snapshot a tick
                    await ws.send(codec.encode_client(Input(seq, move, 0.0, 0.0, 0, msg.tick)))  # type: ignore[attr-defined]

        async def flood() -> None:
            async for data in attacker:  # type: ignore[attr-defined]
                msg = codec.decode_server(data)
                if isinstance(msg, Snapshot):
                    if msg.baseline is None:
                        fulls.append(msg.tick)
                    await attacker.send(codec.encode_client(Ack(msg.tick)))  # type: ignore[attr-defined]
                    for _ in range(2):
                        await attacker.send(codec.encode_client(Resync()))  # type: ignore[attr-defined]

        tasks = [asyncio.create_task(play(n)) for n in players] + [asyncio.create_task(flood())]
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in seen_enough.values())), 15)
        for t in tasks:
            t.cancel()
        closed = attacker.close_code  # type: ignore[attr-defined]
        for ws, _ in [*players.values(), (attacker, None)]:
            await ws.close()  # type: ignore[attr-defined]
        assert closed is None, f"the attacker was closed with {closed}"
        return fulls, ticks

    with ServerProcess("--tick", "30") as server:
        fulls, ticks = asyncio.run(scene(server.ws_url))
        with urllib.request.urlopen(server.http + "/metrics", timeout=5) as r:
            metrics = r.read().decode()
    taken = _resyncs_taken(metrics)
    # the join's full snapshot, then one a second at most: 3 s of flood
    later = zip(fulls[1:], fulls[2:], strict=False)
    assert 2 <= len(fulls) <= 5 and all(b - a >= 30 for a, b in later), fulls
    assert taken and 1 <= taken[0] <= 4, taken
    for name, got in ticks.items():
        gaps = [b - a for a, b in zip(got, got[1:], strict=False)]
        assert len(got) >= 60 and max(gaps) <= 3, (name, gaps)
