"""Maps: the shipped arena and yard, the Tiled features the loader reads, and clear errors for bad files."""

from __future__ import annotations

import base64
import copy
import gzip
import importlib.util
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import zlib
from collections import deque
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gameserver.maps import GameMap, MapError, find_map, load_map, parse_map
from gameserver.world import QUANTA, Rules

ROOT = Path(__file__).resolve().parent.parent
MAPS_DIR = ROOT / "assets" / "maps"
ARENA = MAPS_DIR / "arena.tmj"
YARD = MAPS_DIR / "yard.tmj"

# a small valid map: 6 x 5 tiles of 32, a border and a 2-tile block, two spawns
ROWS = [
    "######",
    "#....#",
    "#.##.#",
    "#....#",
    "######",
]
GIDS = [3 if ch == "#" else 0 for row in ROWS for ch in row]


def small_doc() -> dict[str, Any]:
    return {
        "compressionlevel": -1,
        "height": 5,
        "width": 6,
        "infinite": False,
        "orientation": "orthogonal",
        "renderorder": "right-down",
        "tiledversion": "1.10.2",
        "version": "1.10",
        "type": "map",
        "tilewidth": 32,
        "tileheight": 32,
        "nextlayerid": 3,
        "nextobjectid": 3,
        "layers": [
            {"data": list(GIDS), "height": 5, "width": 6, "id": 1, "name": "walls", "opacity": 1,
             "type": "tilelayer", "visible": True, "x": 0, "y": 0},
            {"draworder": "topdown", "id": 2, "name": "spawns", "opacity": 1, "type": "objectgroup",
             "visible": True, "x": 0, "y": 0, "objects": [
                 {"id": 1, "name": "", "point": True, "rotation": 0, "type": "", "visible": True,
                  "width": 0, "height": 0, "x": 48, "y": 48},
                 {"id": 2, "name": "east", "rotation": 0, "type": "", "visible": True,
                  "width": 32, "height": 32, "x": 128, "y": 80},
             ]},
        ],
        "properties": [
            {"name": "view_width", "type": "int", "value": 640},
            {"name": "view_height", "type": "float", "value": 360.5},
            {"name": "title", "type": "string", "value": "small"},
        ],
        "tilesets": [],
    }  # fmt: skip


def write(tmp_path: Path, doc: object, name: str = "small.tmj") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def layer(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(entry for entry in doc["layers"] if entry["name"] == name)


# --- the shipped maps -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def arena() -> GameMap:
    return load_map(ARENA)


@pytest.fixture(scope="module")
def yard() -> GameMap:
    return load_map(YARD)


@pytest.fixture(scope="module", params=["arena", "yard"])
def shipped(request: pytest.FixtureRequest) -> GameMap:
    return load_map(find_map(request.param, MAPS_DIR))


def test_the_arena_loads_with_its_size_spawns_and_view(arena: GameMap) -> None:
    assert arena.name == "arena"
    assert (arena.width, arena.height) == (4000.0, 4000.0)
    assert (arena.walls.cols, arena.walls.rows, arena.tile_size) == (125, 125, 32)
    assert (arena.view_width, arena.view_height) == (1280.0, 720.0)
    assert arena.properties == {"view_width": 1280, "view_height": 720, "max_players": 16}
    assert len(arena.spawns) >= 16
    assert len(set(arena.spawns)) == len(arena.spawns)
    radius = Rules().player_radius
    for x, y in arena.spawns:
        assert x * QUANTA == int(x * QUANTA) and y * QUANTA == int(y * QUANTA)
        assert arena.is_free(x, y, radius)


def test_the_yard_is_one_screen_for_eight_where_everyone_sees_everyone(yard: GameMap) -> None:
    assert yard.name == "yard"
    assert (yard.width, yard.height) == (1280.0, 800.0)
    assert (yard.walls.cols, yard.walls.rows, yard.tile_size) == (40, 25, 32)
    # no view: a room's players are all sent to each other at once, wherever they spawn
    assert (yard.view_width, yard.view_height) == (0.0, 0.0)
    assert yard.properties == {"max_players": 8}
    assert len(set(yard.spawns)) == len(yard.spawns) >= 8
    radius = Rules().player_radius
    for x, y in yard.spawns:
        assert yard.is_free(x, y, radius)
    # spread round the map: no two spawns closer than 6 tiles
    for i, (x, y) in enumerate(yard.spawns):
        others = yard.spawns[:i] + yard.spawns[i + 1 :]
        assert min(math.dist((x, y), other) for other in others) >= 6 * yard.tile_size


def test_a_shipped_map_is_walled_in_has_walls_inside_and_is_mirrored(shipped: GameMap) -> None:
    walls = shipped.walls
    cols, rows = walls.cols, walls.rows
    for c in range(cols):
        assert walls.is_solid(c, 0) and walls.is_solid(c, rows - 1)
    for r in range(rows):
        assert walls.is_solid(0, r) and walls.is_solid(cols - 1, r)
    inside = sum(walls.is_solid(c, r) for r in range(1, rows - 1) for c in range(1, cols - 1))
    assert 0.04 < inside / ((cols - 2) * (rows - 2)) < 0.3
    # mirrored both ways, so that no spawn is favoured
    tiles = [(c, r) for r in range(rows) for c in range(cols)]
    assert all(walls.is_solid(c, r) == walls.is_solid(cols - 1 - c, r) for c, r in tiles)
    assert all(walls.is_solid(c, r) == walls.is_solid(c, rows - 1 - r) for c, r in tiles)
    assert sorted(shipped.spawns) == sorted((shipped.width - x, y) for x, y in shipped.spawns)
    assert sorted(shipped.spawns) == sorted((x, shipped.height - y) for x, y in shipped.spawns)


def test_every_spawn_can_reach_every_other(shipped: GameMap) -> None:
    # A player (radius 16 = half a tile) centred on a tile corner is clear when the four tiles
    # round it are floor, and can move to the next corner when the six tiles round both are.
    walls = shipped.walls
    t = walls.tile
    assert Rules().player_radius * 2 == t

    def clear(c: int, r: int) -> bool:
        return not any(walls.is_solid(cc, rr) for cc in (c - 1, c) for rr in (r - 1, r))

    start = (int(shipped.spawns[0][0]) // t, int(shipped.spawns[0][1]) // t)
    seen = {start}
    queue = deque([start])
    while queue:
        c, r = queue.popleft()
        for nc, nr in ((c + 1, r), (c - 1, r), (c, r + 1), (c, r - 1)):
            if (nc, nr) not in seen and clear(nc, nr):
                seen.add((nc, nr))
                queue.append((nc, nr))
    for x, y in shipped.spawns:
        assert x % t == 0 and y % t == 0
        assert (int(x) // t, int(y) // t) in seen


def _tool_module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("tool", "paths"),
    [
        ("make_arena", {"assets/maps/arena.tmj", "assets/tiles/tileset.png", "docs/maps-arena.png"}),
        ("make_yard", {"assets/maps/yard.tmj", "docs/maps-yard.png"}),
    ],
)
def test_the_shipped_files_are_what_the_generator_makes(tool: str, paths: set[str]) -> None:
    made = _tool_module(tool).build()
    assert set(made) == {Path(p) for p in paths}
    for rel, data in made.items():
        assert (ROOT / rel).read_bytes() == data, f"{rel} is stale: run python3 tools/{tool}.py"


@pytest.mark.parametrize("tool", ["make_arena", "make_yard"])
def test_the_generators_check_mode_passes_on_the_shipped_files(tool: str) -> None:
    r = subprocess.run(
        [sys.executable, str(ROOT / "tools" / f"{tool}.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.parametrize("path", [ARENA, YARD], ids=["arena", "yard"])
def test_a_shipped_map_is_a_tiled_map_whose_tileset_matches_its_image(path: Path) -> None:
    doc = json.loads(path.read_text())
    for key in ("version", "tiledversion", "nextlayerid", "nextobjectid", "compressionlevel"):
        assert key in doc
    assert (doc["type"], doc["orientation"], doc["renderorder"]) == ("map", "orthogonal", "right-down")
    assert [entry["id"] for entry in doc["layers"]] == list(range(1, doc["nextlayerid"]))
    (tileset,) = doc["tilesets"]
    assert tileset["firstgid"] == 1
    image = (path.parent / tileset["image"]).resolve()
    assert image == ROOT / "assets" / "tiles" / "tileset.png"
    assert _png_size(image) == (tileset["imagewidth"], tileset["imageheight"])
    assert tileset["imagewidth"] == tileset["columns"] * tileset["tilewidth"]
    assert tileset["tilecount"] == tileset["columns"] * (tileset["imageheight"] // tileset["tileheight"])
    assert (tileset["tilewidth"], tileset["tileheight"]) == (doc["tilewidth"], doc["tileheight"])
    for entry in doc["layers"]:
        if entry["type"] == "tilelayer":
            assert len(entry["data"]) == doc["width"] * doc["height"]
            assert max(entry["data"]) <= tileset["firstgid"] + tileset["tilecount"] - 1
        else:
            ids = [obj["id"] for obj in entry["objects"]]
            assert max(ids) < doc["nextobjectid"] and len(set(ids)) == len(ids)


@pytest.mark.skipif(shutil.which("tiled") is None, reason="Tiled is not installed")
def test_tiled_opens_the_arena_and_its_own_export_loads_the_same(tmp_path: Path, arena: GameMap) -> None:
    out = tmp_path / "exported.tmj"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(tmp_path)}
    subprocess.run(
        ["tiled", "--export-map", "json", str(ARENA), str(out)],
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    exported = load_map(out)
    assert (exported.walls, exported.spawns) == (arena.walls, arena.spawns)
    assert exported.properties == arena.properties


# --- what the loader reads ------------------------------------------------------------------


def test_a_small_map_loads(tmp_path: Path) -> None:
    m = load_map(write(tmp_path, small_doc()))
    assert m.name == "small"
    assert (m.width, m.height, m.tile_size) == (192.0, 160.0, 32)
    assert m.walls.solid == bytes(1 if gid else 0 for gid in GIDS)
    # a point, and the centre of a rectangle
    assert m.spawns == ((48.0, 48.0), (144.0, 96.0))
    assert (m.view_width, m.view_height) == (640.0, 360.5)
    assert m.properties["title"] == "small"
    assert m.move(48.0, 48.0, -10.0, 0.0, 16.0) == (48.0, 48.0)  # against the border


@pytest.mark.parametrize("compression", ["", "zlib", "gzip"])
def test_base64_tile_data_reads_like_csv(tmp_path: Path, compression: str) -> None:
    doc = small_doc()
    walls = layer(doc, "walls")
    packed = struct.pack(f"<{len(GIDS)}I", *GIDS)
    packed = {"": lambda b: b, "zlib": zlib.compress, "gzip": gzip.compress}[compression](packed)
    walls.update(data=base64.b64encode(packed).decode(), encoding="base64", compression=compression)
    assert load_map(write(tmp_path, doc)).walls == load_map(write(tmp_path, small_doc(), "csv.tmj")).walls


def test_flipped_tiles_are_walls_and_hidden_layers_still_count(tmp_path: Path) -> None:
    doc = small_doc()
    walls = layer(doc, "walls")
    walls["visible"] = False
    walls["data"] = [gid | 0x80000000 if gid else 0 for gid in GIDS]
    assert load_map(write(tmp_path, doc)).walls.solid == bytes(1 if gid else 0 for gid in GIDS)


def test_spawn_shapes_and_group_offsets(tmp_path: Path) -> None:
    doc = small_doc()
    spawns = layer(doc, "spawns")
    doc["layers"].remove(spawns)
    spawns["offsetx"] = 8
    spawns["objects"] = [
        {"id": 1, "x": 40, "y": 44, "width": 0, "height": 0},  # no size: a point
        {"id": 2, "x": 120, "y": 100, "width": 32, "height": 16, "ellipse": True},
        # rotated 90 degrees clockwise about its top-left corner: the centre is left of and below it
        {"id": 3, "x": 56, "y": 76, "width": 64, "height": 32, "rotation": 90},
    ]
    doc["layers"].append({"type": "group", "name": "objects", "offsety": 4, "layers": [spawns]})
    assert load_map(write(tmp_path, doc)).spawns == ((48.0, 48.0), (144.0, 112.0), (48.0, 112.0))


def test_view_size_is_optional(tmp_path: Path) -> None:
    doc = small_doc()
    del doc["properties"]
    m = load_map(write(tmp_path, doc))
    assert (m.view_width, m.view_height) == (0.0, 0.0) and m.properties == {}


def test_spawns_must_fit_the_clearance(tmp_path: Path) -> None:
    path = write(tmp_path, small_doc())
    assert load_map(path, clearance=16.0)
    with pytest.raises(MapError, match=r"spawn object 1 at \(48, 48\) is inside a wall.*radius 17"):
        load_map(path, clearance=17.0)


def test_find_map(tmp_path: Path) -> None:
    assert find_map("arena", MAPS_DIR) == ARENA
    assert find_map("elsewhere/mine.tmj", MAPS_DIR) == Path("elsewhere/mine.tmj")
    assert find_map("mine.tmj", MAPS_DIR) == Path("mine.tmj")
    with pytest.raises(MapError, match=r"nowhere.tmj: no map named 'nowhere' in .*the maps there: arena"):
        find_map("nowhere", MAPS_DIR)
    with pytest.raises(MapError, match="there are no maps there"):
        find_map("arena", tmp_path)


# --- broken maps ----------------------------------------------------------------------------


def _mutate(change: Any) -> dict[str, Any]:
    doc = small_doc()
    change(doc)
    return doc


BROKEN: dict[str, tuple[Any, str]] = {
    "no walls layer": (
        lambda d: d["layers"].remove(layer(d, "walls")),
        "needs a tile layer named 'walls'; its layers are: 'spawns'",
    ),
    "walls is an object layer": (
        lambda d: layer(d, "walls").update(type="objectgroup"),
        "layer 'walls' has type 'objectgroup'; it must be a tile layer",
    ),
    "two walls layers": (
        lambda d: d["layers"].append(copy.deepcopy(layer(d, "walls"))),
        "has 2 layers named 'walls'; there must be one",
    ),
    "no spawns layer": (
        lambda d: d["layers"].remove(layer(d, "spawns")),
        "needs an object layer named 'spawns'",
    ),
    "no spawn points": (
        lambda d: layer(d, "spawns").update(objects=[]),
        "layer 'spawns' has no objects; a map needs at least one spawn point",
    ),
    "spawn in a wall": (
        lambda d: layer(d, "spawns")["objects"][0].update(x=80, y=80),
        r"spawn object 1 at \(80, 80\) is inside a wall",
    ),
    "spawn outside": (
        lambda d: layer(d, "spawns")["objects"][1].update(x=500),
        r"spawn object 2 \('east'\) at \(516, 96\) is outside the map \(192x160\)",
    ),
    "polygon spawn": (
        lambda d: layer(d, "spawns")["objects"][0].update(polygon=[{"x": 0, "y": 0}]),
        "spawn object 1 is a polygon object; spawns are points, rectangles or ellipses",
    ),
    "spawn without x": (
        lambda d: layer(d, "spawns")["objects"][0].pop("x"),
        "spawn object 1 has no 'x'",
    ),
    "non-square tiles": (
        lambda d: d.update(tileheight=16),
        r"has 32x16 tiles; tiles must be square \(tilewidth == tileheight\)",
    ),
    "short data": (
        lambda d: layer(d, "walls")["data"].pop(),
        "layer 'walls' has 29 tiles in 'data'; a 6x5 layer needs 30",
    ),
    "layer size": (
        lambda d: layer(d, "walls").update(width=5),
        "layer 'walls' is 5x5 tiles but the map is 6x5",
    ),
    "bad tile id": (
        lambda d: layer(d, "walls")["data"].__setitem__(3, "x"),
        "layer 'walls' has a bad tile id at index 3 of 'data': 'x'",
    ),
    "infinite": (lambda d: d.update(infinite=True), "is an infinite map"),
    "isometric": (lambda d: d.update(orientation="isometric"), "is isometric; only orthogonal maps"),
    "a tileset": (lambda d: d.update(type="tileset"), "is not a Tiled map: its type is 'tileset'"),
    "no width": (lambda d: d.pop("width"), "the map has no 'width'"),
    "float width": (lambda d: d.update(width=6.5), "the map has 'width' = 6.5, which is not a number"),
    "zero height": (lambda d: d.update(height=0), "the map has 'height' = 0; it must be at least 1"),
    "layers not a list": (lambda d: d.update(layers={}), "the map has 'layers' = {}, which is not a list"),
    "walls offset": (
        lambda d: layer(d, "walls").update(offsetx=3),
        r"layer 'walls' is offset by \(3, 0\); walls must sit on the grid",
    ),
    "unknown encoding": (
        lambda d: layer(d, "walls").update(encoding="xml"),
        "layer 'walls' has encoding 'xml'; the server reads csv and base64",
    ),
    "zstd": (
        lambda d: layer(d, "walls").update(encoding="base64", compression="zstd", data="AAAA"),
        "layer 'walls' has compression 'zstd'; the server reads none, zlib and gzip",
    ),
    "bad base64": (
        lambda d: layer(d, "walls").update(encoding="base64", data="!!"),
        "layer 'walls' has 'data' that is not valid base64",
    ),
    "bad zlib": (
        lambda d: layer(d, "walls").update(encoding="base64", compression="zlib", data="AAAA"),
        "layer 'walls' has 'data' that is not valid zlib data",
    ),
    "chunks": (
        lambda d: layer(d, "walls").update(chunks=[]),
        "layer 'walls' is stored in chunks",
    ),
    "negative view": (
        lambda d: d["properties"][0].update(value=-1),
        "property 'view_width' must be a number of world units >= 0, got -1",
    ),
    "text view": (
        lambda d: d["properties"][1].update(value="wide"),
        "property 'view_height' must be a number of world units >= 0, got 'wide'",
    ),
    "bad property": (
        lambda d: d["properties"].append({"value": 1}),
        "custom property 3 of the map needs a 'name' and a 'value'",
    ),
}


@pytest.mark.parametrize("case", BROKEN)
def test_a_broken_map_names_the_file_and_the_problem(tmp_path: Path, case: str) -> None:
    change, message = BROKEN[case]
    path = write(tmp_path, _mutate(change))
    with pytest.raises(MapError, match=message) as info:
        load_map(path)
    assert str(info.value).startswith(f"{path}: ")
    assert info.value.source == str(path)


def test_bad_json_gives_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.tmj"
    path.write_text('{\n  "width": 6,\n  "height" 5\n}\n')
    with pytest.raises(
        MapError, match=r"bad.tmj: is not valid JSON: Expecting ':' delimiter at line 3, column 12"
    ):
        load_map(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        (b"[1, 2]", "is not a Tiled map: the JSON is a list, not an object"),
        (b"\xff\xfe{}", "is not UTF-8 text"),
        (b"", "is not valid JSON: Expecting value at line 1, column 1"),
    ],
)
def test_unreadable_files(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "gone.tmj"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(MapError, match=message) as info:
        load_map(path)
    assert str(info.value).startswith(f"{path}: ")


def test_a_directory_is_not_a_map(tmp_path: Path) -> None:
    with pytest.raises(MapError, match="is a directory"):
        load_map(tmp_path)


def test_parse_map_names_the_source() -> None:
    with pytest.raises(MapError, match="^inline: is not a Tiled map"):
        parse_map([], "x", source="inline")
    assert parse_map(small_doc(), "small").spawns[0] == (48.0, 48.0)


_scalars = st.none() | st.booleans() | st.integers(-5, 300) | st.floats(allow_nan=False) | st.text(max_size=5)
# Two levels of nesting, spelled out: st.recursive with so few leaves trips a hypothesis check.
_shallow = (
    _scalars | st.lists(_scalars, max_size=3) | st.dictionaries(st.text(max_size=5), _scalars, max_size=3)
)
json_values = (
    _shallow | st.lists(_shallow, max_size=3) | st.dictionaries(st.text(max_size=5), _shallow, max_size=3)
)


def _paths(value: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Every place in a JSON document (dict keys and list indices), as paths from the root."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list) and len(value) < 10:  # not every tile id
        for i, item in enumerate(value):
            found += _paths(item, (*prefix, i))
    return found


SMALL_PATHS = [p for p in _paths(small_doc()) if p]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(SMALL_PATHS), st.booleans(), json_values), max_size=3))
@example([(("layers", 1, "objects", 1, "x"), False, 2.247116418577895e307)])  # overflowed the snap
def test_any_damage_to_a_map_gives_a_map_or_a_map_error(edits: list[tuple[Any, bool, object]]) -> None:
    doc: Any = small_doc()
    for path, delete, value in edits:
        parent = doc
        try:
            for step in path[:-1]:
                parent = parent[step]
            if delete:
                del parent[path[-1]]
            else:
                parent[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit changed the shape; skip this one
    try:
        parse_map(doc, "fuzzed")
    except MapError as e:
        assert str(e).startswith("fuzzed: ")
