"""The simulation: players moving in a bounded world, advanced one fixed tick at a time.

Invariants:
- Pure and deterministic: no clock, no I/O, randomness only from the seeded Random. The same
  seed and the same inputs give the same state_hash(), bit for bit.
- Authoritative: whatever a client sends, a player moves at most `speed * dt` per applied input,
  stays inside the world, and positions sit on the 1/QUANTA grid that the wire carries.
- Dead players (hp 0) neither move, shoot nor get hit, and respawn after `respawn_ticks`.
  Shots are judged with lag compensation (gameserver.combat).
- The movement rule is the function step_position(); the browser client has a line-for-line twin
  (client_demo/js/rules.js), fed with the numbers of Rules.to_wire() from the welcome message.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Mapping, Sequence
from math import floor

import attr
import msgpack

from gameserver.collision import step_with_walls
from gameserver.combat import (
    FIRE,
    PointIndex,
    PositionHistory,
    Positions,
    ray_box,
    ray_hit,
    rewind_tick,
    wall_distance,
)
from gameserver.game import (
    MOVE_AIM_BUTTONS,
    QUANTA,
    GameMap,
    Input,
    Kind,
    Row,
    Schema,
    angle,
    integer,
    position,
    snap,
    text,
)

__all__ = [
    "QUANTA",
    "ANGLE_STEPS",
    "SCHEMA",
    "Entity",
    "Rules",
    "World",
    "quantize_angle",
    "snap",
    "step_position",
]

ANGLE_STEPS = 256
MAX_NAME_CHARS = 24
PLAYER_KIND = 1  # the arena's one kind of entity

# What the arena replicates and what its players send: a player's row is
# (qx, qy, kind, name, angle, hp), its spawn record [id, 1, name, qx, qy, angle, hp] and its
# change mask's bits x = 1, y = 2, angle = 4, hp = 8 (gameserver.schema has the rules).
PLAYER = Kind(
    PLAYER_KIND,
    "player",
    (text("name", MAX_NAME_CHARS), position("x"), position("y"), angle("angle"), integer("hp", 0, 2**16)),
)
SCHEMA = Schema(
    (PLAYER,),
    MOVE_AIM_BUTTONS,
)
# Up to this many entities, a spawn point is chosen among those no living player stands on
# (every spawn checked against every player: cheap for a small match, not for a thousand).
SPAWN_CHECK_PLAYERS = 32


# A value: frozen and equal by value, in both builds. Not by frozen=True: that needs slots here
# (without them, attrs' frozen __init__ writes a __dict__, which a native class has not), and
# attrs makes a slotted class anew, of which mypyc keeps only the __init__: compiled, it would
# compare by identity and take assignments. attrs writes its methods into a class without slots,
# and mypyc keeps them all; on_setattr refuses assignments from interpreted code. (Compiled code
# stores a native class's fields directly, and mypy does not read on_setattr: nothing assigns.)
@attr.s(auto_attribs=True, slots=False, unsafe_hash=True, on_setattr=attr.setters.frozen)
class Rules:
    """Every number of the game, in one place. Units: world units, seconds, radians."""

    world_width: float = 2000.0
    world_height: float = 2000.0
    speed: float = 150.0  # units per second
    max_hp: int = 100
    player_radius: float = 16.0
    max_inputs_per_tick: int = 3  # burst allowance; sustained rate is one input per tick
    # the weapon: a hitscan gun
    fire_interval_ticks: int = 6  # at 30 Hz, five shots a second
    weapon_range: float = 900.0
    damage: int = 25
    respawn_ticks: int = 90  # three seconds dead
    # interest: what a player is sent. 0 x 0 = everything; otherwise a rectangle around the
    # player, grown by a margin to enter and by a further hysteresis band to leave.
    view_width: float = 0.0
    view_height: float = 0.0
    view_margin: float = 128.0
    view_hysteresis: float = 96.0
    # lag compensation: positions kept, and how far back a shot may be judged: a time, the
    # same at every tick rate (max_rewind_ticks() turns it into ticks)
    history_ticks: int = 30  # one second at 30 Hz
    max_rewind_ms: float = 200.0

    def max_rewind_ticks(self, dt: float) -> int:
        """max_rewind_ms in ticks of `dt` seconds, to the nearest tick (half up): 6 at 30 Hz,
        12 at 60 Hz, 4 at 20 Hz."""
        return floor(self.max_rewind_ms / 1000.0 / dt + 0.5)

    def to_wire(self, dt: float) -> dict[str, float]:
        return {
            "world_width": self.world_width,
            "world_height": self.world_height,
            "speed": self.speed,
            "dt": dt,
            "quanta": QUANTA,
            "angle_steps": ANGLE_STEPS,
            "max_hp": self.max_hp,
            "player_radius": self.player_radius,
            "fire_interval_ticks": self.fire_interval_ticks,
            "weapon_range": self.weapon_range,
            "damage": self.damage,
            "respawn_ticks": self.respawn_ticks,
            "max_rewind_ms": self.max_rewind_ms,
            "max_rewind_ticks": self.max_rewind_ticks(dt),
            "view_width": self.view_width,
            "view_height": self.view_height,
        }


_TURN = 2 * math.pi


def quantize_angle(aim: float) -> int:
    return math.floor(aim / _TURN * ANGLE_STEPS + 0.5) % ANGLE_STEPS


def step_position(
    x: float, y: float, move_x: float, move_y: float, step: float, width: float, height: float
) -> tuple[float, float]:
    """One input's worth of movement: `step` is speed * dt. The browser predicts with a twin."""
    n2 = move_x * move_x + move_y * move_y
    if n2 > 1.0:
        n = math.sqrt(n2)
        move_x /= n
        move_y /= n
    # snap() and the clamp to the world, written out (every player, every tick): the same as
    # min(max(snap(x + move_x * step), 0.0), width), without three calls an axis
    x = floor((x + move_x * step) * QUANTA + 0.5) / QUANTA
    x = x if 0.0 <= x <= width else (0.0 if x < 0.0 else width)
    y = floor((y + move_y * step) * QUANTA + 0.5) / QUANTA
    y = y if 0.0 <= y <= height else (0.0 if y < 0.0 else height)
    return x, y


@attr.s(auto_attribs=True, slots=True, eq=False)
class Entity:
    id: int
    kind: int
    name: str
    x: float
    y: float
    angle: int = 0  # 0..255, a 256th of a turn
    hp: int = 100
    score: int = 0  # kills
    deaths: int = 0
    shots: int = 0  # shots fired, ever
    next_fire_tick: int = 0
    respawn_tick: int | None = None  # set while dead

    @property
    def alive(self) -> bool:
        return self.hp > 0

    def row(self) -> Row:
        """The replicated view, as SCHEMA lays it out: quantized x and y, kind, name, angle, hp."""
        return (int(self.x * QUANTA), int(self.y * QUANTA), self.kind, self.name, self.angle, self.hp)


@attr.s(auto_attribs=True, slots=True, eq=False)
class World:
    rules: Rules
    dt: float
    seed: int = 0
    game_map: GameMap | None = None  # walls and spawn points; None: an empty rectangle
    tick: int = attr.ib(init=False, default=0)
    entities: dict[int, Entity] = attr.ib(init=False, factory=dict)
    _next_id: int = attr.ib(init=False, default=1)
    _rng: random.Random = attr.ib(init=False)
    history: PositionHistory = attr.ib(init=False)
    deaths_total: int = attr.ib(init=False, default=0)  # the scoreboard changes with it
    shots_fired: list[tuple[int, int | None]] = attr.ib(init=False, factory=list)  # last tick
    # Entity.row() of every entity after the last step, built by step() itself; a row that did
    # not change is the same tuple object as before. The history keeps these dicts.
    rows: dict[int, Row] = attr.ib(init=False, factory=dict)
    _cells: dict[int, PointIndex] = attr.ib(init=False, factory=dict)  # by tick judged at, this step
    _dead: dict[int, Entity] = attr.ib(init=False, factory=dict)  # waiting to respawn
    _max_rewind: int = attr.ib(init=False, default=0)  # rules.max_rewind_ticks(dt)

    def __attrs_post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._max_rewind = self.rules.max_rewind_ticks(self.dt)
        self.history = PositionHistory(self.rules.history_ticks)

    def _spawn_point(self) -> tuple[float, float]:
        if self.game_map is not None:
            spawns = self.game_map.spawns
            spot = self._rng.choice(spawns)
            if len(self.entities) <= SPAWN_CHECK_PLAYERS:
                # A small match: not on top of a living player, when a spawn point is free. (A
                # free first draw stands, so seeded runs keep the spawns they had.)
                clear = (4.0 * self.rules.player_radius) ** 2
                living = [(e.x, e.y) for e in self.entities.values() if e.hp > 0]

                def free(sx: float, sy: float) -> bool:
                    return all((sx - x) * (sx - x) + (sy - y) * (sy - y) >= clear for x, y in living)

                if not free(*spot):
                    others = [(sx, sy) for sx, sy in spawns if free(sx, sy)]
                    if others:
                        spot = self._rng.choice(others)
            return spot
        r = self.rules
        margin = r.player_radius
        x = snap(self._rng.uniform(margin, r.world_width - margin))
        y = snap(self._rng.uniform(margin, r.world_height - margin))
        return x, y

    def spawn_player(self, name: str) -> Entity:
        x, y = self._spawn_point()
        # Ids are never reused, so a delta can't mistake a new entity for an old one.
        e = Entity(id=self._next_id, kind=PLAYER_KIND, name=name, x=x, y=y, hp=self.rules.max_hp)
        self._next_id += 1
        self.entities[e.id] = e
        return e

    def remove(self, entity_id: int) -> None:
        self.entities.pop(entity_id, None)
        self._dead.pop(entity_id, None)

    def step(self, inputs: Mapping[int, Sequence[Input]]) -> None:
        """Advance one tick. `inputs` maps entity id to the inputs applied this tick, in order."""
        self.tick += 1
        tick = self.tick
        r = self.rules
        step = r.speed * self.dt
        if self._dead:
            for entity in [self._dead[eid] for eid in sorted(self._dead)]:  # in entity order
                if entity.respawn_tick is not None and entity.respawn_tick <= tick:
                    entity.x, entity.y = self._spawn_point()
                    entity.hp = r.max_hp
                    entity.respawn_tick = None
                    del self._dead[entity.id]
        shooters: list[tuple[Entity, Input]] = []
        self._cells = {}
        quanta, steps = float(QUANTA), float(ANGLE_STEPS)  # float by float: CPython specialises it
        width, height = r.world_width, r.world_height
        game_map = self.game_map
        before = self.rows
        rows: dict[int, Row] = {}  # the replicated view and the history, built on the way
        for eid, entity in self.entities.items():
            cmds = inputs.get(eid)
            if not cmds or entity.hp <= 0:
                row = entity.row()
                old = before.get(eid)
                rows[eid] = old if old == row else row
                continue
            x, y = entity.x, entity.y
            if game_map is None:
                # step_position(), written out (every player, every tick), keeping the position
                # in quanta as well: on the grid, int(x * QUANTA) is that number.
                for cmd in cmds:
                    mx, my = cmd.move_x, cmd.move_y
                    n2 = mx * mx + my * my
                    if n2 > 1.0:
                        n = math.sqrt(n2)
                        mx /= n
                        my /= n
                    qx = floor((x + mx * step) * quanta + 0.5)
                    x = qx / quanta
                    if not 0.0 <= x <= width:
                        x = 0.0 if x < 0.0 else width
                        qx = int(x * quanta)
                    qy = floor((y + my * step) * quanta + 0.5)
                    y = qy / quanta
                    if not 0.0 <= y <= height:
                        y = 0.0 if y < 0.0 else height
                        qy = int(y * quanta)
            else:
                walls, radius = game_map.walls, r.player_radius
                for cmd in cmds:
                    x, y = step_with_walls(walls, x, y, cmd.move_x, cmd.move_y, step, radius)
                qx, qy = int(x * quanta), int(y * quanta)
            last = cmds[-1]
            # quantize_angle(), written out
            entity.angle = angle = floor(last.aim / _TURN * steps + 0.5) % ANGLE_STEPS
            entity.x, entity.y = x, y
            # row(). Declared, so that mypy keeps it a Row: compiled, a tuple typed as the
            # literal's six fields would be unpacked into C values and made again when stored.
            moved: Row = (qx, qy, entity.kind, entity.name, angle, entity.hp)
            old = before.get(eid)
            rows[eid] = old if old == moved else moved  # unchanged: the same tuple (deltas skip it)
            if last.buttons & FIRE and tick >= entity.next_fire_tick:
                shooters.append((entity, last))
        self.shots_fired = [self._shoot(entity, cmd, rows) for entity, cmd in shooters]
        for _, hit in self.shots_fired:
            if hit is not None:
                rows[hit] = self.entities[hit].row()  # its hp changed
        self.rows = rows
        self.history.record(tick, rows)

    def _shoot(self, shooter: Entity, cmd: Input, rows: Positions) -> tuple[int, int | None]:
        """Fire once; returns (shooter id, id of the entity hit or None). `rows` are this
        tick's, for a shot judged now."""
        r = self.rules
        shooter.next_fire_tick = self.tick + r.fire_interval_ticks
        shooter.shots += 1
        when = rewind_tick(self.tick, cmd.render_tick, self._max_rewind)
        seen = self.history.at(when) if when < self.tick else None
        if seen is None:  # judged now (no render_tick, or one no longer kept): where all are now
            when, seen = self.tick, rows
        reach = r.weapon_range
        if self.game_map is not None:  # walls stop bullets
            reach = wall_distance(self.game_map.walls, shooter.x, shooter.y, cmd.aim, reach)
        x0, y0, x1, y1 = ray_box(shooter.x, shooter.y, cmd.aim, reach, r.player_radius)
        # Only those near the ray are tested, and only those of the cells the ray's box covers
        # are compared: a shot costs O(cells), not O(N), whatever tick it is judged at. The
        # rows hold positions in quanta (exact: positions sit on the grid).
        index = self._cells.get(when)
        if index is None:  # once per tick judged at, for all the shots judged there
            # Cells a quarter of a shot's box at most (the range, and a radius each side
            # of the ray and both ends): a box covers at most 5 x 5 of them.
            cell = max(1, int((r.weapon_range + 4 * r.player_radius) * QUANTA / 4))
            index = self._cells[when] = PointIndex.of(seen, cell)
        alive = self.entities
        targets = [
            (tid, qx / QUANTA, qy / QUANTA)
            for tid, qx, qy in index.in_box(x0 * QUANTA, y0 * QUANTA, x1 * QUANTA, y1 * QUANTA)
            if tid != shooter.id and tid in alive and alive[tid].alive
        ]
        hit = ray_hit(shooter.x, shooter.y, cmd.aim, reach, r.player_radius, targets)
        if hit is None:
            return shooter.id, None
        target = self.entities[hit[0]]
        target.hp = max(0, target.hp - r.damage)
        if target.hp == 0:
            target.deaths += 1
            self.deaths_total += 1
            target.respawn_tick = self.tick + r.respawn_ticks
            self._dead[target.id] = target
            shooter.score += 1
        return shooter.id, target.id

    def state_hash(self) -> str:
        """A digest of the whole state (floats bit for bit), for determinism checks."""
        state: list[object] = [self.tick, self._next_id]
        for e in self.entities.values():
            state.append(
                [
                    e.id,
                    e.kind,
                    e.name,
                    e.x,
                    e.y,
                    e.angle,
                    e.hp,
                    e.score,
                    e.deaths,
                    e.shots,
                    e.next_fire_tick,
                    e.respawn_tick,
                ]
            )
        return hashlib.blake2b(msgpack.packb(state), digest_size=16).hexdigest()
