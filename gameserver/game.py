"""The game API: what a game author writes, and all they import.

A game is a subclass of Game that declares its schema (what it replicates) and fills in the
hooks of a room's life. The engine makes one instance per room and drives it:

    setup (tick rate, seed, map, the room's options)  ->  Game(setup)
    a player joins                                     ->  join(name) returns its entity id
    every tick                                         ->  step(inputs), then reads tick, rows
                                                           and events()
    a player leaves (or is not resumed in time)        ->  leave(entity_id)

What the engine does with it, and the game never sees: sockets, clocks, other rooms, the
WebSocket protocol, snapshots and deltas (from `rows`, as the schema lays them out), interest
management (from view()), scoreboards (from score()), reconnection and spectators.

Invariants (what the engine asks of a game):
- Pure and deterministic: no clock, no I/O, randomness only from a generator seeded with
  `setup.seed`. The same setup, joins, leaves and inputs give the same state_hash().
- After step(), `rows` maps every entity id to its row as the schema lays it out:
  (qx, qy, kind, *the kind's other fields in declaration order), positions in quanta. A row
  that did not change is the same tuple object as before (replication skips it by identity);
  an entity's kind and its text fields never change.
- Entity ids are positive, unique within the room and never reused.
- A hook that raises, or rows that break the schema, are the game's fault (GameFault, naming
  the hook and the entity): the room is closed alone, its players are told internal_error.

The sans-IO way to test a game tick by tick is gameserver.testing.Match.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import attr
import msgpack

from gameserver.grid import QUANTA, snap
from gameserver.maps import GameMap
from gameserver.messages import Input
from gameserver.schema import (
    ANGLE_STEPS,
    FLAGS,
    FLOAT,
    INT,
    MOVE_AIM_BUTTONS,
    Field,
    InputField,
    Kind,
    Row,
    Schema,
    SchemaError,
    angle,
    flags,
    integer,
    position,
    text,
)

FIRE = 1  # Input.buttons bit 0: the primary button (the arena's trigger)


class GameFault(Exception):
    """A game's hook raised, or it gave what its schema does not allow. The message names the
    game, the hook and, for a row, the entity."""


@attr.s(auto_attribs=True, frozen=True, slots=True)
class Setup:
    """What a room gives its game when it is created."""

    tick_rate: int = 30
    seed: int = 0
    game_map: GameMap | None = None  # the room's map (a Tiled file), if the game uses maps
    options: Mapping[str, Any] = attr.ib(factory=dict)  # the room's own settings

    @property
    def dt(self) -> float:
        """Seconds per tick."""
        return 1.0 / self.tick_rate


@attr.s(auto_attribs=True, frozen=True, slots=True)
class View:
    """Interest management: each player is sent the entities within a rectangle of the world
    around its own entity (a spectator's: the player it follows), in world units. An entity
    enters at width / 2 + margin from the centre (in x; height in y) and leaves past a further
    hysteresis band, so that it does not flicker at the edge."""

    width: float
    height: float
    margin: float = 128.0
    hysteresis: float = 96.0


class Game:
    """Subclass this: set `name` and `schema`, fill in the hooks. See docs/writing-a-game.md."""

    name: ClassVar[str] = "game"
    schema: ClassVar[Schema]
    # Inputs applied per player per tick at most (a burst after a stall); one a tick sustained.
    max_inputs_per_tick: int = 3
    # Whether rooms are made on Tiled maps (assets/maps/, `--map`; Setup.game_map), and how far
    # a map's spawn points must keep from its walls.
    uses_maps: ClassVar[bool] = False
    map_clearance: ClassVar[float] = 0.0
    # The browser page that `/` serves (a file of the server's static directory, client_demo/).
    page: ClassVar[str] = "index.html"
    # Players per room when --room-size is 0; 0: the map's max_players property, else all.
    room_size: ClassVar[int] = 0

    tick: int  # the number of steps taken
    rows: dict[int, Row]  # every entity's row after the last step (see the invariants above)

    def __init__(self, setup: Setup) -> None:
        self.setup = setup
        self.tick = 0
        self.rows = {}

    # --- what the engine reads besides tick and rows ----------------------------------------

    def rules(self) -> dict[str, float]:
        """The numbers a client needs to predict and draw, sent in WELCOME (`rules`)."""
        return {"dt": self.setup.dt, "quanta": QUANTA, "angle_steps": ANGLE_STEPS}

    def view(self) -> View | None:
        """The interest rectangle, or None: every player is sent every entity."""
        return None

    def events(self) -> Sequence[tuple[int, int]]:
        """What happened in the last step that rows do not show, as (entity, value) pairs: sent
        with the next snapshot to the players who hold the entity (SNAPSHOT's `shots`; the
        arena's value is the entity hit, 0 for a miss). Read once after every step."""
        return ()

    def score(self, entity_id: int) -> tuple[int, int]:
        """A player's (score, deaths) on the scoreboard: best score first, then fewest deaths."""
        return 0, 0

    def scores_version(self) -> int:
        """A number that changes whenever any score() changes: the scoreboard is sent then (at
        most once a second)."""
        return 0

    def state_hash(self) -> str:
        """A digest of the whole state, for determinism checks and replays. By default, of the
        tick and the rows; a game with state outside its rows should add it."""
        state = [self.tick, sorted(self.rows.items())]
        return hashlib.blake2b(msgpack.packb(state), digest_size=16).hexdigest()

    # --- hooks ------------------------------------------------------------------------------

    def join(self, name: str) -> int:
        """A player joins: make its entity and return its id."""
        raise NotImplementedError

    def leave(self, entity_id: int) -> None:
        """A player left: remove its entity (or keep it, as the game likes)."""
        raise NotImplementedError

    def step(self, inputs: Mapping[int, Sequence[Input]]) -> None:
        """Advance one tick: `inputs` maps a player's entity id to the inputs applied this tick,
        in sequence order (at most max_inputs_per_tick). Then set `tick` and `rows`."""
        raise NotImplementedError


def check_rows(game: Game, rows: Mapping[int, Row], ids: Sequence[int]) -> None:
    """Raise GameFault when the rows of `ids` break the game's schema."""
    for eid in ids:
        why = game.schema.check_row(rows[eid])
        if why is not None:
            raise GameFault(f"{game.name}: entity {eid}: {why}")


__all__ = [
    "ANGLE_STEPS",
    "FIRE",
    "FLAGS",
    "FLOAT",
    "INT",
    "MOVE_AIM_BUTTONS",
    "QUANTA",
    "Field",
    "Game",
    "GameFault",
    "GameMap",
    "Input",
    "InputField",
    "Kind",
    "Row",
    "Schema",
    "SchemaError",
    "Setup",
    "View",
    "angle",
    "check_rows",
    "flags",
    "integer",
    "position",
    "snap",
    "text",
]
