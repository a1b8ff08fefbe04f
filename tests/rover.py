"""Rover: a small game with input fields of its own (not move/aim/buttons), for tests.

A rover drives along x at `throttle` (0..1) times its speed, `steer` (-1, 0 or 1) moves it one
lane up or down, and `horn` (flags, 1 bit) counts honks. Served with `--game rover:Rover` when
tests/ is on PYTHONPATH.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gameserver.game import (
    FLAGS,
    FLOAT,
    INT,
    QUANTA,
    Game,
    InputField,
    Kind,
    Schema,
    Setup,
    integer,
    position,
    text,
)

ROVER = 1
SCHEMA = Schema(
    (Kind(ROVER, "rover", (text("name", 24), position("x"), position("y"), integer("honks", 0, 2**31))),),
    (
        InputField("throttle", FLOAT, 0.0, 1.0),
        InputField("steer", INT, -1, 1),
        InputField("horn", FLAGS, 0, 1),
    ),
)
LANE = 10.0  # world units between lanes


class Rover(Game):
    name = "rover"
    schema = SCHEMA
    speed = 60.0  # world units per second at full throttle

    def __init__(self, setup: Setup) -> None:
        super().__init__(setup)
        self.rovers: dict[int, list[Any]] = {}  # id -> [name, x, y, honks]
        self.received: list[tuple[int, Any]] = []  # every input step() got, as it got it
        self.next_id = 1

    def join(self, name: str) -> int:
        eid = self.next_id
        self.next_id += 1
        self.rovers[eid] = [name, 0.0, LANE * len(self.rovers), 0]
        self.rows = self.make_rows()
        return eid

    def leave(self, entity_id: int) -> None:
        del self.rovers[entity_id]
        self.rows = self.make_rows()

    def step(self, inputs: Mapping[int, Sequence[Any]]) -> None:
        self.tick += 1
        for eid, cmds in sorted(inputs.items()):
            r = self.rovers[eid]
            for cmd in cmds:
                self.received.append((eid, cmd))
                r[1] += cmd.throttle * self.speed * self.setup.dt
                r[2] = max(0.0, r[2] + cmd.steer * LANE)
                r[3] += cmd.horn
        self.rows = self.make_rows()

    def make_rows(self) -> dict[int, tuple[Any, ...]]:
        return {
            eid: (round(x * QUANTA), round(y * QUANTA), ROVER, name, honks)
            for eid, (name, x, y, honks) in self.rovers.items()
        }
