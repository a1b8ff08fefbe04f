"""Ball: two teams push and kick one ball into each other's goal. Written against gameserver.game
alone, as any game from outside this package would be.

- A player joins the smaller team (red 0 on the left, blue 1 on the right; red on a tie) and
  starts in its own half. It moves at `speed`, and stays on the field.
- The ball is simulated by the server: it rolls with `friction`, bounces off the field's edges
  except in the goal mouths, and a player that touches it pushes it ahead. Holding the primary
  button (buttons bit 0) within `kick_reach` of the ball kicks it along the aim, once per
  `kick_interval_ticks`.
- A ball wholly past a goal line within its mouth is a goal for the other team: the goal's
  score goes up, the last player who touched the ball gets a point on the scoreboard if it
  scored for its own team (an own goal counts in its second column), and the ball is put back
  on the centre spot at rest.

Replicated (SCHEMA): players (name, x, y, team, state: bit 0 kicking), the ball (x, y, and who
touched it last), and the two goals (x, y, team, score), which carry the match's score.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Mapping, Sequence

import msgpack

from gameserver.game import (
    FIRE,
    MOVE_AIM_BUTTONS,
    QUANTA,
    Game,
    Input,
    Kind,
    Row,
    Schema,
    Setup,
    flags,
    integer,
    position,
    snap,
    text,
)

PLAYER, BALL, GOAL = 1, 2, 3
RED, BLUE = 0, 1
KICKING = 1  # the player's state bit: it kicked this tick

SCHEMA = Schema(
    (
        Kind(
            PLAYER,
            "player",
            (text("name", 24), position("x"), position("y"), integer("team", 0, 1), flags("state", 1)),
        ),
        Kind(BALL, "ball", (position("x"), position("y"), integer("toucher", 0, 2**31))),
        Kind(GOAL, "goal", (position("x"), position("y"), integer("team", 0, 1), integer("score", 0, 2**31))),
    ),
    MOVE_AIM_BUTTONS,
)


class _Player:
    __slots__ = ("id", "name", "team", "x", "y", "vx", "vy", "goals", "own_goals", "next_kick", "kicked")

    def __init__(self, eid: int, name: str, team: int, x: float, y: float) -> None:
        self.id, self.name, self.team, self.x, self.y = eid, name, team, x, y
        self.vx = self.vy = 0.0  # this tick's movement, units per tick: what a touch passes on
        self.goals = self.own_goals = 0
        self.next_kick = 0
        self.kicked = False


class Ball(Game):
    """Options (all optional): `width`, `height` (the field, units), `goal_width`."""

    name = "ball"
    schema = SCHEMA
    page = "ball.html"
    room_size = 10  # five a side

    speed = 220.0  # a player's, units per second
    player_radius = 18.0
    ball_radius = 10.0
    friction = 0.985  # the ball's speed kept per tick (at 30 Hz; scaled to the tick rate)
    kick_speed = 900.0  # units per second
    kick_reach = 12.0  # between the player's and the ball's edges
    kick_interval_ticks = 9
    push = 1.2  # a touch sends the ball on at this times the player's speed

    def __init__(self, setup: Setup) -> None:
        super().__init__(setup)
        options = setup.options
        self.width = float(options.get("width", 1600.0))
        self.height = float(options.get("height", 900.0))
        self.goal_width = float(options.get("goal_width", 260.0))
        self.rng = random.Random(setup.seed)
        self.players: dict[int, _Player] = {}
        self.next_id = 1
        self.ball_id = self._new_id()
        self.goal_ids = (self._new_id(), self._new_id())  # red's (left), blue's (right)
        self.scores = [0, 0]  # goals scored by red, by blue
        self.version = 0  # scores_version()
        self.bx, self.by = self.width / 2, self.height / 2
        self.bvx = self.bvy = 0.0  # units per tick
        self.toucher = 0
        self._events: list[tuple[int, int]] = []
        self._keep = self.friction ** (30.0 / setup.tick_rate)
        self.rows = self._rows({})

    def _new_id(self) -> int:
        eid = self.next_id
        self.next_id += 1
        return eid

    def rules(self) -> dict[str, float]:
        return {
            **super().rules(),
            "world_width": self.width,
            "world_height": self.height,
            "goal_width": self.goal_width,
            "speed": self.speed,
            "player_radius": self.player_radius,
            "ball_radius": self.ball_radius,
            "kick_speed": self.kick_speed,
            "kick_reach": self.kick_reach,
            "kick_interval_ticks": self.kick_interval_ticks,
        }

    # --- hooks ------------------------------------------------------------------------------

    def join(self, name: str) -> int:
        reds = sum(1 for p in self.players.values() if p.team == RED)
        team = RED if reds <= len(self.players) - reds else BLUE
        half = self.width / 2
        x0 = self.player_radius if team == RED else half + self.player_radius
        x = snap(self.rng.uniform(x0, x0 + half - 2 * self.player_radius))
        y = snap(self.rng.uniform(self.player_radius, self.height - self.player_radius))
        p = _Player(self._new_id(), name, team, x, y)
        self.players[p.id] = p
        self.rows = self._rows(self.rows)
        return p.id

    def leave(self, entity_id: int) -> None:
        self.players.pop(entity_id, None)
        if self.toucher == entity_id:
            self.toucher = 0
        self.rows = self._rows(self.rows)

    def step(self, inputs: Mapping[int, Sequence[Input]]) -> None:
        self.tick += 1
        dt = self.setup.dt
        step = self.speed * dt
        r = self.player_radius
        self._events = []
        for eid in sorted(self.players):  # in entity order: deterministic
            p = self.players[eid]
            x0, y0 = p.x, p.y
            p.kicked = False
            for cmd in inputs.get(eid, ()):
                mx, my = cmd.move_x, cmd.move_y
                n = math.hypot(mx, my)
                if n > 1.0:
                    mx, my = mx / n, my / n
                p.x = min(max(snap(p.x + mx * step), r), self.width - r)
                p.y = min(max(snap(p.y + my * step), r), self.height - r)
                if cmd.buttons & FIRE and self.tick >= p.next_kick and self._near_ball(p, self.kick_reach):
                    p.next_kick = self.tick + self.kick_interval_ticks
                    p.kicked = True
                    self.bvx = math.cos(cmd.aim) * self.kick_speed * dt
                    self.bvy = math.sin(cmd.aim) * self.kick_speed * dt
                    self.toucher = p.id
            p.vx, p.vy = p.x - x0, p.y - y0
        self._roll()
        self.rows = self._rows(self.rows)

    def events(self) -> Sequence[tuple[int, int]]:
        """A goal: (the goal scored in, the player who touched the ball last, or 0)."""
        return self._events

    def score(self, entity_id: int) -> tuple[int, int]:
        p = self.players[entity_id]
        return p.goals, p.own_goals

    def scores_version(self) -> int:
        return self.version

    def state_hash(self) -> str:
        state = [
            self.tick,
            self.next_id,
            [
                [p.id, p.name, p.team, p.x, p.y, p.goals, p.own_goals, p.next_kick]
                for p in self.players.values()
            ],
            [self.bx, self.by, self.bvx, self.bvy, self.toucher],
            self.scores,
        ]
        return hashlib.blake2b(msgpack.packb(state), digest_size=16).hexdigest()

    # --- the ball ---------------------------------------------------------------------------

    def _near_ball(self, p: _Player, reach: float) -> bool:
        d = self.player_radius + self.ball_radius + reach
        return (p.x - self.bx) ** 2 + (p.y - self.by) ** 2 <= d * d

    def _roll(self) -> None:
        # touches: a player overlapping the ball puts it just outside, moving on ahead of it
        touch = self.player_radius + self.ball_radius
        for eid in sorted(self.players):
            p = self.players[eid]
            dx, dy = self.bx - p.x, self.by - p.y
            d2 = dx * dx + dy * dy
            if d2 < touch * touch:
                d = math.sqrt(d2)
                ux, uy = (dx / d, dy / d) if d > 1e-9 else (1.0 if p.team == RED else -1.0, 0.0)
                self.bx, self.by = p.x + ux * touch, p.y + uy * touch
                along = max(0.0, p.vx * ux + p.vy * uy)
                self.bvx, self.bvy = ux * along * self.push, uy * along * self.push
                self.toucher = p.id
        self.bx += self.bvx
        self.by += self.bvy
        self.bvx *= self._keep
        self.bvy *= self._keep
        if abs(self.bvx) < 0.01 and abs(self.bvy) < 0.01:
            self.bvx = self.bvy = 0.0
        br = self.ball_radius
        lo, hi = br, self.height - br
        if self.bx < br or self.bx > self.width - br:  # at or past an end line
            half = self.goal_width / 2 - br
            if abs(self.by - self.height / 2) <= half:  # in the mouth: it may go in, between the posts
                lo, hi = self.height / 2 - half, self.height / 2 + half
            else:  # the end wall beside the goal
                self.bx, self.bvx = _bounce(self.bx, self.bvx, br, self.width - br)
        self.by, self.bvy = _bounce(self.by, self.bvy, lo, hi)
        if self.bx < -br:
            self._goal(BLUE)
        elif self.bx > self.width + br:
            self._goal(RED)
        self.bx, self.by = snap(self.bx), snap(self.by)

    def _goal(self, team: int) -> None:
        self.scores[team] += 1
        self.version += 1
        scorer = self.players.get(self.toucher)
        if scorer is not None:
            if scorer.team == team:
                scorer.goals += 1
            else:
                scorer.own_goals += 1
        into = self.goal_ids[1 - team]  # blue scores in red's goal
        self._events.append((into, self.toucher))
        self.bx, self.by = self.width / 2, self.height / 2
        self.bvx = self.bvy = 0.0
        self.toucher = 0

    # --- rows -------------------------------------------------------------------------------

    def _rows(self, before: dict[int, Row]) -> dict[int, Row]:
        q = QUANTA
        rows: dict[int, Row] = {}

        def keep(eid: int, row: Row) -> None:
            old = before.get(eid)
            rows[eid] = old if old == row else row  # unchanged: the same tuple

        keep(self.ball_id, (int(self.bx * q), int(self.by * q), BALL, self.toucher))
        for team, gid in enumerate(self.goal_ids):
            gx = 0.0 if team == RED else self.width
            keep(gid, (int(gx * q), int(self.height / 2 * q), GOAL, team, self.scores[team]))
        for eid, p in self.players.items():
            keep(eid, (int(p.x * q), int(p.y * q), PLAYER, p.name, p.team, KICKING if p.kicked else 0))
        return rows


def _bounce(v: float, speed: float, lo: float, hi: float) -> tuple[float, float]:
    """A coordinate and its speed, reflected off the walls at lo and hi."""
    if v < lo:
        return lo + (lo - v), -speed
    if v > hi:
        return hi - (v - hi), -speed
    return v, speed
