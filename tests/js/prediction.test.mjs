// prediction.js: inputs move the player at once; snapshots reconcile; corrections converge.
import { test } from "node:test";
import assert from "node:assert/strict";

import { Predictor } from "../../client_demo/js/prediction.js";
import { rulesFromWelcome, stepWithRules } from "../../client_demo/js/rules.js";
import { WallGrid, stepWithWalls } from "../../client_demo/js/collision.js";

const rules = rulesFromWelcome({ world_width: 2000, world_height: 2000, speed: 150, dt: 1 / 30, quanta: 8 });

/** A server that applies inputs in seq order, one step each, skipping those in `lost`. */
function serverPositions(start, inputs, lost = new Set()) {
  let [x, y] = start;
  const after = new Map();
  for (const i of inputs) {
    if (!lost.has(i.seq)) [x, y] = stepWithRules(x, y, i.moveX, i.moveY, rules);
    after.set(i.seq, [x, y]);
  }
  return after;
}

function makeInputs(n, moveX, moveY) {
  return Array.from({ length: n }, (_, k) => ({ seq: k + 1, moveX, moveY }));
}

test("an input moves the prediction at once, by one server step", () => {
  const p = new Predictor(rules);
  p.reconcile(100, 100, null);
  p.applyInput(1, 1, 0);
  assert.deepEqual([p.x, p.y], [105, 100]);
  p.applyInput(2, 1, 1); // diagonal: normalised as the server does
  assert.deepEqual([p.x, p.y], stepWithRules(105, 100, 1, 1, rules));
  assert.equal(p.pending.length, 2);
});

test("with the same rules and no loss, reconciliation finds no error", () => {
  const p = new Predictor(rules);
  p.reconcile(500, 500, null);
  const inputs = makeInputs(20, -1, 0.5);
  const server = serverPositions([500, 500], inputs);
  for (const i of inputs) {
    p.applyInput(i.seq, i.moveX, i.moveY);
    if (i.seq > 6) {
      // the snapshot confirms inputs up to six behind (a round trip of 200 ms at 30 Hz)
      const [sx, sy] = server.get(i.seq - 6);
      assert.equal(p.reconcile(sx, sy, i.seq - 6), 0);
      assert.equal(p.pending.length, 6);
    }
  }
  assert.equal(p.corrections, 0);
  assert.deepEqual([p.x, p.y], server.get(20));
});

test("after a correction the prediction converges to the server's position", () => {
  const p = new Predictor(rules, { smoothingHalfLifeMs: 50 });
  p.reconcile(1000, 1000, null);
  const inputs = makeInputs(30, 1, 0);
  const lost = new Set([4, 5]); // the server never applied these two
  const server = serverPositions([1000, 1000], inputs, lost);
  let sawError = 0;
  for (const i of inputs) {
    p.applyInput(i.seq, i.moveX, i.moveY);
    p.decay(1000 / 30);
    if (i.seq > 3) {
      const acked = i.seq - 3;
      const [sx, sy] = server.get(acked);
      sawError = Math.max(sawError, p.reconcile(sx, sy, acked));
    }
  }
  // each of the two snapshots that confirm past a lost input reveals one step of 5 units
  assert.equal(sawError, 5);
  assert.equal(p.corrections, 2);
  assert.equal(p.snaps, 0); // small: smoothed, not snapped
  // every input confirmed: the prediction is the server's position, and the offset fades
  const [fx, fy] = server.get(30);
  p.reconcile(fx, fy, 30);
  assert.deepEqual([p.x, p.y], [fx, fy]);
  assert.equal(p.pending.length, 0);
  for (let k = 0; k < 60; k++) p.decay(1000 / 60);
  const d = p.drawn(1);
  assert.deepEqual([d.x, d.y], [fx, fy]);
});

test("a smoothed correction does not jump on screen, then fades", () => {
  const p = new Predictor(rules, { smoothingHalfLifeMs: 100 });
  p.reconcile(200, 200, null);
  p.applyInput(1, 1, 0);
  const before = p.drawn(1);
  p.reconcile(203, 200, 1); // the server says 203, not 205
  const after = p.drawn(1);
  assert.ok(Math.abs(after.x - before.x) < 1e-9, "drawn position continuous");
  p.decay(100);
  assert.ok(Math.abs(p.drawn(1).x - 203 - 1) < 1e-9, "half the offset left after one half-life");
});

test("a large correction (a respawn) snaps", () => {
  const p = new Predictor(rules);
  p.reconcile(100, 100, null);
  p.applyInput(1, 0, 1);
  p.reconcile(1500, 40, 1);
  assert.equal(p.snaps, 1);
  assert.deepEqual(p.drawn(1), { x: 1500, y: 40 });
});

test("a dead player is not predicted to move", () => {
  const p = new Predictor(rules);
  p.reconcile(300, 300, null, false);
  p.applyInput(1, 1, 0);
  assert.deepEqual([p.x, p.y], [300, 300]);
});

test("no prediction before the first server position", () => {
  const p = new Predictor(rules);
  p.applyInput(1, 1, 0);
  assert.equal(p.ready, false);
  assert.equal(p.pending.length, 0);
});

test("on a map, a player held against a wall is predicted where the server stops it", () => {
  const walls = WallGrid.fromRows(Array(6).fill("......##"), 32); // a wall at x >= 192
  const p = new Predictor(rules);
  p.setWalls(walls);
  p.reconcile(100, 80, null);
  const inputs = makeInputs(40, 1, 0.25); // into the block at an angle: it stops, then slides
  let [sx, sy] = [100, 80];
  const server = new Map();
  for (const i of inputs) {
    [sx, sy] = stepWithWalls(walls, sx, sy, i.moveX, i.moveY, rules.step, rules.player_radius, rules.quanta);
    server.set(i.seq, [sx, sy]);
  }
  for (const i of inputs) {
    p.applyInput(i.seq, i.moveX, i.moveY);
    if (i.seq > 4) p.reconcile(...server.get(i.seq - 4), i.seq - 4);
  }
  assert.equal(p.corrections, 0);
  assert.deepEqual([p.x, p.y], server.get(40));
  assert.equal(p.x, 192 - rules.player_radius); // touching the block's face, never in it
  assert.ok(p.y > 80);
});

test("a player killed while moving stops where the server says, and stays until respawned", () => {
  const p = new Predictor(rules);
  p.reconcile(500, 500, null);
  for (let s = 1; s <= 3; s++) p.applyInput(s, 1, 0);
  p.reconcile(505, 500, 1, false); // shot dead after the first input
  assert.deepEqual([p.x, p.y], [505, 500]);
  p.applyInput(4, 1, 0);
  assert.deepEqual([p.x, p.y], [505, 500]);
  p.reconcile(2000, 40, 4, true); // respawned elsewhere: a snap
  p.applyInput(5, 0, 1);
  assert.deepEqual([p.x, p.y], [2000, 45]);
});
