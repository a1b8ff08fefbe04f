// The parts of the browser library every game page shares, read from a GameClient that a fake
// WebSocket and a hand-driven clock feed: the debug overlay (debug.js: its lines and figures
// before and after a welcome, a snapshot and a pong, its toggle keys), window.game's common part
// (hooks.js) and what is drawn (view.js).
import { test } from "node:test";
import assert from "node:assert/strict";
import { encode } from "../../client_demo/vendor/msgpack/dist.esm/index.mjs";

import { GameClient } from "../../client_demo/js/client.js";
import { DEBUG_KEYS, DebugOverlay, FrameRate, debugLines, fmt, pageStats } from "../../client_demo/js/debug.js";
import { extendHooks, gameHooks, plain } from "../../client_demo/js/hooks.js";
import { drawnEntities, fitCanvas } from "../../client_demo/js/view.js";

class FakeSocket {
  static last = null;
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    FakeSocket.last = this;
  }
  send() {}
  close() {
    this.readyState = 2;
  }
  open() {
    this.readyState = 1;
    this.onopen();
  }
  deliver(array) {
    this.onmessage({ data: encode(array).slice().buffer });
  }
}

const RULES = { world_width: 2000, world_height: 2000, speed: 150, dt: 1 / 30, quanta: 8, max_hp: 100 };

/** A client on a fake socket and clock (timers never fire): `at(t)` sets the clock. */
function makeClient(options = {}) {
  const clock = { now: 0 };
  const client = new GameClient({
    url: "ws://test/ws",
    name: "tester",
    readInput: () => ({ moveX: 0, moveY: 0, aim: 0, buttons: 0 }),
    WebSocketImpl: FakeSocket,
    now: () => clock.now,
    setTimer: () => 0,
    clearTimer: () => {},
    ...options,
  });
  return { client, at: (t) => (clock.now = t) };
}

/** Welcomed as entity 7 with another player (8), a snapshot at tick 101, and a pong 40 ms after its ping. */
function playing(options = {}) {
  const { client, at } = makeClient(options);
  client.connect();
  const ws = FakeSocket.last;
  ws.open();
  ws.deliver([10, 1, 7, 30, 30, "tok", "r-1", 100, RULES]);
  ws.deliver([11, 101, null, null, [[7, 1, "tester", 8000, 8000, 0, 100], [8, 1, "other", 800, 1600, 64, 40]], [], [], []]);
  at(40);
  ws.deliver([12, 0, 101]);
  return { client, at, ws };
}

const valueOf = (lines, label) => lines.find((l) => l.startsWith(label)).slice(12);

test("fmt: digits and unit, a dash without a value", () => {
  assert.equal(fmt(12.345, 1, " ms"), "12.3 ms");
  assert.equal(fmt(3), "3");
  for (const none of [null, undefined, Number.NaN]) assert.equal(fmt(none, 1, " ms"), "–");
});

test("without a client: no figures, and the overlay says idle", () => {
  assert.deepEqual(pageStats(null), {});
  assert.deepEqual(debugLines(null), ["state       idle"]);
});

test("before the welcome: the state, and dashes where there is nothing to measure yet", () => {
  const { client } = makeClient();
  client.connect();
  const lines = debugLines(client, { now: 0, fps: 60 });
  assert.equal(lines.length, 11);
  assert.equal(valueOf(lines, "state"), "connecting");
  assert.equal(valueOf(lines, "rtt"), "– (avg –)");
  assert.equal(valueOf(lines, "server tick"), "–  render tick –");
  assert.equal(valueOf(lines, "pred error"), "last –  max – units");
  assert.equal(valueOf(lines, "entities"), "0  fps 60");
  assert.equal(valueOf(lines, "checksums"), "0 agreed, 0 desyncs, 0 resyncs");
});

test("playing: the rtt, ticks, rates, prediction, interpolation and entities of the client", () => {
  const { client } = playing();
  const stats = pageStats(client, { now: 40, fps: 59.6 });
  assert.equal(stats.rttMs, 40);
  assert.equal(stats.serverTick, 101);
  assert.equal(stats.snapshots, 1);
  assert.equal(stats.snapshotsPerSec, 1);
  assert.ok(stats.bytesInPerSec > 0 && stats.bytesOutPerSec > 0, stats);
  assert.equal(stats.entities, 2);
  assert.equal(stats.maxPredictionError, 0);
  assert.equal(stats.corrections, 0);
  assert.equal(stats.snaps, 0);
  assert.equal(stats.interpUnderruns, 0);
  // automatic: from 100 ms toward two snapshot intervals (67 ms) at 2 % of the 40 ms since the snapshot
  assert.equal(stats.interpDelayMs, 99.2);
  assert.equal(stats.jitterMs, 0);
  assert.equal(stats.fps, 59.6);
  const lines = debugLines(client, { now: 40, fps: 59.6 });
  assert.equal(valueOf(lines, "state"), "connected");
  assert.equal(valueOf(lines, "rtt"), "40.0 ms (avg 40.0 ms)");
  assert.match(valueOf(lines, "server tick"), /^101  render tick \d+\.\d$/);
  assert.equal(valueOf(lines, "snapshots"), "1/s");
  assert.equal(valueOf(lines, "bytes in"), `${stats.bytesInPerSec} B/s  out ${stats.bytesOutPerSec} B/s`);
  assert.equal(valueOf(lines, "pred error"), "last 0.000  max 0.000 units");
  assert.equal(valueOf(lines, "corrections"), "0 (0 snapped)");
  assert.equal(valueOf(lines, "interp"), "99 ms auto, jitter 0.0 ms, underruns 0 (0 frames)");
  assert.equal(valueOf(lines, "entities"), "2  fps 60");
  assert.ok(!lines.some((l) => l.startsWith("spectating")));
  // the client's own clock when no time is given
  assert.deepEqual(debugLines(client, { fps: 59.6 }), lines);
});

test("a fixed delay (?interp=MS) is shown as fixed, with the jitter still measured", () => {
  const { client } = playing({ interpDelayMs: 150 });
  const stats = pageStats(client, { now: 40 });
  assert.equal(stats.interpDelayMs, 150);
  assert.equal(stats.jitterMs, 0);
  assert.equal(valueOf(debugLines(client, { now: 40 }), "interp"), "150 ms fixed, jitter 0.0 ms, underruns 0 (0 frames)");
});

test("a spectator's overlay has a line more: whom it follows, its acks and inputs", () => {
  const { client } = makeClient({ spectate: true });
  client.connect();
  const ws = FakeSocket.last;
  ws.open();
  ws.deliver([10, 1, 0, 30, 30, "", "r-1", 100, RULES]);
  ws.deliver([16, 3]); // FOLLOWING 3
  const lines = debugLines(client, { now: 0, fps: 30 });
  assert.equal(lines.length, 12);
  assert.equal(valueOf(lines, "spectating"), "following 3, 0 acks sent, 0 inputs");
});

test("FrameRate: the ms between frames, and an average that comes to the rate drawn", () => {
  const frames = new FrameRate(0);
  assert.equal(frames.frame(20), 20);
  assert.ok(Math.abs(frames.fps - 5) < 1e-9); // a tenth of 50/s, from 0
  for (let t = 40; t <= 2000; t += 20) frames.frame(t);
  assert.ok(Math.abs(frames.fps - 50) < 0.01, frames.fps);
  assert.equal(frames.frame(2000), 0); // two frames at once: no rate from that one
});

test("DebugOverlay: hidden until a toggle key, then the client's lines; ` typed into a field stays there", () => {
  const el = { hidden: false, textContent: "" };
  const keys = new EventTarget();
  const overlay = new DebugOverlay(el, { keyTarget: keys });
  const { client } = playing();
  overlay.update(client, 40, 60);
  assert.equal(el.hidden, true);
  assert.equal(el.textContent, "");
  const press = (code, target = null) => {
    const ev = new Event("keydown", { cancelable: true });
    Object.assign(ev, { code });
    if (target) Object.defineProperty(ev, "target", { value: target });
    keys.dispatchEvent(ev);
    return ev.defaultPrevented;
  };
  assert.equal(press("KeyA"), false);
  assert.equal(overlay.visible, false);
  assert.equal(press("F3"), true);
  overlay.update(client, 40, 60);
  assert.equal(el.hidden, false);
  assert.equal(el.textContent, debugLines(client, { now: 40, fps: 60 }).join("\n"));
  assert.equal(press("Backquote", { tagName: "INPUT" }), false); // a character of a name
  assert.equal(overlay.visible, true);
  assert.equal(press("Backquote"), true);
  overlay.update(client, 40, 60);
  assert.equal(el.hidden, true);
  assert.deepEqual([...DEBUG_KEYS].sort(), ["Backquote", "F3"]);
  assert.equal(new DebugOverlay({ hidden: true }, { visible: true, keyTarget: null }).visible, true);
});

test("gameHooks: the common getters read the client of the moment; a page's own are added as getters", () => {
  let client = null;
  const status = { el: { hidden: true }, text: { textContent: "Connecting…" } };
  const overlay = new DebugOverlay({ hidden: true }, { visible: true, keyTarget: null });
  let drawn = new Map();
  const game = gameHooks(() => client, { serverUrl: "ws://test/ws", interpDelayMs: 150, status, view: () => drawn, fps: () => 42, debug: overlay });
  assert.equal(game.client, null);
  assert.deepEqual(game.state, { connection: "idle", attempt: 0, retryInMs: null, lastClose: null, statusText: "" });
  assert.equal(game.interpDelayMs, 150);
  assert.equal(game.myId, null);
  assert.equal(game.rules, null);
  assert.deepEqual(game.snapshot, {});
  assert.equal(game.predicted, null);
  assert.equal(game.server, null);
  assert.deepEqual(game.stats, {});
  assert.deepEqual(game.scoreboard, []);
  assert.equal(game.sendRaw([3, 0]), false);
  assert.equal(game.debugVisible, true);

  ({ client } = playing());
  status.el.hidden = false;
  assert.equal(game.client, client);
  assert.equal(game.state.connection, "connected");
  assert.equal(game.state.statusText, "Connecting…");
  assert.equal(game.interpDelayMs, 99.2); // the client's own now (adapting: see above)
  assert.equal(game.stats.interpDelayMs, 99.2);
  assert.equal(game.myId, 7);
  assert.equal(game.rules.quanta, 8);
  assert.deepEqual(game.snapshot[8], { id: 8, kind: 1, name: "other", x: 100, y: 200, angle: 64, hp: 40 });
  assert.deepEqual(game.server, { id: 7, kind: 1, name: "tester", x: 1000, y: 1000, angle: 0, hp: 100, tick: 101, lastSeq: null });
  assert.deepEqual(game.predicted, { x: 1000, y: 1000, pending: 0, offsetX: 0, offsetY: 0, seq: 0 });
  assert.equal(game.stats.entities, 2);
  assert.equal(game.stats.rttMs, 40);
  assert.equal(game.stats.fps, 42);
  drawn = new Map([[7, { id: 7, x: 1, y: 2 }]]);
  const entities = game.entities;
  assert.deepEqual(entities, { 7: { id: 7, x: 1, y: 2 } });
  entities[7].x = 99; // a copy: the page's entity is as it was
  assert.equal(drawn.get(7).x, 1);
  assert.equal(game.sendRaw([3, 0]), true);

  let score = 0;
  const same = extendHooks(game, {
    name: "page",
    get score() {
      return score;
    },
  });
  assert.equal(same, game);
  score = 3;
  assert.equal(game.score, 3);
  assert.equal(typeof Object.getOwnPropertyDescriptor(game, "score").get, "function");
  assert.equal(typeof Object.getOwnPropertyDescriptor(game, "stats").get, "function");
  assert.equal(game.name, "page");
  assert.deepEqual(plain(new Map([[1, { a: 1 }]])), { 1: { a: 1 } });
});

test("drawnEntities: the others as the buffer has them at the render tick, the own entity predicted", () => {
  assert.deepEqual(drawnEntities(null, 0), new Map());
  const { client } = playing();
  const drawn = drawnEntities(client, 40, { count: true });
  assert.deepEqual([...drawn.keys()].sort(), [7, 8]);
  assert.deepEqual(drawn.get(8), { id: 8, kind: 1, name: "other", x: 100, y: 200, angle: 64, hp: 40 });
  assert.deepEqual(drawn.get(7), { id: 7, kind: 1, name: "tester", x: 1000, y: 1000, angle: 0, hp: 100, predicted: true });
  assert.equal(client.buffer.underruns, 0);
  // the prediction moved on (a step of 5 units right): drawn there, not where the snapshot says
  client.predictor.x = 1005;
  assert.equal(drawnEntities(client, 40).get(7).x, 1005);
  // window.game.entities draws the same by default
  const game = gameHooks(() => client);
  assert.deepEqual(game.entities[7], { ...drawn.get(7), x: 1005 });
  assert.deepEqual(game.entities[8], drawn.get(8));
});

test("fitCanvas: pixels = CSS size x the pixel ratio; an unchanged size leaves the canvas alone", () => {
  const canvas = { clientWidth: 301, clientHeight: 200, width: 0, height: 0 };
  const size = fitCanvas(canvas, { width: 0, height: 0, dpr: 1 }, 1.5);
  assert.deepEqual(size, { width: 301, height: 200, dpr: 1.5 });
  assert.deepEqual([canvas.width, canvas.height], [452, 300]);
  canvas.width = 7; // setting a canvas's width clears it: not done again for the same size
  assert.equal(fitCanvas(canvas, size, 1.5), size);
  assert.equal(canvas.width, 7);
  assert.deepEqual(fitCanvas(canvas, size, 2), { width: 301, height: 200, dpr: 2 });
  assert.equal(canvas.width, 602);
});
