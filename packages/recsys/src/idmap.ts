/**
 * Dense id map: external integer ids ↔ contiguous indices 0..size-1, in first-seen order.
 * Algorithms work on indices so their arrays stay dense.
 */
export class IdMap {
  private readonly toIndex = new Map<number, number>();
  private ids: Int32Array;
  private count = 0;

  constructor(capacity = 16) {
    this.ids = new Int32Array(Math.max(1, capacity));
  }

  static fromIds(ids: ArrayLike<number>): IdMap {
    const map = new IdMap(ids.length);
    for (let i = 0; i < ids.length; i++) map.add(ids[i]);
    return map;
  }

  get size(): number {
    return this.count;
  }

  /** Index of `id`, adding it if new. */
  add(id: number): number {
    const found = this.toIndex.get(id);
    if (found !== undefined) return found;
    if (!Number.isInteger(id)) throw new RangeError(`id must be an integer, got ${id}`);
    if (this.count === this.ids.length) {
      const next = new Int32Array(this.ids.length * 2);
      next.set(this.ids);
      this.ids = next;
    }
    const index = this.count++;
    this.ids[index] = id;
    this.toIndex.set(id, index);
    return index;
  }

  /** Index of `id`, or -1 when unknown. */
  index(id: number): number {
    return this.toIndex.get(id) ?? -1;
  }

  has(id: number): boolean {
    return this.toIndex.has(id);
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
}
