// Spectators in the page: the messages they add (HELLO's 7th field, FOLLOW, ACK, FOLLOWING), a
// spectating session with a fake WebSocket and hand-driven timers (no INPUT ever, an ACK per
// snapshot, rejoining as a spectator), and the pure helpers of spectate.js and lobby.js.
import { test } from "node:test";
import assert from "node:assert/strict";
import { decode, encode } from "../../client_demo/vendor/msgpack/dist.esm/index.mjs";

import { GameClient } from "../../client_demo/js/client.js";
import { explain, explainSpectate, watchLink, withSpectate } from "../../client_demo/js/lobby.js";
import {
  FATAL_CODES,
  MsgType,
  ProtocolError,
  decodeServer,
  encodeAck,
  encodeFollow,
  encodeHello,
} from "../../client_demo/js/protocol.js";
import { SpectatorCamera, playerName, spectateFromSearch, spectateLine } from "../../client_demo/js/spectate.js";

const bytes = (array) => encode(array);

// --- protocol -------------------------------------------------------------------------------

test("a spectating HELLO has 7 fields: no token, the room (or nil), no seat, true", () => {
  assert.deepEqual(decode(encodeHello("Zoë", { spectate: true })), [1, 1, "Zoë", null, null, null, true]);
  assert.deepEqual(decode(encodeHello("Zoë", { spectate: true, room: "r-1" })), [1, 1, "Zoë", null, "r-1", null, true]);
  // a player's HELLO is unchanged: 5 fields, 6 with a seat
  assert.deepEqual(decode(encodeHello("Zoë", { room: "r-1" })), [1, 1, "Zoë", null, "r-1"]);
  assert.deepEqual(decode(encodeHello("Zoë", { spectate: false, room: "r-1", seat: "s" })), [1, 1, "Zoë", null, "r-1", "s"]);
  // the server refuses a spectator with a token or a seat: the page never makes one
  assert.throws(() => encodeHello("Zoë", { spectate: true, sessionToken: "tok" }), TypeError);
  assert.throws(() => encodeHello("Zoë", { spectate: true, seat: "s" }), TypeError);
});

test("FOLLOW carries an entity id or nil; ACK a tick", () => {
  assert.equal(MsgType.FOLLOW, 4);
  assert.equal(MsgType.ACK, 5);
  assert.deepEqual(decode(encodeFollow(7)), [4, 7]);
  assert.deepEqual(decode(encodeFollow(null)), [4, null]);
  for (const bad of [0, -1, 1.5, 2 ** 32, "7", undefined]) assert.throws(() => encodeFollow(bad), RangeError, String(bad));
  assert.deepEqual(decode(encodeAck(0)), [5, 0]);
  assert.deepEqual(decode(encodeAck(123456)), [5, 123456]);
  for (const bad of [-1, 2.5, null]) assert.throws(() => encodeAck(bad), RangeError, String(bad));
});

test("FOLLOWING decodes to whom the spectator follows, null while the room has no player", () => {
  assert.equal(MsgType.FOLLOWING, 16);
  assert.deepEqual(decodeServer(bytes([16, 3])), { type: 16, entityId: 3 });
  assert.deepEqual(decodeServer(bytes([16, null])), { type: 16, entityId: null });
  assert.deepEqual(decodeServer(bytes([16, 3, "a later field"])), { type: 16, entityId: 3 });
  for (const bad of [[16], [16, 0], [16, "3"], [16, 1.5]]) assert.throws(() => decodeServer(bytes(bad)), ProtocolError, JSON.stringify(bad));
});

test("a spectator's WELCOME (entity 0, no token) decodes; spectator_input is this page's bug", () => {
  const w = decodeServer(bytes([10, 1, 0, 30, 30, "", "r-1", 100, { quanta: 8 }, "yard"]));
  assert.equal(w.entityId, 0);
  assert.equal(w.sessionToken, "");
  assert.ok(FATAL_CODES.has("spectator_input"));
});

// --- a spectating session -------------------------------------------------------------------

class FakeSocket {
  static last = null;
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    FakeSocket.last = this;
  }
  send(b) {
    this.sent.push(decode(b));
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
  closeFromServer(code, reason) {
    this.readyState = 3;
    if (this.onclose) this.onclose({ code, reason });
  }
  kinds() {
    return this.sent.map((m) => m[0]);
  }
}

const RULES = { world_width: 2000, world_height: 2000, speed: 150, dt: 1 / 30, quanta: 8, max_hp: 100 };
const TWO = [
  [3, 1, "Alice", 800, 800, 0, 100],
  [5, 1, "Bob", 8000, 8000, 0, 100],
];

function spectator(options = {}) {
  let now = 0;
  const timers = new Map();
  let nextId = 1;
  let inputsRead = 0;
  const client = new GameClient({
    url: "ws://test/ws",
    name: "watcher",
    spectate: true,
    readInput: () => {
      inputsRead += 1;
      return { moveX: 1, moveY: 0, aim: 0, buttons: 1 };
    },
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
  return { client, advance, inputsRead: () => inputsRead };
}

/** A spectator welcomed in room r-1 holding a full snapshot of Alice (3) and Bob (5) at tick 100. */
function watching(options = {}) {
  const h = spectator(options);
  h.client.connect();
  const ws = FakeSocket.last;
  ws.open();
  ws.deliver([10, 1, 0, 30, 30, "", "r-1", 100, RULES, null]);
  ws.deliver([16, 5]);
  ws.deliver([11, 100, null, null, TWO, [], [], []]);
  ws.deliver([15, [[5, "Bob", 2, 0, 0], [3, "Alice", 1, 0, 0]]]);
  return { ...h, ws };
}

test("a spectator: entity 0 is nobody, nothing is predicted, and no INPUT is ever sent", () => {
  const { client, advance, ws, inputsRead } = watching({ room: "r-1" });
  assert.deepEqual(ws.sent[0], [1, 1, "watcher", null, "r-1", null, true]);
  assert.equal(client.state, "connected");
  assert.equal(client.myId, null, "WELCOME's 0 is not an own entity");
  assert.equal(client.predictor, null);
  assert.equal(client.sessionToken, null, 'the "" token is no token');
  assert.equal(client.following, 5);
  assert.equal(client.followKnown, true);
  assert.deepEqual([...client.mirror.entities.keys()].sort(), [3, 5]);
  ws.deliver([11, 101, 100, null, [], [3, 1, 880], [], [3, 0]]); // a shot that missed (hit 0)
  for (let s = 1; s <= 10; s++) {
    advance(s * 1000);
    ws.deliver([11, 101 + 30 * s, 101 + 30 * (s - 1), null, [], [], [], []]); // the server's heartbeat
  }
  assert.equal(client.state, "connected");
  assert.equal(client.stats.brokenStreams, 0);
  assert.ok(!ws.kinds().includes(MsgType.INPUT), `sent ${JSON.stringify(ws.kinds())}`);
  assert.equal(inputsRead(), 0);
  assert.equal(client.stats.inputsSent, 0);
  assert.equal(client.lastHitBy, null, "a miss hit no one, least of all entity null");
  assert.ok(client.stats.pings >= 10, "pings go on, for the round-trip time");
  client._sendInput(); // even asked to, it refuses
  assert.ok(!ws.kinds().includes(MsgType.INPUT));
});

test("a spectator acknowledges every snapshot with ACK, from the message itself (no timer)", () => {
  const { client, ws } = watching();
  assert.deepEqual(
    ws.sent.filter((m) => m[0] === MsgType.ACK),
    [[5, 100]],
  );
  ws.deliver([11, 130, 100, null, [], [], [], []]);
  ws.deliver([11, 131, 130, null, [], [5, 1, 8], [], []]);
  assert.deepEqual(
    ws.sent.filter((m) => m[0] === MsgType.ACK),
    [
      [5, 100],
      [5, 130],
      [5, 131],
    ],
  );
  assert.equal(client.stats.acksSent, 3);
});

test("follow() sends FOLLOW; FOLLOWING says whom the camera follows; a player cannot follow", () => {
  const { client, ws } = watching();
  assert.equal(client.follow(3), true);
  assert.deepEqual(ws.sent.at(-1), [4, 3]);
  assert.equal(client.following, 5, "until the server answers");
  ws.deliver([16, 3]);
  assert.equal(client.following, 3);
  assert.equal(client.follow(null), true);
  assert.deepEqual(ws.sent.at(-1), [4, null]);
  ws.deliver([16, null]); // every player left
  assert.equal(client.following, null);
  assert.equal(client.stats.follows, 2);

  const player = new GameClient({ url: "ws://test/ws", name: "p", readInput: () => ({}), WebSocketImpl: FakeSocket, setTimer: () => 0, clearTimer: () => {} });
  player.connect();
  const pws = FakeSocket.last;
  pws.open();
  pws.deliver([10, 1, 7, 30, 30, "tok", "r-1", 0, RULES]);
  assert.equal(player.follow(3), false);
  assert.ok(!pws.kinds().includes(MsgType.FOLLOW), "the server closes a player that sends FOLLOW");
});

test("a dropped spectator comes back as a spectator of the same room, following whom it chose", () => {
  const { client, advance, ws } = watching(); // joined the busiest room: room null in its HELLO
  assert.deepEqual(ws.sent[0], [1, 1, "watcher", null, null, null, true]);
  client.follow(3);
  ws.deliver([16, 3]);
  ws.closeFromServer(1006, ""); // no close frame
  assert.equal(client.state, "reconnecting");
  advance(1000);
  const again = FakeSocket.last;
  assert.notEqual(again, ws);
  again.open();
  assert.deepEqual(again.sent[0], [1, 1, "watcher", null, "r-1", null, true], "the room the server chose, by id");
  again.deliver([10, 1, 0, 30, 30, "", "r-1", 400, RULES, null]);
  assert.equal(client.following, null, "not known again until the server says");
  assert.equal(client.followKnown, false);
  again.deliver([16, 5]); // the server's pick, right after the WELCOME
  assert.deepEqual(again.sent.at(-1), [4, 3], "asks again for the player it followed");
  again.deliver([16, 3]);
  assert.equal(client.following, 3);
  assert.equal(client.joinKind, "new");
  assert.equal(client.stats.resumes, 0);
  assert.equal(client.myId, null);

  // too_slow: tried again, still as a spectator (no token to keep)
  again.deliver([13, "too_slow", "acknowledgements lag"]);
  again.closeFromServer(1008, "too_slow");
  assert.equal(client.state, "reconnecting");
  advance(3000);
  FakeSocket.last.open();
  assert.deepEqual(FakeSocket.last.sent[0], [1, 1, "watcher", null, "r-1", null, true]);
});

test("a spectator refused or disposed with its room stops; spectator_input stops for good", () => {
  for (const [word, code, close] of [
    [13, "room_not_found", 4404],
    [13, "room_full", 4409],
    [14, "room_disposed", 4410],
    [13, "spectator_input", 1008],
    [13, "invalid_message", 1007],
  ]) {
    const { client, advance, ws } = watching();
    ws.deliver([word, code, "refused"]);
    ws.closeFromServer(close, code);
    assert.equal(client.state, "closed", code);
    assert.equal(client.lastClose.errorCode, code);
    advance(60_000);
    assert.equal(FakeSocket.last, ws, `${code}: not retried`);
  }
});

// --- spectate.js ----------------------------------------------------------------------------

test("?spectate=1 asks to watch ?room=ID, or alone the busiest public room", () => {
  assert.deepEqual(spectateFromSearch("?spectate=1"), { room: null });
  assert.deepEqual(spectateFromSearch("?room=r-1&spectate=1"), { room: "r-1" });
  assert.deepEqual(spectateFromSearch("?spectate=true&room=%20r-2%20&name=Al"), { room: "r-2" });
  assert.equal(spectateFromSearch("?room=r-1"), null);
  assert.equal(spectateFromSearch("?spectate=0&room=r-1"), null);
  assert.equal(spectateFromSearch(""), null);
  assert.equal(spectateFromSearch(`?spectate=1&room=${"x".repeat(40)}`).room.length, 32);
});

test("the overlay line names the player followed, or says the room waits for players", () => {
  const scoreboard = [{ id: 3, name: "Alice", score: 1, deaths: 0, away: false }];
  const entities = new Map([
    [3, { x: 1, y: 2, name: "Alice (entity)" }],
    [5, { x: 3, y: 4, name: "Bob" }],
  ]);
  assert.equal(spectateLine({ known: false, following: null }), "spectating…");
  assert.equal(spectateLine({ known: true, following: null, scoreboard, entities }), "waiting for players");
  assert.equal(spectateLine({ known: true, following: 3, scoreboard, entities }), "spectating Alice");
  assert.equal(spectateLine({ known: true, following: 5, scoreboard, entities }), "spectating Bob", "not on the scoreboard yet");
  assert.equal(spectateLine({ known: true, following: 9, scoreboard, entities }), "spectating player 9");
  assert.equal(playerName(null, scoreboard, entities), null);
  assert.equal(playerName(0, scoreboard, entities), null);
});

test("the spectator's camera centres on the player followed as drawn, and holds while it is out of sight", () => {
  const cam = new SpectatorCamera();
  assert.equal(cam.update(new Map(), null), null, "no one followed: the middle of the world");
  const drawn = new Map([
    [3, { x: 100, y: 200 }],
    [5, { x: 900, y: 50 }],
  ]);
  assert.deepEqual(cam.update(drawn, 3), { x: 100, y: 200 });
  drawn.set(3, { x: 110.5, y: 201 }); // interpolated a frame later
  assert.deepEqual(cam.update(drawn, 3), { x: 110.5, y: 201 });
  assert.deepEqual(cam.update(new Map([[5, { x: 900, y: 50 }]]), 7), { x: 110.5, y: 201 }, "7 not drawn yet: held");
  assert.deepEqual(cam.update(drawn, 5), { x: 900, y: 50 });
  assert.equal(cam.update(drawn, null), null);
  cam.update(drawn, 5);
  cam.reset();
  assert.equal(cam.focus, null);
});

// --- lobby.js -------------------------------------------------------------------------------

test("the watch link is the page with ?room=ID&spectate=1; playing drops ?spectate", () => {
  assert.equal(watchLink("http://h:8000/", "r-1"), "http://h:8000/?room=r-1&spectate=1");
  assert.equal(watchLink("http://h/?name=Al&debug=1&room=r-0", "r-2"), "http://h/?debug=1&room=r-2&spectate=1");
  assert.equal(
    watchLink("http://h/?server=ws%3A%2F%2Fg%3A9%2Fws", "r-3"),
    "http://h/?server=ws%3A%2F%2Fg%3A9%2Fws&room=r-3&spectate=1",
  );
  assert.equal(withSpectate("http://h/?room=r-1&spectate=1&debug=1", false), "http://h/?room=r-1&debug=1");
  assert.equal(withSpectate("http://h/?room=r-1", true), "http://h/?room=r-1&spectate=1");
});

test("a refusal to watch reads as a sentence that keeps its code", () => {
  const busiest = explainSpectate("room_not_found", "", null);
  assert.match(busiest, /nothing to watch.*\(room_not_found\)$/);
  assert.equal(explainSpectate("room_not_found", "", "r-1"), explain("room_not_found"));
  assert.match(explainSpectate("room_full", "", "r-1"), /spectators.*\(room_full\)$/);
  assert.equal(explainSpectate("room_disposed", "", "r-1"), explain("room_disposed"));
});
