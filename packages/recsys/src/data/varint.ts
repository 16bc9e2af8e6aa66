/**
 * LEB128 varints (7 bits a byte, low bits first, the high bit set on every byte but the last):
 * the encoding of the compact indices (data/compact-history.ts, data/rater-sample.ts).
 */

/** Most bytes one varint of a value below 2^53 takes. */
export const MAX_VARINT_BYTES = 8;

/**
 * Writes `v` (an integer in [0, 2^53)) at bytes[at] and returns the position after it; the caller
 * leaves MAX_VARINT_BYTES of room.
 */
export function writeVarint(bytes: Uint8Array, at: number, v: number): number {
  // 32-bit integer operations while they are exact; division above 2^31.
  while (v >= 2 ** 31) {
    bytes[at++] = (v % 128) + 128;
    v = Math.floor(v / 128);
  }
  while (v >= 128) {
    bytes[at++] = (v & 127) | 128;
    v >>>= 7;
  }
  bytes[at++] = v;
  return at;
}
