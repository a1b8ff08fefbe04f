// The client's copy of what the server sent: entities at the newest snapshot tick held.
//
// Invariants (docs/protocol.md, SNAPSHOT):
// - A snapshot with baseline null is full: everything held before is dropped.
// - A delta applies only to the tick it names as baseline; any other baseline means the stream
//   is broken, and apply() throws without changing what is held (the caller reconnects).
// - Order: removals, then spawns, then changes; X and Y changes are deltas of the quantized
//   position, ANGLE and HP are absolute.
// - Positions are held quantized (qx, qy: ints); x = qx / quanta only when read out.
// No DOM here.

export class BrokenStream extends Error {}

export class Mirror {
  constructor() {
    this.tick = null; // newest snapshot tick held: the INPUT's ack_tick
    this.lastSeq = null; // newest own input seq applied by the server as of `tick`
    this.entities = new Map(); // id -> {id, kind, name, qx, qy, angle, hp}
  }

  /** Apply one parsed SNAPSHOT (protocol.parseServer). Throws BrokenStream on a bad delta. */
  apply(snap) {
    if (snap.baseline === null) {
      this.entities = new Map();
    } else if (snap.baseline !== this.tick) {
      throw new BrokenStream(`delta against tick ${snap.baseline}, but tick ${this.tick} is held`);
    } else {
      for (const c of snap.changes) {
        if (!this.entities.has(c.id) && !snap.spawns.some((s) => s.id === c.id)) {
          throw new BrokenStream(`change of entity ${c.id}, which is not held`);
        }
      }
    }
    for (const id of snap.removals) this.entities.delete(id);
    for (const s of snap.spawns) {
      this.entities.set(s.id, { id: s.id, kind: s.kind, name: s.name, qx: s.qx, qy: s.qy, angle: s.angle, hp: s.hp });
    }
    for (const c of snap.changes) {
      const e = this.entities.get(c.id);
      if (e === undefined) throw new BrokenStream(`change of entity ${c.id}, which is not held`);
      if (c.dqx !== undefined) e.qx += c.dqx;
      if (c.dqy !== undefined) e.qy += c.dqy;
      if (c.angle !== undefined) e.angle = c.angle;
      if (c.hp !== undefined) e.hp = c.hp;
    }
    this.tick = snap.tick;
    this.lastSeq = snap.lastSeq;
  }

  /** The held state in world units, as a new Map: what the interpolation buffer keeps. */
  frame(quanta) {
    const out = new Map();
    for (const [id, e] of this.entities) {
      out.set(id, { id, kind: e.kind, name: e.name, x: e.qx / quanta, y: e.qy / quanta, angle: e.angle, hp: e.hp });
    }
    return out;
  }

  /** Rows as the Python Mirror holds them: id -> [qx, qy, angle, hp, kind, name]. */
  rows() {
    const out = {};
    for (const [id, e] of this.entities) out[id] = [e.qx, e.qy, e.angle, e.hp, e.kind, e.name];
    return out;
  }
}
