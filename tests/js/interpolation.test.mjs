// interpolation.js: the others are drawn between the two snapshots around the render time.
import { test } from "node:test";
import assert from "node:assert/strict";

import { AdaptiveDelay, SnapshotBuffer, TickClock, interpolate, lerpAngle } from "../../client_demo/js/interpolation.js";

const e = (id, x, y, extra = {}) => [id, { id, kind: 1, name: `p${id}`, x, y, angle: 0, hp: 100, ...extra }];

test("halfway between two snapshots gives the midpoint", () => {
  const buf = new SnapshotBuffer();
  buf.push(10, new Map([e(1, 100, 200), e(2, 0, 0)]));
  buf.push(12, new Map([e(1, 110, 180), e(2, 0, 8)]));
  const { entities, underrun } = buf.sample(11);
  assert.equal(underrun, false);
  assert.deepEqual([entities.get(1).x, entities.get(1).y], [105, 190]);
  assert.deepEqual([entities.get(2).x, entities.get(2).y], [0, 4]);
  const q = buf.sample(10.5).entities.get(1);
  assert.deepEqual([q.x, q.y], [102.5, 195]);
});

test("sampling picks the pair around the render tick among many", () => {
  const buf = new SnapshotBuffer();
  for (let t = 1; t <= 10; t++) buf.push(t, new Map([e(1, t * 10, 0)]));
  assert.equal(buf.sample(7.25).entities.get(1).x, 72.5);
  assert.equal(buf.sample(0).entities.get(1).x, 10); // before the oldest: the oldest
});

test("past the newest snapshot: hold it and count one underrun per episode", () => {
  const buf = new SnapshotBuffer();
  buf.push(1, new Map([e(1, 0, 0)]));
  buf.push(2, new Map([e(1, 5, 0)]));
  assert.equal(buf.sample(2.5).entities.get(1).x, 5);
  assert.equal(buf.sample(3).underrun, true);
  assert.equal(buf.underruns, 1);
  assert.equal(buf.underrunFrames, 2);
  buf.push(3, new Map([e(1, 10, 0)]));
  buf.push(4, new Map([e(1, 15, 0)]));
  assert.equal(buf.sample(3.5).underrun, false);
  buf.sample(5);
  assert.equal(buf.underruns, 2);
  buf.sample(6, { count: false }); // a look from outside the render loop counts nothing
  assert.equal(buf.underrunFrames, 3);
});

test("facings turn the short way round; spawns and removals switch halfway; respawns jump", () => {
  assert.equal(lerpAngle(250, 6, 0.5), 0);
  assert.equal(lerpAngle(10, 20, 0.5), 15);
  const a = new Map([e(1, 0, 0, { angle: 250 }), e(2, 50, 50), e(4, 0, 0)]);
  const b = new Map([e(1, 10, 0, { angle: 6, hp: 75 }), e(3, 9, 9), e(4, 1000, 1000)]);
  const early = interpolate(a, b, 0.25, 200);
  assert.ok(early.has(2) && !early.has(3));
  assert.equal(early.get(1).hp, 100);
  assert.equal(early.get(4).x, 0);
  const late = interpolate(a, b, 0.75, 200);
  assert.ok(!late.has(2) && late.has(3));
  assert.equal(late.get(1).hp, 75);
  assert.equal(late.get(1).angle, 3);
  assert.equal(late.get(4).x, 1000);
});

test("old or repeated snapshots are ignored; a restarted tick count starts over", () => {
  const buf = new SnapshotBuffer({ capacity: 3 });
  for (let t = 1; t <= 5; t++) buf.push(t, new Map());
  assert.deepEqual(buf.frames.map((f) => f.tick), [3, 4, 5]);
  buf.push(5, new Map([e(1, 0, 0)]));
  assert.equal(buf.frames.length, 3);
  buf.push(2, new Map());
  assert.deepEqual(buf.frames.map((f) => f.tick), [2]);
});

test("the tick clock follows the server's ticks and keeps a steady pace through jitter", () => {
  const clock = new TickClock(30);
  const tickMs = 1000 / 30;
  // snapshots of ticks 100.. arrive 40 ms late, give or take 10 ms
  for (let t = 100; t < 200; t++) clock.observe(t, t * tickMs + 40 + ((t * 7) % 21) - 10);
  const now = 200 * tickMs + 40;
  const est = clock.tickAt(now);
  assert.ok(Math.abs(est - 200) < 0.5, `estimated tick ${est}`);
  // render tick 100 ms behind: three ticks back at 30 Hz
  assert.ok(Math.abs(est - 100 / tickMs - 197) < 0.5);
});

test("an entity of a kind without a facing moves between frames and gets none", () => {
  const a = new Map([[5, { id: 5, kind: 2, x: 0, y: 0, spin: 1 }]]);
  const b = new Map([[5, { id: 5, kind: 2, x: 10, y: 20, spin: 3 }]]);
  assert.deepEqual(interpolate(a, b, 0.75).get(5), { id: 5, kind: 2, x: 7.5, y: 15, spin: 3 });
});

// --- the automatic delay: a jitter buffer ------------------------------------------------

/** A seeded uniform [0, 1) (a small LCG): the same runs every time. */
function seeded(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/**
 * Snapshots at 30 per second for `seconds`, each delayed by 50 ms +- `jitterMs` (order kept, as
 * TCP keeps it), drawn each 16 ms frame at the clock's tick minus the delay of `delayAt(now)`.
 * Returns the buffer's underruns, the delays drawn and the AdaptiveDelay.
 */
function play({ jitterMs, seconds = 20, fixedMs = null, seed = 1 }) {
  const rnd = seeded(seed);
  const clock = new TickClock(30);
  const adaptive = new AdaptiveDelay({ intervalMs: 1000 / 30 });
  const buf = new SnapshotBuffer();
  const arrivals = [];
  let last = -Infinity;
  for (let tick = 1; tick <= seconds * 30; tick++) {
    last = Math.max(last, tick * clock.tickMs + 50 + (2 * rnd() - 1) * jitterMs);
    arrivals.push([tick, last]);
  }
  const delays = [];
  let i = 0;
  for (let now = arrivals[0][1]; now < arrivals[arrivals.length - 1][1]; now += 16) {
    while (i < arrivals.length && arrivals[i][1] <= now) {
      const [tick, at] = arrivals[i++];
      adaptive.observe(clock.observe(tick, at), at);
      buf.push(tick, new Map([[1, { id: 1, x: tick, y: 0 }]]));
    }
    const delay = fixedMs ?? adaptive.delayAt(now);
    delays.push(delay);
    buf.sample(clock.tickAt(now) - delay / clock.tickMs);
  }
  return { underruns: buf.underruns, underrunFrames: buf.underrunFrames, delays, adaptive };
}

test("TickClock.observe: how late a snapshot came against the clock, 0 when early or first", () => {
  const clock = new TickClock(30);
  assert.equal(clock.observe(30, 1000), 0); // the first
  assert.equal(clock.observe(31, 1000 + 1000 / 30), 0); // on time
  assert.ok(Math.abs(clock.observe(32, 1000 + 2000 / 30 + 20) - 20) < 1e-9); // 20 ms late
  assert.equal(clock.observe(33, 1000 + 3000 / 30 - 5), 0); // early
});

test("AdaptiveDelay: without jitter it settles at two snapshot intervals, shrinking slowly", () => {
  const { delays, adaptive } = play({ jitterMs: 0 });
  assert.ok(adaptive.jitterMs < 1e-6, adaptive.jitterMs);
  assert.ok(Math.abs(delays[delays.length - 1] - 2000 / 30) < 1e-9, delays[delays.length - 1]);
  assert.ok(delays[0] <= 100 && delays[0] > 99, delays[0]); // it starts at the former default
  for (let j = 1; j < delays.length; j++) {
    const step = delays[j] - delays[j - 1];
    assert.ok(step <= 1e-9 && step >= -16 * 0.02 - 1e-9, `frame ${j}: ${step} ms`); // 2 % of a frame at most
  }
});

test("AdaptiveDelay: under jitter the delay grows with it, within its bounds, and underruns fall", () => {
  const calm = play({ jitterMs: 0 });
  const jittery = play({ jitterMs: 30 });
  const end = jittery.delays[jittery.delays.length - 1];
  assert.ok(jittery.adaptive.jitterMs > 10, jittery.adaptive.jitterMs);
  assert.ok(end > calm.delays[calm.delays.length - 1] + 20, `${end} ms`);
  assert.ok(end <= 300);
  for (let j = 1; j < jittery.delays.length; j++) {
    const step = jittery.delays[j] - jittery.delays[j - 1];
    assert.ok(step <= 16 * 0.1 + 1e-9 && step >= -16 * 0.02 - 1e-9, `frame ${j}: ${step} ms`); // no jump
  }
  // the same arrivals drawn two snapshot intervals behind, fixed: more underruns
  const fixed = play({ jitterMs: 30, fixedMs: 2000 / 30 });
  assert.ok(jittery.underrunFrames * 2 < fixed.underrunFrames, `${jittery.underrunFrames} vs ${fixed.underrunFrames}`);
});

test("AdaptiveDelay: the target is k intervals plus m times the jitter, clamped", () => {
  const d = new AdaptiveDelay({ intervalMs: 50, initialMs: 100 });
  assert.deepEqual([d.lo, d.hi, d.value], [100, 300, 100]);
  d.observe(400, 0); // one very late snapshot
  assert.equal(d.jitterMs, 100); // a quarter of the way up at once
  assert.equal(d.targetMs, 200); // 2 * 50 + 1 * 100
  assert.equal(d.delayAt(100), 110); // 10 % of the time passed
  assert.equal(d.delayAt(50), 110); // an earlier time changes nothing
  assert.equal(d.delayAt(10_000), 200);
  d.observe(0, 10_000);
  assert.equal(d.jitterMs, 100 - 100 / 64); // comes down slowly
  d.observe(1000, 10_000);
  assert.equal(d.targetMs, 300); // clamped at hi
});
