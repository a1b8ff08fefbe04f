// checksum.js and the mirror's use of it: zlib's CRC-32, the sum over spawn records, and a
// mirror that finds a copy gone wrong. The cross-language check is in mirror.test.mjs and
// schema.test.mjs: the server's checksums in the recorded streams agree with the JS mirror's.
import { test } from "node:test";
import assert from "node:assert/strict";

import { checksumOf, crc32, entityChecksum } from "../../client_demo/js/checksum.js";
import { Mirror } from "../../client_demo/js/mirror.js";

test("crc32 is zlib's", () => {
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926); // the standard check value
  assert.equal(crc32(new Uint8Array()), 0);
  // [1, 1, "ann", 800, -8, 255, 100] packed in its smallest form: zlib.crc32 in Python gives this
  assert.equal(entityChecksum([1, 1, "ann", 800, -8, 255, 100]), 0xf8fd6465);
});

test("the checksum is a sum modulo 2**32, in any order", () => {
  const a = [1, 1, "a", 80, 8, 0, 100];
  const b = [2, 1, "b", 16, 24, 3, 50];
  assert.equal(checksumOf([a, b]), checksumOf([b, a]));
  assert.equal(checksumOf([a, b]), (entityChecksum(a) + entityChecksum(b)) % 2 ** 32);
  assert.equal(checksumOf([]), 0);
});

test("a mirror says whether what it holds agrees with a snapshot's checksum", () => {
  const spawns = [{ id: 1, kind: 1, values: ["a", 80, 8, 0, 100] }, { id: 2, kind: 1, values: ["b", 16, 24, 3, 50] }];
  const right = checksumOf([[1, 1, "a", 80, 8, 0, 100], [2, 1, "b", 16, 24, 3, 50]]);
  const m = new Mirror();
  assert.equal(m.apply({ tick: 1, baseline: null, lastSeq: null, spawns, changes: [], removals: [], shots: [], checksum: right }), true);
  assert.equal(m.checksumsMatched, 1);
  m.entities.get(2).hp = 49; // gone wrong
  assert.equal(m.apply({ tick: 2, baseline: 1, lastSeq: null, spawns: [], changes: [], removals: [], shots: [], checksum: right }), false);
  assert.equal(m.checksumsMismatched, 1);
  // a full snapshot replaces everything: it agrees again
  assert.equal(m.apply({ tick: 3, baseline: null, lastSeq: null, spawns, changes: [], removals: [], shots: [], checksum: right }), true);
  // no checksum, nothing checked
  assert.equal(m.apply({ tick: 4, baseline: 3, lastSeq: null, spawns: [], changes: [], removals: [], shots: [], checksum: null }), true);
  assert.equal(m.checksumsMatched, 2);
});
