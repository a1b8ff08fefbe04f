"""Maps: Tiled JSON files (.tmj) read into walls, spawn points and the map's settings.

What the server reads (docs/maps.md is the reference):
- An orthogonal, finite map of square tiles. One Tiled pixel is one world unit, so the map is
  width * tilewidth by height * tileheight units.
- A tile layer named "walls": every non-empty tile is solid. Other tile layers are decoration,
  for clients only.
- An object layer named "spawns": points, or rectangles and ellipses (their centres), where
  players appear.
- Map custom properties `view_width` and `view_height`, in world units: how much of the map a
  player sees (absent or 0: all of it). Every custom property is kept in GameMap.properties.

Invariants of a GameMap:
- There is at least one spawn; each is on the 1/QUANTA position grid, and a player of the
  clearance radius standing there overlaps no wall and stays inside the map.
- Anything wrong with a file raises MapError, whose message names the file and the problem;
  never a KeyError, TypeError or json error.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import math
import struct
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attr

from gameserver.collision import WallGrid, move_with_walls, overlaps_wall
from gameserver.grid import snap

MAP_SUFFIX = ".tmj"
WALLS_LAYER = "walls"
SPAWNS_LAYER = "spawns"
DEFAULT_CLEARANCE = 16.0  # Rules.player_radius
_GID_MASK = 0x0FFFFFFF  # the top four bits of a tile id are flip and rotation flags


class MapError(Exception):
    """A map file is missing or is not a map the server can play."""

    def __init__(self, source: str | Path, problem: str) -> None:
        super().__init__(f"{source}: {problem}")
        self.source = str(source)
        self.problem = problem


class _Invalid(Exception):
    """A problem found while reading a document; load_map adds the file's name."""


@attr.s(auto_attribs=True, frozen=True, slots=True)
class GameMap:
    name: str
    walls: WallGrid
    spawns: tuple[tuple[float, float], ...]
    view_width: float = 0.0  # world units; 0 = the whole map
    view_height: float = 0.0
    properties: Mapping[str, Any] = attr.ib(factory=dict, eq=False, repr=False)

    @property
    def width(self) -> float:
        """In world units."""
        return float(self.walls.width)

    @property
    def height(self) -> float:
        return float(self.walls.height)

    @property
    def tile_size(self) -> int:
        return self.walls.tile

    def is_free(self, x: float, y: float, radius: float) -> bool:
        return not overlaps_wall(self.walls, x, y, radius)

    def move(self, x: float, y: float, dx: float, dy: float, radius: float) -> tuple[float, float]:
        """gameserver.collision.move_with_walls against this map's walls."""
        return move_with_walls(self.walls, x, y, dx, dy, radius)


def find_map(name: str, maps_dir: Path) -> Path:
    """The file that `--map NAME` means: maps_dir/NAME.tmj, or NAME itself when it is a path."""
    if "/" in name or "\\" in name or name.endswith((MAP_SUFFIX, ".json")):
        return Path(name)
    path = maps_dir / f"{name}{MAP_SUFFIX}"
    if not path.is_file():
        known = sorted(p.stem for p in maps_dir.glob(f"*{MAP_SUFFIX}")) if maps_dir.is_dir() else []
        there = f"the maps there: {', '.join(known)}" if known else "there are no maps there"
        raise MapError(path, f"no map named {name!r} in {maps_dir} ({there})")
    return path


def load_map(path: str | Path, *, clearance: float = DEFAULT_CLEARANCE) -> GameMap:
    """Read and check a Tiled JSON map. `clearance` is the player radius spawns must fit."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise MapError(path, "no such file") from None
    except IsADirectoryError:
        raise MapError(path, "is a directory, not a map file") from None
    except OSError as e:
        raise MapError(path, f"cannot be read: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise MapError(path, f"is not UTF-8 text (byte {e.start})") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise MapError(path, f"is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}") from None
    except RecursionError:
        raise MapError(path, "is not valid JSON: nested too deeply") from None
    return parse_map(doc, path.stem, source=str(path), clearance=clearance)


def parse_map(
    doc: object, name: str, *, source: str | None = None, clearance: float = DEFAULT_CLEARANCE
) -> GameMap:
    """A GameMap from a decoded Tiled JSON document; errors name `source` (default: `name`)."""
    try:
        return _parse(doc, name, clearance)
    except _Invalid as e:
        raise MapError(source if source is not None else name, str(e)) from None


# --- reading the document -------------------------------------------------------------------


def _parse(doc: object, name: str, clearance: float) -> GameMap:
    if not isinstance(doc, dict):
        raise _Invalid(f"is not a Tiled map: the JSON is {_kind(doc)}, not an object")
    if doc.get("type", "map") != "map":
        raise _Invalid(f"is not a Tiled map: its type is {doc.get('type')!r} (a tileset?)")
    orientation = _get(doc, "orientation", str, "the map")
    if orientation != "orthogonal":
        raise _Invalid(f"is {orientation}; only orthogonal maps are supported")
    if _opt(doc, "infinite", bool, "the map", False):
        raise _Invalid("is an infinite map; save it with 'Infinite' unchecked (Map > Map Properties)")
    cols = _positive_int(doc, "width", "the map")
    rows = _positive_int(doc, "height", "the map")
    tile_w = _positive_int(doc, "tilewidth", "the map")
    tile_h = _positive_int(doc, "tileheight", "the map")
    if tile_w != tile_h:
        raise _Invalid(f"has {tile_w}x{tile_h} tiles; tiles must be square (tilewidth == tileheight)")
    layers = list(_layers(_get(doc, "layers", list, "the map"), "the map", 0.0, 0.0))
    walls_layer, wx, wy = _one_layer(layers, WALLS_LAYER, "tilelayer", "a tile layer")
    if wx or wy:
        raise _Invalid(f"layer {WALLS_LAYER!r} is offset by ({wx:g}, {wy:g}); walls must sit on the grid")
    walls = WallGrid(cols=cols, rows=rows, tile=tile_w, solid=_solid_tiles(walls_layer, cols, rows))
    spawns_layer, sx, sy = _one_layer(layers, SPAWNS_LAYER, "objectgroup", "an object layer")
    spawns = tuple(_spawns(spawns_layer, sx, sy, walls, clearance))
    properties = _properties(doc)
    return GameMap(
        name=name,
        walls=walls,
        spawns=spawns,
        view_width=_view(properties, "view_width"),
        view_height=_view(properties, "view_height"),
        properties=properties,
    )


def _layers(
    layers: list[Any], where: str, dx: float, dy: float
) -> Iterator[tuple[dict[str, Any], float, float]]:
    """Every layer, group layers opened, with its total offset."""
    for index, layer in enumerate(layers):
        if not isinstance(layer, dict):
            raise _Invalid(f"layer {index} of {where} is {_kind(layer)}, not an object")
        name = _get(layer, "name", str, f"layer {index} of {where}")
        ox = dx + _opt_number(layer, "offsetx", f"layer {name!r}", 0.0)
        oy = dy + _opt_number(layer, "offsety", f"layer {name!r}", 0.0)
        if layer.get("type") == "group":
            yield from _layers(_get(layer, "layers", list, f"group {name!r}"), f"group {name!r}", ox, oy)
        else:
            yield layer, ox, oy


def _one_layer(
    layers: list[tuple[dict[str, Any], float, float]], name: str, kind: str, described: str
) -> tuple[dict[str, Any], float, float]:
    found = [entry for entry in layers if entry[0]["name"] == name]
    if not found:
        names = ", ".join(repr(layer["name"]) for layer, _, _ in layers) or "none"
        raise _Invalid(f"needs {described} named {name!r}; its layers are: {names}")
    if len(found) > 1:
        raise _Invalid(f"has {len(found)} layers named {name!r}; there must be one")
    layer = found[0][0]
    if layer.get("type") != kind:
        raise _Invalid(f"layer {name!r} has type {layer.get('type')!r}; it must be {described}")
    return found[0]


def _solid_tiles(layer: dict[str, Any], cols: int, rows: int) -> bytes:
    where = f"layer {WALLS_LAYER!r}"
    if "chunks" in layer:
        raise _Invalid(f"{where} is stored in chunks (an infinite map); the map must be finite")
    width = _positive_int(layer, "width", where)
    height = _positive_int(layer, "height", where)
    if (width, height) != (cols, rows):
        raise _Invalid(f"{where} is {width}x{height} tiles but the map is {cols}x{rows}")
    gids = _tile_ids(layer, where)
    if len(gids) != cols * rows:
        raise _Invalid(f"{where} has {len(gids)} tiles in 'data'; a {cols}x{rows} layer needs {cols * rows}")
    return bytes(1 if gid & _GID_MASK else 0 for gid in gids)


def _tile_ids(layer: dict[str, Any], where: str) -> list[int] | tuple[int, ...]:
    encoding = _opt(layer, "encoding", str, where, "csv")
    compression = _opt(layer, "compression", str, where, "")
    if encoding == "csv":  # in JSON, "csv" means a plain array of numbers
        data: list[int] = _get(layer, "data", list, where)
        for i, gid in enumerate(data):
            if not _is_int(gid) or not 0 <= gid < 2**32:
                raise _Invalid(f"{where} has a bad tile id at index {i} of 'data': {gid!r}")
        return data
    if encoding != "base64":
        raise _Invalid(f"{where} has encoding {encoding!r}; the server reads csv and base64")
    text = _get(layer, "data", str, where)
    try:
        packed = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise _Invalid(f"{where} has 'data' that is not valid base64") from None
    try:
        if compression == "zlib":
            packed = zlib.decompress(packed)
        elif compression == "gzip":
            packed = gzip.decompress(packed)
        elif compression != "":
            raise _Invalid(
                f"{where} has compression {compression!r}; the server reads none, zlib and gzip"
                " (Map > Map Properties > Tile Layer Format)"
            )
    except (zlib.error, OSError, EOFError):
        raise _Invalid(f"{where} has 'data' that is not valid {compression} data") from None
    if len(packed) % 4:
        raise _Invalid(f"{where} has {len(packed)} bytes of tile data, not a whole number of tiles")
    return struct.unpack(f"<{len(packed) // 4}I", packed)


def _spawns(
    layer: dict[str, Any], dx: float, dy: float, walls: WallGrid, clearance: float
) -> Iterator[tuple[float, float]]:
    where = f"layer {SPAWNS_LAYER!r}"
    objects = _get(layer, "objects", list, where)
    if not objects:
        raise _Invalid(f"{where} has no objects; a map needs at least one spawn point")
    for index, obj in enumerate(objects):
        if not isinstance(obj, dict):
            raise _Invalid(f"object {index} of {where} is {_kind(obj)}, not an object")
        what = f"spawn object {obj['id']}" if _is_int(obj.get("id")) else f"object {index} of {where}"
        if isinstance(obj.get("name"), str) and obj["name"]:
            what += f" ({obj['name']!r})"
        for shape in ("polygon", "polyline", "text", "gid"):
            if shape in obj:
                raise _Invalid(f"{what} is a {shape} object; spawns are points, rectangles or ellipses")
        x = _number(obj, "x", what)
        y = _number(obj, "y", what)
        if not obj.get("point", False):
            w = _opt_number(obj, "width", what, 0.0)
            h = _opt_number(obj, "height", what, 0.0)
            # Tiled rotates a rectangle about its top-left corner, in degrees clockwise
            angle = math.radians(_opt_number(obj, "rotation", what, 0.0))
            cos, sin = math.cos(angle), math.sin(angle)
            x, y = x + (w * cos - h * sin) / 2, y + (w * sin + h * cos) / 2
        x, y = x + dx, y + dy
        # Checked before snapping: a huge coordinate (or a rotated huge rectangle's NaN) would
        # overflow the grid's arithmetic. The map's sides are whole tiles, on the grid.
        if not (0 <= x <= walls.width and 0 <= y <= walls.height):
            raise _Invalid(f"{what} at ({x:g}, {y:g}) is outside the map ({walls.width}x{walls.height})")
        x, y = snap(x), snap(y)
        if overlaps_wall(walls, x, y, clearance):
            raise _Invalid(
                f"{what} at ({x:g}, {y:g}) is inside a wall: a player of radius {clearance:g} there"
                " would overlap a wall or the map's edge"
            )
        yield x, y


def _properties(doc: dict[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = {}
    for index, prop in enumerate(_opt(doc, "properties", list, "the map", [])):
        if not isinstance(prop, dict) or not isinstance(prop.get("name"), str) or "value" not in prop:
            raise _Invalid(f"custom property {index} of the map needs a 'name' and a 'value'")
        props[prop["name"]] = prop["value"]
    return props


def _view(properties: Mapping[str, Any], key: str) -> float:
    value = properties.get(key, 0)
    if not _is_number(value) or value < 0:
        raise _Invalid(f"property {key!r} must be a number of world units >= 0, got {value!r}")
    return float(value)


# --- typed access to JSON values ------------------------------------------------------------


def _kind(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def _is_int(value: object) -> bool:
    return type(value) is int


def _is_number(value: object) -> bool:
    return type(value) in (int, float) and math.isfinite(value)  # type: ignore[arg-type]


def _get(obj: dict[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in obj:
        raise _Invalid(f"{where} has no {key!r}")
    value = obj[key]
    if type(value) is not kind:
        raise _Invalid(f"{where} has {key!r} = {_short(value)}, which is not {_kind(kind())}")
    return value


def _opt(obj: dict[str, Any], key: str, kind: type, where: str, default: Any) -> Any:
    return _get(obj, key, kind, where) if key in obj else default


def _number(obj: dict[str, Any], key: str, where: str) -> float:
    if key not in obj:
        raise _Invalid(f"{where} has no {key!r}")
    value = obj[key]
    if not _is_number(value):
        raise _Invalid(f"{where} has {key!r} = {_short(value)}, which is not a number")
    return float(value)


def _opt_number(obj: dict[str, Any], key: str, where: str, default: float) -> float:
    return _number(obj, key, where) if key in obj else default


def _positive_int(obj: dict[str, Any], key: str, where: str) -> int:
    value = _get(obj, key, int, where)
    if value < 1:
        raise _Invalid(f"{where} has {key!r} = {value}; it must be at least 1")
    return int(value)


def _short(value: object) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."
