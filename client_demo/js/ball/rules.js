// The ball game's rules as the page needs them: a line-for-line twin of the player's movement in
// gameserver/games/ball.py (Ball.step), so the own player is predicted exactly where the server
// will put it, and the ball game's prediction for the client library (client.js makePredictor).
//
// Invariants:
// - stepPlayer() returns the same floats as Ball.step for one input of one player: the move is
//   normalised when its length (Python's math.hypot, twinned by pyHypot) is over 1, then each
//   axis moves by move * step, is snapped to the 1/quanta grid half up (gameserver/grid.py snap:
//   floor(v * quanta + 0.5) / quanta) and clamped to [player_radius, size - player_radius].
// - A player's movement depends on its own inputs only (the ball never pushes a player, players
//   pass through each other), so a prediction with no packet loss is never corrected.
// - pyHypot() is CPython's math.hypot for two numbers (its vector_norm: exact squares and sums
//   in double length, one correction of the square root), not Math.hypot, which differs in the
//   last bit for a third of the moves of length over 1.
// - The numbers come from the WELCOME's rules, never from constants here; the defaults only
//   fill gaps. tests/js/ball.test.mjs checks all this against tests/js/fixtures/ball_step_cases.json,
//   made by stepping a Python Ball.
// No DOM here.

import { Predictor } from "../prediction.js";
import { snap } from "../rules.js";

export const RED = 0; // the left team, defending the goal at x = 0
export const BLUE = 1; // the right team, defending the goal at x = world_width
export const KICKING = 1; // a player's state bit: it kicked this tick

/** The rules of the ball game's WELCOME, with the derived step; defaults only fill gaps. */
export function ballRules(wire) {
  const r = {
    world_width: 1600,
    world_height: 900,
    goal_width: 260,
    speed: 220,
    player_radius: 18,
    ball_radius: 10,
    kick_speed: 900,
    kick_reach: 12,
    kick_interval_ticks: 9,
    dt: 1 / 30,
    quanta: 8,
    angle_steps: 256,
    ...wire,
  };
  r.step = r.speed * r.dt; // Python: step = self.speed * dt, computed once a tick the same way
  return r;
}

const SPLIT = 134217729; // 2 ** 27 + 1: Veltkamp's splitter for doubles

/** [hi, lo] with hi + lo === a * b exactly (Dekker's product: what CPython's dl_mul gives). */
function exactProduct(a, b) {
  const p = a * b;
  let t = SPLIT * a;
  const ah = t - (t - a);
  const al = a - ah;
  t = SPLIT * b;
  const bh = t - (t - b);
  const bl = b - bh;
  return [p, ah * bh - p + ah * bl + al * bh + al * bl];
}

const view = new DataView(new ArrayBuffer(8));

/** C's frexp exponent of a positive normal double: v = m * 2 ** e with 0.5 <= m < 1. */
function frexpExponent(v) {
  view.setFloat64(0, v);
  return ((view.getUint16(0) >>> 4) & 0x7ff) - 1022;
}

const DBL_MIN = 2.2250738585072014e-308;

/** CPython's vector_norm for two finite, non-negative numbers whose larger is `max`. */
function vectorNorm(a, b, max) {
  if (max === 0) return max;
  if (max < DBL_MIN) return DBL_MIN * vectorNorm(a / DBL_MIN, b / DBL_MIN, max / DBL_MIN); // subnormals
  const scale = 2 ** -frexpExponent(max); // exact: a power of two
  let csum = 1.0;
  let frac1 = 0.0;
  let frac2 = 0.0;
  for (const v of [a, b]) {
    const x = v * scale; // lossless scaling
    const [hi, lo] = exactProduct(x, x); // lossless squaring
    const sum = csum + hi; // lossless addition (|csum| >= |hi|)
    frac2 += csum - sum + hi;
    csum = sum;
    frac1 += lo;
  }
  let h = Math.sqrt(csum - 1.0 + (frac1 + frac2));
  const [hi, lo] = exactProduct(-h, h);
  const sum = csum + hi;
  frac2 += csum - sum + hi;
  csum = sum;
  frac1 += lo;
  const x = csum - 1.0 + (frac1 + frac2);
  h += x / (2.0 * h); // differential correction
  return h / scale;
}

/** Python's math.hypot(x, y), bit for bit. */
export function pyHypot(x, y) {
  const a = Math.abs(x);
  const b = Math.abs(y);
  if (a === Infinity || b === Infinity) return Infinity;
  if (Number.isNaN(a) || Number.isNaN(b)) return NaN;
  return vectorNorm(a, b, Math.max(a, b));
}

/**
 * One input's movement of a player. Python (Ball.step):
 *   n = math.hypot(mx, my); if n > 1.0: mx, my = mx / n, my / n
 *   p.x = min(max(snap(p.x + mx * step), r), self.width - r)   (and y with height)
 */
export function stepPlayer(x, y, moveX, moveY, rules) {
  const n = pyHypot(moveX, moveY);
  if (n > 1.0) {
    moveX /= n;
    moveY /= n;
  }
  const r = rules.player_radius;
  const step = rules.step;
  x = Math.min(Math.max(snap(x + moveX * step, rules.quanta), r), rules.world_width - r);
  y = Math.min(Math.max(snap(y + moveY * step, rules.quanta), r), rules.world_height - r);
  return [x, y];
}

/** The arena's Predictor (pending inputs, reconciliation, smoothing) with the ball game's step. */
export class BallPredictor extends Predictor {
  /** One input's movement: Ball.step's (no walls, no deaths). */
  step(x, y, moveX, moveY) {
    return stepPlayer(x, y, moveX, moveY, this.rules);
  }

  /** The ball game has no maps: walls never apply. */
  setWalls() {}
}

/** The game's parts of GameClient (client.js): spread them into its options. */
export const BALL_CLIENT = Object.freeze({
  readRules: ballRules,
  makePredictor: (rules) => new BallPredictor(rules),
  isAlive: () => true, // nobody dies in the ball game
});

/** The kind ids of the ball game's schema (a parsed schema.js Schema): {player, ball, goal}. */
export function kindIds(schema) {
  const ids = { player: null, ball: null, goal: null };
  for (const [id, kind] of schema.kinds) if (kind.name in ids) ids[kind.name] = id;
  return ids;
}

/** The score from the goal entities, each carrying its own team's goals: {red, blue}. */
export function scoreOf(entities, goalKind) {
  const score = { red: 0, blue: 0 };
  for (const e of entities.values()) {
    if (e.kind !== goalKind) continue;
    if (e.team === RED) score.red = e.score;
    else if (e.team === BLUE) score.blue = e.score;
  }
  return score;
}

/**
 * A goal event (SNAPSHOT's events, client.shots: {tick, shooter: the goal scored in, hit: the
 * scorer or null}) read with the goal entities: {tick, goal, scorer, team: the team that scored}.
 * The team is the other one than the goal's; null when the goal is not held.
 */
export function readGoal(event, entities) {
  const goal = entities.get(event.shooter);
  const team = goal && (goal.team === RED || goal.team === BLUE) ? 1 - goal.team : null;
  return { tick: event.tick, goal: event.shooter, scorer: event.hit, team };
}
