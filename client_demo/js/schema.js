// The game's replicated state as the server declares it: the schema a WELCOME carries (the
// Python definition is gameserver/schema.py, Schema.to_wire()). The mirror reads spawn and
// change records by it.
//
// Invariants:
// - Every kind has the position fields x and y. A spawn record is [id, kind, ...values], one
//   value per field of the kind in declaration order; values past the fields known are a later
//   version's, ignored.
// - A change record is id, mask, then one value per bit set. Bit i stands for the i-th field of
//   the kind that may change (every field but text), in declaration order; a position's value
//   is its change in quanta, the others are absolute. Bits past the fields known are a later
//   version's: their values are skipped.
// - An entity is held as a plain object {id, kind, <fields>}: a position field f as q<f> in
//   quanta (qx, qy), every other field under its own name. Drawn (Kind.frame), a position is
//   f = q<f> / quanta under its own name.
// - The Python mirror's row of an entity is [qx, qy, kind, ...the kind's other fields in
//   declaration order] (Kind.row).
// - parseSchema() throws SchemaError for anything that is not a schema; nothing here names a
//   game's fields but ARENA_SCHEMA, the schema of servers whose WELCOME carries none.
// No DOM here: Node's test runner loads this module as it is.

export const FieldType = Object.freeze({
  POSITION: "position", // int quanta; a change carries the difference
  ANGLE: "angle", // 0..angle_steps - 1, absolute
  INT: "int", // min..max, absolute
  FLAGS: "flags", // an integer of bits, absolute
  TEXT: "text", // a string of at most max characters, sent at spawn only
});

const FIELD_TYPES = new Set(Object.values(FieldType));
const MAX_KIND = 255;
const MAX_CHANGING = 30; // a mask stays a small positive int
const MAX_VALUE = 2 ** 31; // an int field's bound, either way
const MAX_TEXT = 255;
const NAME = /^[\p{L}_][\p{L}\p{N}_]{0,31}$/u;
const RESERVED = new Set(["id", "kind", "__proto__"]); // the entity object's own keys, and one it cannot hold

/** The schema of a server whose WELCOME carries none (it predates schemas): the arena's. */
export const ARENA_SCHEMA = deepFreeze({
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
        { name: "angle", type: "angle" },
        { name: "hp", type: "int", min: 0, max: 65536 },
      ],
    },
  ],
  inputs: [
    { name: "move_x", type: "float", min: -1.0, max: 1.0 },
    { name: "move_y", type: "float", min: -1.0, max: 1.0 },
    { name: "aim", type: "float", min: -2 * Math.PI, max: 2 * Math.PI },
    { name: "buttons", type: "flags", min: 0, max: 255 },
  ],
});

function deepFreeze(v) {
  if (v !== null && typeof v === "object") {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

export class SchemaError extends Error {}

function isMap(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function intIn(v, lo, hi, what) {
  if (!Number.isInteger(v) || v < lo || v > hi) throw new SchemaError(`${what} must be an integer in ${lo}..${hi}, not ${JSON.stringify(v)}`);
  return v;
}

function name(v, what) {
  if (typeof v !== "string" || !NAME.test(v)) throw new SchemaError(`${what} ${JSON.stringify(v)} must be an identifier of at most 32 characters`);
  return v;
}

/** One field of a kind: {name, type, min, max, key (where an entity object holds it), changes, delta}. */
function parseField(f, kindName) {
  if (!isMap(f)) throw new SchemaError(`kind ${kindName}: a field must be a map`);
  const fname = name(f.name, `kind ${kindName}: a field name`);
  if (RESERVED.has(fname)) throw new SchemaError(`kind ${kindName}: ${fname} cannot be a field's name`);
  const type = f.type;
  if (!FIELD_TYPES.has(type)) throw new SchemaError(`field ${kindName}.${fname}: type ${JSON.stringify(type)} is not one of ${[...FIELD_TYPES].join(", ")}`);
  let min = 0;
  let max = 0;
  if (type === FieldType.INT || type === FieldType.FLAGS) {
    min = intIn(f.min, -MAX_VALUE, MAX_VALUE, `field ${kindName}.${fname}: min`);
    max = intIn(f.max, min, MAX_VALUE, `field ${kindName}.${fname}: max`);
  } else if (type === FieldType.TEXT) {
    max = intIn(f.max, 1, MAX_TEXT, `field ${kindName}.${fname}: max`);
  }
  return Object.freeze({
    name: fname,
    type,
    min,
    max,
    key: type === FieldType.POSITION ? `q${fname}` : fname,
    changes: type !== FieldType.TEXT,
    delta: type === FieldType.POSITION,
  });
}

/** An entity kind: its id, name and fields, and how an entity of it is held, drawn and compared. */
export class Kind {
  constructor(wire) {
    if (!isMap(wire)) throw new SchemaError("a kind must be a map");
    this.name = name(wire.name, "a kind name");
    this.id = intIn(wire.id, 1, MAX_KIND, `kind ${this.name}: id`);
    if (!Array.isArray(wire.fields)) throw new SchemaError(`kind ${this.name}: fields must be an array`);
    /** The fields in declaration order: a spawn's values. */
    this.fields = Object.freeze(wire.fields.map((f) => parseField(f, this.name)));
    const keys = new Set();
    for (const f of this.fields) {
      for (const k of new Set([f.name, f.key])) {
        if (keys.has(k)) throw new SchemaError(`kind ${this.name}: field ${f.name} clashes with another (${k})`);
        keys.add(k);
      }
    }
    for (const axis of ["x", "y"]) {
      const f = this.fields.find((g) => g.name === axis);
      if (!f || f.type !== FieldType.POSITION) throw new SchemaError(`kind ${this.name}: every kind has the position fields x and y`);
    }
    /** The fields a change may carry, in bit order: bit i of a mask is changing[i]. */
    this.changing = Object.freeze(this.fields.filter((f) => f.changes));
    if (this.changing.length > MAX_CHANGING) throw new SchemaError(`kind ${this.name}: at most ${MAX_CHANGING} fields that change`);
    /** The fields after (qx, qy, kind) in a Python row: all but x and y, in declaration order. */
    this.others = Object.freeze(this.fields.filter((f) => f.name !== "x" && f.name !== "y"));
    Object.freeze(this);
  }

  /** The held entity of a spawn's values (at least one per field; later ones are ignored). */
  entity(id, values) {
    const e = { id, kind: this.id };
    for (let i = 0; i < this.fields.length; i++) e[this.fields[i].key] = values[i];
    return e;
  }

  /** The held entity as a spawn record [id, kind, ...values in declaration order] (what a checksum counts). */
  record(e) {
    return [e.id, e.kind, ...this.fields.map((f) => e[f.key])];
  }

  /** Why a spawn's values do not fit this kind, or null. */
  checkSpawn(values) {
    if (values.length < this.fields.length) return `${values.length} values for the ${this.fields.length} fields of a ${this.name}`;
    for (let i = 0; i < this.fields.length; i++) {
      const f = this.fields[i];
      const ok = f.type === FieldType.TEXT ? typeof values[i] === "string" : Number.isInteger(values[i]);
      if (!ok) return `${this.name}.${f.name} must be ${f.type === FieldType.TEXT ? "a string" : "an integer"}, not ${JSON.stringify(values[i])}`;
    }
    return null;
  }

  /** Why a change's values (one per bit set, in bit order) do not fit this kind, or null. */
  checkChange(mask, values) {
    for (let i = 0, j = 0; i < this.changing.length; i++) {
      if (mask & (1 << i)) {
        if (!Number.isInteger(values[j])) return `${this.name}.${this.changing[i].name} must be an integer, not ${JSON.stringify(values[j])}`;
        j += 1;
      }
    }
    return null;
  }

  /** Apply a change to a held entity: positions move by their value, the rest are set; bits not known are skipped. */
  change(e, mask, values) {
    const changing = this.changing;
    for (let i = 0, j = 0; i < changing.length && mask >>> i; i++) {
      if (mask & (1 << i)) {
        const f = changing[i];
        if (f.delta) e[f.key] += values[j];
        else e[f.key] = values[j];
        j += 1;
      }
    }
  }

  /** The entity in world units: positions as f = q<f> / quanta under the field's own name. */
  frame(e, quanta) {
    const out = { id: e.id, kind: e.kind };
    for (const f of this.fields) out[f.name] = f.delta ? e[f.key] / quanta : e[f.key];
    return out;
  }

  /** The entity as the Python mirror's row: [qx, qy, kind, ...others]. */
  row(e) {
    return [e.qx, e.qy, e.kind, ...this.others.map((f) => e[f.key])];
  }
}

/** A parsed schema: quanta, angleSteps, kinds (Map id -> Kind), inputs (as the wire has them). */
export class Schema {
  constructor(wire) {
    if (!isMap(wire)) throw new SchemaError("a schema must be a map");
    this.quanta = intIn(wire.quanta, 1, 2 ** 16, "quanta");
    this.angleSteps = intIn(wire.angle_steps, 1, 2 ** 16, "angle_steps");
    if (!Array.isArray(wire.kinds) || wire.kinds.length === 0) throw new SchemaError("a schema declares at least one kind");
    this.kinds = new Map();
    const names = new Set();
    for (const k of wire.kinds.map((w) => new Kind(w))) {
      if (this.kinds.has(k.id) || names.has(k.name)) throw new SchemaError(`kind ids and names are unique (${k.id} ${k.name})`);
      this.kinds.set(k.id, k);
      names.add(k.name);
    }
    const inputs = wire.inputs ?? [];
    if (!Array.isArray(inputs) || !inputs.every(isMap)) throw new SchemaError("inputs must be an array of maps");
    this.inputs = Object.freeze(inputs.map((f) => Object.freeze({ ...f })));
    Object.freeze(this);
  }

  /** The kind of id `id`, or undefined. */
  kind(id) {
    return this.kinds.get(id);
  }

  /** The kind named `name`, or undefined. */
  kindNamed(name) {
    for (const k of this.kinds.values()) if (k.name === name) return k;
    return undefined;
  }
}

/** A Schema from the wire form (a WELCOME's map); null or undefined gives ARENA_SCHEMA's. Throws SchemaError. */
export function parseSchema(wire) {
  if (wire instanceof Schema) return wire;
  return new Schema(wire ?? ARENA_SCHEMA);
}
