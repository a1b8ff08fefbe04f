// client.js as a library: the game's parts (readRules, makePredictor, isAlive) are options whose
// defaults are the arena's; a page of another game gives its own, or predicts nothing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { decode, encode } from "../../client_demo/vendor/msgpack/dist.esm/index.mjs";

import { BALL_CLIENT, BallPredictor } from "../../client_demo/js/ball/rules.js";
import { GameClient, arenaAlive, arenaPredictor } from "../../client_demo/js/client.js";
import { Predictor } from "../../client_demo/js/prediction.js";
import { rulesFromWelcome } from "../../client_demo/js/rules.js";

class FakeSocket {
  static last = null;
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    FakeSocket.last = this;
  }
  send(bytes) {
    this.sent.push(decode(bytes));
  }
  close(code, reason) {
    this.closedWith = [code, reason];
    this.readyState = 2;
  }
  open() {
    this.readyState = 1;
    if (this.onopen) this.onopen();
  }
  deliver(array) {
    if (this.onmessage) this.onmessage({ data: encode(array).slice().buffer });
  }
}

/** A client on a fake socket and a hand-driven clock: advance(t) fires the timers due by t. */
function harness(options = {}) {
  let now = 0;
  const timers = new Map();
  let nextId = 1;
  const client = new GameClient({
    url: "ws://test/ws",
    name: "tester",
    readInput: () => ({ moveX: 1, moveY: 0, aim: 0, buttons: 0 }),
    WebSocketImpl: FakeSocket,
    now: () => now,
    setTimer: (fn, ms) => {
      const id = nextId++;
      timers.set(id, { fn, at: now + ms });
      return id;
    },
    clearTimer: (id) => timers.delete(id),
    ...options,
  });
  const advance = (t) => {
    for (;;) {
      const due = [...timers.entries()].filter(([, v]) => v.at <= t).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      timers.delete(due[0]);
      now = due[1].at;
      due[1].fn();
    }
    now = t;
  };
  client.connect();
  const ws = FakeSocket.last;
  ws.open();
  return { client, advance, ws };
}

const ARENA_RULES = { world_width: 2000, world_height: 2000, speed: 150, dt: 1 / 30, quanta: 8, max_hp: 100 };
const BALL_RULES = {
  dt: 1 / 30,
  quanta: 8,
  angle_steps: 256,
  world_width: 1600,
  world_height: 900,
  goal_width: 260,
  speed: 220,
  player_radius: 18,
  ball_radius: 10,
  kick_speed: 900,
  kick_reach: 12,
  kick_interval_ticks: 9,
};
const BALL_SCHEMA = {
  quanta: 8,
  angle_steps: 256,
  kinds: [
    {
      id: 1,
      name: "player",
      fields: [
        { name: "name", type: "text", max: 24 },
        { name: "x", type: "position" },
        { name: "y", type: "position" },
        { name: "team", type: "int", min: 0, max: 1 },
        { name: "state", type: "flags", min: 0, max: 1 },
      ],
    },
    { id: 2, name: "ball", fields: [{ name: "x", type: "position" }, { name: "y", type: "position" }, { name: "toucher", type: "int", min: 0, max: 2 ** 31 }] },
  ],
  inputs: [],
};

test("by default the client predicts as the arena: its rules, its Predictor, hp for alive", () => {
  const { client, ws, advance } = harness();
  assert.equal(client.readRules, rulesFromWelcome);
  assert.equal(client.makePredictor, arenaPredictor);
  assert.equal(client.isAlive, arenaAlive);
  ws.deliver([10, 1, 7, 30, 30, "tok", "r-1", 100, ARENA_RULES]);
  assert.equal(client.rules.step, 5);
  assert.equal(client.rules.max_hp, 100);
  assert.ok(client.predictor instanceof Predictor && !(client.predictor instanceof BallPredictor));
  assert.equal(client.predictor.walls, null);
  // dead (hp 0): inputs do not move the prediction
  ws.deliver([11, 101, null, null, [[7, 1, "tester", 8000, 8000, 0, 0]], [], [], []]);
  advance(1000 / 30 * 2 + 1);
  assert.equal(client.predictor.alive, false);
  assert.equal(client.predictor.x, 1000);
});

test("a custom predictor factory is used, given the rules, the welcome and the client", () => {
  const calls = [];
  const made = [];
  const makePredictor = (rules, welcome, client) => {
    calls.push({ rules, welcome, client });
    const p = new BallPredictor(rules);
    made.push(p);
    return p;
  };
  const readRules = (wire) => ({ ...wire, step: wire.speed * wire.dt, mine: true });
  const isAlive = (me) => me.team !== undefined; // alive though the kind has no hp
  const { client, ws, advance } = harness({ makePredictor, readRules, isAlive });
  ws.deliver([10, 1, 7, 30, 30, "tok", "r-1", 100, BALL_RULES, null, BALL_SCHEMA]);
  assert.equal(calls.length, 1);
  assert.equal(calls[0].client, client);
  assert.equal(calls[0].welcome.entityId, 7);
  assert.equal(calls[0].rules, client.rules);
  assert.equal(client.rules.mine, true);
  assert.equal(client.predictor, made[0]);
  // the player at the left edge: the ball game's rule clamps to the player radius, not to 0
  ws.deliver([11, 101, null, null, [[7, 1, "tester", 18 * 8, 450 * 8, 0, 0], [2, 2, 800 * 8, 450 * 8, 0]], [], [], []]);
  client.readInput = () => ({ moveX: -1, moveY: 0, aim: 0, buttons: 0 });
  advance(1000 / 30 * 3 + 1);
  assert.ok(client.predictor.alive, "isAlive was asked, not hp");
  assert.equal(client.predictor.x, 18);
  assert.equal(client.predictor.pending.length, 4);
  client.setMap({ name: "x", walls: {} }); // a predictor that ignores walls is fine
  // the next welcome makes a new one
  ws.deliver([10, 1, 7, 30, 30, "tok2", "r-1", 200, BALL_RULES, null, BALL_SCHEMA]);
  assert.equal(calls.length, 2);
  assert.equal(client.predictor, made[1]);
});

test("the ball game's parts spread into the options; a factory may predict nothing", () => {
  const { client, ws } = harness({ ...BALL_CLIENT });
  ws.deliver([10, 1, 7, 30, 30, "tok", "r-1", 100, BALL_RULES, null, BALL_SCHEMA]);
  assert.ok(client.predictor instanceof BallPredictor);
  assert.equal(client.rules.step, 220 * (1 / 30));
  assert.equal(client.buffer.teleportDistance, 110);

  const none = harness({ makePredictor: () => null, readRules: (wire) => ({ quanta: wire.quanta }) });
  none.ws.deliver([10, 1, 7, 30, 30, "tok", "r-1", 100, BALL_RULES, null, BALL_SCHEMA]);
  assert.equal(none.client.predictor, null);
  assert.equal(none.client.buffer.teleportDistance, 100); // no speed in these rules
  none.ws.deliver([11, 101, null, null, [[7, 1, "tester", 800, 800, 0, 0]], [], [], []]);
  none.advance(1000 / 30 * 3 + 1);
  const inputs = none.ws.sent.filter((m) => m[0] === 2);
  assert.equal(inputs.length, 4, "inputs still go out every tick");
  assert.equal(inputs.at(-1)[6], 101);
});
