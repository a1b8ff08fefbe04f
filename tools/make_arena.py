#!/usr/bin/env python3
"""Make the default map: assets/maps/arena.tmj, its tileset image and a preview picture.

    python3 tools/make_arena.py            write the files into the project
    python3 tools/make_arena.py --check    exit 1 if the committed files differ from what it makes

The arena is 125 x 125 tiles of 32 units (4000 x 4000), mirrored left-right and top-bottom so
that no spawn is favoured: a border wall, four corner rooms with a doorway on each side, bars
and L-shaped cover in the lanes, and a plaza of pillars in the middle. Everything comes from
fixed numbers and one seeded Random, so the output is the same bytes on every run. Only the
standard library is used (the PNG files are written with zlib and struct).
"""

from __future__ import annotations

import argparse
import json
import random
import struct
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAP_PATH = Path("assets/maps/arena.tmj")
TILESET_PATH = Path("assets/tiles/tileset.png")
PREVIEW_PATH = Path("docs/maps-arena.png")

N = 125  # tiles a side; odd, so the middle column and row are tile 62
TILE = 32
SEED = 2024
VIEW = (1280, 720)  # world units a player sees
# players a room on this map holds (gameserver reads it unless --room-size is given): a match
# of 16 spreads over the four quadrants, about one player a screen's width apart
MAX_PLAYERS = 16

# gids: the tileset's tiles, in image order, counted from firstgid 1
FLOOR, FLOOR_ROOM, WALL, CRATE = 1, 2, 3, 4
TILE_COUNT = 4

Rgb = tuple[int, int, int]

# spawn points of the top-left quadrant, as tile corners (the other three are mirrors)
SPAWNS = [(14, 14), (24, 24), (4, 34), (34, 4), (50, 30)]


# --- the layout -----------------------------------------------------------------------------


def layout() -> tuple[list[list[int]], list[list[int]], list[tuple[int, int]]]:
    """The floor and wall layers (rows of gids) and the spawn points (world units)."""
    walls = [[0] * N for _ in range(N)]
    floor = [[FLOOR] * N for _ in range(N)]

    def put(grid: list[list[int]], c0: int, r0: int, c1: int, r1: int, gid: int) -> None:
        """Fill tiles c0..c1 x r0..r1 (inclusive) of the top-left quadrant and their mirrors."""
        for r in range(r0, r1 + 1):
            for c in range(c0, c1 + 1):
                for cc, rr in ((c, r), (N - 1 - c, r), (c, N - 1 - r), (N - 1 - c, N - 1 - r)):
                    grid[rr][cc] = gid

    def wall(c0: int, r0: int, c1: int, r1: int, gid: int = WALL) -> None:
        put(walls, c0, r0, c1, r1, gid)

    def clear(c0: int, r0: int, c1: int, r1: int) -> None:
        put(walls, c0, r0, c1, r1, 0)

    # the border
    wall(0, 0, 62, 0)
    wall(0, 0, 0, 62)
    # a corner room, 19 x 19 inside, with a 4-tile doorway in each side
    wall(9, 9, 29, 9)
    wall(9, 9, 9, 29)
    wall(9, 29, 29, 29)
    wall(29, 9, 29, 29)
    for c0, r0, c1, r1 in ((17, 9, 20, 9), (17, 29, 20, 29), (9, 17, 9, 20), (29, 17, 29, 20)):
        clear(c0, r0, c1, r1)
    put(floor, 10, 10, 28, 28, FLOOR_ROOM)
    wall(18, 18, 19, 19, CRATE)  # a pillar to circle round in the room
    # bars across the top and left lanes, open in the middle of the map's edges
    wall(38, 12, 54, 13)
    wall(12, 38, 13, 54)
    # a short wall sticking out of the border halfway along each side, with cover in front
    wall(61, 1, 63, 6)
    wall(1, 61, 6, 63)
    wall(58, 22, 66, 23)
    wall(22, 58, 23, 66)
    # L-shaped cover where the lanes meet
    wall(36, 36, 43, 37)
    wall(36, 36, 37, 43)
    # the plaza: pillars on a ring round the middle
    for c, r in ((47, 47), (55, 42), (42, 55), (61, 40), (40, 61)):
        wall(c, r, c + 1, r + 1, CRATE)
    put(floor, 50, 50, 62, 62, FLOOR_ROOM)
    # in the middle, four blocks round a crossroads
    wall(55, 55, 58, 58)
    # short walls between the rooms and the middle, to break the long diagonal sight lines
    wall(44, 27, 49, 28)
    wall(27, 44, 28, 49)
    # crates scattered in the open, each kept 4 tiles from every other wall so lanes stay wide
    rng = random.Random(SEED)
    placed = 0
    for _ in range(400):
        if placed == 7:
            break
        c, r = rng.randrange(3, 58), rng.randrange(3, 58)
        near_spawn = any(abs(c - sc) < 6 and abs(r - sr) < 6 for sc, sr in SPAWNS)
        if not near_spawn and all(
            walls[rr][cc] == 0 for rr in range(r - 4, r + 6) for cc in range(c - 4, c + 6)
        ):
            wall(c, r, c + 1, r + 1, CRATE)
            placed += 1
    # floor variation outside the rooms: a few worn tiles
    for _ in range(260):
        c, r = rng.randrange(1, 62), rng.randrange(1, 62)
        if floor[r][c] == FLOOR:
            put(floor, c, r, c, r, FLOOR_ROOM)

    # spawn points on tile corners (a 2x2 block of floor round each), five a quadrant, mirrored
    return floor, walls, mirrored_spawns(SPAWNS, N, N, walls)


def mirrored_spawns(
    corners: list[tuple[int, int]], cols: int, rows: int, walls: list[list[int]]
) -> list[tuple[int, int]]:
    """The spawn points (world units) of tile corners in the top-left quadrant and their mirrors
    left-right and top-bottom; each must have floor on its four tiles."""
    spawns: list[tuple[int, int]] = []
    for c, r in corners:
        for cc, rr in ((c, r), (cols - c, r), (c, rows - r), (cols - c, rows - r)):
            spawns.append((cc * TILE, rr * TILE))
    for x, y in spawns:
        c, r = x // TILE, y // TILE
        if any(walls[rr][cc] for rr in (r - 1, r) for cc in (c - 1, c)):
            raise AssertionError(f"spawn ({x}, {y}) is in a wall")
    return spawns


# --- the Tiled document ---------------------------------------------------------------------


def int_property(name: str, value: int) -> dict[str, object]:
    return {"name": name, "type": "int", "value": value}


def map_json(
    floor: list[list[int]],
    walls: list[list[int]],
    spawns: list[tuple[int, int]],
    properties: list[dict[str, object]],
    tileset_name: str = "arena",
) -> bytes:
    """The Tiled map (orthogonal, fixed size) with layers floor, walls and spawns, embedding the
    shared tileset; `properties` are the map's custom properties, kept in name order as Tiled
    writes them."""
    cols, rows = len(walls[0]), len(walls)

    def tile_layer(layer_id: int, name: str, placeholder: str) -> dict[str, object]:
        return {
            "data": placeholder,
            "height": rows,
            "id": layer_id,
            "name": name,
            "opacity": 1,
            "type": "tilelayer",
            "visible": True,
            "width": cols,
            "x": 0,
            "y": 0,
        }

    objects = [
        {
            "height": 0,
            "id": i + 1,
            "name": "",
            "point": True,
            "rotation": 0,
            "type": "spawn",
            "visible": True,
            "width": 0,
            "x": x,
            "y": y,
        }
        for i, (x, y) in enumerate(spawns)
    ]
    doc = {
        "compressionlevel": -1,
        "height": rows,
        "infinite": False,
        "layers": [
            tile_layer(1, "floor", "@floor@"),
            tile_layer(2, "walls", "@walls@"),
            {
                "draworder": "topdown",
                "id": 3,
                "name": "spawns",
                "objects": objects,
                "opacity": 1,
                "type": "objectgroup",
                "visible": True,
                "x": 0,
                "y": 0,
            },
        ],
        "nextlayerid": 4,
        "nextobjectid": len(objects) + 1,
        "orientation": "orthogonal",
        "properties": sorted(properties, key=lambda prop: str(prop["name"])),
        "renderorder": "right-down",
        "tiledversion": "1.10.2",
        "tileheight": TILE,
        "tilesets": [
            {
                "columns": TILE_COUNT,
                "firstgid": 1,
                "image": "../tiles/tileset.png",
                "imageheight": TILE,
                "imagewidth": TILE * TILE_COUNT,
                "margin": 0,
                "name": tileset_name,
                "spacing": 0,
                "tilecount": TILE_COUNT,
                "tileheight": TILE,
                "tilewidth": TILE,
            }
        ],
        "tilewidth": TILE,
        "type": "map",
        "version": "1.10",
        "width": cols,
    }
    text = json.dumps(doc, indent=1, sort_keys=True)
    # one map row a line, as Tiled writes them, rather than one number a line
    for name, grid in (("floor", floor), ("walls", walls)):
        rows = ",\n  ".join(", ".join(str(gid) for gid in row) for row in grid)
        text = text.replace(f'"@{name}@"', f"[{rows}]")
    return (text + "\n").encode()


# --- pictures -------------------------------------------------------------------------------


def png(width: int, height: int, pixels: list[list[Rgb]]) -> bytes:
    """An 8-bit RGB PNG, every row unfiltered."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\0" + bytes(v for px in row for v in px) for row in pixels)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def _shade(rgb: Rgb, d: int) -> Rgb:
    r, g, b = rgb
    return (max(0, min(255, r + d)), max(0, min(255, g + d)), max(0, min(255, b + d)))


def tile_pixels(gid: int, rng: random.Random) -> list[list[Rgb]]:
    """One 32 x 32 tile of the tileset."""
    base = {FLOOR: (44, 50, 62), FLOOR_ROOM: (54, 60, 74), WALL: (118, 126, 140), CRATE: (150, 106, 60)}[gid]
    px = [[_shade(base, rng.randint(-3, 3)) for _ in range(TILE)] for _ in range(TILE)]
    last = TILE - 1
    for i in range(TILE):
        for j in range(TILE):
            if gid in (FLOOR, FLOOR_ROOM):
                if i == 0 or j == 0:  # a faint grid line on the top and left of each tile
                    px[i][j] = _shade(px[i][j], 8)
            elif gid == WALL:
                if i < 3 or j < 3:
                    px[i][j] = _shade(px[i][j], 36)  # lit from the top left
                elif i > last - 3 or j > last - 3:
                    px[i][j] = _shade(px[i][j], -44)
                elif (
                    i in (11, 21) or (j == 16 and i < 11) or (j == 8 and 11 < i < 21) or (j == 24 and i > 21)
                ):
                    px[i][j] = _shade(px[i][j], -20)  # mortar lines of a few bricks
            else:  # a crate: a dark frame with a cross brace
                edge = i < 3 or j < 3 or i > last - 3 or j > last - 3
                brace = abs(i - j) <= 1 or abs(i + j - last) <= 1
                if edge:
                    px[i][j] = _shade(px[i][j], -50)
                elif brace:
                    px[i][j] = _shade(px[i][j], -28)
    return px


def tileset_png() -> bytes:
    rng = random.Random(SEED)
    tiles = [tile_pixels(gid, rng) for gid in range(1, TILE_COUNT + 1)]
    rows = [[px for tile in tiles for px in tile[i]] for i in range(TILE)]
    return png(TILE * TILE_COUNT, TILE, rows)


def preview_png(
    floor: list[list[int]], walls: list[list[int]], spawns: list[tuple[int, int]], scale: int = 4
) -> bytes:
    """The whole map at `scale` pixels a tile: floor, walls and crates, spawn points in red."""
    colour = {FLOOR: (44, 50, 62), FLOOR_ROOM: (58, 64, 80), WALL: (150, 158, 172), CRATE: (176, 124, 70)}
    width, height = len(walls[0]) * scale, len(walls) * scale
    px = [
        [colour[walls[r // scale][c // scale] or floor[r // scale][c // scale]] for c in range(width)]
        for r in range(height)
    ]
    for x, y in spawns:
        cx, cy = x * scale // TILE, y * scale // TILE
        for r in range(cy - 3, cy + 3):
            for c in range(cx - 3, cx + 3):
                px[r][c] = (230, 60, 60)
    return png(width, height, px)


def build() -> dict[Path, bytes]:
    """Every file this script makes, by path from the project root."""
    floor, walls, spawns = layout()
    return {
        MAP_PATH: map_json(
            floor,
            walls,
            spawns,
            [
                int_property("max_players", MAX_PLAYERS),
                int_property("view_height", VIEW[1]),
                int_property("view_width", VIEW[0]),
            ],
        ),
        TILESET_PATH: tileset_png(),
        PREVIEW_PATH: preview_png(floor, walls, spawns),
    }


def main(argv: list[str]) -> int:
    return write_or_check(build, "tools/make_arena.py", __doc__ or "", argv)


def write_or_check(build: Callable[[], dict[Path, bytes]], script: str, doc: str, argv: list[str]) -> int:
    """A map tool's command line: write the files `build()` makes, or with --check say which
    differ from those on disk (exit 1)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the files on disk instead")
    parser.add_argument("--root", type=Path, default=ROOT, help="the project directory")
    args = parser.parse_args(argv)
    stale = []
    for rel, data in build().items():
        path = args.root / rel
        if args.check:
            if not path.is_file() or path.read_bytes() != data:
                stale.append(str(rel))
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        print(f"wrote {rel} ({len(data)} bytes)")
    if stale:
        print(f"out of date: {', '.join(stale)} (run python3 {script})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
