// Players against walls, a line-for-line twin of gameserver/collision.py (move_with_walls,
// step_with_walls, overlaps_wall), so the client predicts exactly where the server stops a
// player at a wall.
//
// Invariants (see the Python module and docs/maps.md, "The collision rule"):
// - A move is swept along x, then along y; each axis stops at its first contact, on the last
//   1/quanta grid point before it, or goes to its snapped target. Everything outside the grid
//   is solid. Touching (distance == radius) is free.
// - Only + - * / floor ceil min max sqrt on doubles, in the Python order: the results are the
//   same floats bit for bit (tests/js/collision.test.mjs checks a table that Python computed,
//   tests/js/fixtures/collision_cases.json).
// - wallDistance (the length of a shot's tracer) is for drawing only: it uses cos and sin,
//   which JavaScript does not promise to round like Python, so it is not used to judge anything.
// No DOM here.

export const QUANTA = 8;

/** Python: gameserver.grid.snap */
export function snap(v, quanta = QUANTA) {
  return Math.floor(v * quanta + 0.5) / quanta;
}

/** Which tiles are solid: cols x rows square tiles of `tile` world units, row-major. */
export class WallGrid {
  constructor(cols, rows, tile, solid) {
    if (!(cols >= 1 && rows >= 1 && tile >= 1)) throw new RangeError(`a wall grid needs positive sizes, got ${cols}x${rows} of ${tile}`);
    if (solid.length !== cols * rows) throw new RangeError(`${cols}x${rows} tiles need ${cols * rows} cells, got ${solid.length}`);
    this.cols = cols;
    this.rows = rows;
    this.tile = tile;
    this.solid = Uint8Array.from(solid, (v) => (v ? 1 : 0));
  }

  /** A grid drawn as text, one string a row: '#' is a wall, anything else floor. */
  static fromRows(rows, tile) {
    const cols = rows.length ? rows[0].length : 0;
    if (rows.some((r) => r.length !== cols)) throw new RangeError("every row needs the same length");
    const solid = [];
    for (const row of rows) for (const ch of row) solid.push(ch === "#" ? 1 : 0);
    return new WallGrid(cols, rows.length, tile, solid);
  }

  get width() {
    return this.cols * this.tile;
  }

  get height() {
    return this.rows * this.tile;
  }

  get count() {
    let n = 0;
    for (const v of this.solid) n += v;
    return n;
  }

  isSolid(col, row) {
    if (col < 0 || row < 0 || col >= this.cols || row >= this.rows) return true;
    return this.solid[row * this.cols + col] !== 0;
  }
}

/** Whether a circle at (x, y) overlaps a solid tile (or the outside of the map). */
export function overlapsWall(grid, x, y, radius) {
  const t = grid.tile;
  const rr = radius * radius;
  const rowLast = Math.floor((y + radius) / t);
  const colLast = Math.floor((x + radius) / t);
  for (let row = Math.floor((y - radius) / t); row <= rowLast; row++) {
    const top = row * t;
    const gapY = Math.max(top - y, 0.0, y - (top + t));
    for (let col = Math.floor((x - radius) / t); col <= colLast; col++) {
      if (grid.isSolid(col, row)) {
        const left = col * t;
        const gapX = Math.max(left - x, 0.0, x - (left + t));
        if (gapX * gapX + gapY * gapY < rr) return true;
      }
    }
  }
  return false;
}

/** Python: _sweep. Move along one axis from `a` toward `target`, `b` fixed on the other. */
function sweep(grid, a, b, target, radius, horizontal, quanta) {
  if (target === a) return a;
  const t = grid.tile;
  const nAlong = horizontal ? grid.cols : grid.rows;
  const nAcross = horizontal ? grid.rows : grid.cols;
  const rr = radius * radius;
  const kFirst = Math.max(Math.floor((b - radius) / t), -1);
  const kLast = Math.min(Math.floor((b + radius) / t), nAcross);
  const forward = target > a;
  let iFirst;
  let iLast;
  if (forward) {
    iFirst = Math.max(Math.ceil(a / t), -1);
    iLast = Math.min(Math.floor((target + radius) / t), nAlong);
  } else {
    iFirst = Math.min(Math.floor(a / t) - 1, nAlong);
    iLast = Math.max(Math.floor((target - radius) / t), -1);
  }
  let limit = target;
  const contacts = []; // [near face, squared distance across]
  for (let i = iFirst; forward ? i <= iLast : i >= iLast; i += forward ? 1 : -1) {
    const near = forward ? i * t : (i + 1) * t;
    for (let k = kFirst; k <= kLast; k++) {
      if (!(horizontal ? grid.isSolid(i, k) : grid.isSolid(k, i))) continue;
      const lo = k * t;
      const gap = Math.max(lo - b, 0.0, b - (lo + t));
      const gap2 = gap * gap;
      if (gap2 >= rr) continue;
      contacts.push([near, gap2]);
      const reach = Math.sqrt(rr - gap2);
      limit = forward ? Math.min(limit, near - reach) : Math.max(limit, near + reach);
    }
  }
  if (!contacts.length) return target;
  let stop;
  if (forward) stop = limit >= target ? target : Math.max(Math.floor(limit * quanta) / quanta, a);
  else stop = limit <= target ? target : Math.min(Math.ceil(limit * quanta) / quanta, a);
  const back = forward ? -1 / quanta : 1 / quanta;
  while (stop !== a && touches(stop, contacts, rr, forward)) {
    // the square root rounded past the contact: one grid point nearer, never behind the start
    stop = forward ? Math.max(stop + back, a) : Math.min(stop + back, a);
  }
  return stop;
}

function touches(stop, contacts, rr, forward) {
  for (const [near, gap2] of contacts) {
    const gap = forward ? near - stop : stop - near;
    if (gap < 0 || gap * gap + gap2 < rr) return true;
  }
  return false;
}

/** Python: move_with_walls. Move a circle from the free point (x, y) by (dx, dy): x, then y. */
export function moveWithWalls(grid, x, y, dx, dy, radius, quanta = QUANTA) {
  x = sweep(grid, x, y, snap(x + dx, quanta), radius, true, quanta);
  y = sweep(grid, y, x, snap(y + dy, quanta), radius, false, quanta);
  return [x, y];
}

/** Python: step_with_walls. One input's movement among walls; `step` = speed * dt. */
export function stepWithWalls(grid, x, y, moveX, moveY, step, radius, quanta = QUANTA) {
  const n2 = moveX * moveX + moveY * moveY;
  if (n2 > 1.0) {
    const n = Math.sqrt(n2);
    moveX /= n;
    moveY /= n;
  }
  return moveWithWalls(grid, x, y, moveX * step, moveY * step, radius, quanta);
}

/**
 * How far a shot from (sx, sy) along `aim` goes before it enters a wall tile, at most `reach`
 * (gameserver/combat.py wall_distance, a grid walk). For drawing tracers only.
 */
export function wallDistance(grid, sx, sy, aim, reach) {
  const dx = Math.cos(aim);
  const dy = Math.sin(aim);
  const size = grid.tile;
  let col = Math.floor(sx / size);
  let row = Math.floor(sy / size);
  if (grid.isSolid(col, row)) return 0.0;
  const stepC = dx > 0 ? 1 : -1;
  const stepR = dy > 0 ? 1 : -1;
  let nextX = dx !== 0 ? ((col + (dx > 0 ? 1 : 0)) * size - sx) / dx : Infinity;
  let nextY = dy !== 0 ? ((row + (dy > 0 ? 1 : 0)) * size - sy) / dy : Infinity;
  const perX = dx !== 0 ? size / Math.abs(dx) : Infinity;
  const perY = dy !== 0 ? size / Math.abs(dy) : Infinity;
  for (;;) {
    let dist;
    if (nextX < nextY) {
      dist = nextX;
      col += stepC;
      nextX += perX;
    } else {
      dist = nextY;
      row += stepR;
      nextY += perY;
    }
    if (dist >= reach) return reach;
    if (grid.isSolid(col, row)) return dist;
  }
}
