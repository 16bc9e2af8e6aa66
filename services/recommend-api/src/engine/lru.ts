/**
 * A bounded cache with approximately least-recently-used eviction, in two generations: new and
 * recently used entries live in `young`; when it holds half the capacity it becomes `old` and the
 * previous old generation is dropped whole. A hit in `old` moves the entry to `young`. So an entry
 * used at least once per half-capacity insertions stays; at most `capacity` entries are held.
 *
 * Why not one Map with delete-and-reinsert (the usual JS LRU): V8's ordered hash tables keep
 * deleted slots until the next rehash, and evicting with `keys().next()` walks over them. Under a
 * steady stream of misses (every request a new key, each evicting the oldest) that walk grows
 * with the table until it costs more than computing the list it caches. Here nothing is deleted
 * one by one; every operation is O(1).
 */
export class GenerationalCache<K, V> {
  private young = new Map<K, V>();
  private old = new Map<K, V>();
  private readonly half: number;

  constructor(readonly capacity: number) {
    if (!(Number.isInteger(capacity) && capacity >= 2)) throw new RangeError(`capacity must be an integer ≥ 2, got ${capacity}`);
    this.half = capacity >> 1;
  }

  get size(): number {
    return this.young.size + this.old.size;
  }

  get(key: K): V | undefined {
    const v = this.young.get(key);
    if (v !== undefined) return v;
    const o = this.old.get(key);
    if (o !== undefined) this.insert(key, o); // promoted; the stale copy in `old` goes with it
    return o;
  }

  set(key: K, value: V): void {
    this.insert(key, value);
  }

  private insert(key: K, value: V): void {
    if (!this.young.has(key) && this.young.size >= this.half) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, value);
  }
}
