"""A game tested tick by tick, with no sockets: a room of the game and clients that mirror it.

    match = Match(Ball)
    ann = match.join("ann")
    ann.input(move_x=1.0)
    match.tick(30)
    assert ann.mirror.values(ann.entity_id)["x"] > start

Each Player goes through what a real client does, bytes included: its inputs are encoded and
decoded by the codec (so the input's checks apply), everything the room sends it is decoded, and
its snapshots rebuild a Mirror from the schema its WELCOME carried. A fault of the game (a hook
that raises, rows its schema does not allow) raises GameFault out of tick() or join().
"""

from __future__ import annotations

from typing import Any

from gameserver import codec
from gameserver.game import Game
from gameserver.maps import GameMap
from gameserver.messages import Ack, Scoreboard, ServerMessage, Snapshot, Welcome
from gameserver.replication import Mirror
from gameserver.room import Member, Room
from gameserver.schema import FLOAT, Schema


class Player:
    """One client of a Match."""

    def __init__(self, match: Match, member: Member) -> None:
        self.match = match
        self.member = member
        self.entity_id = member.entity_id
        self.seq = 0
        self.sent = False  # an input since the last tick
        self.messages: list[ServerMessage] = []  # everything received, decoded, oldest first
        self.welcome: Welcome | None = None
        self.scoreboard: Scoreboard | None = None
        self.mirror = Mirror(match.room.schema)
        self.read()

    def input(self, *values: float, **named: float) -> None:
        """Send one INPUT, acknowledging the newest snapshot held; the next tick applies it.

        The values are the game's input fields (its schema's `inputs`), in declaration order or
        by name: `input(1.0, 0.0)` or `input(move_x=1.0)`, the standard fields' order being
        move_x, move_y, aim, buttons. A field not given is 0 (or its min, when 0 is out of range).
        They are sent as they are: a value the declaration refuses closes the player, as a real
        client's would.
        """
        fields = self.match.room.schema.inputs
        if len(values) > len(fields):
            raise TypeError(f"{len(fields)} input fields, {len(values)} values given")
        unknown = set(named) - {f.name for f in fields}
        if unknown:
            raise TypeError(f"no input field {', '.join(sorted(unknown))}")
        sent: list[float] = []
        for i, f in enumerate(fields):
            if i < len(values):
                value = values[i]
            elif f.name in named:
                value = named[f.name]
            else:
                value = min(max(0, f.min), f.max)
            sent.append(float(value) if f.type == FLOAT else int(value))
        self.seq += 1
        data = self.match.room.schema.codecs.inputs.encode(self.seq, sent, self.mirror.tick)
        self.match.room.receive_input(self.member, data)
        self.sent = True

    def ack(self) -> None:
        """Acknowledge the newest snapshot held without an input (as a spectator does)."""
        if self.mirror.tick is not None:
            self.match.room.receive_bytes(self.member, codec.encode_client(Ack(self.mirror.tick)))

    def read(self) -> list[ServerMessage]:
        """Take what the room left for this client: decode it, apply the snapshots."""
        got = [codec.decode_server(data) for data in self.member.take_outgoing()]
        for msg in got:
            if isinstance(msg, Welcome):
                self.welcome = msg
                if msg.schema is not None:
                    self.mirror = Mirror(Schema.from_wire(msg.schema), tick=self.mirror.tick)
            elif isinstance(msg, Snapshot):
                self.mirror.apply(msg)
            elif isinstance(msg, Scoreboard):
                self.scoreboard = msg
        self.messages.extend(got)
        return got

    def values(self, entity_id: int | None = None) -> dict[str, Any]:
        """An entity's fields as this client holds them (its own by default)."""
        return self.mirror.values(self.entity_id if entity_id is None else entity_id)

    @property
    def closed(self) -> tuple[int, str] | None:
        """(close code, error code) once the room closed this client."""
        return self.member.close_request


class Match:
    """A room of one game, driven by hand."""

    def __init__(
        self,
        game_type: type[Game],
        *,
        tick_rate: int = 30,
        seed: int = 0,
        options: dict[str, Any] | None = None,
        game_map: GameMap | None = None,
        max_players: int = 1000,
    ) -> None:
        self.room = Room(
            tick_rate=tick_rate,
            seed=seed,
            game_type=game_type,
            options=options or {},
            game_map=game_map,
            max_players=max_players,
        )
        self.players: list[Player] = []

    @property
    def game(self) -> Game:
        return self.room.game

    def join(self, name: str) -> Player:
        player = Player(self, self.room.join(name))
        self.players.append(player)
        return player

    def leave(self, player: Player) -> None:
        self.room.leave(player.member)
        self.players.remove(player)

    def tick(self, n: int = 1) -> None:
        """n ticks; after each, every player reads what it was sent. A player that sent no input
        since the tick before acknowledges its newest snapshot instead, as a real client does
        (one that acknowledges nothing is closed too_slow after the room's max_lag_seconds)."""
        for _ in range(n):
            for player in self.players:
                if not player.sent:
                    player.ack()
                player.sent = False
            self.room.tick()
            for player in self.players:
                player.read()
