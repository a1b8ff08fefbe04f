"""The ball game's bot behaviour (`--behaviour ball`): get behind the ball, as seen from the other
team's goal, and kick it at that goal when near. It reads its Tracker's rows as the schema of
its WELCOME lays them out (gameserver.games.ball), and knows nothing else of the game.
"""

from __future__ import annotations

import math
from typing import Any

import attr

from gameserver.grid import QUANTA
from gameserver.schema import Schema

BEHIND = 28.0  # units behind the ball to run to, before pushing through it
KICK_WITHIN = 40.0  # units between centres at which a bot kicks


@attr.s(auto_attribs=True, frozen=True, slots=True)
class Layout:
    """Where a ball game's rows hold what the bot reads."""

    player: int  # kind ids
    ball: int
    goal: int
    team: int  # row index of a player's team
    goal_team: int  # row index of a goal's team

    @classmethod
    def of(cls, schema: Schema) -> Layout | None:
        """The layout, or None for a schema that is not a ball game's."""
        try:
            player, ball, goal = (schema.kind_named(n) for n in ("player", "ball", "goal"))
            return cls(player.id, ball.id, goal.id, player.index("team"), goal.index("team"))
        except KeyError:
            return None


def ball_move(rows: dict[int, list[Any]], me: int | None, layout: Layout) -> tuple[float, float, float, int]:
    """(move_x, move_y, aim, buttons) for the bot whose entity is `me`."""
    mine = rows.get(me) if me is not None else None
    if mine is None:
        return 0.0, 0.0, 0.0, 0
    ball = goal = None
    for row in rows.values():
        kind = row[2]
        if kind == layout.ball:
            ball = row
        elif kind == layout.goal and row[layout.goal_team] != mine[layout.team]:
            goal = row  # the other team's: the one to score in
    if ball is None or goal is None:
        return 0.0, 0.0, 0.0, 0
    q = float(QUANTA)
    x, y = mine[0] / q, mine[1] / q
    bx, by = ball[0] / q, ball[1] / q
    gx, gy = goal[0] / q, goal[1] / q
    aim = math.atan2(gy - by, gx - bx)
    tx, ty = bx - math.cos(aim) * BEHIND, by - math.sin(aim) * BEHIND
    near = math.hypot(bx - x, by - y) <= KICK_WITHIN
    # behind the ball already (closer to it than to the target point's far side): push on through
    if near or math.hypot(tx - x, ty - y) < 6.0:
        tx, ty = bx, by
    dx, dy = tx - x, ty - y
    n = math.hypot(dx, dy)
    if n < 1e-6:
        return 0.0, 0.0, aim, 1 if near else 0
    return dx / n, dy / n, aim % (2 * math.pi), 1 if near else 0
