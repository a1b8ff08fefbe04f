// client.js with a fake WebSocket and hand-driven timers: handshake, inputs from the timer with
// acknowledgements, prediction on the way, and what each kind of close leads to.
import { test } from "node:test";
import assert from "node:assert/strict";
import { decode, encode } from "../../client_demo/vendor/msgpack/dist.esm/index.mjs";

import { GameClient, backoffDelay } from "../../client_demo/js/client.js";

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
  close() {}
  // driving it
  open() {
    this.readyState = 1;
    this.onopen();
  }
  deliver(array) {
    this.onmessage({ data: encode(array).slice().buffer });
  }
  closeFromServer(code, reason) {
    this.readyState = 3;
    this.onclose({ code, reason });
  }
}

function harness(options = {}) {
  let now = 0;
  const timers = new Map();
  let nextId = 1;
  const client = new GameClient({
    url: "ws://test/ws",
    name: "tester",
    readInput: () => ({ moveX: 1, moveY: 0, aim: 0.5, buttons: 0 }),
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
  /** Advance the fake clock to `t`, firing due timers in order. */
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
  return { client, advance, timers };
}

const RULES = { world_width: 2000, world_height: 2000, speed: 150, dt: 1 / 30, quanta: 8, max_hp: 100 };

test("hello, welcome, snapshots; one input per tick carrying the newest tick held", () => {
  const { client, advance } = harness();
  client.connect();
  assert.equal(client.state, "connecting");
  const ws = FakeSocket.last;
  ws.open();
  assert.deepEqual(ws.sent[0], [1, 1, "tester", null, null]);
  ws.deliver([10, 1, 7, 30, 30, "tok", "r-1", 100, RULES]);
  assert.equal(client.state, "connected");
  assert.equal(client.myId, 7);
  ws.deliver([11, 101, null, null, [[7, 1, "tester", 8000, 8000, 0, 100]], [], [], []]);
  advance(1000 / 30 * 3 + 1);
  const inputs = ws.sent.filter((m) => m[0] === 2);
  assert.equal(inputs.length, 4); // at 0, 33, 67 and 100 ms
  assert.deepEqual(inputs.map((m) => m[1]), [1, 2, 3, 4]);
  assert.ok(inputs.every((m) => m[6] === 101 && Number.isInteger(m[1]) && m[2] === 1 && m[4] === 0.5));
  // predicted at once: four steps of 5 units from x = 1000
  assert.equal(client.predictor.x, 1020);
  // the server confirms input 2: the prediction stays on the same spot
  ws.deliver([11, 102, 101, 2, [], [7, 1, 80], [], []]);
  assert.equal(client.predictor.x, 1020);
  assert.equal(client.predictor.pending.length, 2);
  const later = ws.sent.filter((m) => m[0] === 2);
  advance(1000 / 30 * 4 + 1);
  assert.equal(ws.sent.filter((m) => m[0] === 2).at(-1)[6], 102);
  assert.ok(later.length >= 4);
});

test("the timer does not burst after a long pause", () => {
  const { client, advance, timers } = harness();
  client.connect();
  const ws = FakeSocket.last;
  ws.open();
  ws.deliver([10, 1, 7, 30, 30, "tok", "r-1", 0, RULES]);
  advance(10);
  const count = () => ws.sent.filter((m) => m[0] === 2).length;
  const before = count();
  // a background tab: the next wake-up comes 2 s late
  for (const t of timers.values()) t.at += 2000;
  advance(2050);
  assert.equal(count() - before, 1, "one input on waking, not sixty to catch up");
  advance(2050 + 1000);
  const perSecond = count() - before - 1;
  assert.ok(perSecond >= 29 && perSecond <= 31, `${perSecond} inputs in the next second`);
});

test("a goodbye leads to reconnecting with backoff; the reason code is kept", () => {
  const { client, advance } = harness();
  client.connect();
  let ws = FakeSocket.last;
  ws.open();
  ws.deliver([10, 1, 7, 30, 30, "tok", "r-1", 0, RULES]);
  ws.deliver([14, "server_shutdown", "the server is shutting down"]);
  ws.closeFromServer(1001, "server_shutdown");
  assert.equal(client.state, "reconnecting");
  assert.deepEqual(
    { ...client.lastClose },
    { code: 1001, reason: "server_shutdown", errorCode: "server_shutdown", message: "the server is shutting down", kind: "goodbye" },
  );
  advance(2000);
  assert.notEqual(FakeSocket.last, ws, "a new socket after the backoff");
  ws = FakeSocket.last;
  ws.closeFromServer(1006, ""); // nothing listening
  assert.equal(client.state, "reconnecting");
  assert.equal(client.lastClose.kind, "unreachable");
  assert.equal(client.attempt, 2);
});

test("an error this client caused closes for good", () => {
  const { client } = harness();
  client.connect();
  const ws = FakeSocket.last;
  ws.open();
  ws.deliver([10, 1, 7, 30, 30, "tok", "r-1", 0, RULES]);
  ws.deliver([13, "unexpected_hello", "hello was already received"]);
  ws.closeFromServer(1002, "unexpected_hello");
  assert.equal(client.state, "closed");
  assert.equal(client.lastClose.errorCode, "unexpected_hello");
  assert.equal(client.lastClose.kind, "error");
});

test("a seat is sent once: a reconnection joins the room by its id", () => {
  const { client, advance } = harness({ room: "r-abc", seat: "seat-1" });
  client.connect();
  let ws = FakeSocket.last;
  ws.open();
  assert.deepEqual(ws.sent[0], [1, 1, "tester", null, "r-abc", "seat-1"]);
  ws.deliver([10, 1, 7, 30, 30, "tok", "r-abc", 0, RULES]);
  assert.equal(client.room, "r-abc");
  ws.closeFromServer(1006, ""); // the connection drops
  assert.equal(client.state, "reconnecting");
  advance(2000);
  ws = FakeSocket.last;
  ws.open();
  assert.deepEqual(ws.sent[0], [1, 1, "tester", null, "r-abc"]);
});

test("quick play by HELLO: a reconnection rejoins the room the server chose", () => {
  const { client, advance } = harness();
  client.connect();
  let ws = FakeSocket.last;
  ws.open();
  assert.deepEqual(ws.sent[0], [1, 1, "tester", null, null]);
  ws.deliver([10, 1, 7, 30, 30, "tok", "r-chosen", 0, RULES]);
  ws.deliver([14, "server_shutdown", "the server is shutting down"]);
  ws.closeFromServer(1001, "server_shutdown");
  advance(2000);
  ws = FakeSocket.last;
  ws.open();
  assert.deepEqual(ws.sent[0], [1, 1, "tester", null, "r-chosen"]);
});

test("a room or seat refused closes for good: the same HELLO would be refused again", () => {
  for (const [code, close] of [["room_not_found", 4404], ["room_full", 4409], ["room_disposed", 4410], ["invalid_seat", 4403]]) {
    const { client } = harness({ room: "r-gone", seat: "old" });
    client.connect();
    const ws = FakeSocket.last;
    ws.open();
    ws.deliver([13, code, "refused"]);
    ws.closeFromServer(close, code);
    assert.equal(client.state, "closed", code);
    assert.deepEqual({ ...client.lastClose }, { code: close, reason: code, errorCode: code, message: "refused", kind: "error" });
  }
});

test("backoff doubles up to a cap, with jitter", () => {
  const mid = () => 0.5;
  assert.deepEqual([1, 2, 3, 4, 5, 6, 9].map((n) => backoffDelay(n, { random: mid })), [500, 1000, 2000, 4000, 8000, 8000, 8000]);
  assert.equal(backoffDelay(1, { random: () => 0 }), 400);
});

test("in a background tab the snapshots carry the acknowledgements the slowed timer does not", () => {
  const { client, advance, timers } = harness();
  client.connect();
  const ws = FakeSocket.last;
  ws.open();
  ws.deliver([10, 1, 7, 30, 30, "tok", "r-1", 0, RULES]);
  advance(10);
  for (const t of timers.values()) t.at += 60_000; // timers now wake once a minute
  const count = () => ws.sent.filter((m) => m[0] === 2).length;
  const before = count();
  advance(1500);
  ws.deliver([11, 45, null, null, [[7, 1, "tester", 8000, 8000, 0, 100]], [], [], []]);
  const acks = ws.sent.filter((m) => m[0] === 2).slice(before);
  assert.equal(acks.length, 1);
  assert.equal(acks[0][6], 45);
  ws.deliver([11, 46, 45, null, [], [], [], []]);
  assert.equal(count() - before, 1, "not on every snapshot: once the timer lags a second");
});

test("the interpolation delay is 100 ms, or two snapshot intervals when longer, unless asked", () => {
  const { client } = harness();
  client.connect();
  const ws = FakeSocket.last;
  ws.open();
  ws.deliver([10, 1, 7, 30, 10, "tok", "r-1", 0, RULES]);
  assert.equal(client.interpDelay, 200);
  client.interpDelayMs = 50;
  assert.equal(client.interpDelay, 50);
});

test("the map the welcome names gives the prediction its walls, across reconnections", async () => {
  const { WallGrid } = await import("../../client_demo/js/collision.js");
  const { client, advance } = harness();
  client.connect();
  let ws = FakeSocket.last;
  ws.open();
  ws.deliver([10, 1, 7, 30, 30, "tok", "r-1", 100, { ...RULES, player_radius: 16 }, "arena"]);
  assert.equal(client.welcome.map, "arena");
  assert.equal(client.predictor.walls, null); // not read yet
  const walls = WallGrid.fromRows(["....", "....", "...."], 32); // 128 x 96: edges are walls
  client.setMap({ name: "other", walls });
  assert.equal(client.predictor.walls, null); // not the server's map
  client.setMap({ name: "arena", walls });
  assert.equal(client.predictor.walls, walls);
  ws.deliver([11, 101, null, null, [[7, 1, "tester", 100 * 8, 40 * 8, 0, 100]], [], [], []]);
  advance((1000 / 30) * 5 + 1); // six inputs moving right: stopped at the map's edge, 128 - 16
  assert.equal(client.predictor.x, 112);
  ws.closeFromServer(1006, "");
  advance(60_000);
  ws = FakeSocket.last;
  ws.open();
  ws.deliver([10, 1, 8, 30, 30, "tok", "r-1", 200, { ...RULES, player_radius: 16 }, "arena"]);
  assert.equal(client.predictor.walls, walls); // kept for the new session
  ws.deliver([10, 1, 9, 30, 30, "tok", "r-1", 300, RULES, null]);
  assert.equal(client.predictor.walls, null); // a server without a map
});
