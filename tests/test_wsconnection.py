"""A WebSocket connection's protocol with no socket and no server: bytes in, events and bytes
out, time passed in. The seats come from a real Directory of real rooms."""

from __future__ import annotations

import zlib
from typing import Any

import pytest
from client_frames import client_frame

from gameserver import codec
from gameserver.codec import MAX_CLIENT_MESSAGE_BYTES
from gameserver.directory import Directory
from gameserver.maps import GameMap
from gameserver.messages import Ack, Error, Hello, Input, Ping, Welcome
from gameserver.room import Member, Room
from gameserver.wsconnection import (
    AWAIT_HELLO,
    BACKLOG,
    CLOSED,
    CLOSING,
    CONTROL_FRAMES_LIMIT,
    DUE,
    EARLY_FRAMES_LIMIT,
    HALF_CLOSE,
    JOINED,
    MESSAGES_PER_TURN,
    OPEN,
    SENT_ALL,
    WANT_WRITE,
    WsConnection,
)
from gameserver.wsframes import unmask_frame

HELLO_TIMEOUT, SEND_TIMEOUT = 5.0, 2.0


def make_room(room_id: str, map_name: str, game_map: GameMap | None, max_players: int) -> Room:
    return Room(room_id=room_id, game_map=game_map, max_players=max_players, unwrap=unmask_frame)


class Host:
    """What the protocol asks of the server: seats from a real directory, and counters."""

    def __init__(self) -> None:
        self.directory = Directory(
            maps={"none": None}, default_map="none", make_room=make_room, room_size=8, grace=10.0
        )
        self.closes: list[tuple[tuple[int, str] | None, str]] = []
        self.refusals: list[tuple[str, int, str]] = []

    def join(self, hello: Hello, now: float) -> tuple[Room, Member]:
        return self.directory.join(hello, now)

    def leave(self, room: Room, member: Member, now: float, *, keep: bool = False, address: str = "") -> None:
        self.directory.leave(room, member, now, keep=keep, address=address)

    def count_close(self, close: tuple[int, str] | None, reason: str) -> None:
        self.closes.append((close, reason))

    def count_refusal(self, stage: str, status: int, code: str) -> None:
        self.refusals.append((stage, status, code))


def frames_of(data: bytes) -> list[tuple[int, bytes]]:
    """(first byte, payload) of each unmasked server frame in `data`; all of it is frames."""
    out, pos = [], 0
    while pos < len(data):
        first, n = data[pos], data[pos + 1]
        assert not n & 0x80, "a server frame is never masked"
        pos += 2
        if n == 126:
            n, pos = int.from_bytes(data[pos : pos + 2], "big"), pos + 2
        elif n == 127:
            n, pos = int.from_bytes(data[pos : pos + 8], "big"), pos + 8
        assert pos + n <= len(data), "a frame cut short"
        out.append((first, data[pos : pos + n]))
        pos += n
    return out


def messages(data: bytes) -> list[Any]:
    return [codec.decode_server(p) for first, p in frames_of(data) if first == 0x82]


def close_of(data: bytes) -> tuple[int, str] | None:
    closes = [p for first, p in frames_of(data) if first == 0x88]
    assert len(closes) <= 1
    return (int.from_bytes(closes[0][:2], "big"), closes[0][2:].decode()) if closes else None


def pongs(data: bytes) -> list[bytes]:
    return [p for first, p in frames_of(data) if first == 0x8A]


def connection(host: Host | None = None, now: float = 100.0, **kw: Any) -> WsConnection:
    conn = WsConnection(
        host or Host(), "192.0.2.1", hello_timeout=HELLO_TIMEOUT, send_timeout=SEND_TIMEOUT, **kw
    )
    conn.start(now)
    return conn


HELLO = client_frame(codec.encode_client(Hello(1, "p")))


def joined(now: float = 100.0) -> tuple[WsConnection, Member]:
    conn = connection(now=now)
    assert conn.receive_data(HELLO, now) == DUE | JOINED
    assert isinstance(messages(conn.data_to_send())[0], Welcome)
    assert conn.member is not None
    return conn, conn.member


def input_frame(seq: int) -> bytes:
    return client_frame(codec.encode_client(Input(seq, 1.0, 0.0, 0.5, 0, None)))


def test_a_hello_on_the_upgraded_stream_joins_a_room_and_is_welcomed() -> None:
    host = Host()
    conn = connection(host, now=100.0)
    assert conn.state == AWAIT_HELLO and conn.deadline == 100.0 + HELLO_TIMEOUT
    assert conn.data_to_send() == b""  # nothing is sent before the hello
    assert conn.receive_data(HELLO, 100.5) == DUE | JOINED
    member = conn.member
    assert member is not None and member.link is conn and conn.state == OPEN
    assert conn.deadline is None  # no hello deadline once joined
    (hosted,) = host.directory
    assert hosted.room.members[member.entity_id] is member
    out = conn.data_to_send()
    (welcome,) = messages(out)
    assert isinstance(welcome, Welcome) and welcome.entity_id == member.entity_id
    assert conn.bytes_sent(out, len(out), 100.5) == SENT_ALL
    assert conn.data_to_send() == b""


def test_an_input_alone_waits_masked_for_the_tick_and_asks_for_nothing() -> None:
    conn, member = joined()
    frame = input_frame(1)
    assert conn.receive_data(frame, 101.0) == 0  # nothing to send, no backlog
    assert member.raw_inputs == [frame]  # still masked, as it came
    assert member.inbox == []  # decoded by the tick that applies it


def test_a_stream_cut_at_any_byte_gives_the_same_events_and_bytes() -> None:
    """HELLO, an input, a ping, then an input in two fragments with a ping between them, cut
    in two at every byte boundary, and fed a byte at a time."""
    second = codec.encode_client(Input(2, 1.0, 0.0, 0.5, 0, None))
    first = input_frame(1)
    stream = (
        HELLO
        + first
        + client_frame(b"one", opcode=9)
        + client_frame(second[:4], fin=False)
        + client_frame(b"two", opcode=9)
        + client_frame(second[4:], opcode=0)
    )
    cuts: list[list[bytes]] = [[stream[:k], stream[k:]] for k in range(1, len(stream))]
    cuts.append([stream[i : i + 1] for i in range(len(stream))])
    for pieces in cuts:
        conn = connection()
        out = b""
        for piece in pieces:
            if conn.receive_data(piece, 101.0) & DUE:
                out += conn.data_to_send()
        member = conn.member
        assert member is not None, pieces
        # The fragmented input is decoded at once, after the one that waited for the tick
        # (sequence order is the rule).
        assert member.raw_inputs == [] and [m.seq for m in member.inbox] == [1, 2]
        assert pongs(out) == [b"one", b"two"]
        assert isinstance(messages(out)[0], Welcome)
        assert conn.inbuf[conn.pos :] == b""


def test_a_ping_is_answered_with_a_pong_and_costs_a_message() -> None:
    conn, member = joined()
    tokens = member.msg_tokens
    assert conn.receive_data(client_frame(b"hi", opcode=9), 101.0) == DUE
    assert pongs(conn.data_to_send()) == [b"hi"]
    assert member.msg_tokens == tokens - 1
    conn.receive_data(client_frame(b"", opcode=10), 101.0)  # a pong: charged, not answered
    assert member.msg_tokens == tokens - 2 and conn.data_to_send() == b""


def test_pongs_waiting_are_bounded_and_pings_before_hello_are_limited() -> None:
    conn = connection()
    flags = conn.receive_data(client_frame(b"", opcode=9) * EARLY_FRAMES_LIMIT, 100.1)
    assert flags == DUE
    conn.receive_data(client_frame(b"", opcode=9), 100.1)  # one too many before the hello
    out = conn.data_to_send()
    assert len(pongs(out)) == CONTROL_FRAMES_LIMIT
    assert [e.code for e in messages(out)] == ["hello_required"]
    assert close_of(out) == (1002, "hello_required")
    assert conn.host.refusals == [("hello", 1002, "hello_required")]  # type: ignore[attr-defined]


def test_the_peers_close_is_echoed_then_its_answer_awaited_for_the_send_timeout() -> None:
    conn, member = joined()
    assert conn.receive_data(client_frame((1000).to_bytes(2, "big") + b"bye", opcode=8), 101.0) == DUE
    out = conn.data_to_send()
    assert frames_of(out) == [(0x88, (1000).to_bytes(2, "big"))]  # its code echoed, no reason
    assert conn.bytes_sent(out, len(out), 101.0) == HALF_CLOSE
    assert conn.state == CLOSING and conn.deadline == 101.0 + SEND_TIMEOUT
    assert conn.data_to_send() == b""  # nothing after the close frame
    assert conn.receive_data(input_frame(1), 101.5) == 0 and member.raw_inputs == []  # dropped
    assert conn.expire(101.0 + SEND_TIMEOUT) == "closed"  # the peer never closed the TCP side
    conn.finish("closed", 103.0)
    assert conn.state == CLOSED and member.link is None
    (hosted,) = conn.host.directory  # type: ignore[attr-defined]
    assert member.entity_id not in hosted.room.members and not hosted.room.away  # a leave
    assert conn.host.closes == [((1000, ""), "closed")]  # type: ignore[attr-defined]


def test_a_connection_that_ends_without_a_close_frame_keeps_its_player_for_a_resume() -> None:
    conn, member = joined()
    conn.finish("peer_closed", 102.0)
    (hosted,) = conn.host.directory  # type: ignore[attr-defined]
    assert member.entity_id in hosted.room.away
    assert conn.host.closes == [(None, "peer_closed")]  # type: ignore[attr-defined]


def test_no_hello_in_time_is_refused_with_its_error_then_a_close_frame() -> None:
    conn = connection(now=100.0)
    assert conn.deadline == 100.0 + HELLO_TIMEOUT
    assert conn.expire(100.0 + HELLO_TIMEOUT) is None  # output is due instead of a cut
    out = conn.data_to_send()
    assert [type(m) for m in messages(out)] == [Error]
    assert messages(out)[0].code == "hello_timeout" and close_of(out) == (1008, "hello_timeout")
    assert conn.bytes_sent(out, len(out), 105.0) == HALF_CLOSE


def test_a_send_the_socket_takes_in_part_leaves_a_remainder_under_the_send_deadline() -> None:
    conn, member = joined()
    member.pending = (1, (b"h", b"s", b"x" * 5000, b""))
    out = conn.data_to_send()
    assert frames_of(out) == [(0x82, b"hsx" + b"x" * 4999)]
    assert conn.bytes_sent(out, 1000, 101.0) == WANT_WRITE
    assert conn.remainder == out[1000:] and conn.deadline == 101.0 + SEND_TIMEOUT
    member.pending = (2, (b"", b"", b"newer", b""))
    assert conn.data_to_send() == b""  # behind the remainder; latest wins meanwhile
    rest = conn.take_remainder(101.5)
    assert rest == out[1000:] and conn.remainder is None and conn.deadline is None
    assert conn.bytes_sent(rest, len(rest), 101.5) == SENT_ALL
    assert frames_of(conn.data_to_send()) == [(0x82, b"newer")]
    assert member.held_tick == 2


def test_a_remainder_not_sent_in_time_cuts_the_player_as_too_slow() -> None:
    conn, member = joined()
    member.pending = (1, (b"", b"", b"x" * 100, b""))
    out = conn.data_to_send()
    conn.bytes_sent(out, 0, 101.0)
    assert conn.expire(101.0 + SEND_TIMEOUT) == "too_slow"
    assert member.close_request == (1008, "too_slow")
    conn.finish("too_slow", 103.0)
    (hosted,) = conn.host.directory  # type: ignore[attr-defined]
    assert member.entity_id in hosted.room.away  # too slow is a drop: kept for a resume


def test_a_frame_over_the_message_cap_is_closed_with_1009_at_its_header() -> None:
    conn, member = joined()
    big = client_frame(b"\x00" * (MAX_CLIENT_MESSAGE_BYTES + 1))
    assert conn.receive_data(big[:4], 101.0) == DUE  # the header alone is enough
    assert close_of(conn.data_to_send()) == (1009, "message_too_big")
    assert member.close_request == (1009, "message_too_big")


def test_a_fragmented_message_over_the_cap_is_closed_with_1009() -> None:
    conn, member = joined()
    part = b"\x00" * 200  # each fragment is small; the message is not
    stream = client_frame(part, fin=False) + client_frame(part, opcode=0, fin=False)
    assert conn.receive_data(stream, 101.0) == 0  # two fragments, 400 bytes: under the cap
    assert conn.receive_data(client_frame(part, opcode=0), 101.0) == DUE
    assert close_of(conn.data_to_send()) == (1009, "message_too_big")


def test_a_text_frame_is_refused_and_one_not_utf8_is_a_frame_error() -> None:
    conn, _ = joined()
    conn.receive_data(client_frame(b"hello", opcode=1), 101.0)
    out = conn.data_to_send()
    assert [m.code for m in messages(out)] == ["text_frame"] and close_of(out) == (1003, "text_frame")
    conn, _ = joined()
    conn.receive_data(client_frame(b"\xff\xfe", opcode=1), 101.0)
    assert close_of(conn.data_to_send()) == (1007, "Text data must be valid utf-8")


@pytest.mark.parametrize(
    "frame, code",
    [
        (b"\x82\x05hello", 1002),  # not masked
        (b"\xa2\x80" + bytes(4), 1002),  # RSV2
        (b"\xc2\x80" + bytes(4), 1002),  # RSV1 with no extension agreed
        (b"\x83\x80" + bytes(4), 1002),  # an unknown opcode
        (b"\x09\x80" + bytes(4), 1002),  # a fragmented ping
        (b"\x80\x80" + bytes(4), 1002),  # a continuation with no message open
        (b"\x82\xfe\x00\x05" + bytes(4) + b"hello", 1002),  # a length not in its shortest form
        (client_frame(b"\x03\xed", opcode=8), 1002),  # close code 1005 may not be sent
        (client_frame(b"\x03\xe8\xff", opcode=8), 1002),  # a reason not UTF-8
    ],
)
def test_frames_a_client_must_not_send_get_a_close_frame_alone(frame: bytes, code: int) -> None:
    for join in (False, True):
        conn = joined()[0] if join else connection()
        assert conn.receive_data(frame, 101.0) & DUE
        out = conn.data_to_send()
        assert messages(out) == [] and close_of(out) is not None
        assert close_of(out)[0] == code  # type: ignore[index]


def test_a_flood_is_taken_a_turn_at_a_time() -> None:
    conn, member = joined()
    flood = b"".join(client_frame(codec.encode_client(Ack(1))) for _ in range(MESSAGES_PER_TURN + 5))
    assert conn.receive_data(flood, 101.0) & BACKLOG
    assert conn.pos < len(conn.inbuf)
    assert not conn.parse(101.0) & BACKLOG  # the next turn takes the rest
    assert conn.pos == len(conn.inbuf)
    assert member.close_request is None


def test_inputs_in_one_read_wait_for_the_tick_until_another_message_comes() -> None:
    conn, member = joined()
    ping = client_frame(codec.encode_client(Ping(1.5)))
    frames = [input_frame(1), input_frame(2)]
    assert conn.receive_data(frames[0] + ping + frames[1], 101.0) == DUE  # the PONG message
    assert [m.seq for m in member.inbox] == [1]  # taken before the PING, in order
    assert member.raw_inputs == frames[1:]
    assert any(type(m).__name__ == "Pong" for m in messages(conn.data_to_send()))


def test_a_message_compressed_with_permessage_deflate_is_read_and_answers_are_compressed() -> None:
    conn = connection(deflate={"client_no_context_takeover": False, "server_no_context_takeover": False})
    squeeze = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    hello = squeeze.compress(codec.encode_client(Hello(1, "z"))) + squeeze.flush(zlib.Z_SYNC_FLUSH)
    assert conn.receive_data(client_frame(hello[:-4], rsv=0x40), 100.5) == DUE | JOINED
    out = conn.data_to_send()
    ((first, payload),) = frames_of(out)
    assert first == 0xC2  # final, RSV1 (compressed), binary
    unsqueeze = zlib.decompressobj(-15)
    assert isinstance(codec.decode_server(unsqueeze.decompress(payload + b"\x00\x00\xff\xff")), Welcome)
    # a bomb: a few bytes that inflate past the message cap
    bomb = squeeze.compress(b"\x00" * 10_000) + squeeze.flush(zlib.Z_SYNC_FLUSH)
    conn.receive_data(client_frame(bomb[:-4], rsv=0x40), 101.0)
    assert close_of(conn.data_to_send()) == (1009, "message_too_big")
