// A snapshot's checksum (docs/protocol.md, "Checksums"): each entity held counts the CRC-32 of its
// spawn record [id, kind, ...values] as msgpack packs it in its smallest form (what a SNAPSHOT's
// spawn carries), and the checksum is the sum of those, modulo 2**32, in no particular order.
// No DOM here; Node's test runner loads this module as it is.

import { encode } from "../vendor/msgpack/dist.esm/index.mjs";

// CRC-32 as zlib computes it (the polynomial 0xEDB88320, reflected), one table lookup a byte.
const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** zlib's CRC-32 of `bytes` (a Uint8Array), as an unsigned 32-bit integer. */
export function crc32(bytes) {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** One entity's part of a checksum, from its spawn record [id, kind, ...values]. */
export function entityChecksum(record) {
  return crc32(encode(record));
}

/** The checksum of spawn records, in any order. */
export function checksumOf(records) {
  let sum = 0;
  for (const r of records) sum = (sum + entityChecksum(r)) % 0x100000000;
  return sum;
}
