"""The games this server ships, and how `--game` finds one.

`--game NAME` takes a built-in game's name (BUILTIN), an entry point's name in the group
`gameserver.games` (a game installed from its own package), or `package.module:Class`.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from gameserver.game import Game

BUILTIN = {
    "arena": "gameserver.games.arena:Arena",
    "ball": "gameserver.games.ball:Ball",
}
ENTRY_POINT_GROUP = "gameserver.games"
DEFAULT = "arena"


class GameNotFound(LookupError):
    pass


def load_game(spec: str) -> type[Game]:
    """The Game subclass `spec` names. Raises GameNotFound, saying what was tried."""
    target = BUILTIN.get(spec)
    if target is None:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if ep.name == spec:
                target = ep.value
                break
    if target is None:
        target = spec
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        known = ", ".join(sorted(BUILTIN))
        raise GameNotFound(f"no game {spec!r}: name one of {known}, an entry point, or package.module:Class")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise GameNotFound(f"game {spec!r}: cannot import {module_name} ({exc})") from None
    cls = getattr(module, attr, None)
    if not (isinstance(cls, type) and issubclass(cls, Game)):
        raise GameNotFound(f"game {spec!r}: {target} is not a subclass of gameserver.game.Game")
    if not hasattr(cls, "schema"):
        raise GameNotFound(f"game {spec!r}: {target} declares no schema")
    return cls
