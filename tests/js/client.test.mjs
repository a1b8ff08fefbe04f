// client.js with a fake WebSocket and hand-driven timers: handshake, inputs from the timer with
// acknowledgements, prediction on the way, what each kind of close leads to, and coming back as
// the same player after a drop (the token, the dead-connection check, the backoff).
import { test } from "node:test";
import assert from "node:assert/strict";
import { decode, encode } from "../../client_demo/vendor/msgpack/dist.esm/index.mjs";

import { DROP_CLOSE_CODE, GameClient, STALL_MS, WELCOME_TIMEOUT_MS, backoffDelay } from "../../client_demo/js/client.js";

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
  // driving it (a page that let go of the socket has no handlers left on it)
  open() {
    this.readyState = 1;
    if (this.onopen) this.onopen();
  }
  deliver(array) {
    if (this.onmessage) this.onmessage({ data: encode(array).slice().buffer });
  }
  closeFromServer(code, reason) {
    this.readyState = 3;
    if (this.onclose) this.onclose({ code, reason });
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

test("the mirror reads the snapshots by the schema the welcome carries; without one, by the arena's", () => {
  const { client } = harness();
  client.connect();
  const ws = FakeSocket.last;
  ws.open();
  const player = {
    id: 1,
    name: "player",
    fields: [
      { name: "name", type: "text", max: 24 },
      { name: "x", type: "position" },
      { name: "y", type: "position" },
      { name: "angle", type: "angle" },
      { name: "hp", type: "int", min: 0, max: 65536 },
    ],
  };
  const ball = { id: 2, name: "ball", fields: [{ name: "x", type: "position" }, { name: "y", type: "position" }, { name: "spin", type: "int", min: -9, max: 9 }] };
  const schema = { quanta: 8, angle_steps: 256, kinds: [player, ball], inputs: [] };
  ws.deliver([10, 1, 7, 30, 30, "tok", "r-1", 100, RULES, null, schema]);
  ws.deliver([11, 101, null, null, [[7, 1, "tester", 8000, 8000, 0, 100], [9, 2, 80, 16, -5]], [9, 4, 3], [], []]);
  assert.deepEqual(client.mirror.entities.get(9), { id: 9, kind: 2, qx: 80, qy: 16, spin: 3 });
  assert.equal(client.mirror.entities.get(7).hp, 100);
  assert.deepEqual(client.buffer.frames.at(-1).entities.get(9), { id: 9, kind: 2, x: 10, y: 2, spin: 3 });
  // the next welcome, from a server older than schemas: a ball is a kind this mirror lacks
  ws.deliver([10, 1, 7, 30, 30, "tok", "r-1", 200, RULES, null]);
  assert.equal(client.mirror.schema.kinds.size, 1);
  ws.deliver([11, 201, null, null, [[7, 1, "tester", 8000, 8000, 0, 100]], [7, 8, 90], [], []]);
  assert.deepEqual(client.mirror.rows(), { 7: [8000, 8000, 1, "tester", 0, 90] });
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
  assert.deepEqual(ws.sent[0], [1, 1, "tester", "tok", "r-abc"]); // no seat: the token resumes the player
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
  assert.deepEqual([1, 2, 3, 4, 5, 6, 9].map((n) => backoffDelay(n, { random: mid })), [250, 500, 1000, 2000, 4000, 4000, 4000]);
  assert.equal(backoffDelay(1, { random: () => 0 }), 200);
  assert.equal(backoffDelay(5, { random: () => 0.999999 }), 4800);
  // within the server's 20 s grace, a page that saw its connection die gets several tries
  let total = STALL_MS;
  let tries = 0;
  for (let n = 1; total + backoffDelay(n, { random: () => 1 }) < 20_000; n++) {
    total += backoffDelay(n, { random: () => 1 });
    tries += 1;
  }
  assert.ok(tries >= 6, `${tries} attempts`);
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
  advance(2000);
  ws = FakeSocket.last;
  ws.open();
  ws.deliver([10, 1, 8, 30, 30, "tok", "r-1", 200, { ...RULES, player_radius: 16 }, "arena"]);
  assert.equal(client.predictor.walls, walls); // kept for the new session
  ws.deliver([10, 1, 9, 30, 30, "tok", "r-1", 300, RULES, null]);
  assert.equal(client.predictor.walls, null); // a server without a map
});

// --- coming back as the same player ---------------------------------------------------------

/** A client welcomed as entity 7 in room r-1 with token "tok-1", holding a full snapshot at tick 100. */
function playing(options = {}) {
  const h = harness(options);
  h.client.connect();
  const ws = FakeSocket.last;
  ws.open();
  ws.deliver([10, 1, 7, 30, 30, "tok-1", "r-1", 100, RULES]);
  ws.deliver([11, 100, null, null, [[7, 1, "tester", 8000, 8000, 0, 100], [3, 1, "other", 800, 800, 0, 100]], [], [], []]);
  ws.deliver([15, [[3, "other", 2, 0, 0], [7, "tester", 1, 0, 0]]]);
  return { ...h, ws };
}

test("a dropped connection resumes the same player with the last token; the new token is kept", () => {
  const { client, advance, ws } = playing();
  advance(100);
  assert.ok(client.seq >= 3);
  ws.closeFromServer(1006, ""); // no close frame: the server keeps the player
  assert.equal(client.state, "reconnecting");
  assert.ok(client.retryAt - 100 >= 200 && client.retryAt - 100 <= 300, "the first try within 0.3 s");
  advance(400);
  const again = FakeSocket.last;
  assert.notEqual(again, ws);
  again.open();
  assert.deepEqual(again.sent[0], [1, 1, "tester", "tok-1", "r-1"]);
  again.deliver([10, 1, 7, 30, 30, "tok-2", "r-1", 112, RULES]);
  assert.equal(client.state, "connected");
  assert.equal(client.myId, 7);
  assert.equal(client.joinKind, "resumed");
  assert.equal(client.stats.resumes, 1);
  assert.equal(client.sessionToken, "tok-2");
  assert.ok(client.stats.lastOutageMs >= 300 && client.stats.lastOutageMs <= 400, client.stats.lastOutageMs);
  // the old state is gone: the full snapshot that follows is the only one held
  assert.equal(client.mirror.entities.size, 0);
  assert.equal(client.scoreboard.length, 2, "the room's scoreboard stays until the next one");
  again.deliver([11, 112, null, null, [[7, 1, "tester", 8040, 8000, 0, 100]], [], [], []]);
  assert.deepEqual([...client.mirror.entities.keys()], [7]);
  assert.equal(client.predictor.x, 1005, "prediction restarts from the full snapshot, not the old position");
  advance(401);
  const inputs = again.sent.filter((m) => m[0] === 2);
  assert.equal(inputs[0][1], 1, "the input seq starts afresh on the new connection");
  assert.equal(inputs[0][6], 112);
  assert.equal(client.predictor.x, 1010);
  // and the next drop sends the newest token
  again.closeFromServer(1006, "");
  advance(1000);
  FakeSocket.last.open();
  assert.deepEqual(FakeSocket.last.sent[0], [1, 1, "tester", "tok-2", "r-1"]);
});

test("no snapshot for 2.5 s: the socket is dropped with a code the server keeps the player for, then resumed", () => {
  const { client, advance, ws } = playing();
  // heartbeats at 1 s and 2 s keep it alive
  advance(1000);
  ws.deliver([11, 130, 100, null, [], [], [], []]);
  advance(2000);
  ws.deliver([11, 160, 130, null, [], [], [], []]);
  advance(2000 + STALL_MS - 10);
  assert.equal(client.state, "connected");
  assert.equal(ws.closedWith, undefined);
  advance(2000 + STALL_MS);
  assert.equal(client.state, "reconnecting");
  assert.deepEqual(ws.closedWith, [DROP_CLOSE_CODE, "no_snapshots"]);
  assert.notEqual(DROP_CLOSE_CODE, 1000);
  assert.notEqual(DROP_CLOSE_CODE, 1001);
  assert.equal(client.lastClose.kind, "stalled");
  assert.equal(client.stats.stalls, 1);
  // what the dead socket still delivers (or its close, much later) is not this page's news
  const sentBefore = ws.sent.length;
  ws.deliver([11, 161, 160, null, [], [], [], []]);
  ws.closeFromServer(1006, "");
  assert.equal(client.mirror.tick, 160);
  assert.equal(client.attempt, 1);
  advance(2000 + STALL_MS + 300);
  const again = FakeSocket.last;
  assert.notEqual(again, ws);
  assert.equal(ws.sent.length, sentBefore, "no input went to the dead socket after it was dropped");
  again.open();
  assert.deepEqual(again.sent[0], [1, 1, "tester", "tok-1", "r-1"]);
  again.deliver([10, 1, 7, 30, 30, "tok-2", "r-1", 200, RULES]);
  assert.equal(client.joinKind, "resumed");
  assert.equal(client.stats.lastOutageMs, client.now() - (2000 + STALL_MS));
});

test("while offline every attempt fails at once: the backoff grows, then the player resumes", () => {
  const { client, advance, ws } = playing();
  advance(STALL_MS); // the network went away: no snapshot since the welcome
  assert.deepEqual(ws.closedWith, [DROP_CLOSE_CODE, "no_snapshots"]);
  const delays = [];
  for (let i = 0; i < 4; i++) {
    const before = FakeSocket.last;
    const at = client.retryAt;
    delays.push(at - client.now());
    advance(at);
    assert.notEqual(FakeSocket.last, before);
    FakeSocket.last.closeFromServer(1006, ""); // offline: the connection fails before opening
    assert.equal(client.lastClose.kind, "unreachable");
  }
  delays.push(client.retryAt - client.now());
  const base = [250, 500, 1000, 2000, 4000];
  delays.forEach((d, i) => assert.ok(d >= base[i] * 0.8 && d <= base[i] * 1.2, `attempt ${i + 1}: ${d} ms`));
  advance(client.retryAt);
  FakeSocket.last.open();
  assert.deepEqual(FakeSocket.last.sent[0], [1, 1, "tester", "tok-1", "r-1"], "the token survives failed attempts");
});

test("a check that itself wakes late waits for the snapshots queued behind it", () => {
  const { client, advance, timers, ws } = playing();
  // the page stalls for 3 s: every timer fires late, and the snapshots of those 3 s wait in the queue
  for (const t of timers.values()) t.at += 3000;
  advance(STALL_MS + 3000);
  assert.equal(client.state, "connected", "not judged dead by a check that ran late");
  ws.deliver([11, 190, 100, null, [], [], [], []]); // the queued snapshot is read
  advance(STALL_MS + 3000 + 200);
  assert.equal(client.state, "connected");
  assert.equal(client.stats.stalls, 0);
  // a real silence after that is still caught
  advance(STALL_MS + 3000 + STALL_MS + 100);
  assert.equal(client.state, "reconnecting");
});

test("a connection not welcomed within 5 s is given up and tried again", () => {
  const { client, advance } = harness();
  client.connect();
  const ws = FakeSocket.last;
  ws.open(); // HELLO goes, nothing comes back
  advance(WELCOME_TIMEOUT_MS - 10);
  assert.equal(client.state, "connecting");
  advance(WELCOME_TIMEOUT_MS);
  assert.equal(client.state, "reconnecting");
  assert.deepEqual(ws.closedWith, [DROP_CLOSE_CODE, "no_welcome"]);
  advance(WELCOME_TIMEOUT_MS + 300);
  assert.notEqual(FakeSocket.last, ws);
});

test("session_expired: the same room is joined afresh at once, without the token", () => {
  const { client, advance, ws } = playing();
  ws.closeFromServer(1006, "");
  advance(400);
  const resume = FakeSocket.last;
  resume.open();
  assert.equal(resume.sent[0][3], "tok-1");
  resume.deliver([13, "session_expired", "no such session"]);
  resume.closeFromServer(4401, "session_expired");
  const fresh = FakeSocket.last;
  assert.notEqual(fresh, resume, "no backoff: the refusal is final for the token, not for the room");
  assert.equal(client.state, "connecting");
  assert.equal(client.lastClose.errorCode, "session_expired");
  fresh.open();
  assert.deepEqual(fresh.sent[0], [1, 1, "tester", null, "r-1"]);
  fresh.deliver([10, 1, 12, 30, 30, "tok-9", "r-1", 900, RULES]);
  assert.equal(client.joinKind, "rejoined");
  assert.equal(client.myId, 12);
  assert.equal(client.sessionToken, "tok-9");
  assert.equal(client.stats.resumes, 0);
});

test("session_expired and the room is gone too: closed, with the room's refusal for the page to show", () => {
  const { client, advance, ws } = playing();
  ws.closeFromServer(1006, "");
  advance(400);
  FakeSocket.last.open();
  FakeSocket.last.deliver([13, "session_expired", "no such session"]);
  FakeSocket.last.closeFromServer(4401, "session_expired");
  FakeSocket.last.open();
  FakeSocket.last.deliver([13, "room_disposed", "room r-1 was disposed"]);
  FakeSocket.last.closeFromServer(4410, "room_disposed");
  assert.equal(client.state, "closed");
  assert.equal(client.lastClose.errorCode, "room_disposed");
  assert.equal(client.room, "r-1");
});

test("session_replaced: another tab plays this player now; no reconnection", () => {
  const { client, advance, ws } = playing();
  ws.deliver([14, "session_replaced", "resumed by another connection"]);
  ws.closeFromServer(4001, "session_replaced");
  assert.equal(client.state, "closed");
  assert.equal(client.lastClose.kind, "goodbye");
  assert.equal(client.sessionToken, null);
  advance(60_000);
  assert.equal(FakeSocket.last, ws, "never retried by itself");
  // the Reconnect button joins as a new player: the token went to the other tab
  client.connect();
  FakeSocket.last.open();
  assert.deepEqual(FakeSocket.last.sent[0], [1, 1, "tester", null, "r-1"]);
});

test("leaving closes with 1000, so the server removes the player; too_slow keeps the token, other errors do not", () => {
  const left = playing();
  left.client.disconnect();
  assert.deepEqual(left.ws.closedWith, [1000, "bye"]);
  assert.equal(left.client.sessionToken, null);
  left.advance(60_000);
  assert.equal(FakeSocket.last, left.ws);

  const slow = playing();
  slow.ws.deliver([13, "too_slow", "acknowledgements lag"]);
  slow.ws.closeFromServer(1008, "too_slow");
  assert.equal(slow.client.state, "reconnecting");
  slow.advance(400);
  FakeSocket.last.open();
  assert.equal(FakeSocket.last.sent[0][3], "tok-1", "the server keeps a player it cut as too slow");

  const limited = playing();
  limited.ws.deliver([13, "rate_limited", "too many messages"]);
  limited.ws.closeFromServer(1008, "rate_limited");
  limited.advance(400);
  FakeSocket.last.open();
  assert.equal(FakeSocket.last.sent[0][3], null, "an error removed the player: its token would be refused");
});

test("a game's own input fields go out in its schema's order, by name from readInput()", () => {
  const { client, advance } = harness({
    readInput: () => ({ throttle: 0.75, steer: -3, horn: true }),
    readRules: () => ({}),
    makePredictor: () => null,
  });
  client.connect();
  const ws = FakeSocket.last;
  ws.open();
  const schema = {
    quanta: 8,
    angle_steps: 256,
    kinds: [{ id: 1, name: "rover", fields: [{ name: "x", type: "position" }, { name: "y", type: "position" }] }],
    inputs: [
      { name: "throttle", type: "float", min: 0.0, max: 1.0 },
      { name: "steer", type: "int", min: -1, max: 1 },
      { name: "horn", type: "flags", min: 0, max: 1 },
    ],
  };
  ws.deliver([10, 1, 7, 30, 30, "tok", "r-1", 100, {}, null, schema]);
  assert.equal(client.state, "connected");
  ws.deliver([11, 101, null, null, [[7, 1, 8, 16]], [], [], []]);
  advance(1000 / 30 + 1);
  const inputs = ws.sent.filter((m) => m[0] === 2);
  assert.ok(inputs.length >= 1);
  // [2, seq, throttle, steer (clamped to -1..1), horn (true: 1), ack_tick]
  assert.deepEqual(inputs.at(-1).slice(0, 6), [2, inputs.at(-1)[1], 0.75, -1, 1, 101]);
});

test("a snapshot whose checksum what is held disagrees with sends RESYNC, at most one a second", () => {
  const { client, advance } = harness();
  client.connect();
  const ws = FakeSocket.last;
  ws.open();
  ws.deliver([10, 1, 7, 30, 30, "tok", "r-1", 100, RULES]);
  const spawn = [7, 1, "tester", 8000, 8000, 0, 100];
  ws.deliver([11, 101, null, null, [spawn], [], [], [], null]);
  const right = client.mirror.checksum();
  ws.deliver([11, 102, 101, null, [], [], [], [], right]);
  assert.equal(client.stats.checksumsMatched, 1);
  client.mirror.entities.get(7).hp = 1; // gone wrong
  ws.deliver([11, 103, 102, null, [], [], [], [], right]);
  assert.equal(client.stats.desyncs, 1);
  assert.equal(client.stats.resyncs, 1);
  assert.deepEqual(ws.sent.filter((m) => m[0] === 6), [[6]]);
  ws.deliver([11, 104, 103, null, [], [], [], [], right]); // still wrong: the full one is on its way
  assert.equal(client.stats.desyncs, 2);
  assert.equal(ws.sent.filter((m) => m[0] === 6).length, 1);
  ws.deliver([11, 105, null, null, [spawn], [], [], [], right]); // the full snapshot: healed
  assert.equal(client.mirror.entities.get(7).hp, 100);
  assert.equal(client.stats.checksumsMatched, 2);
  advance(1500);
  client.mirror.entities.get(7).hp = 2;
  ws.deliver([11, 106, 105, null, [], [], [], [], right]);
  assert.equal(ws.sent.filter((m) => m[0] === 6).length, 2, "a second later, another RESYNC");
  assert.equal(client.state, "connected");
});
