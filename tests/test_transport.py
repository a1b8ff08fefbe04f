"""The eventlet edge in-process, on green socket pairs: the SocketLoop reading frames that
arrive in pieces, answering pings, and what a blocked send does."""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator
from typing import Any

import eventlet
import pytest
from client_frames import client_frame
from eventlet.green import socket as green_socket
from eventlet.websocket import RFC6455WebSocket
from hypothesis import given, settings
from hypothesis import strategies as st

from gameserver import codec
from gameserver.codec import MAX_CLIENT_MESSAGE_BYTES
from gameserver.config import Config
from gameserver.masking import xor_mask, xor_mask_ints
from gameserver.messages import Error, Hello, Input, Ping, Welcome
from gameserver.room import Member, Room
from gameserver.server import GameServer
from gameserver.transport import FIRST_READ, READ_BATCH, READ_SIZE, TICK_LEAD, Connection
from gameserver.wsconnection import CLOSED, MESSAGES_PER_TURN, OPEN
from gameserver.wsframes import (
    apply_mask,
    frame_extent,
    is_input,
    pack_binary,
    read_frame,
    unmask_frame,
    unmask_small,
)


class _FrameSource:
    """The socket eventlet's frame parser reads from, in the tests that compare with it: bytes
    that already arrived."""

    def __init__(self) -> None:
        self.data = b""
        self.pos = 0

    def recv(self, n: int) -> bytes:
        out = self.data[self.pos : self.pos + n]
        self.pos += len(out)
        return out


def read_frames(data: bytes) -> list[tuple[int, bytes]]:
    """(opcode, payload) of each unmasked server frame in `data`."""
    out, pos = [], 0
    while pos < len(data):
        op, n = data[pos] & 15, data[pos + 1] & 127
        pos += 2
        if n == 126:
            n, pos = int.from_bytes(data[pos : pos + 2], "big"), pos + 2
        elif n == 127:
            n, pos = int.from_bytes(data[pos : pos + 8], "big"), pos + 8
        out.append((op, data[pos : pos + n]))
        pos += n
    return out


@pytest.fixture
def loop() -> Iterator[GameServer]:
    """A server whose SocketLoop runs, with a stand-in for the sender's deadline checks."""
    server = GameServer(Config(send_timeout=0.3, hello_timeout=2, max_lag=600))

    def deadlines() -> None:
        while True:
            server.sockets.expire(time.monotonic())
            eventlet.sleep(0.01)

    threads = [eventlet.spawn(server.sockets.run), eventlet.spawn(deadlines)]
    yield server
    for t in threads:
        t.kill()
    server.sockets.close()


def adopt(server: GameServer, small_buffers: bool = True) -> tuple[Connection, Any]:
    ours, theirs = green_socket.socketpair()
    if small_buffers:
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        theirs.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    conn = server.sockets.adopt(RFC6455WebSocket(ours, {}, version=13), "test")
    return conn, theirs


def joined(server: GameServer) -> tuple[Connection, Any]:
    conn, theirs = adopt(server)
    room, member = server.directory.join(Hello(1, "p"), time.monotonic())
    member.control.clear()
    conn.attach(room, member)  # as after a hello
    return conn, theirs


def the_room(server: GameServer) -> Room:
    """The one room of a server on the empty world, where everyone plays in one room."""
    (hosted,) = server.directory
    return hosted.room


def wait_for(pred: Any, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "condition not met in time"
        eventlet.sleep(0.005)


def recv_until(sock: Any, pred: Any, timeout: float = 5) -> bytes:
    got = b""
    with eventlet.Timeout(timeout):
        while not pred(got):
            data = sock.recv(65536)
            if not data:
                break
            got += data
    return got


def test_frames_that_arrive_a_byte_at_a_time_are_put_together(loop: GameServer) -> None:
    conn, theirs = adopt(loop, small_buffers=False)
    hello = client_frame(codec.encode_client(Hello(1, "slow")))
    # An input in two fragments with a ping between them (RFC 6455 allows control frames there).
    data = codec.encode_client(Input(7, 1.0, 0.0, 0.5, 0, None))
    stream = (
        hello
        + client_frame(data[:5], fin=False)
        + client_frame(b"are you there", opcode=9)
        + client_frame(data[5:], opcode=0)
    )
    for i in range(len(stream)):
        theirs.sendall(stream[i : i + 1])
        eventlet.sleep(0)
    wait_for(lambda: conn.member is not None and len(conn.member.inbox) == 1)
    assert conn.member is not None and conn.member.inbox[0].seq == 7  # the general parser: decoded
    frames = read_frames(recv_until(theirs, lambda got: len(read_frames(got)) >= 2))
    assert (0xA, b"are you there") in frames
    assert isinstance(codec.decode_server(next(p for op, p in frames if op == 2)), Welcome)
    theirs.close()


def test_a_backlog_past_the_first_small_read_is_read_in_the_same_turn() -> None:
    """A read starts with FIRST_READ bytes, and takes the rest that waits right after."""
    server = GameServer(Config(hello_timeout=60, max_lag=600))
    conn, theirs = joined(server)  # no SocketLoop running: this test drives the reads itself
    member = conn.member
    assert member is not None
    inputs = [client_frame(codec.encode_client(Input(s, 1.0, 0.0, 0.0, 0, None))) for s in range(1, 41)]
    backlog = b"".join(inputs)
    assert FIRST_READ < len(backlog) < READ_SIZE
    theirs.sendall(backlog)
    wait_for(lambda: select.select([conn.sock], [], [], 0)[0])
    conn.on_readable(time.monotonic())
    assert len(conn.inbuf) == len(backlog)  # all of it, not FIRST_READ bytes of it
    assert conn.pos == sum(map(len, inputs[:MESSAGES_PER_TURN]))  # one turn's frames taken
    while len(conn.inbuf) > conn.pos:
        conn.parse(time.monotonic())  # the SocketLoop's later turns for a backlog
    the_room(server).tick()  # decodes the inputs that waited for it
    assert member.last_received_seq == 40
    theirs.close()
    server.sockets.close()


def test_a_ping_flood_from_a_peer_that_never_reads_stays_bounded(loop: GameServer) -> None:
    conn, theirs = joined(loop)
    ping = client_frame(b"p" * 125, opcode=9)
    with eventlet.Timeout(5):
        try:
            for _ in range(2000):
                theirs.sendall(ping)  # about 260 KB of pings; nothing read on this side
        except OSError:
            pass  # cut for not reading its pongs: also bounded
    wait_for(lambda: conn.remainder is not None or conn.state == CLOSED)
    wait_for(lambda: len(conn.inbuf) - conn.pos == 0 or conn.state == CLOSED)
    assert len(conn.frames) <= 8
    theirs.close()


def test_a_send_that_blocks_is_cut_and_other_green_threads_keep_running(loop: GameServer) -> None:
    conn, theirs = joined(loop)
    member = conn.member
    assert member is not None
    beats: list[float] = []

    def heartbeat() -> None:  # stands in for the tick: it must keep its pace
        while True:
            beats.append(time.monotonic())
            eventlet.sleep(0.01)

    beat = eventlet.spawn(heartbeat)
    member.pending = (1, (b"", b"", b"x" * 1_000_000, b""))  # far more than the socket buffers hold
    started = time.monotonic()
    conn.flush(time.monotonic())
    assert conn.remainder is not None
    wait_for(lambda: conn.state == CLOSED)
    cut = time.monotonic()
    beat.kill()
    theirs.close()

    assert member.close_request == (1008, "too_slow")
    assert conn.green.fileno() == -1  # the TCP socket was cut, not left half-written
    assert member.entity_id not in the_room(loop).members and member.link is None
    during = [b for b in beats if started <= b <= cut]
    assert len(during) >= 10, f"only {len(during)} heartbeats while the send was blocked"


def test_what_the_socket_does_not_take_at_once_goes_out_in_order(loop: GameServer) -> None:
    conn, theirs = joined(loop)
    member = conn.member
    assert member is not None
    first, second = b"a" * 150_000, b"b" * 150_000
    member.pending = (
        1,
        (first[:1000], first[1000:1005], first[1005:], b""),
    )  # parts, as the room leaves them
    conn.flush(time.monotonic())
    assert conn.remainder is not None  # far more than a 4 KiB buffer takes at once
    member.pending = (2, (b"", b"", second, b""))
    conn.flush(time.monotonic())  # queued behind the remainder: the socket drains it first
    size = 2 * (10 + 150_000)
    received = recv_until(theirs, lambda got: len(got) >= size)
    frame_head = bytes([0x82, 127]) + (150_000).to_bytes(8, "big")
    assert received == frame_head + first + frame_head + second
    wait_for(lambda: conn.remainder is None)
    assert member.held_tick == 2 and conn.state == OPEN
    theirs.close()


def test_a_flushed_snapshot_goes_out_whole_and_becomes_the_baseline(loop: GameServer) -> None:
    """What flush() sends and leaves on the member: the snapshot behind its frame header, and
    the member as Member.take_snapshot_parts() leaves it (the tick it now holds, its view)."""
    conn, theirs = joined(loop)
    member, other = conn.member, the_room(loop).join("q")
    assert member is not None
    parts = (b"head", b"\x05", b"body" * 40, b"")
    for m in (member, other):
        m.pending, m.pending_view = (7, parts), {1, 2}
    assert other.take_snapshot_parts() == parts
    conn.flush(time.monotonic())

    def left(m: Member) -> tuple[Any, ...]:
        return m.pending, m.held_tick, m.held_view, m.snapshots_taken

    assert left(member) == left(other) == (None, 7, {1, 2}, 1)
    expected = pack_binary(b"".join(parts))
    assert recv_until(theirs, lambda got: len(got) >= len(expected)) == expected
    assert loop.bytes_out == len(expected) and conn.remainder is None
    theirs.close()


def test_a_snapshot_to_a_peer_that_is_gone_closes_its_connection_only(loop: GameServer) -> None:
    conn, theirs = joined(loop)
    bystander, bystanders_peer = joined(loop)
    member = conn.member
    assert member is not None and bystander.member is not None
    theirs.close()
    member.pending = (3, (b"", b"", b"x" * 100, b""))
    conn.flush(time.monotonic())  # the send fails: EPIPE or ECONNRESET
    assert conn.state == CLOSED and member.entity_id not in the_room(loop).members
    bystander.member.pending = (3, (b"", b"", b"y" * 100, b""))
    bystander.flush(time.monotonic())
    assert recv_until(bystanders_peer, lambda got: len(got) >= 102) == pack_binary(b"y" * 100)
    assert bystander.state == OPEN
    bystanders_peer.close()


def test_connections_send_small_frames_at_once() -> None:
    """Snapshots are small and latency-bound: Nagle's algorithm is off on every connection."""
    server = GameServer(Config())
    listener = green_socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    client = green_socket.create_connection(listener.getsockname())
    accepted, _ = listener.accept()
    assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
    server.sockets.adopt(RFC6455WebSocket(accepted, {}, version=13), "test")
    assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    server.sockets.close()
    for s in (client, listener):
        s.close()


@settings(max_examples=300, deadline=None)
@given(
    n=st.one_of(st.integers(0, 140), st.integers(60_000, 70_000)),
    masked=st.booleans(),
    cap=st.sampled_from([125, 512, 65_536]),
    extra=st.binary(max_size=8),
)
def test_frame_extent_waits_for_whole_frames_and_refuses_big_ones_at_the_header(
    n: int, masked: bool, cap: int, extra: bytes
) -> None:
    frame = client_frame(b"\x01" * n)
    if not masked:  # clear the mask bit and drop the mask key
        head_len = len(frame) - n - 4
        frame = frame[:1] + bytes([frame[1] & 0x7F]) + frame[2:head_len] + b"\x01" * n
    head = 2 if n < 126 else 4 if n < 65536 else 10
    whole = frame + extra
    if n > cap:
        assert [frame_extent(whole[:k], 0, cap) for k in range(head)] == [0] * head
        assert frame_extent(whole, 0, cap) == head
    else:
        assert frame_extent(frame[:-1], 0, cap) == 0
        assert frame_extent(whole, 0, cap) == len(frame)
        assert frame_extent(b"junk" + whole, 4, cap) == len(frame)
        if masked:  # eventlet's parser reads exactly that much
            source = _FrameSource()
            source.data = whole
            ws = RFC6455WebSocket(source, {}, version=13)
            ws.max_frame_length = cap
            assert ws._recv_frame().getvalue() == b"\x01" * n
            assert source.pos == len(frame)


@settings(max_examples=300, deadline=None)
@given(
    payload=st.one_of(st.binary(max_size=130), st.binary(min_size=126, max_size=512)),
    opcode=st.sampled_from([2, 9, 10]),
    lead=st.binary(max_size=3),
)
def test_the_frame_reader_reads_what_eventlets_parser_reads(payload: bytes, opcode: int, lead: bytes) -> None:
    if opcode != 2:
        payload = payload[:125]  # a control frame's limit
    frame = client_frame(payload, opcode=opcode)
    buf = lead + frame + b"more"
    extent = frame_extent(buf, len(lead), MAX_CLIENT_MESSAGE_BYTES)
    assert extent == len(frame)
    first, op, ours = read_frame(buf, len(lead), extent, False, False)
    source = _FrameSource()
    source.data = frame
    ws = RFC6455WebSocket(source, {}, version=13)
    ws.max_frame_length = MAX_CLIENT_MESSAGE_BYTES
    message = ws._recv_frame()
    assert (first & 0x80 != 0, op, ours) == (message.finished, message.opcode, message.getvalue())


@settings(max_examples=200, deadline=None)
@given(n=st.one_of(st.integers(0, 300), st.integers(65_530, 65_540)), fill=st.binary(min_size=1, max_size=1))
def test_the_binary_frame_packer_writes_what_eventlet_writes(n: int, fill: bytes) -> None:
    payload = fill * n
    ws = RFC6455WebSocket(_FrameSource(), {}, version=13)
    assert pack_binary(payload) == ws._pack_message(payload)


@settings(max_examples=300, deadline=None)
@given(payload=st.binary(max_size=125), mask=st.binary(min_size=4, max_size=4), lead=st.binary(max_size=3))
def test_an_input_is_told_from_its_masked_frame(payload: bytes, mask: bytes, lead: bytes) -> None:
    """is_input() reads two bytes of the payload through the mask: those every INPUT starts
    with. unmask_frame() gives the tick the payload of a frame left to it."""
    frame = lead + client_frame(payload, mask=mask)
    starts_as_input = len(payload) >= 2 and payload[0] in (0x97, 0x98) and payload[1] == 2
    assert is_input(frame, len(lead)) == starts_as_input
    assert unmask_frame(frame[len(lead) :]) == payload


@settings(max_examples=200, deadline=None)
@given(
    seq=st.integers(0, 2**32 - 1),
    ack=st.one_of(st.none(), st.integers(0, 2**31)),
    render=st.one_of(st.none(), st.integers(0, 2**31)),
    mask=st.binary(min_size=4, max_size=4),
)
def test_every_input_a_client_encodes_is_left_to_the_tick_and_nothing_else(
    seq: int, ack: int | None, render: int | None, mask: bytes
) -> None:
    data = codec.encode_client(Input(seq, 0.5, -1.0, 3.0, 1, ack, render))
    assert is_input(client_frame(data, mask=mask), 0)
    for other in (codec.encode_client(Ping(1.5)), codec.encode_client(Hello(1, "x"))):
        assert not is_input(client_frame(other, mask=mask), 0)


def test_a_joined_players_input_waits_masked_for_the_tick_which_applies_it(loop: GameServer) -> None:
    conn, peer = joined(loop)
    assert conn.member is not None
    frame = client_frame(codec.encode_client(Input(1, 1.0, 0.0, 0.0, 0, None)))
    peer.sendall(frame)
    wait_for(lambda: conn.member is not None and len(conn.member.raw_inputs) == 1)
    assert conn.member.raw_inputs == [frame] and not conn.member.inbox
    entity = the_room(loop).game.world.entities[conn.member.entity_id]  # type: ignore[attr-defined]
    x0 = entity.x
    the_room(loop).tick()
    assert conn.member.raw_inputs == [] and conn.member.last_applied_seq == 1
    assert entity.x > x0
    peer.close()


@settings(max_examples=300, deadline=None)
@given(payload=st.binary(max_size=125), mask=st.binary(min_size=4, max_size=4), lead=st.binary(max_size=3))
def test_small_frames_unmask_as_eventlet_does(payload: bytes, mask: bytes, lead: bytes) -> None:
    frame = lead + client_frame(payload, mask=mask)
    assert unmask_small(frame, len(lead), len(payload)) == payload
    assert apply_mask(frame[len(lead) + 6 :], tuple(mask)) == payload


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300), mask=st.binary(min_size=4, max_size=4))
def test_the_big_integer_unmasking_agrees_with_websockets_c_unmasking(data: bytes, mask: bytes) -> None:
    """xor_mask_ints() stands in when websockets has no C extension: both give the same bytes."""
    from websockets.speedups import apply_mask as c_apply_mask

    assert xor_mask is c_apply_mask  # the C version is the one in use here
    assert xor_mask_ints(data, mask) == c_apply_mask(data, mask)
    assert xor_mask_ints(xor_mask_ints(data, mask), mask) == data


def test_a_fault_serving_one_connection_closes_it_with_internal_error_and_no_other(
    loop: GameServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    receive = Room.receive_bytes
    faulty: list[Any] = []

    def receive_or_fail(room: Room, member: Any, data: bytes) -> None:
        if member in faulty:
            raise RuntimeError("a bug")
        receive(room, member, data)

    monkeypatch.setattr(Room, "receive_bytes", receive_or_fail)  # before the connections bind it
    broken, broken_peer = joined(loop)
    fine, fine_peer = joined(loop)
    faulty.append(broken.member)
    data = codec.encode_client(Input(1, 1.0, 0.0, 0.0, 0, None))
    broken_peer.sendall(client_frame(codec.encode_client(Ping(1.0))))  # taken at once
    frames = read_frames(recv_until(broken_peer, lambda got: any(op == 8 for op, _ in read_frames(got))))
    errors = [codec.decode_server(p) for op, p in frames if op == 2]
    assert [e.code if isinstance(e, Error) else e for e in errors] == ["internal_error"]
    assert (8, (1011).to_bytes(2, "big") + b"internal_error") in frames
    fine_peer.sendall(client_frame(data))  # the loop goes on serving the others
    wait_for(lambda: fine.member is not None and len(fine.member.raw_inputs) == 1)
    broken_peer.close()
    fine_peer.close()


def test_websocket_pings_count_against_the_message_rate(loop: GameServer) -> None:
    """Control frames are not messages of the protocol, but they cost the server the same."""
    conn, peer = joined(loop)
    ping = client_frame(b"hi", opcode=9)
    got = b""
    with eventlet.Timeout(5):
        try:
            for _ in range(400):  # the burst allows 120
                peer.sendall(ping)
                eventlet.sleep(0)
                data = peer.recv(65536)
                got += data
                if any(op == 8 for op, _ in read_frames(got)):
                    break
        except OSError:
            pass
    got += recv_until(peer, lambda g: any(op == 8 for op, _ in read_frames(g)))
    frames = read_frames(got)
    assert (8, (1008).to_bytes(2, "big") + b"rate_limited") in frames
    assert conn.member is not None and conn.member.close_request == (1008, "rate_limited")
    peer.close()


def test_pings_before_hello_are_bounded(loop: GameServer) -> None:
    conn, peer = adopt(loop, small_buffers=False)
    peer.sendall(client_frame(b"", opcode=9) * 40)
    frames = read_frames(recv_until(peer, lambda g: any(op == 8 for op, _ in read_frames(g))))
    assert (8, (1002).to_bytes(2, "big") + b"hello_required") in frames
    assert sum(1 for op, _ in frames if op == 0xA) <= 16
    peer.close()


def test_half_a_frame_waits_for_the_rest_without_spinning(loop: GameServer) -> None:
    """A frame cut at the start of the buffer (the usual case for a slow peer) must not keep the
    connection coming back pass after pass."""
    conn, peer = joined(loop)
    frame = client_frame(codec.encode_client(Input(1, 1.0, 0.0, 0.0, 0, None)))
    peer.sendall(frame[:3])
    wait_for(lambda: len(conn.inbuf) == 3)
    passes = loop.sockets.passes
    eventlet.sleep(0.1)
    assert loop.sockets.passes - passes < 10, "the SocketLoop kept polling for half a frame"
    assert conn.loop.backlog == []
    peer.sendall(frame[3:])
    wait_for(lambda: conn.member is not None and len(conn.member.raw_inputs) == 1)
    peer.close()


def test_a_busy_loop_passes_just_before_the_tick_so_late_inputs_make_it() -> None:
    server = GameServer(Config())
    sockets, sched = server.sockets, server.scheduler
    sched.next_deadline = None  # no tick loop: the plain batch
    assert sockets._batch_delay() == READ_BATCH
    sched.next_deadline = time.monotonic() + 0.5  # far off: the plain batch
    assert sockets._batch_delay() == READ_BATCH
    before = time.monotonic()
    sched.next_deadline = before + TICK_LEAD + READ_BATCH / 2
    delay = sockets._batch_delay()
    assert 0.0 < delay <= READ_BATCH / 2  # wakes TICK_LEAD before the tick, not after it
    assert before + delay <= sched.next_deadline - TICK_LEAD
    sched.next_deadline = time.monotonic() + TICK_LEAD / 2  # inside the lead: the plain batch
    assert sockets._batch_delay() == READ_BATCH


def close_of(theirs: Any) -> tuple[int, bytes]:
    """The close frame's code and reason among what the server sent."""
    frames = read_frames(recv_until(theirs, lambda got: any(op == 8 for op, _ in read_frames(got))))
    payload = next(p for op, p in frames if op == 8)
    return int.from_bytes(payload[:2], "big"), payload[2:]


@pytest.mark.parametrize(
    "frame, reason",
    [
        (b"\xa2\x80" + bytes(4), b"RSV2 and RSV3 must be 0"),  # RSV2, binary, empty
        (b"\x92\x80" + bytes(4), b"RSV2 and RSV3 must be 0"),  # RSV3
        (b"\x82\xfe\x00\x05" + bytes(4) + b"hello", b"a frame length must be sent in its shortest form"),
        (b"\x82\xff" + (200).to_bytes(8, "big") + bytes(4) + bytes(200), b"a frame length must be"),
    ],
)
def test_frames_the_rfc_forbids_are_closed_with_1002(loop: GameServer, frame: bytes, reason: bytes) -> None:
    for join in (False, True):  # before and after hello
        conn, theirs = joined(loop) if join else adopt(loop)
        theirs.sendall(frame)
        code, why = close_of(theirs)
        assert code == 1002 and why.startswith(reason)
        theirs.close()


def test_empty_fragments_count_as_messages_before_and_after_hello(loop: GameServer) -> None:
    start = client_frame(b"", fin=False)
    more = client_frame(b"", opcode=0, fin=False)
    conn, theirs = adopt(loop)
    theirs.sendall(start + more * 40)
    assert close_of(theirs)[0] == 1002  # hello_required after 16
    theirs.close()
    conn, theirs = joined(loop)
    member = conn.member
    assert member is not None
    budget = member.msg_tokens
    with eventlet.Timeout(5):
        try:
            theirs.sendall(start + more * (budget + 50))
        except OSError:
            pass
    assert close_of(theirs) == (1008, b"rate_limited")
    theirs.close()
