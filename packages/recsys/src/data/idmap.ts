/**
 * Dense id map: external 32-bit integer ids ↔ contiguous indices 0..size-1, in first-seen order.
 * Algorithms work on indices so their arrays stay dense.
 *
 * The id → index side is an open-addressing hash table on typed arrays (linear probing,
 * Fibonacci hashing, at most half full) rather than a `Map`: building the map of a large model's
 * users is one pass without rehashing a `Map` as it grows (which held a serving event loop when a
 * new model was opened), and a lookup allocates nothing. A map built from a list of ids that
 * fills most of its range (MovieLens users, synthetic worlds: a permutation of 1..N) is a direct
 * table instead, id − lowest → index, 4 bytes per id of the range where the hash table takes 16
 * or more per id (the 20M-sized model's 138k users: 0.5 MB instead of 4 MB).
 */
import { runToEnd } from '../kernels/steps.js';

/** A direct table serves ids whose range is at most this many times their number. */
const DIRECT_RANGE_PER_ID = 4;

export class IdMap {
  /** slot → index + 1 (0 = empty slot); null for a direct table. */
  private slots: Int32Array | null = null;
  /** slot → id (meaningful where slots[slot] ≠ 0). */
  private keys: Int32Array | null = null;
  /** 32 − log2(table size): the hash keeps the top bits of id · φ. */
  private shift = 0;
  /** id − base → index + 1 (0 = no such id); null for a hash table. */
  private direct: Int32Array | null = null;
  private base = 0;
  private ids: Int32Array;
  private count = 0;

  constructor(capacity = 16) {
    this.ids = new Int32Array(Math.max(1, capacity));
    this.rebuild(tableBits(capacity));
  }

  static fromIds(ids: ArrayLike<number>): IdMap {
    return runToEnd(IdMap.build(ids));
  }

  /** fromIds() in steps: yields after every `stepIds` ids (a hot swap's open of a large model). */
  static *build(ids: ArrayLike<number>, stepIds = Infinity): Generator<void, IdMap, void> {
    const map = new IdMap(0);
    map.ids = new Int32Array(Math.max(1, ids.length));
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < ids.length; i++) {
      lo = Math.min(lo, ids[i]);
      hi = Math.max(hi, ids[i]);
    }
    if (ids.length > 0 && Number.isInteger(lo) && Number.isInteger(hi) && hi - lo < DIRECT_RANGE_PER_ID * ids.length) {
      map.slots = map.keys = null;
      map.direct = new Int32Array(hi - lo + 1);
      map.base = lo;
    } else map.rebuild(tableBits(ids.length));
    for (let i = 0; i < ids.length; i++) {
      map.add(ids[i]);
      if ((i + 1) % stepIds === 0) yield;
    }
    return map;
  }

  get size(): number {
    return this.count;
  }

  /** Index of `id`, adding it if new. */
  add(id: number): number {
    if ((id | 0) !== id) throw new RangeError(`id must be a 32-bit integer, got ${id}`);
    const found = this.index(id);
    if (found >= 0) return found;
    if (this.count === this.ids.length) {
      const next = new Int32Array(this.ids.length * 2);
      next.set(this.ids);
      this.ids = next;
    }
    const direct = this.direct;
    const inDirect = direct !== null && id - this.base >= 0 && id - this.base < direct.length;
    if (direct !== null && !inDirect) {
      // Outside the direct table's range: every id moves to a hash table.
      this.direct = null;
      this.rebuild(tableBits(this.count + 1));
    } else if (this.slots !== null && 2 * (this.count + 1) > this.slots.length) this.rebuild(32 - this.shift + 1);
    const index = this.count++;
    this.ids[index] = id;
    if (inDirect) direct[id - this.base] = index + 1;
    else this.insert(id, index);
    return index;
  }

  /** Index of `id`, or -1 when unknown. */
  index(id: number): number {
    if ((id | 0) !== id) return -1;
    const { slots, keys, direct } = this;
    if (direct !== null) {
      const d = id - this.base;
      return d >= 0 && d < direct.length ? direct[d] - 1 : -1;
    }
    if (slots === null || keys === null) return -1;
    const mask = slots.length - 1;
    for (let s = Math.imul(id, 0x9e3779b1) >>> this.shift; ; s = (s + 1) & mask) {
      const v = slots[s];
      if (v === 0) return -1;
      if (keys[s] === id) return v - 1;
    }
  }

  has(id: number): boolean {
    return this.index(id) >= 0;
  }

  /** External id at `index`; throws on an out-of-range index. */
  id(index: number): number {
    if (index < 0 || index >= this.count || !Number.isInteger(index)) {
      throw new RangeError(`index ${index} out of range 0..${this.count - 1}`);
    }
    return this.ids[index];
  }

  /** The external ids in index order (a copy). */
  toArray(): Int32Array {
    return this.ids.slice(0, this.count);
  }

  /** A hash table of 2^bits slots holding every id so far (in index order). */
  private rebuild(bits: number): void {
    this.slots = new Int32Array(1 << bits);
    this.keys = new Int32Array(1 << bits);
    this.shift = 32 - bits;
    for (let i = 0; i < this.count; i++) this.insert(this.ids[i], i);
  }

  private insert(id: number, index: number): void {
    const slots = this.slots as Int32Array;
    const keys = this.keys as Int32Array;
    const mask = slots.length - 1;
    let s = Math.imul(id, 0x9e3779b1) >>> this.shift;
    while (slots[s] !== 0) s = (s + 1) & mask;
    slots[s] = index + 1;
    keys[s] = id;
  }
}

/** log2 of the table size that holds `capacity` ids at most half full (at least 16 slots). */
function tableBits(capacity: number): number {
  let bits = 4;
  while (1 << bits < 2 * capacity && bits < 30) bits++;
  return bits;
}
