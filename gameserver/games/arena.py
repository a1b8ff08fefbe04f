"""The arena: players with a hitscan gun on a Tiled map (or an empty rectangle), as a Game.

The simulation is gameserver.world (movement, walls, respawns) with gameserver.combat (shots
with lag compensation) and gameserver.collision; its schema is world.SCHEMA. The browser draws
it with client_demo/js (render.js, the arena's page) and predicts with rules.js.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attr

from gameserver.game import Game, GameMap, Input, Setup, View
from gameserver.world import SCHEMA, Rules, World


def rules_for(game_map: GameMap | None, base: Rules | None = None) -> Rules:
    """The rules of a room on this map: the world's size and the view come from the map."""
    rules = base or Rules()
    if game_map is None:
        return rules
    return attr.evolve(
        rules,
        world_width=game_map.width,
        world_height=game_map.height,
        view_width=game_map.view_width,
        view_height=game_map.view_height,
    )


class Arena(Game):
    """Options: `rules`, a world.Rules (the map, if any, sets the world's size and the view)."""

    name = "arena"
    schema = SCHEMA
    uses_maps = True
    map_clearance = Rules().player_radius  # a map's spawn points keep this far from walls

    def __init__(self, setup: Setup) -> None:
        super().__init__(setup)
        given = setup.options.get("rules")
        self.arena_rules = rules_for(setup.game_map, given) if given is None else given
        self.world = World(rules=self.arena_rules, dt=setup.dt, seed=setup.seed, game_map=setup.game_map)
        self.max_inputs_per_tick = self.arena_rules.max_inputs_per_tick

    def rules(self) -> dict[str, float]:
        return self.arena_rules.to_wire(self.setup.dt)

    def view(self) -> View | None:
        r = self.arena_rules
        if r.view_width > 0 and r.view_height > 0:
            return View(r.view_width, r.view_height, r.view_margin, r.view_hysteresis)
        return None

    def join(self, name: str) -> int:
        return self.world.spawn_player(name).id

    def leave(self, entity_id: int) -> None:
        self.world.remove(entity_id)

    def step(self, inputs: Mapping[int, Sequence[Input]]) -> None:
        world = self.world
        world.step(inputs)
        self.tick = world.tick
        self.rows = world.rows

    def events(self) -> Sequence[tuple[int, int | None]]:  # type: ignore[override]
        return self.world.shots_fired

    def score(self, entity_id: int) -> tuple[int, int]:
        e = self.world.entities[entity_id]
        return e.score, e.deaths

    def scores_version(self) -> int:
        return self.world.deaths_total  # every kill is a death

    def state_hash(self) -> str:
        return self.world.state_hash()
