// protocol.js + mirror.js against snapshot streams recorded from the Python room
// (tests/js_fixtures.py): after every snapshot the JS mirror holds exactly what Python's
// replication.Mirror holds. Also the encoder's bytes and the broken-stream check.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import { MsgType, ProtocolError, decodeServer, encodeInput, encodeHello, encodePing, parseServer } from "../../client_demo/js/protocol.js";
import { BrokenStream, Mirror } from "../../client_demo/js/mirror.js";
import { ARENA_SCHEMA } from "../../client_demo/js/schema.js";

const streams = JSON.parse(readFileSync(new URL("./fixtures/snapshots.json", import.meta.url)));

function bytes(b64) {
  return new Uint8Array(Buffer.from(b64, "base64"));
}

for (const [name, stream] of Object.entries(streams)) {
  test(`the mirror follows the server's stream "${name}" snapshot by snapshot`, () => {
    let mirror = null;
    let welcomed = false;
    let snapshots = 0;
    let scoreboards = 0;
    let shots = 0;
    for (const m of stream.messages) {
      const msg = decodeServer(bytes(m.bytes));
      if (msg.type === MsgType.WELCOME) {
        assert.equal(msg.entityId, stream.entity_id);
        assert.equal(msg.rules.quanta, stream.quanta);
        // the client falls back on ARENA_SCHEMA for a server that sends none: the arena's fields
        // as they were then come first in the arena's schema now
        const player = msg.schema.kinds.find((k) => k.id === 1);
        assert.deepEqual(player.fields.slice(0, ARENA_SCHEMA.kinds[0].fields.length), ARENA_SCHEMA.kinds[0].fields);
        mirror = new Mirror(msg.schema);
        welcomed = true;
      } else if (msg.type === MsgType.SNAPSHOT) {
        assert.ok(welcomed, "welcome comes first");
        assert.equal(mirror.apply(msg), true, "what is held agrees with the server's checksum");
        assert.equal(mirror.tick, m.tick);
        assert.equal(mirror.lastSeq, m.last_seq);
        assert.deepEqual(mirror.rows(), m.rows);
        assert.ok(mirror.entities.has(stream.entity_id), "the own entity is always held");
        shots += msg.shots.length;
        snapshots += 1;
      } else if (msg.type === MsgType.SCOREBOARD) {
        assert.ok(msg.lines.every((l) => typeof l.name === "string" && Number.isInteger(l.score)));
        scoreboards += 1;
      }
    }
    assert.ok(snapshots > 50 && scoreboards > 0 && shots > 0, `${snapshots} snapshots, ${scoreboards} scoreboards, ${shots} shots`);
    assert.ok(mirror.checksumsMatched >= 2 && mirror.checksumsMismatched === 0, `${mirror.checksumsMatched} checksums`);
    const frame = mirror.frame(stream.quanta);
    const own = mirror.entities.get(stream.entity_id);
    assert.equal(frame.get(stream.entity_id).x, own.qx / stream.quanta);
  });
}

test("a delta against a tick not held is refused and changes nothing", () => {
  const mirror = new Mirror();
  mirror.apply({ tick: 10, baseline: null, lastSeq: null, spawns: [{ id: 1, kind: 1, values: ["a", 80, 8, 0, 100] }], changes: [], removals: [], shots: [] });
  const before = JSON.stringify(mirror.rows());
  const delta = (more) => ({ tick: 12, baseline: 10, lastSeq: 1, spawns: [], changes: [], removals: [], shots: [], ...more });
  assert.throws(() => mirror.apply(delta({ baseline: 11, changes: [{ id: 1, mask: 1, values: [8] }] })), BrokenStream);
  assert.throws(() => mirror.apply(delta({ changes: [{ id: 9, mask: 1, values: [8] }] })), BrokenStream);
  // checked before anything changes: a removal and a spawn ahead of the bad record are not applied
  const spawn2 = { id: 2, kind: 1, values: ["b", 0, 0, 0, 100] };
  assert.throws(() => mirror.apply(delta({ removals: [1], spawns: [spawn2], changes: [{ id: 1, mask: 1, values: [8] }] })), BrokenStream);
  assert.throws(() => mirror.apply(delta({ spawns: [spawn2, { id: 3, kind: 1, values: ["c", 0, 0, 0] }] })), BrokenStream); // a value short
  assert.throws(() => mirror.apply(delta({ spawns: [spawn2, { id: 3, kind: 1, values: [5, 0, 0, 0, 100] }] })), BrokenStream); // a name not a string
  assert.throws(() => mirror.apply(delta({ spawns: [spawn2], changes: [{ id: 1, mask: 8, values: ["x"] }] })), BrokenStream);
  assert.equal(JSON.stringify(mirror.rows()), before);
  assert.equal(mirror.tick, 10);
  // a full snapshot drops everything held
  mirror.apply({ tick: 20, baseline: null, lastSeq: 3, spawns: [{ id: 2, kind: 1, values: ["b", 0, 0, 5, 50] }], changes: [], removals: [], shots: [] });
  assert.deepEqual(Object.keys(mirror.rows()), ["2"]);
});

test("changes apply X and Y as deltas, ANGLE and HP as absolutes, after removals and spawns", () => {
  const mirror = new Mirror();
  mirror.apply(parseServer([11, 1, null, null, [[1, 1, "a", 80, 80, 0, 100], [2, 1, "b", 0, 0, 0, 100]], [], [], []]));
  // entity 2 removed, 3 spawned, 1 moved -1 in x, +2 in y, turned to 64 and hurt to 75
  mirror.apply(parseServer([11, 2, 1, 4, [[3, 1, "c", 8, 16, 128, 100]], [1, 15, -8, 16, 64, 75, 3, 8, 50], [2], [1, 3]]));
  assert.deepEqual(mirror.rows(), { 1: [72, 96, 1, "a", 64, 75], 3: [8, 16, 1, "c", 128, 50] });
  assert.equal(mirror.lastSeq, 4);
  // entities by field name, as the page draws them
  assert.deepEqual(mirror.entities.get(1), { id: 1, kind: 1, name: "a", qx: 72, qy: 96, angle: 64, hp: 75 });
  assert.deepEqual(mirror.frame(8).get(3), { id: 3, kind: 1, name: "c", x: 1, y: 2, angle: 128, hp: 50 });
  assert.deepEqual(mirror.frame().get(3), mirror.frame(8).get(3), "the schema's quanta by default");
});

test("the decoder parses shots and tolerates a snapshot without them", () => {
  const s = parseServer([11, 5, 4, null, [], [], [], [7, 0, 8, 9]]);
  assert.deepEqual(s.shots, [{ shooter: 7, hit: null }, { shooter: 8, hit: 9 }]);
  assert.deepEqual(parseServer([11, 5, 4, null, [], [], []]).shots, []);
  assert.throws(() => parseServer([11, 5, 4, null, [], [1, 1], []]), ProtocolError); // cut short
  assert.throws(() => parseServer([11, 5, 4, null, [], [1, 7, 8, 8], []]), ProtocolError); // 3 bits, 2 values
  assert.throws(() => parseServer([11, 5, 4, null, [[1]], [], []]), ProtocolError); // a spawn without its kind
  assert.throws(() => parseServer([11, 5, 4, null, [[1, "player"]], [], []]), ProtocolError);
  assert.throws(() => parseServer([11, 5, 4, null, [], [1, 1, 0.5], []]), ProtocolError); // neither an int nor a string
  assert.throws(() => parseServer([11, 5, 4, null, [], [], [], [1]]), ProtocolError); // odd shots
  assert.ok(parseServer([99, "future"]).unknown);
  assert.throws(() => decodeServer(new Uint8Array([0xc1])), ProtocolError);
});

test("INPUT bytes: integers go as msgpack ints (the worked example of docs/protocol.md)", () => {
  const hex = (b) => Buffer.from(b).toString("hex");
  assert.equal(hex(encodeInput({ seq: 1, moveX: 1, moveY: 0, aim: 0, buttons: 0, ackTick: 41 })), "97020101000000" + "29");
  // a fractional aim is a float64; render_tick is the optional 8th field, floored to an int
  const b = encodeInput({ seq: 2, moveX: -1, moveY: 0.5, aim: 1.5, buttons: 1, ackTick: null, renderTick: 39.7 });
  assert.equal(hex(b), "98" + "02" + "02" + "ff" + "cb3fe0000000000000" + "cb3ff8000000000000" + "01" + "c0" + "27");
  assert.equal(hex(encodeHello("Al")), "9501" + "01" + "a2416c" + "c0c0");
  // with a seat from matchmaking: 6 fields, the room's id and then the seat
  assert.equal(hex(encodeHello("Al", { room: "r-1", seat: "s" })), "9601" + "01" + "a2416c" + "c0" + "a3722d31" + "a173");
  assert.equal(hex(encodeHello("Al", { room: "r-1" })), "9501" + "01" + "a2416c" + "c0" + "a3722d31"); // join by id
  assert.equal(hex(encodePing(5)), "920305");
  assert.throws(() => encodeInput({ seq: 1.5, moveX: 0, moveY: 0, aim: 0 }), RangeError);
});
