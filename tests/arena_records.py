"""The arena's spawns and changes, built from its fields as tests name them.

A test writes spawn(1, "a", 80, 160) or change(3, dqx=5, hp=0); gameserver.world.SCHEMA lays
them out as the wire has them (codec.Spawn and codec.Change are generic: values by the schema).
"""

from __future__ import annotations

from gameserver.messages import Change, Spawn
from gameserver.world import SCHEMA


def spawn(eid: int, name: str, qx: int, qy: int, angle: int = 0, hp: int = 100) -> Spawn:
    """A player's spawn; fields the arena may gain later hold their lowest value."""
    given = {"name": name, "x": qx, "y": qy, "angle": angle, "hp": hp}
    kind = SCHEMA.kind_named("player")
    values = {f.name: given.get(f.name, "" if f.type == "text" else f.min) for f in kind.fields}
    return SCHEMA.spawn(eid, "player", **values)


def change(
    eid: int, dqx: int | None = None, dqy: int | None = None, angle: int | None = None, hp: int | None = None
) -> Change:
    given = {"x": dqx, "y": dqy, "angle": angle, "hp": hp}
    return SCHEMA.change(eid, "player", **{k: v for k, v in given.items() if v is not None})


_NAME = [f.name for f in SCHEMA.kind_named("player").fields].index("name")


def name_of(s: Spawn) -> str:
    """The name a player's spawn carries."""
    return str(s.values[_NAME])


def changed(c: Change) -> set[str]:
    """The names of the fields a player's change carries."""
    kind = SCHEMA.kind_named("player")
    return {f.name for f in kind.changing if c.mask & kind.bit(f.name)}


def value(s: Spawn, field: str) -> object:
    """A field of a player's spawn, by name (a position in quanta)."""
    return s.values[[f.name for f in SCHEMA.kind(s.kind).fields].index(field)]
