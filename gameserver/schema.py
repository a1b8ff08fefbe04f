"""A game's replicated state, declared once: its entity kinds, their fields and their encodings.

A game declares a Schema; everything that turns its entities into bytes and back follows it:
the replicator's snapshot records, the Python mirror (verifying bots, tests), the bots'
tracker, and, through the schema that WELCOME carries (`Schema.to_wire()`), the browser's
mirror and any third-party client.

The wire layout that follows from a declaration (docs/protocol.md, "Schema"):
- A spawn record is [id, kind, *values], one value per field of the kind in declaration order,
  in full: a position in quanta (1/QUANTA of a world unit), an angle in 1/ANGLE_STEPS turns,
  ints and flags as they are, text as a string.
- A change record is id, mask, then one value per bit set. Bit i stands for the i-th field of
  the kind that may change (all but text, which is sent only at spawn), in declaration order;
  a position's value is its change in quanta, every other value is absolute.
- So fields added at the end of a kind's declaration leave the records older clients read as
  they were: a spawn only grows, and a change's new bits come after the bits they know (a
  decoder skips one value per unknown bit set).

Inside the server an entity of a kind is a row: a tuple (qx, qy, kind, *the other fields in
declaration order). Every kind has the position fields `x` and `y`: interest management and lag
compensation read them at row[0] and row[1] whatever the game.

Invariants:
- Pure, no I/O. A Schema is frozen; its compiled functions (Schema.codecs) are generated from
  the declaration once and give the same records as the plain readings of the rules above
  (tests/test_schema.py checks them against each other on random rows).
"""

from __future__ import annotations

import keyword
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attr

from gameserver.codec import MAX_INPUT_FIELDS, STANDARD_INPUTS, InputCodec
from gameserver.grid import QUANTA
from gameserver.messages import Change, Spawn

ANGLE_STEPS = 256
QX, QY, KIND = 0, 1, 2  # where every row holds its position and its kind
# A row: typed as a tuple of any length, not of its fields: compiled (dev.py --compiled), a
# fixed tuple type is unpacked into C values and made again when stored, and replication relies
# on an unchanged row being the same object.
Row = tuple[Any, ...]

# Field types
POSITION = "position"  # world units on the 1/QUANTA grid; int quanta on the wire, changes as deltas
ANGLE = "angle"  # 0..ANGLE_STEPS - 1: a turn in ANGLE_STEPS steps
INT = "int"  # an integer in min..max
FLAGS = "flags"  # an integer of `bits` bits: 0..2**bits - 1
TEXT = "text"  # a string of at most max characters, sent at spawn only
FIELD_TYPES = (POSITION, ANGLE, INT, FLAGS, TEXT)
# Input field types
FLOAT = "float"  # a finite number in min..max
INPUT_TYPES = (FLOAT, INT, FLAGS)

MAX_KIND = 255
MAX_CHANGING = 30  # fields that may change, per kind: a mask stays a small positive int
MAX_VALUE = 2**31  # an int field's bound, either way
MAX_TEXT = 255


class SchemaError(ValueError):
    """A declaration (or a schema from the wire) that breaks the rules of this module."""


def _check_name(name: Any, what: str) -> str:
    if type(name) is not str or not name.isidentifier() or keyword.iskeyword(name) or len(name) > 32:
        raise SchemaError(f"{what} {name!r} must be an identifier of at most 32 characters")
    return name


@attr.s(auto_attribs=True, frozen=True, slots=True)
class Field:
    """One replicated field of an entity kind. Made with position(), angle(), integer(),
    flags() or text()."""

    name: str
    type: str
    min: int = 0
    max: int = 0

    def __attrs_post_init__(self) -> None:
        _check_name(self.name, "a field name")
        if self.type not in FIELD_TYPES:
            raise SchemaError(f"field {self.name}: type {self.type!r} is not one of {', '.join(FIELD_TYPES)}")
        if self.type in (INT, FLAGS, TEXT) and not -MAX_VALUE <= self.min <= self.max <= MAX_VALUE:
            raise SchemaError(f"field {self.name}: needs {-MAX_VALUE} <= min <= max <= {MAX_VALUE}")
        if self.type == TEXT and not (self.min == 0 and 1 <= self.max <= MAX_TEXT):
            raise SchemaError(f"field {self.name}: text of 1..{MAX_TEXT} characters")

    @property
    def changes(self) -> bool:
        """Whether the field may change after its spawn (text may not)."""
        return self.type != TEXT

    @property
    def delta(self) -> bool:
        """Whether a change carries the difference (positions) or the new value (the rest)."""
        return self.type == POSITION

    def check(self, value: Any) -> str | None:
        """Why `value` (as a row holds it) does not fit this field, or None."""
        if self.type == TEXT:
            if type(value) is not str:
                return "a string"
            return None if len(value) <= self.max else f"at most {self.max} characters"
        if type(value) is not int:
            return "an integer"
        if self.type == POSITION:
            return None if -MAX_VALUE <= value <= MAX_VALUE else f"within +-{MAX_VALUE} quanta"
        lo, hi = (0, ANGLE_STEPS - 1) if self.type == ANGLE else (self.min, self.max)
        return None if lo <= value <= hi else f"in {lo}..{hi}"

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.type in (INT, FLAGS):
            out["min"], out["max"] = self.min, self.max
        elif self.type == TEXT:
            out["max"] = self.max
        return out


def position(name: str) -> Field:
    """A coordinate in world units, kept on the 1/QUANTA grid (the row holds it in quanta)."""
    return Field(name, POSITION)


def angle(name: str) -> Field:
    """A direction in 1/ANGLE_STEPS turns, 0..ANGLE_STEPS - 1."""
    return Field(name, ANGLE)


def integer(name: str, lo: int, hi: int) -> Field:
    """An integer in lo..hi, sent whole when it changes."""
    return Field(name, INT, lo, hi)


def flags(name: str, bits: int) -> Field:
    """`bits` bits of booleans in one integer."""
    if not 1 <= bits <= 31:
        raise SchemaError(f"field {name}: flags of 1..31 bits")
    return Field(name, FLAGS, 0, 2**bits - 1)


def text(name: str, max_chars: int) -> Field:
    """A string of at most max_chars characters, sent at spawn only: it never changes."""
    return Field(name, TEXT, 0, max_chars)


@attr.s(auto_attribs=True, frozen=True, slots=True)
class Kind:
    """An entity kind: its wire id (1..255), its name and its fields, in declaration order."""

    id: int
    name: str
    fields: tuple[Field, ...]

    def __attrs_post_init__(self) -> None:
        if type(self.id) is not int or not 1 <= self.id <= MAX_KIND:
            raise SchemaError(f"kind {self.name!r}: id must be in 1..{MAX_KIND}")
        _check_name(self.name, "a kind name")
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            raise SchemaError(f"kind {self.name}: field names repeat")
        for axis in ("x", "y"):
            if axis not in names or self.field(axis).type != POSITION:
                raise SchemaError(f"kind {self.name}: every kind has the position fields x and y")
        if "id" in names or "kind" in names:
            raise SchemaError(f"kind {self.name}: id and kind are the engine's, not fields")
        if len(self.changing) > MAX_CHANGING:
            raise SchemaError(f"kind {self.name}: at most {MAX_CHANGING} fields that change")

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"kind {self.name} has no field {name!r}")

    @property
    def others(self) -> tuple[Field, ...]:
        """The fields after (qx, qy, kind) in a row: all but x and y, in declaration order."""
        return tuple(f for f in self.fields if f.name not in ("x", "y"))

    def index(self, name: str) -> int:
        """Where a row holds the field."""
        if name == "x":
            return QX
        if name == "y":
            return QY
        if name == "kind":
            return KIND
        for i, f in enumerate(self.others):
            if f.name == name:
                return 3 + i
        raise KeyError(f"kind {self.name} has no field {name!r}")

    @property
    def changing(self) -> tuple[Field, ...]:
        """The fields a change record may carry; bit i of its mask is the i-th."""
        return tuple(f for f in self.fields if f.changes)

    def bit(self, name: str) -> int:
        for i, f in enumerate(self.changing):
            if f.name == name:
                return 1 << i
        raise KeyError(f"kind {self.name} has no changing field {name!r}")

    def row(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        """A row from field values as the wire has them (positions in quanta)."""
        return (values["x"], values["y"], self.id, *(values[f.name] for f in self.others))

    def values(self, row: Sequence[Any]) -> dict[str, Any]:
        """The fields of a row by name (positions in quanta)."""
        return {f.name: row[self.index(f.name)] for f in self.fields}

    def to_wire(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "fields": [f.to_wire() for f in self.fields]}


@attr.s(auto_attribs=True, frozen=True, slots=True)
class InputField:
    """One field of a game's INPUT, after seq: a float, an int or flags, with its range."""

    name: str
    type: str
    min: float = 0.0
    max: float = 0.0

    def __attrs_post_init__(self) -> None:
        _check_name(self.name, "an input field name")
        if self.type not in INPUT_TYPES:
            raise SchemaError(f"input {self.name}: type {self.type!r} is not one of {', '.join(INPUT_TYPES)}")
        if not (math.isfinite(self.min) and math.isfinite(self.max) and self.min <= self.max):
            raise SchemaError(f"input {self.name}: needs finite min <= max")

    def to_wire(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "min": self.min, "max": self.max}


# The arena's inputs, which suit most games: a movement vector, an aim in radians, 8 buttons.
# A game that declares these is decoded by the server's hand-written (compiled) fast path, and
# the bots and the browser client send them with no game code of their own.
MOVE_AIM_BUTTONS = tuple(InputField(*field) for field in STANDARD_INPUTS)


@attr.s(auto_attribs=True, frozen=True, slots=True)
class Schema:
    """What a game replicates (its kinds) and what its players send (its input fields)."""

    kinds: tuple[Kind, ...]
    inputs: tuple[InputField, ...] = ()
    codecs: Codecs = attr.ib(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if not self.kinds:
            raise SchemaError("a schema declares at least one kind")
        ids = [k.id for k in self.kinds]
        if len(set(ids)) != len(ids) or len({k.name for k in self.kinds}) != len(ids):
            raise SchemaError("kind ids and names are unique")
        names = [f.name for f in self.inputs]
        if len(set(names)) != len(names):
            raise SchemaError("input field names repeat")
        for name in names:
            if name in ("seq", "ack_tick", "render_tick"):
                raise SchemaError(f"input {name}: the name is INPUT's own field")
        if len(names) > MAX_INPUT_FIELDS:
            raise SchemaError(f"at most {MAX_INPUT_FIELDS} input fields")
        object.__setattr__(self, "codecs", Codecs.of(self))

    def kind(self, kind_id: int) -> Kind:
        for k in self.kinds:
            if k.id == kind_id:
                return k
        raise KeyError(f"no kind {kind_id}")

    def kind_named(self, name: str) -> Kind:
        for k in self.kinds:
            if k.name == name:
                return k
        raise KeyError(f"no kind {name!r}")

    def to_wire(self) -> dict[str, Any]:
        """The schema as WELCOME carries it (docs/protocol.md, "Schema")."""
        return {
            "quanta": QUANTA,
            "angle_steps": ANGLE_STEPS,
            "kinds": [k.to_wire() for k in self.kinds],
            "inputs": [f.to_wire() for f in self.inputs],
        }

    @classmethod
    def from_wire(cls, wire: Any) -> Schema:
        """The schema a WELCOME carried. Raises SchemaError for anything that is not one."""
        try:
            if wire["quanta"] != QUANTA or wire["angle_steps"] != ANGLE_STEPS:
                raise SchemaError("this client knows quanta 8 and angle_steps 256 only")
            kinds = []
            for k in wire["kinds"]:
                fields = []
                for f in k["fields"]:
                    lo, hi = f.get("min", 0), f.get("max", 0)
                    fields.append(Field(f["name"], f["type"], lo, hi))
                kinds.append(Kind(k["id"], k["name"], tuple(fields)))
            inputs = [InputField(f["name"], f["type"], f["min"], f["max"]) for f in wire.get("inputs", ())]
            return cls(tuple(kinds), tuple(inputs))
        except SchemaError:
            raise
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise SchemaError(f"not a schema ({type(exc).__name__}: {exc})") from None

    def check_row(self, row: Sequence[Any]) -> str | None:
        """Why a row does not fit the schema, or None: what the engine asks of a game's rows."""
        if type(row) is not tuple or len(row) < 3:
            return "a row is a tuple (qx, qy, kind, ...)"
        try:
            k = self.kind(row[KIND])
        except (KeyError, TypeError):
            return f"kind {row[KIND]!r} is not declared"
        if len(row) != 3 + len(k.others):
            return f"a {k.name} row has {3 + len(k.others)} values, not {len(row)}"
        for f in k.fields:
            why = f.check(row[k.index(f.name)])
            if why is not None:
                return f"{k.name}.{f.name} must be {why}, not {row[k.index(f.name)]!r}"
        return None

    # --- records, by the rules (the generated Codecs give the same) ---------------------

    def spawn_record(self, eid: int, row: Sequence[Any]) -> list[Any]:
        k = self.kind(row[KIND])
        return [eid, k.id, *(row[k.index(f.name)] for f in k.fields)]

    def change_items(self, eid: int, old: Sequence[Any], row: Sequence[Any]) -> list[Any] | None:
        k = self.kind(row[KIND])
        mask, values = 0, []
        for i, f in enumerate(k.changing):
            at = k.index(f.name)
            if row[at] != old[at]:
                mask |= 1 << i
                values.append(row[at] - old[at] if f.delta else row[at])
        return [eid, mask, *values] if mask else None

    def spawn(self, eid: int, kind: str, **values: Any) -> Spawn:
        """A spawn for tests and tools, from field values by name (positions in quanta)."""
        k = self.kind_named(kind)
        return Spawn(eid, k.id, tuple(values[f.name] for f in k.fields))

    def change(self, eid: int, kind: str, **values: Any) -> Change:
        """A change for tests and tools, from the changed fields by name; a position is given
        as its change in quanta."""
        k = self.kind_named(kind)
        mask, out = 0, []
        for i, f in enumerate(k.changing):
            if f.name in values:
                mask |= 1 << i
                out.append(values[f.name])
        unknown = set(values) - {f.name for f in k.changing}
        if unknown:
            raise KeyError(f"kind {k.name} has no changing fields {sorted(unknown)}")
        return Change(eid, mask, tuple(out))


# --- generated code -----------------------------------------------------------------------

DeltaFlat = Callable[[dict[int, Any], dict[int, Any], list[list[Any]], list[Any]], None]
ChangeItems = Callable[[int, Any, Any], "list[Any] | None"]
SpawnRecord = Callable[[int, Any], list[Any]]
ApplyFlat = Callable[[dict[int, list[Any]], list[Any]], int]
SpawnRow = Callable[[list[Any]], list[Any]]


class RowFault(ValueError):
    """A game's row that breaks its schema: which entity and field, what it must be."""

    def __init__(self, eid: int, field: str, must: str, value: Any) -> None:
        super().__init__(f"entity {eid}: {field} must be {must}, not {value!r}")


class MirrorFault(Exception):
    """A change or a spawn that does not fit what the mirror holds (replication.DesyncError
    is raised in its place)."""


def _kind_source(k: Kind, indent: str) -> list[str]:
    """The body that compares row and old of kind k and appends the change record to flat. A
    changed value of the wrong type or out of its range, or a changed text, raises RowFault:
    only what changed is checked (a new row is checked whole: Schema.check_row())."""
    changing = [(k.index(f.name), f) for f in k.changing]
    texts = [k.index(f.name) for f in k.fields if not f.changes]
    width = 3 + len(k.others)
    used = {i for i, _ in changing} | set(texts)
    new_names = ", ".join(f"v{i}" if i in used else "_" for i in range(width))
    old_names = ", ".join(f"o{i}" if i in used else "_" for i in range(width))
    lines = [f"{indent}{new_names}, = row", f"{indent}{old_names}, = old"]
    # the mask as a sum of distinct bits, each field tested by its comparison: in CPython 3.11
    # int + and == are specialised, | and & are generic calls
    terms = " + ".join(f"({1 << b} if v{i} != o{i} else 0)" for b, (i, _) in enumerate(changing)) or "0"
    lines.append(f"{indent}mask = {terms}")
    lines.append(f"{indent}if mask:")
    lines.append(f"{indent}    append(eid)")
    lines.append(f"{indent}    append(mask)")
    for i, f in changing:
        what = f"{k.name}.{f.name}"
        lines.append(f"{indent}    if v{i} != o{i}:")
        if f.delta:
            lines.append(f"{indent}        if type(v{i}) is not int:")
            lines.append(f"{indent}            raise RowFault(eid, {what!r}, 'an integer (quanta)', v{i})")
            lines.append(f"{indent}        append(v{i} - o{i})")
        else:
            lo, hi = (0, ANGLE_STEPS - 1) if f.type == ANGLE else (f.min, f.max)
            lines.append(f"{indent}        if type(v{i}) is not int or not {lo} <= v{i} <= {hi}:")
            must = f"an integer in {lo}..{hi}"
            lines.append(f"{indent}            raise RowFault(eid, {what!r}, {must!r}, v{i})")
            lines.append(f"{indent}        append(v{i})")
    for i in texts:
        what = f"{k.name}.{k.others[i - 3].name}"
        lines.append(f"{indent}if v{i} != o{i}:")
        must = "unchanged: text is sent at spawn only"
        lines.append(f"{indent}    raise RowFault(eid, {what!r}, {must!r}, v{i})")
    return lines


def _spawn_expr(k: Kind) -> str:
    return "[eid, " + ", ".join([str(k.id), *(f"row[{k.index(f.name)}]" for f in k.fields)]) + "]"


def _dispatch(
    schema: Schema,
    body: Callable[[Kind, str], list[str]],
    indent: str,
    what: str,
    kind_at: str = f"row[{KIND}]",
) -> list[str]:
    """Per-kind code: straight, for a schema of one kind; after a test of the kind (row[KIND],
    or `kind_at`), for more."""
    if len(schema.kinds) == 1:
        return body(schema.kinds[0], indent)
    lines = [f"{indent}k = {kind_at}"]
    for n, k in enumerate(schema.kinds):
        lines.append(f"{indent}{'if' if n == 0 else 'elif'} k == {k.id}:")
        lines.extend(body(k, indent + "    "))
    lines.append(f"{indent}else:")
    lines.append(f"{indent}    raise ValueError({what!r} + repr(k))")
    return lines


def _generate(schema: Schema) -> str:
    src: list[str] = []
    # delta_flat: spawn records and the flat change records from old_rows to cur_rows
    src.append("def delta_flat(old_rows, cur_rows, spawns, flat):")
    src.append("    append = flat.append")
    src.append("    for eid, row in cur_rows.items():")
    src.append("        old = old_rows.get(eid)")
    src.append("        if old is None:")
    src.extend(
        _dispatch(schema, lambda k, ind: [f"{ind}spawns.append({_spawn_expr(k)})"], "            ", "kind ")
    )
    src.append("        elif old is not row:")
    src.extend(_dispatch(schema, lambda k, ind: _kind_source(k, ind), "            ", "kind "))
    # change_items: one entity's record, or None
    src.append("")
    src.append("def change_items(eid, old, row):")
    src.append("    if old is row or old == row:")
    src.append("        return None")
    src.append("    flat = []")
    src.append("    append = flat.append")
    src.extend(_dispatch(schema, lambda k, ind: _kind_source(k, ind), "    ", "kind "))
    src.append("    return flat or None")
    # spawn_record
    src.append("")
    src.append("def spawn_record(eid, row):")
    src.extend(_dispatch(schema, lambda k, ind: [f"{ind}return {_spawn_expr(k)}"], "    ", "kind "))
    # apply_flat: a mirror's rows (lists) moved on by a flat changes array; returns how many
    # records moved an entity. Values of bits the schema does not know are skipped.
    src.append("")
    src.append("def apply_flat(rows, flat):")
    src.append("    i, n, moving = 0, len(flat), 0")
    src.append("    while i < n:")
    src.append("        row = rows.get(flat[i])")
    src.append("        if row is None:")
    src.append("            raise MirrorFault('change to unknown entity ' + repr(flat[i]))")
    src.append("        mask = flat[i + 1]")
    src.append("        i += 2")

    def apply_kind(k: Kind, ind: str) -> list[str]:
        out: list[str] = []
        changing = [(k.index(f.name), f.delta) for f in k.changing]
        moves = sum(1 << b for b, (i, _) in enumerate(changing) if i in (QX, QY))
        first, second = [i for i, _ in changing if i in (QX, QY)]  # in bit order
        known = (1 << len(changing)) - 1
        # x and y together, nothing else: nearly every record of a moving entity
        out.append(f"{ind}if mask == {moves}:")
        out.append(f"{ind}    row[{first}] += flat[i]")
        out.append(f"{ind}    row[{second}] += flat[i + 1]")
        out.append(f"{ind}    i += 2")
        out.append(f"{ind}    moving += 1")
        out.append(f"{ind}    continue")
        out.append(f"{ind}if mask & {moves}:")
        out.append(f"{ind}    moving += 1")
        for b, (i, delta) in enumerate(changing):
            out.append(f"{ind}if mask & {1 << b}:")
            out.append(f"{ind}    row[{i}] {'+=' if delta else '='} flat[i]")
            out.append(f"{ind}    i += 1")
        out.append(f"{ind}if mask > {known}:")
        out.append(f"{ind}    i += bin(mask >> {len(changing)}).count('1')  # fields of a later version")
        return out

    src.extend(_dispatch(schema, apply_kind, "        ", "kind "))
    src.append("    if i != n:")
    src.append("        raise MirrorFault('a change record is cut short')")
    src.append("    return moving")
    # spawn_row: a mirror's row (a list) from a spawn record as the wire has it
    src.append("")
    src.append("def spawn_row(rec):")

    def row_of(k: Kind, ind: str) -> list[str]:
        at = {f.name: 2 + n for n, f in enumerate(k.fields)}  # where rec holds each field
        items = [f"rec[{at['x']}]", f"rec[{at['y']}]", str(k.id), *(f"rec[{at[f.name]}]" for f in k.others)]
        return [f"{ind}return [{', '.join(items)}]"]

    src.extend(_dispatch(schema, row_of, "    ", "kind ", kind_at="rec[1]"))
    return "\n".join(src) + "\n"


@attr.s(auto_attribs=True, frozen=True, slots=True)
class Codecs:
    """The hot functions of one schema, generated from its declaration (see _generate()):

    - delta_flat(old_rows, cur_rows, spawns, flat): appends to `spawns` the spawn record of
      every entity in cur_rows and not in old_rows, and to `flat` the change record of every
      entity in both whose row is another object and differs;
    - change_items(eid, old, row): the change record as a list, or None when equal;
    - spawn_record(eid, row): the spawn record;
    - apply_flat(rows, flat): moves a mirror's rows (lists, by id) on by a flat changes array
      and returns how many records moved an entity; raises MirrorFault;
    - spawn_row(rec): a mirror's row from a spawn record [id, kind, *values] (not checked:
      a kind the schema lacks raises ValueError, a short record IndexError);
    - inputs: the INPUT of the schema's input fields (gameserver.codec.InputCodec): the type the
      game's step() receives, and its decoder, generated unless the fields are MOVE_AIM_BUTTONS.
    """

    source: str
    delta_flat: DeltaFlat
    change_items: ChangeItems
    spawn_record: SpawnRecord
    apply_flat: ApplyFlat
    spawn_row: SpawnRow
    inputs: InputCodec

    @classmethod
    def of(cls, schema: Schema) -> Codecs:
        source = _generate(schema)
        namespace: dict[str, Any] = {"MirrorFault": MirrorFault, "RowFault": RowFault}
        exec(compile(source, f"<schema {', '.join(k.name for k in schema.kinds)}>", "exec"), namespace)
        return cls(
            source,
            namespace["delta_flat"],
            namespace["change_items"],
            namespace["spawn_record"],
            namespace["apply_flat"],
            namespace["spawn_row"],
            InputCodec(schema.inputs),
        )


__all__ = [
    "ANGLE_STEPS",
    "QUANTA",
    "Codecs",
    "Row",
    "Field",
    "InputField",
    "Kind",
    "MOVE_AIM_BUTTONS",
    "MirrorFault",
    "RowFault",
    "Schema",
    "SchemaError",
    "angle",
    "flags",
    "integer",
    "position",
    "text",
]
