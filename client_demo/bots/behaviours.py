"""What a bot plays: the input it sends each tick, by its behaviour (client_demo/bots/bot.py
does the I/O and the protocol around it).

The moving behaviours are Steering's: wander (a new heading about every 1.5 s), chase (toward
the nearest entity held), idle (stands still, only acknowledges), fight (toward the nearest living
enemy held, strafing, aiming at it and holding FIRE within the weapon's range; wanders when it
holds no living enemy; stands still dead) and ball (the ball game's, client_demo/bots/ball.py).
churn, host and drop wander; spectate sends no input. When each of those connects, leaves and
comes back is bot.py's, with the timings below.
"""

from __future__ import annotations

import math
import random
from typing import Any

from client_demo.bots.ball import Layout as BallLayout
from client_demo.bots.ball import ball_move
from gameserver.combat import FIRE
from gameserver.grid import QUANTA
from gameserver.schema import Schema
from gameserver.world import SCHEMA

BEHAVIOURS = ("wander", "chase", "idle", "churn", "fight", "host", "drop", "spectate", "ball")
CHURNING = ("churn", "host")  # behaviours that leave and come back
AWAY = ("churn", "host", "drop")  # behaviours that may be between two connections at any moment
# behaviours that need positions (a spectator: whether it holds the player it follows), so
# decode and verify everything
MIRRORED = ("chase", "fight", "spectate", "ball")
WANDERING = ("wander", "churn", "host", "drop")  # behaviours whose every move is wander()'s
DROP_EVERY = (2.0, 4.0)  # seconds a dropping bot plays before it cuts its connection
COME_BACK = (0.2, 0.6)  # seconds a churning bot waits before its next connection
FOLLOW_EVERY = (2.0, 4.0)  # seconds a spectator follows one player before it asks for another
INTERP_DELAY = 0.1  # seconds a client draws the others behind the newest snapshot
STRAFE = 0.35  # share of a fighter's move that goes sideways
STRAFE_FLIP = (0.6, 1.6)  # seconds between changes of strafing side
KEEP_AWAY = 0.35  # of weapon_range: closer than this a fighter only strafes
RETARGET = 0.1  # seconds a fighter keeps its target before it looks for the nearest again
TURN_EVERY = 1.5  # seconds between heading changes, on average
# What a fighting bot reads of a player's row, as the arena's schema lays it out
HP = SCHEMA.kind_named("player").index("hp")


class Steering:
    """One bot's behaviour and what it keeps between ticks: its heading (where it aims), its
    move, its strafing side and its target."""

    __slots__ = (
        "behaviour",
        "wanders",
        "rng",
        "heading",
        "move",
        "next_turn",
        "strafe",
        "next_flip",
        "target",
        "retarget_at",
        "ball_layout",
    )

    def __init__(self, behaviour: str, rng: random.Random) -> None:
        self.behaviour = behaviour
        self.wanders = behaviour in WANDERING
        self.rng = rng  # the bot's own, shared with its runner's timings
        self.heading = rng.uniform(0.0, 2 * math.pi)
        self.move = (0.0, 0.0)
        self.next_turn = 0.0
        self.strafe = 1.0 if rng.random() < 0.5 else -1.0
        self.next_flip = 0.0
        self.target: int | None = None  # a fighter's enemy, by entity id
        self.retarget_at = 0.0
        self.ball_layout: BallLayout | None = None  # the ball behaviour's, from its WELCOME's schema

    def on_schema(self, schema: Schema) -> None:
        """The schema of a WELCOME: where the ball behaviour finds what it reads in the rows."""
        self.ball_layout = BallLayout.of(schema) if self.behaviour == "ball" else None

    def steer(
        self, now: float, rows: dict[int, list[Any]] | None, me: int | None, weapon_range: float
    ) -> tuple[float, float, int]:
        """This tick's (move_x, move_y, buttons); the aim is `heading`. `rows`: the entities the
        bot holds (None when it keeps none); `me`: its own entity id, if it has one yet."""
        b = self.behaviour
        if b == "fight":
            return self.fight(now, rows, me, weapon_range)
        if b == "chase":
            mx, my = self.chase(rows, me)
            return mx, my, 0
        if b == "ball":
            return self.ball(rows, me)
        if b == "idle":
            return 0.0, 0.0, 0
        mx, my = self.wander(now)  # WANDERING: wander, churn, host, drop
        return mx, my, 0

    def ball(self, rows: dict[int, list[Any]] | None, me: int | None) -> tuple[float, float, int]:
        """The ball game's move (client_demo/bots/ball.py); standing still in any other game."""
        layout = self.ball_layout
        if rows is None or layout is None:
            return 0.0, 0.0, 0
        mx, my, aim, buttons = ball_move(rows, me, layout)
        self.heading = aim
        return mx, my, buttons

    def wander(self, now: float) -> tuple[float, float]:
        """Straight on at full speed, a new heading about every TURN_EVERY seconds."""
        if now >= self.next_turn:
            self.turn(now)
        return self.move

    def turn(self, now: float) -> None:
        """A wanderer's new heading, at random, and when it turns next."""
        self.heading = self.rng.uniform(0.0, 2 * math.pi)
        self.next_turn = now + self.rng.uniform(0.5, 2.5) * TURN_EVERY / 1.5
        self.move = (math.cos(self.heading), math.sin(self.heading))

    def fight(
        self, now: float, rows: dict[int, list[Any]] | None, me_id: int | None, weapon_range: float
    ) -> tuple[float, float, int]:
        """(move_x, move_y, buttons): close in on the nearest living enemy held, strafing, and
        fire when it is within the weapon's range; wander when none is held; stand still dead."""
        me = rows.get(me_id) if rows is not None and me_id is not None else None
        if rows is None or me is None or me[HP] <= 0:  # not held yet, or dead: idle input, still acks
            return 0.0, 0.0, 0
        best = rows.get(self.target) if self.target is not None else None
        if best is None or best[HP] <= 0 or now >= self.retarget_at:
            # The nearest living enemy, looked for again every RETARGET seconds (a scan of the
            # whole view each tick was a tenth of a fighting bot's CPU), or when it died or left.
            best, best_d2 = None, math.inf
            self.target = None
            for eid, row in rows.items():
                if eid != me_id and row[HP] > 0:
                    d2 = (row[0] - me[0]) ** 2 + (row[1] - me[1]) ** 2
                    if d2 < best_d2:
                        best, best_d2, self.target = row, d2, eid
            self.retarget_at = now + RETARGET
        if best is None:
            mx, my = self.wander(now)
            return mx, my, 0
        dist = math.hypot(best[0] - me[0], best[1] - me[1]) / QUANTA
        self.heading = math.atan2(best[1] - me[1], best[0] - me[0]) % (2 * math.pi)
        if now >= self.next_flip:
            self.strafe = -self.strafe
            self.next_flip = now + self.rng.uniform(*STRAFE_FLIP)
        ux, uy = math.cos(self.heading), math.sin(self.heading)
        side_x, side_y = -uy * self.strafe, ux * self.strafe
        forward = 0.0 if dist < KEEP_AWAY * weapon_range else 1.0 - STRAFE
        mx = ux * forward + side_x * STRAFE
        my = uy * forward + side_y * STRAFE
        return mx, my, FIRE if dist <= weapon_range else 0

    def chase(self, rows: dict[int, list[Any]] | None, me_id: int | None) -> tuple[float, float]:
        if rows is None or me_id is None or me_id not in rows:
            return 0.0, 0.0
        me = rows[me_id]
        best, best_d2 = None, math.inf
        for eid, row in rows.items():
            if eid != me_id:
                d2 = (row[0] - me[0]) ** 2 + (row[1] - me[1]) ** 2
                if d2 < best_d2:
                    best, best_d2 = row, d2
        if best is None or best_d2 < 64 * 64:  # within 8 units: stay
            return 0.0, 0.0
        d = math.sqrt(best_d2)
        self.heading = math.atan2(best[1] - me[1], best[0] - me[0]) % (2 * math.pi)
        return (best[0] - me[0]) / d, (best[1] - me[1]) / d
