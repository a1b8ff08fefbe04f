// Protocol v1 in the browser: message arrays <-> msgpack bytes (docs/protocol.md; the Python
// definition is gameserver/codec.py).
//
// Invariants:
// - Every message is one msgpack array whose first element is the type.
// - Int fields (seq, buttons, ack_tick, render_tick, version) are sent as integers: the caller
//   passes integers and @msgpack/msgpack encodes an integral number as a msgpack int. Numbers
//   that may be fractional (move_x, move_y, aim, client_time) go as float64 when fractional.
// - decodeServer() turns bytes into a plain object with named fields, or throws ProtocolError:
//   the rest of the client never indexes raw arrays. Message types it does not know come back
//   as {type, unknown: true}, and trailing fields it does not know are ignored.
// - A SNAPSHOT's records are split without the game's schema: a spawn is {id, kind, values}, a
//   change {id, mask, values} with one value per bit of the mask set. Which field a value is
//   follows from the schema WELCOME carries (schema.js; mirror.js applies it); a WELCOME whose
//   schema is not one is a ProtocolError.
// No DOM here: Node's test runner loads this module as it is.

import { encode, decode } from "../vendor/msgpack/dist.esm/index.mjs";
import { SchemaError, parseSchema } from "./schema.js";

export const PROTOCOL_VERSION = 1;

export const MsgType = Object.freeze({
  HELLO: 1,
  INPUT: 2,
  PING: 3,
  FOLLOW: 4, // spectators: whom to follow
  ACK: 5, // the newest snapshot tick held, without an input (spectators)
  RESYNC: 6, // what is held disagrees with a snapshot's checksum: the next snapshot is to be full
  WELCOME: 10,
  SNAPSHOT: 11,
  PONG: 12,
  ERROR: 13,
  GOODBYE: 14,
  SCOREBOARD: 15,
  FOLLOWING: 16, // spectators: whom they follow now
});

/** Input.buttons bits. */
export const Buttons = Object.freeze({ FIRE: 1 });

export class ProtocolError extends Error {}

// Close codes whose cause is in this client (a bug) or needs a new page: reconnecting as it is
// would only repeat the refusal.
export const FATAL_CODES = new Set([
  "hello_required",
  "unexpected_hello",
  "unsupported_version",
  "text_frame",
  "unknown_type",
  "invalid_msgpack",
  "invalid_message",
  "message_too_big",
  "spectator_input", // a spectator's page sent an INPUT: a bug of this page
]);

const MAX_SEQ = 2 ** 32 - 1;

// Close codes of a HELLO the server refused for its room or seat (docs/protocol.md, "Rooms"):
// the same HELLO would be refused again, so the page goes back to its lobby to find another.
export const ROOM_CODES = new Set(["room_not_found", "room_full", "room_disposed", "invalid_seat"]);

// --- client -> server ---------------------------------------------------------------------

/**
 * HELLO: room is the id of the room to join (null: quick play on the server's default map),
 * seat the seat matchmaking reserved over HTTP. The seat is the 6th field, sent only when
 * there is one: a HELLO without it stays the 5 fields every v1 server reads.
 *
 * spectate: watch `room` (null: the busiest public room of the default map) without playing.
 * The 7th field, true; a spectator has no session token and no seat (the server refuses one
 * with invalid_message), so the 4th and 6th fields are nil.
 */
export function encodeHello(name, { version = PROTOCOL_VERSION, sessionToken = null, room = null, seat = null, spectate = false } = {}) {
  if (spectate) {
    if ((sessionToken ?? null) !== null || (seat ?? null) !== null) throw new TypeError("a spectator has no session token and no seat");
    return encode([MsgType.HELLO, version, name, null, room, null, true]);
  }
  const fields = [MsgType.HELLO, version, name, sessionToken, room];
  if (seat !== null && seat !== undefined) fields.push(seat);
  return encode(fields);
}

/**
 * INPUT: seq (uint32, increasing), move in [-1, 1], aim in radians, buttons 0..255, ack_tick
 * (newest snapshot tick held, or null) and render_tick (tick drawn for the others, or null).
 */
export function encodeInput({ seq, moveX, moveY, aim, buttons = 0, ackTick = null, renderTick = null }) {
  if (!Number.isInteger(seq) || seq < 0 || seq > MAX_SEQ) throw new RangeError(`bad seq ${seq}`);
  const clamp = (v) => Math.min(Math.max(v, -1), 1);
  const fields = [
    MsgType.INPUT,
    seq,
    clamp(moveX),
    clamp(moveY),
    Number.isFinite(aim) ? Math.min(Math.max(aim, -Math.PI), Math.PI) : 0,
    buttons & 255,
    ackTick,
  ];
  if (renderTick !== null && renderTick !== undefined) fields.push(Math.max(0, Math.floor(renderTick)));
  return encode(fields);
}

/** The input fields encodeInput() writes: the server's MOVE_AIM_BUTTONS, by name and type. */
export const STANDARD_INPUTS = Object.freeze([
  ["move_x", "float"],
  ["move_y", "float"],
  ["aim", "float"],
  ["buttons", "flags"],
]);

/** Whether a schema's `inputs` (WELCOME's) are the standard four, which encodeInput() writes. */
export function isStandardInputs(inputs) {
  return (
    inputs.length === STANDARD_INPUTS.length &&
    inputs.every((f, i) => f.name === STANDARD_INPUTS[i][0] && f.type === STANDARD_INPUTS[i][1])
  );
}

const camel = (name) => name.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());

/**
 * INPUT of a game's own input fields (`fields`: the schema's `inputs`, in order). Each value is
 * read from `values` by the field's name (`throttle`, or in camelCase: `moveX` for `move_x`);
 * one missing or not finite is 0. Each is clamped to its field's min..max; an int or flags
 * field is rounded to an integer first.
 */
export function encodeInputFields({ seq, fields, values, ackTick = null, renderTick = null }) {
  if (!Number.isInteger(seq) || seq < 0 || seq > MAX_SEQ) throw new RangeError(`bad seq ${seq}`);
  const out = [MsgType.INPUT, seq];
  for (const f of fields) {
    let v = values[f.name] ?? values[camel(f.name)] ?? 0;
    if (typeof v === "boolean") v = v ? 1 : 0;
    if (!Number.isFinite(v)) v = 0;
    if (f.type !== "float") v = Math.round(v);
    out.push(Math.min(Math.max(v, f.min), f.max));
  }
  out.push(ackTick);
  if (renderTick !== null && renderTick !== undefined) out.push(Math.max(0, Math.floor(renderTick)));
  return encode(out);
}

export function encodePing(clientTime) {
  return encode([MsgType.PING, clientTime]);
}

/** FOLLOW (spectators): follow player `entityId`; null lets the server pick. */
export function encodeFollow(entityId) {
  if (entityId !== null && (!Number.isInteger(entityId) || entityId < 1 || entityId > MAX_SEQ)) {
    throw new RangeError(`bad entity id ${entityId}`);
  }
  return encode([MsgType.FOLLOW, entityId]);
}

/** ACK: the newest snapshot tick held, for a client that sends no INPUT (a spectator). */
export function encodeAck(tick) {
  if (!Number.isInteger(tick) || tick < 0) throw new RangeError(`bad tick ${tick}`);
  return encode([MsgType.ACK, tick]);
}

/** RESYNC: what is held disagrees with a snapshot's checksum; the server's next snapshot is full. */
export function encodeResync() {
  return encode([MsgType.RESYNC]);
}

/** Any array as one message; for tests that need to send what the helpers above won't. */
export function encodeRaw(array) {
  return encode(array);
}

// --- server -> client ---------------------------------------------------------------------

function int(v, name) {
  if (!Number.isInteger(v)) throw new ProtocolError(`${name} must be an integer`);
  return v;
}

function optInt(v, name) {
  return v === null ? null : int(v, name);
}

function arr(v, name) {
  if (!Array.isArray(v)) throw new ProtocolError(`${name} must be an array`);
  return v;
}

function arity(v, n, what) {
  if (v.length !== n) throw new ProtocolError(`${what} has ${n - 1} fields, got ${v.length - 1}`);
}

// Fields a message gained in a later revision are read when present: a page cached from an
// older server still plays.
function atLeast(v, n, what) {
  if (v.length < n) throw new ProtocolError(`${what} has at least ${n - 1} fields, got ${v.length - 1}`);
}

/** The flat shots array -> [{shooter, hit}] with hit null for a miss. */
export function parseShots(flat) {
  if (flat.length % 2) throw new ProtocolError("shots are (shooter, hit) pairs");
  const out = [];
  for (let i = 0; i < flat.length; i += 2) {
    const hit = int(flat[i + 1], "hit");
    out.push({ shooter: int(flat[i], "shooter"), hit: hit === 0 ? null : hit });
  }
  return out;
}

// The largest mask: 31 bits, so that bit operations on it stay in int32.
const MAX_MASK = 2 ** 31 - 1;

function popcount(mask) {
  let n = 0;
  for (let m = mask; m; m &= m - 1) n += 1;
  return n;
}

function value(v, name) {
  if (!Number.isInteger(v) && typeof v !== "string") throw new ProtocolError(`${name} must be an integer or a string`);
  return v;
}

/**
 * The flat changes array -> [{id, mask, values}]: one value per bit set, in bit order. Which
 * field a bit stands for is the schema's to say (schema.js); how many values follow is not.
 */
export function parseChanges(flat) {
  const out = [];
  let i = 0;
  const n = flat.length;
  while (i < n) {
    if (i + 2 > n) throw new ProtocolError("a change record is cut short");
    const id = int(flat[i], "id");
    const mask = int(flat[i + 1], "mask");
    if (mask < 0 || mask > MAX_MASK) throw new ProtocolError(`mask must be in 0..${MAX_MASK}`);
    const count = popcount(mask);
    i += 2;
    if (i + count > n) throw new ProtocolError("a change record is cut short");
    const values = flat.slice(i, i + count);
    for (const v of values) value(v, "a change's value");
    i += count;
    out.push({ id, mask, values });
  }
  return out;
}

/** A spawn record [id, kind, ...values] -> {id, kind, values}: the values are the schema's to read. */
export function parseSpawn(rec) {
  const r = arr(rec, "spawn");
  if (r.length < 2) throw new ProtocolError("a spawn has an id and a kind");
  const values = r.slice(2);
  for (const v of values) value(v, "a spawn's value");
  return { id: int(r[0], "id"), kind: int(r[1], "kind"), values };
}

/** WELCOME's schema: the map as it came (mirror.js reads it), or null from an older server. */
function welcomeSchema(v) {
  if (v === null || v === undefined) return null;
  try {
    parseSchema(v);
  } catch (err) {
    if (err instanceof SchemaError) throw new ProtocolError(`not a schema: ${err.message}`);
    throw err;
  }
  return v;
}

/** Parse one decoded message array (see decodeServer). */
export function parseServer(v) {
  if (!Array.isArray(v) || v.length === 0) throw new ProtocolError("a message is a non-empty array");
  const type = v[0];
  switch (type) {
    case MsgType.SNAPSHOT:
      atLeast(v, 7, "snapshot");
      return {
        type,
        tick: int(v[1], "tick"),
        baseline: optInt(v[2], "baseline"),
        lastSeq: optInt(v[3], "last_seq"),
        spawns: arr(v[4], "spawns").map(parseSpawn),
        changes: parseChanges(arr(v[5], "changes")),
        removals: arr(v[6], "removals").map((r) => int(r, "removal")),
        shots: v.length > 7 ? parseShots(arr(v[7], "shots")) : [],
        checksum: v.length > 8 ? optInt(v[8], "checksum") : null, // of what is held once applied
      };
    case MsgType.SCOREBOARD:
      atLeast(v, 2, "scoreboard");
      return {
        type,
        lines: arr(v[1], "lines").map((line) => {
          const l = arr(line, "score line");
          if (l.length < 4) throw new ProtocolError("a score line has 4 fields");
          return {
            id: int(l[0], "id"),
            name: String(l[1]),
            score: int(l[2], "score"),
            deaths: int(l[3], "deaths"),
            away: l.length > 4 && l[4] === 1, // its connection dropped; kept for a resume
          };
        }),
      };
    case MsgType.WELCOME:
      atLeast(v, 9, "welcome");
      if (v[8] === null || typeof v[8] !== "object" || Array.isArray(v[8])) {
        throw new ProtocolError("rules must be a map");
      }
      return {
        type,
        version: int(v[1], "version"),
        entityId: int(v[2], "entity_id"),
        tickRate: int(v[3], "tick_rate"),
        snapshotRate: int(v[4], "snapshot_rate"),
        sessionToken: String(v[5]),
        room: String(v[6]),
        tick: int(v[7], "tick"),
        rules: { ...v[8] },
        map: v.length > 9 && typeof v[9] === "string" ? v[9] : null,
        schema: v.length > 10 ? welcomeSchema(v[10]) : null,
      };
    case MsgType.FOLLOWING:
      atLeast(v, 2, "following");
      // null while the room has no player; real entity ids start at 1
      if (v[1] !== null && !(int(v[1], "entity_id") >= 1)) throw new ProtocolError("entity_id must be at least 1");
      return { type, entityId: v[1] };
    case MsgType.PONG:
      arity(v, 3, "pong");
      return { type, clientTime: Number(v[1]), tick: int(v[2], "tick") };
    case MsgType.ERROR:
    case MsgType.GOODBYE:
      arity(v, 3, "error");
      return { type, code: String(v[1]), message: String(v[2]) };
    default:
      return { type, unknown: true }; // a newer server's message: skipped, counted by the caller
  }
}

/** Bytes (ArrayBuffer or Uint8Array) -> message object. Throws ProtocolError. */
export function decodeServer(data) {
  let value;
  try {
    value = decode(data instanceof ArrayBuffer ? new Uint8Array(data) : data);
  } catch (err) {
    throw new ProtocolError(`not one valid msgpack value (${err.name})`);
  }
  return parseServer(value);
}
