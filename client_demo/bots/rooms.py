"""Rooms for the bots: seats over HTTP, and what a run saw of each room.

Pure functions, no sockets: a bot sends matchmake_request()'s bytes and feeds what it reads
to parse_http_response(); merge() passes the bots' reports to isolation_violations() and
room_summary().

Isolation, the invariant checked: no bot is ever sent an entity of a room it is not in. Entity
ids repeat across rooms (each room counts from 1), names do not: every bot of a run has its own
name (bot_name()), and every spawn carries the entity's name. Each bot keeps, per room it played
in, the set of bots whose entity it was sent, as a bit set over the run's bot indices; one of
them that never joined that room is a violation. A name that is no bot of the run (a person in
the demo page) is only counted.
"""

from __future__ import annotations

import json
from statistics import median
from typing import Any

MAX_ANSWER = 1 << 16  # a matchmaking answer is a few hundred bytes; more is not one


def bot_name(index: int) -> str:
    return f"bot{index}"


def matchmake_request(host: str, port: int, action: str, body: dict[str, Any]) -> bytes:
    """POST /matchmake/<action> (quick, create, join) with a JSON body, asking the server to
    close the connection after its answer: one request per connection."""
    payload = json.dumps(body, separators=(",", ":")).encode()
    head = (
        f"POST /matchmake/{action} HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n"
        "Connection: close\r\n"
        "\r\n"
    )
    return head.encode() + payload


def parse_http_response(data: bytes, eof: bool) -> tuple[int, dict[str, Any]] | None:
    """(status, JSON body) of a whole HTTP answer in `data`; None while more is to come. The end
    is its Content-Length, or the end of the stream (`eof`) without one. Raises ValueError for
    an answer that is not HTTP with a JSON object, or that ended early."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        if eof or len(data) > MAX_ANSWER:
            raise ValueError("no complete HTTP head")
        return None
    lines = data[:end].decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ValueError(f"not an HTTP status line: {lines[0][:80]!r}")
    length = None
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    body = data[end + 4 :]
    if length is not None and len(body) >= length:
        body = body[:length]
    elif not eof:
        if len(data) > MAX_ANSWER:
            raise ValueError("HTTP answer too long")
        return None
    elif length is not None:
        raise ValueError(f"HTTP body cut at {len(body)} of {length} bytes")
    try:
        doc = json.loads(body)
    except ValueError:
        raise ValueError(f"HTTP {parts[1]} body is not JSON: {body[:80]!r}") from None
    if not isinstance(doc, dict):
        raise ValueError(f"HTTP {parts[1]} body is not a JSON object")
    return int(parts[1]), doc


def held_indices(bits: str) -> list[int]:
    """The bot indices set in a bit set as a bot reports it (hexadecimal)."""
    value = int(bits, 16)
    return [i for i in range(value.bit_length()) if value >> i & 1]


def room_members(bots: list[dict[str, Any]]) -> dict[str, int]:
    """Room id -> bit set of the bots (by index) that joined it at least once."""
    members: dict[str, int] = {}
    for b in bots:
        for room in b["rooms"]:
            members[room] = members.get(room, 0) | 1 << b["index"]
    return members


def isolation_violations(bots: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every (bot, room, name) where the bot, in that room, was sent the entity of a bot that
    never joined that room; with the rooms that bot did join."""
    members = room_members(bots)
    by_index = {b["index"]: b for b in bots}
    out = []
    for b in bots:
        for room, bits in b["held_bots"].items():
            strangers = int(bits, 16) & ~members.get(room, 0)
            for i in range(strangers.bit_length()):
                if strangers >> i & 1:
                    other = by_index.get(i)
                    out.append(
                        {
                            "bot": b["name"],
                            "room": room,
                            "held": bot_name(i),
                            "held_rooms": other["rooms"] if other is not None else [],
                        }
                    )
    return out


def room_summary(bots: list[dict[str, Any]], window: float) -> dict[str, Any]:
    """Per room: the bots that joined it, the snapshots they received in it in the window, per
    bot and second (a figure for rooms whose bots stayed the whole window), and the names they
    held that are no bot of the run; then the spread over rooms."""
    rooms: dict[str, dict[str, Any]] = {}
    for b in bots:
        for room in dict.fromkeys(b["rooms"]):  # a churning bot may come back to a room
            rooms.setdefault(room, {"bots": [], "snapshots": 0, "foreign_names": 0})["bots"].append(b["name"])
        for room, n in b["room_snapshots"].items():
            rooms.setdefault(room, {"bots": [], "snapshots": 0, "foreign_names": 0})["snapshots"] += n
        for room, n in b["foreign_names"].items():
            rooms.setdefault(room, {"bots": [], "snapshots": 0, "foreign_names": 0})["foreign_names"] += n
    for r in rooms.values():
        r["snapshots_per_bot_s"] = r["snapshots"] / window / len(r["bots"]) if window and r["bots"] else None
    sizes = [len(r["bots"]) for r in rooms.values()]
    rates = [r["snapshots_per_bot_s"] for r in rooms.values() if r["snapshots_per_bot_s"] is not None]
    return {
        "count": len(rooms),
        "bots_per_room": {
            "min": min(sizes, default=None),
            "median": median(sizes) if sizes else None,
            "max": max(sizes, default=None),
        },
        "snapshots_per_bot_s": {
            "min": min(rates, default=None),
            "median": median(rates) if rates else None,
        },
        "foreign_names": sum(r["foreign_names"] for r in rooms.values()),
        "rooms": rooms,
    }
