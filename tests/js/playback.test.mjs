// The playback page's logic that touches no DOM (playback.js): the playhead's run at the tick
// rate times the speed, pause, steps of one snapshot and seeks; and the refusal of a file that is
// not a playback file.
import { test } from "node:test";
import assert from "node:assert/strict";
import { encode } from "../../client_demo/vendor/msgpack/dist.esm/index.mjs";

import { PlaybackError, Transport, readPlayback } from "../../client_demo/js/playback.js";

const frame = (x) => new Map([[1, { id: 1, kind: 0, x, y: 0, angle: 0, hp: 100, name: "a" }]]);
// snapshots at ticks 10, 11, 12, then 15 (none at 13 and 14: nothing changed)
const SNAPS = [10, 11, 12, 15].map((tick) => ({ tick, frame: frame(tick * 10), rows: {}, shots: [], scoreboard: [] }));

test("the playhead runs at the tick rate times the speed, and holds at the end", () => {
  const t = new Transport(SNAPS, 30, { now: 1000 });
  assert.equal(t.playhead(1000), 10);
  assert.equal(t.playhead(1100), 13);
  assert.equal(t.index(1100), 2); // tick 12: the newest at or before 13
  t.setSpeed(0.25, 1100);
  const later = 1100 + 400 / 3; // a tick at 7.5 ticks a second
  assert.ok(Math.abs(t.playhead(later) - 14) < 1e-9);
  t.setSpeed(4, later);
  assert.ok(Math.abs(t.playhead(later + 1000 / 120) - 15) < 1e-9);
  assert.equal(t.playhead(9000), 15);
  assert.ok(t.ended(9000));
  t.play(9000); // at the end, play starts again from the first snapshot
  assert.equal(t.playhead(9000), 10);
});

test("pause holds the playhead, a step moves one snapshot and pauses, a seek is clamped", () => {
  const t = new Transport(SNAPS, 30, { now: 0 });
  t.pause(50); // 1.5 ticks in
  assert.equal(t.playhead(50), 11.5);
  assert.equal(t.playhead(5000), 11.5);
  assert.equal(t.step(1, 5000), 2);
  assert.equal(t.playhead(6000), 12);
  assert.equal(t.step(1, 6000), 3);
  assert.equal(t.step(1, 6000), 3); // the last
  assert.equal(t.step(-1, 6000), 2);
  assert.ok(t.paused);
  t.seek(3, 6000);
  assert.equal(t.playhead(6000), 10);
  t.seek(99, 6000);
  assert.equal(t.playhead(6000), 15);
  t.seek(14, 6000);
  assert.equal(t.index(6000), 2);
});

test("entities are a snapshot's at its tick, and interpolated between two", () => {
  const t = new Transport(SNAPS, 30, { now: 0, paused: true });
  assert.equal(t.entities(0).get(1).x, 100);
  t.seek(13.5, 0);
  assert.equal(t.entities(0).get(1).x, 120 + (150 - 120) * 0.5);
  t.seek(15, 0);
  assert.equal(t.entities(0).get(1).x, 150);
});

test("a file that is not a playback file is refused, saying why", () => {
  assert.throws(() => readPlayback(new Uint8Array([0xc1])), (e) => e instanceof PlaybackError && /not one msgpack value/.test(e.message));
  assert.throws(() => readPlayback(encode([0, "gsrec"])), (e) => e instanceof PlaybackError && /not a playback file/.test(e.message));
  assert.throws(() => readPlayback(encode({ format: "gameserver-playback", version: 9, messages: [] })), /version 9/);
  assert.throws(() => readPlayback(encode({ format: "gameserver-playback", version: 1, messages: [] })), /no snapshot/);
  const notWelcome = encode({ format: "gameserver-playback", version: 1, messages: [encode([15, []]), encode([15, []])] });
  assert.throws(() => readPlayback(notWelcome), /does not start with a WELCOME/);
});
