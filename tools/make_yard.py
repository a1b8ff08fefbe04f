#!/usr/bin/env python3
"""Make the map of small matches: assets/maps/yard.tmj and its preview picture.

    python3 tools/make_yard.py            write the files into the project
    python3 tools/make_yard.py --check    exit 1 if the committed files differ from what it makes

The yard is 40 x 25 tiles of 32 units (1280 x 800), about one screen, for rooms of up to 8: a
border wall, a block in the middle, bars, short walls and crates for cover, twelve spawn points round the
edges. It has no view size, so every player sees every other from the moment they join. Like
the arena it is mirrored left-right and top-bottom, so that no spawn is favoured, and it uses the
arena's tileset (tools/make_arena.py writes the image) and its Tiled and PNG writers.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

# make_arena.py sits beside this file; tools/ is a folder of scripts, not a package
sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_arena as arena  # noqa: E402
from make_arena import CRATE, FLOOR, FLOOR_ROOM, WALL  # noqa: E402

ROOT = arena.ROOT
MAP_PATH = Path("assets/maps/yard.tmj")
PREVIEW_PATH = Path("docs/maps-yard.png")

COLS, ROWS = 40, 25  # tiles; 25 rows, so the middle row (12) is its own mirror
SEED = 2025
MAX_PLAYERS = 8

# spawn points of the top-left quadrant, as tile corners (the other three are mirrors): one in
# the corner, one on the top edge, one on the left edge, no two closer than 6 tiles
SPAWNS = [(3, 3), (14, 3), (3, 9)]


def layout() -> tuple[list[list[int]], list[list[int]], list[tuple[int, int]]]:
    """The floor and wall layers (rows of gids) and the spawn points (world units)."""
    walls = [[0] * COLS for _ in range(ROWS)]
    floor = [[FLOOR] * COLS for _ in range(ROWS)]

    def put(grid: list[list[int]], c0: int, r0: int, c1: int, r1: int, gid: int) -> None:
        """Fill tiles c0..c1 x r0..r1 (inclusive) of the top-left quadrant and their mirrors."""
        for r in range(r0, r1 + 1):
            for c in range(c0, c1 + 1):
                mc, mr = COLS - 1 - c, ROWS - 1 - r
                for cc, rr in ((c, r), (mc, r), (c, mr), (mc, mr)):
                    grid[rr][cc] = gid

    def wall(c0: int, r0: int, c1: int, r1: int, gid: int = WALL) -> None:
        put(walls, c0, r0, c1, r1, gid)

    # the border
    wall(0, 0, 19, 0)
    wall(0, 0, 0, 12)
    # a block in the middle (4 x 3 tiles) on a square of paving, to circle round
    put(floor, 15, 9, 19, 12, FLOOR_ROOM)
    wall(18, 11, 19, 12)
    # a stub out of the top and bottom borders between the two edge spawns of each side
    wall(19, 1, 19, 3)
    # bars half way between the corners and the middle, and a wall by each side spawn
    wall(9, 7, 13, 7)
    wall(8, 10, 8, 12)
    # crates: one in front of each corner spawn, one between each side wall and the middle
    wall(7, 3, 8, 4, CRATE)
    wall(13, 10, 14, 11, CRATE)
    rng = random.Random(SEED)
    # floor variation: a few worn tiles
    for _ in range(40):
        c, r = rng.randrange(1, 20), rng.randrange(1, 13)
        if floor[r][c] == FLOOR:
            put(floor, c, r, c, r, FLOOR_ROOM)

    # spawn points on tile corners (a 2x2 block of floor round each), mirrored
    return floor, walls, arena.mirrored_spawns(SPAWNS, COLS, ROWS, walls)


def build() -> dict[Path, bytes]:
    """Every file this script makes, by path from the project root."""
    floor, walls, spawns = layout()
    # no view_width / view_height: everyone in a room sees everyone
    properties = [arena.int_property("max_players", MAX_PLAYERS)]
    return {
        MAP_PATH: arena.map_json(floor, walls, spawns, properties, tileset_name="yard"),
        PREVIEW_PATH: arena.preview_png(floor, walls, spawns, scale=8),
    }


def main(argv: list[str]) -> int:
    return arena.write_or_check(build, "tools/make_yard.py", __doc__ or "", argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
