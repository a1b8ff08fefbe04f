// The client's copy of what the server sent: entities at the newest snapshot tick held, read by
// the game's schema (schema.js: the one WELCOME carries, ARENA_SCHEMA from an older server).
//
// Invariants (docs/protocol.md, SNAPSHOT):
// - A snapshot with baseline null is full: everything held before is dropped.
// - A delta applies only to the tick it names as baseline; any other baseline means the stream
//   is broken, and apply() throws without changing what is held (the caller reconnects). So
//   does a spawn of a kind the schema lacks or with fewer values than its kind has fields, and
//   a change of an entity not held: apply() checks the whole snapshot before it changes
//   anything.
// - Order: removals, then spawns, then changes. A position's change is a delta of its quanta,
//   every other field's is absolute. Spawn values past the kind's fields and change bits past
//   its changing fields are a later version's: ignored.
// - Entities are plain objects {id, kind, <fields>}: a position field f held quantized as q<f>
//   (qx, qy: ints), every other field under its own name; x = qx / quanta only when read out.
// - A snapshot may carry the checksum of what the client holds once it is applied (checksum.js);
//   apply() says whether what is held agrees with it. A client that finds it does not sends
//   RESYNC, and the server's next snapshot is full.
// No DOM here.

import { checksumOf } from "./checksum.js";
import { parseSchema } from "./schema.js";

export class BrokenStream extends Error {}

export class Mirror {
  /** `schema`: the wire form a WELCOME carries, or a parsed Schema; null or absent: ARENA_SCHEMA. */
  constructor(schema = null) {
    this.schema = parseSchema(schema);
    this.tick = null; // newest snapshot tick held: the INPUT's ack_tick
    this.lastSeq = null; // newest own input seq applied by the server as of `tick`
    this.entities = new Map(); // id -> {id, kind, ...fields}
    this.checksumsMatched = 0; // snapshots whose checksum what was held then agreed with
    this.checksumsMismatched = 0; // and those it did not
  }

  /**
   * Apply one parsed SNAPSHOT (protocol.parseServer). Throws BrokenStream, changing nothing, on a
   * bad one. Returns false when the snapshot carried a checksum that what is now held does not
   * match (the client should send RESYNC), true otherwise.
   */
  apply(snap) {
    this._check(snap);
    if (snap.baseline === null) this.entities = new Map();
    for (const id of snap.removals) this.entities.delete(id);
    for (const s of snap.spawns) this.entities.set(s.id, this.schema.kind(s.kind).entity(s.id, s.values));
    for (const c of snap.changes) {
      const e = this.entities.get(c.id);
      this.schema.kind(e.kind).change(e, c.mask, c.values);
    }
    this.tick = snap.tick;
    this.lastSeq = snap.lastSeq;
    if (snap.checksum === null || snap.checksum === undefined) return true;
    if (this.checksum() === snap.checksum) {
      this.checksumsMatched += 1;
      return true;
    }
    this.checksumsMismatched += 1;
    return false;
  }

  /** The checksum of what is held, as a SNAPSHOT's checksum gives the server's. */
  checksum() {
    const records = [];
    for (const e of this.entities.values()) records.push(this.schema.kind(e.kind).record(e));
    return checksumOf(records);
  }

  /** Throws BrokenStream when `snap` does not apply to what is held. */
  _check(snap) {
    if (snap.baseline !== null && snap.baseline !== this.tick) {
      throw new BrokenStream(`delta against tick ${snap.baseline}, but tick ${this.tick} is held`);
    }
    const spawned = new Map(); // id -> kind id
    for (const s of snap.spawns) {
      const kind = this.schema.kind(s.kind);
      if (kind === undefined) throw new BrokenStream(`spawn of entity ${s.id} of kind ${s.kind}, which the schema lacks`);
      const why = kind.checkSpawn(s.values);
      if (why !== null) throw new BrokenStream(`spawn of entity ${s.id}: ${why}`);
      spawned.set(s.id, s.kind);
    }
    const removed = snap.baseline === null ? null : new Set(snap.removals);
    // the kind of an entity once the removals and spawns are applied; undefined: not held then
    const kindOf = (id) => {
      if (spawned.has(id)) return spawned.get(id);
      if (removed === null || removed.has(id)) return undefined;
      return this.entities.get(id)?.kind;
    };
    for (const c of snap.changes) {
      const kind = kindOf(c.id);
      if (kind === undefined) throw new BrokenStream(`change of entity ${c.id}, which is not held`);
      const why = this.schema.kind(kind).checkChange(c.mask, c.values);
      if (why !== null) throw new BrokenStream(`change of entity ${c.id}: ${why}`);
    }
  }

  /** The held state in world units, as a new Map: what the interpolation buffer keeps. */
  frame(quanta = this.schema.quanta) {
    const out = new Map();
    for (const [id, e] of this.entities) out.set(id, this.schema.kind(e.kind).frame(e, quanta));
    return out;
  }

  /** Rows as the Python Mirror holds them: id -> [qx, qy, kind, ...the kind's other fields]. */
  rows() {
    const out = {};
    for (const [id, e] of this.entities) out[id] = this.schema.kind(e.kind).row(e);
    return out;
  }
}
