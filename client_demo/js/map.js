// The map the server plays on, read from the same Tiled file (/assets/maps/<name>.tmj) and
// drawn with its tileset image.
//
// Invariants:
// - The walls are what the server reads (gameserver/maps.py): every non-empty tile of the tile
//   layer "walls" (flip bits ignored), visible or not; the wall grid is the one collision.js
//   moves the predicted player through.
// - Drawing: every visible tile layer, in file order (group layers opened), each tile the
//   image of its tileset (the one with the largest firstgid <= gid). The whole map is drawn
//   once to an offscreen canvas; each frame copies only the visible part of it.
// - Without its tileset image (it failed to load) the map is still drawn: walls as flat blocks.
// parseTiledMap is pure (Node tests it); loadMap and MapView need fetch, Image and a canvas.

import { WallGrid } from "./collision.js";

const GID_MASK = 0x0fffffff; // the top four bits of a tile id are flip and rotation flags

export class MapFormatError extends Error {}

/** Tile ids of a tile layer: a JSON array ("csv") or uncompressed base64 of uint32 LE. */
export function tileIds(layer, count) {
  const encoding = layer.encoding || "csv";
  let ids;
  if (encoding === "csv") {
    if (!Array.isArray(layer.data)) throw new MapFormatError(`layer '${layer.name}' has no data array`);
    ids = Uint32Array.from(layer.data);
  } else if (encoding === "base64") {
    if (layer.compression) {
      throw new MapFormatError(`layer '${layer.name}' is compressed (${layer.compression}); the demo reads csv and uncompressed base64`);
    }
    const bin = atob(String(layer.data).trim());
    if (bin.length % 4) throw new MapFormatError(`layer '${layer.name}' has ${bin.length} bytes, not whole tiles`);
    ids = new Uint32Array(bin.length / 4);
    for (let i = 0; i < ids.length; i++) {
      const o = 4 * i;
      ids[i] = (bin.charCodeAt(o) | (bin.charCodeAt(o + 1) << 8) | (bin.charCodeAt(o + 2) << 16) | (bin.charCodeAt(o + 3) << 24)) >>> 0;
    }
  } else {
    throw new MapFormatError(`layer '${layer.name}' has encoding '${encoding}'`);
  }
  if (ids.length !== count) throw new MapFormatError(`layer '${layer.name}' has ${ids.length} tiles, needs ${count}`);
  return ids;
}

function* flatLayers(layers, visible = true, opacity = 1) {
  for (const layer of layers || []) {
    const v = visible && layer.visible !== false;
    const o = opacity * (layer.opacity ?? 1);
    if (layer.type === "group") yield* flatLayers(layer.layers, v, o);
    else yield { layer, visible: v, opacity: o };
  }
}

/**
 * A decoded Tiled JSON document -> {name, cols, rows, tile, width, height, walls (WallGrid),
 * layers: [{name, ids, opacity, offsetX, offsetY}] (visible tile layers to draw), tilesets:
 * [{firstgid, columns, tilecount, tilewidth, tileheight, margin, spacing, image}], spawns}.
 */
export function parseTiledMap(doc, name) {
  if (!doc || typeof doc !== "object") throw new MapFormatError("not a Tiled map");
  const cols = doc.width;
  const rows = doc.height;
  const tile = doc.tilewidth;
  if (doc.orientation !== "orthogonal" || doc.infinite) throw new MapFormatError("only finite orthogonal maps");
  if (!(cols >= 1 && rows >= 1 && tile >= 1 && doc.tileheight === tile)) throw new MapFormatError("bad map or tile size");
  const all = [...flatLayers(doc.layers)];
  const wallsLayer = all.find((l) => l.layer.name === "walls" && l.layer.type === "tilelayer");
  if (!wallsLayer) throw new MapFormatError("no tile layer named 'walls'");
  const layers = [];
  let wallIds = null;
  for (const { layer, visible, opacity } of all) {
    if (layer.type !== "tilelayer") continue;
    const ids = tileIds(layer, cols * rows);
    if (layer === wallsLayer.layer) wallIds = ids;
    if (visible && opacity > 0) layers.push({ name: layer.name, ids, opacity, offsetX: layer.offsetx || 0, offsetY: layer.offsety || 0 });
  }
  const solid = new Uint8Array(cols * rows);
  for (let i = 0; i < solid.length; i++) solid[i] = wallIds[i] & GID_MASK ? 1 : 0;
  const tilesets = (doc.tilesets || [])
    .filter((ts) => ts.image && ts.columns > 0)
    .map((ts) => ({
      firstgid: ts.firstgid,
      columns: ts.columns,
      tilecount: ts.tilecount,
      tilewidth: ts.tilewidth,
      tileheight: ts.tileheight,
      margin: ts.margin || 0,
      spacing: ts.spacing || 0,
      image: ts.image,
    }))
    .sort((a, b) => a.firstgid - b.firstgid);
  const spawnsLayer = all.find((l) => l.layer.name === "spawns" && l.layer.type === "objectgroup");
  const spawns = spawnsLayer ? spawnsLayer.layer.objects.map((o) => ({ x: o.x, y: o.y })) : [];
  return { name, cols, rows, tile, width: cols * tile, height: rows * tile, walls: new WallGrid(cols, rows, tile, solid), layers, tilesets, spawns };
}

/** The tileset of a gid and the tile's source rectangle in its image, or null. */
export function tileSource(tilesets, gid) {
  const id = gid & GID_MASK;
  if (!id) return null;
  let ts = null;
  for (const t of tilesets) if (t.firstgid <= id) ts = t;
  if (!ts) return null;
  const local = id - ts.firstgid;
  if (ts.tilecount !== undefined && local >= ts.tilecount) return null;
  const sx = ts.margin + (local % ts.columns) * (ts.tilewidth + ts.spacing);
  const sy = ts.margin + Math.floor(local / ts.columns) * (ts.tileheight + ts.spacing);
  return { tileset: ts, sx, sy };
}

/** The URL of a map by the name the server gave: /assets/maps/<name>.tmj on the page's server. */
export function mapUrl(name, base) {
  return new URL(`/assets/maps/${encodeURIComponent(name)}.tmj`, base).href;
}

function loadImage(url) {
  return new Promise((resolve) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => resolve(null);
    img.src = url;
  });
}

/** Fetch and read a map and its tileset images (those that fail are left out). */
export async function loadMap(name, { base = location.href, fetchImpl = fetch } = {}) {
  const url = mapUrl(name, base);
  const response = await fetchImpl(url);
  if (!response.ok) throw new MapFormatError(`${url}: HTTP ${response.status}`);
  const map = parseTiledMap(await response.json(), name);
  map.url = url;
  map.images = new Map();
  await Promise.all(
    map.tilesets.map(async (ts) => {
      const img = await loadImage(new URL(ts.image, url).href);
      if (img) map.images.set(ts, img);
    }),
  );
  return map;
}

/** The map drawn once at one pixel per world unit; frames copy the visible part. */
export class MapView {
  constructor(map) {
    this.map = map;
    this.canvas = document.createElement("canvas");
    this.canvas.width = map.width;
    this.canvas.height = map.height;
    const g = this.canvas.getContext("2d");
    g.fillStyle = "#121a33";
    g.fillRect(0, 0, map.width, map.height);
    const t = map.tile;
    for (const layer of map.layers) {
      g.globalAlpha = layer.opacity;
      for (let i = 0; i < layer.ids.length; i++) {
        const gid = layer.ids[i];
        if (!gid) continue;
        const dx = (i % map.cols) * t + layer.offsetX;
        const dy = Math.floor(i / map.cols) * t + layer.offsetY;
        const src = tileSource(map.tilesets, gid);
        const img = src && map.images.get(src.tileset);
        if (img) {
          const { tilewidth: tw, tileheight: th } = src.tileset;
          g.drawImage(img, src.sx, src.sy, tw, th, dx, dy + t - th, tw, th);
        } else if (layer.name === "walls") {
          g.fillStyle = "#59607a";
          g.fillRect(dx, dy, t, t);
        }
      }
    }
    g.globalAlpha = 1;
    // The minimap: one pixel a tile, walls light on a dark floor.
    this.mini = document.createElement("canvas");
    this.mini.width = map.cols;
    this.mini.height = map.rows;
    const m = this.mini.getContext("2d");
    const px = m.createImageData(map.cols, map.rows);
    for (let i = 0; i < map.walls.solid.length; i++) {
      const v = map.walls.solid[i] ? 150 : 22;
      px.data.set([v, v, v + 20, 255], 4 * i);
    }
    m.putImageData(px, 0, 0);
  }

  /** Copy the part of the map inside the canvas (`cam` from render.js camera()). */
  draw(ctx, cam, width, height) {
    const s = cam.scale;
    const x0 = Math.max(0, Math.floor(cam.x - width / 2 / s));
    const y0 = Math.max(0, Math.floor(cam.y - height / 2 / s));
    const x1 = Math.min(this.map.width, Math.ceil(cam.x + width / 2 / s));
    const y1 = Math.min(this.map.height, Math.ceil(cam.y + height / 2 / s));
    if (x1 <= x0 || y1 <= y0) return;
    const p = cam.toScreen(x0, y0);
    ctx.imageSmoothingEnabled = s < 1;
    ctx.drawImage(this.canvas, x0, y0, x1 - x0, y1 - y0, p.x, p.y, (x1 - x0) * s, (y1 - y0) * s);
  }
}
