// schema.js and the schema-driven mirror: streams of games other than the arena recorded from
// the Python encoder and mirror (tests/js_fixtures.py: a field a later version appends to the
// player, a second kind), a client that knows fewer fields than the server sends, and schemas
// that are not ones.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import { MsgType, ProtocolError, decodeServer, parseServer } from "../../client_demo/js/protocol.js";
import { BrokenStream, Mirror } from "../../client_demo/js/mirror.js";
import { ARENA_SCHEMA, Schema, SchemaError, parseSchema } from "../../client_demo/js/schema.js";

const streams = JSON.parse(readFileSync(new URL("./fixtures/schema_streams.json", import.meta.url)));

function bytes(b64) {
  return new Uint8Array(Buffer.from(b64, "base64"));
}

/** ARENA_SCHEMA with `more` fields appended to the player and `kinds` after it. */
function extended(more = [], kinds = []) {
  const [player] = ARENA_SCHEMA.kinds;
  return { ...ARENA_SCHEMA, kinds: [{ ...player, fields: [...player.fields, ...more] }, ...kinds] };
}

const TEAM = { name: "team", type: "int", min: 0, max: 3 };
const BALL = { id: 2, name: "ball", fields: [{ name: "x", type: "position" }, { name: "y", type: "position" }, { name: "spin", type: "int", min: -100, max: 100 }] };

function snapshot(tick, baseline, spawns, changes, removals = []) {
  return parseServer([11, tick, baseline, null, spawns, changes, removals, []]);
}

/** Whether `older` is `newer` as a version before it: the same kinds, each field a prefix. */
function isPrefix(older, newer) {
  return older.kinds.every((k) => {
    const n = newer.kinds.find((m) => m.id === k.id);
    return n !== undefined && n.name === k.name && k.fields.every((f, i) => JSON.stringify(f) === JSON.stringify(n.fields[i]));
  });
}

test("ARENA_SCHEMA is the server's arena as of servers that sent no schema: its fields come first", () => {
  for (const stream of Object.values(streams)) assert.ok(isPrefix(ARENA_SCHEMA, stream.arena_schema));
  assert.ok(!isPrefix({ kinds: [{ id: 1, name: "player", fields: [{ name: "hp", type: "int" }] }] }, ARENA_SCHEMA));
  const player = parseSchema(null).kind(1);
  assert.deepEqual(player.fields.map((f) => f.name), ["name", "x", "y", "angle", "hp"]);
  assert.deepEqual(player.changing.map((f) => f.name), ["x", "y", "angle", "hp"]); // bits 1, 2, 4, 8
  assert.deepEqual(player.others.map((f) => f.name), ["name", "angle", "hp"]); // a row: qx, qy, kind, then these
  assert.deepEqual(player.fields.map((f) => f.key), ["name", "qx", "qy", "angle", "hp"]);
  assert.equal(parseSchema(undefined).quanta, 8);
  assert.throws(() => (ARENA_SCHEMA.kinds[0].fields[0].name = "nom"), TypeError); // frozen
});

for (const [game, stream] of Object.entries(streams)) {
  test(`a mirror built from the WELCOME's schema follows the stream of "${game}" snapshot by snapshot`, () => {
    let mirror = null;
    let older = null; // a client that knows the arena's schema only
    let snapshots = 0;
    for (const m of stream.messages) {
      const msg = decodeServer(bytes(m.bytes));
      if (msg.type === MsgType.WELCOME) {
        assert.deepEqual(msg.schema, stream.schema);
        mirror = new Mirror(msg.schema);
        older = new Mirror();
        continue;
      }
      assert.equal(msg.type, MsgType.SNAPSHOT);
      assert.equal(mirror.apply(msg), true, "what is held agrees with the server's checksum");
      assert.equal(mirror.tick, m.tick);
      assert.deepEqual(mirror.rows(), m.rows);
      if (m.older_rows) {
        older.apply(msg);
        assert.deepEqual(older.rows(), m.older_rows);
      }
      snapshots += 1;
    }
    assert.ok(snapshots > 40, `${snapshots} snapshots`);
    assert.ok(mirror.checksumsMatched > 10 && mirror.checksumsMismatched === 0, `${mirror.checksumsMatched} checksums agreed`);
    const kinds = new Set([...mirror.entities.values()].map((e) => e.kind));
    if (game === "team") {
      assert.ok(stream.messages.some((m) => m.older_rows), "the older client follows this one");
      for (const e of mirror.entities.values()) assert.ok(Number.isInteger(e.team) && e.team >= 0 && e.team <= 3);
      for (const e of older.entities.values()) assert.equal(e.team, undefined);
    } else {
      assert.deepEqual([...kinds].sort(), [1, 2]);
      for (const [id, f] of mirror.frame(8)) {
        const e = mirror.entities.get(id);
        assert.equal(f.x, e.qx / 8);
        if (e.kind === 2) assert.deepEqual(Object.keys(f), ["id", "kind", "x", "y", "spin"]);
      }
      // the older client cannot follow: it does not know the ball
      const first = decodeServer(bytes(stream.messages[1].bytes));
      assert.throws(() => older.apply(first), BrokenStream);
    }
  });
}

test("a field appended to a kind: an older mirror ignores it, a newer one holds it", () => {
  const spawns = [[1, 1, "a", 80, 80, 0, 100, 2], [2, 1, "b", 8, 8, 0, 100, 1]];
  // 1 moves +1 in x and changes team (bit 16: not the arena's); 2 changes team alone, then hp
  const changes = [1, 1 | 16, 8, 3, 2, 16, 0, 2, 8, 40];
  const older = new Mirror(ARENA_SCHEMA);
  const newer = new Mirror(extended([TEAM]));
  for (const m of [older, newer]) {
    m.apply(snapshot(1, null, spawns, []));
    m.apply(snapshot(2, 1, [], changes));
  }
  assert.deepEqual(older.rows(), { 1: [88, 80, 1, "a", 0, 100], 2: [8, 8, 1, "b", 0, 40] });
  assert.deepEqual(older.entities.get(1), { id: 1, kind: 1, name: "a", qx: 88, qy: 80, angle: 0, hp: 100 });
  assert.deepEqual(newer.rows(), { 1: [88, 80, 1, "a", 0, 100, 3], 2: [8, 8, 1, "b", 0, 40, 0] });
  assert.deepEqual(newer.frame(8).get(1), { id: 1, kind: 1, name: "a", x: 11, y: 10, angle: 0, hp: 100, team: 3 });
  // a spawn short of the newer kind's fields is refused by it, not by the older one
  const short = snapshot(3, 2, [[3, 1, "c", 0, 0, 0, 100]], []);
  assert.throws(() => newer.apply(short), BrokenStream);
  older.apply(short);
  assert.deepEqual(older.rows()[3], [0, 0, 1, "c", 0, 100]);
});

test("a second kind replicates by its own fields; a kind the schema lacks breaks the stream", () => {
  const mirror = new Mirror(extended([], [BALL]));
  mirror.apply(snapshot(1, null, [[1, 1, "a", 80, 80, 0, 100], [5, 2, 16, 24, -3]], []));
  // the ball: bit 1 x, bit 2 y, bit 4 spin; 5 moves and spins, then the player turns
  mirror.apply(snapshot(2, 1, [], [5, 7, -8, 8, 50, 1, 4, 64]));
  assert.deepEqual(mirror.rows(), { 1: [80, 80, 1, "a", 64, 100], 5: [8, 32, 2, 50] });
  assert.deepEqual(mirror.entities.get(5), { id: 5, kind: 2, qx: 8, qy: 32, spin: 50 });
  assert.deepEqual(mirror.frame(8).get(5), { id: 5, kind: 2, x: 1, y: 4, spin: 50 });
  // kind 3 is nobody's: refused before anything changes
  const before = JSON.stringify(mirror.rows());
  assert.throws(() => mirror.apply(snapshot(3, 2, [[6, 3, 0, 0]], [5, 1, 8], [1])), BrokenStream);
  assert.throws(() => new Mirror().apply(snapshot(1, null, [[5, 2, 16, 24, -3]], [])), BrokenStream);
  assert.equal(JSON.stringify(mirror.rows()), before);
  assert.equal(mirror.tick, 2);
});

test("WELCOME carries the schema as a map, or none from an older server", () => {
  const welcome = [10, 1, 7, 30, 30, "tok", "r-1", 100, { quanta: 8 }];
  assert.equal(parseServer(welcome).schema, null);
  assert.equal(parseServer([...welcome, "arena"]).schema, null);
  assert.equal(parseServer([...welcome, "arena", null]).schema, null);
  const schema = extended([TEAM], [BALL]);
  assert.equal(parseServer([...welcome, "arena", schema, "a later field"]).schema, schema);
  assert.throws(() => parseServer([...welcome, "arena", [1, 2]]), ProtocolError);
  assert.throws(() => parseServer([...welcome, "arena", { quanta: 8 }]), ProtocolError);
});

test("a schema that is not one is refused with the reason", () => {
  const [player] = ARENA_SCHEMA.kinds;
  const kind = (fields, more = {}) => ({ ...ARENA_SCHEMA, kinds: [{ ...player, fields, ...more }] });
  const bad = {
    "not a map": [1, 2],
    "no kinds": { ...ARENA_SCHEMA, kinds: [] },
    "no quanta": { ...ARENA_SCHEMA, quanta: undefined },
    "a kind id out of range": kind(player.fields, { id: 256 }),
    "a kind name not an identifier": kind(player.fields, { name: "a player" }),
    "a kind twice": extended([], [{ ...BALL, id: 1 }]),
    "no y": kind(player.fields.filter((f) => f.name !== "y")),
    "x not a position": kind(player.fields.map((f) => (f.name === "x" ? { name: "x", type: "int", min: 0, max: 9 } : f))),
    "an unknown type": kind([...player.fields, { name: "v", type: "vector" }]),
    "an int without bounds": kind([...player.fields, { name: "v", type: "int" }]),
    "min above max": kind([...player.fields, { name: "v", type: "int", min: 3, max: 2 }]),
    "text without max": kind([...player.fields, { name: "v", type: "text" }]),
    "a field named id": kind([...player.fields, { name: "id", type: "int", min: 0, max: 1 }]),
    "a field twice": kind([...player.fields, { name: "hp", type: "int", min: 0, max: 1 }]),
    "a field where x is held": kind([...player.fields, { name: "qx", type: "int", min: 0, max: 1 }]),
    "too many changing fields": kind([...player.fields, ...Array.from({ length: 27 }, (_, i) => ({ name: `f${i}`, type: "flags", min: 0, max: 1 }))]),
  };
  for (const [why, wire] of Object.entries(bad)) {
    assert.throws(() => parseSchema(wire), SchemaError, why);
    assert.throws(() => new Mirror(wire), SchemaError, why);
  }
  // 30 changing fields is the most
  const most = kind([...player.fields, ...Array.from({ length: 26 }, (_, i) => ({ name: `f${i}`, type: "flags", min: 0, max: 1 }))]);
  assert.equal(parseSchema(most).kind(1).changing.length, 30);
  assert.ok(parseSchema(parseSchema(most)) instanceof Schema);
});
