/**
 * List bodies written as bytes. Each catalogue movie's JSON up to its score
 * (`{"movieId":…,"title":…,"year":…,"genres":[…],"score":`) is rendered once per model, as UTF-8
 * in one buffer, so a response is one Buffer assembled from those bytes and the scores formatted
 * for it: no per-movie strings concatenated, flattened and encoded on every request, and no cache
 * of them growing (and being promoted by the garbage collector) while a model warms up.
 * The output is exactly what JSON.stringify writes for the same objects.
 */
import type { LoadedBundle, Movie } from '@netflicks/recsys';
import type { ScoredMovie } from '../engine/engine.js';

const OPEN = 0x5b; // [
const CLOSE = 0x5d; // ]
const COMMA = 0x2c;
const END_ITEM = 0x7d; // }
/** Movies rendered between two pauses of a stepwise build. */
const STEP = 2048;

/** `{"movieId":…,…,"score":` for a movie, as JSON.stringify writes the object (unknown metadata: empty title and genres, null year). */
function movieHead(movieId: number, m: Movie | undefined): string {
  const json = JSON.stringify({ movieId, title: m?.title ?? '', year: m?.year ?? null, genres: m?.genres ?? [], score: 0 });
  return json.slice(0, json.length - '0}'.length);
}

/** A score as JSON.stringify writes a number: String(n) when finite, else null. */
function scoreText(score: number): string {
  return Number.isFinite(score) ? String(score) : 'null';
}

/** Writes an ASCII string (digits, a request id) byte by byte: shorter than a call into the encoder. */
function writeAscii(buf: Buffer, pos: number, s: string): number {
  for (let j = 0; j < s.length; j++) buf[pos++] = s.charCodeAt(j);
  return pos;
}

export class ItemJsonTable {
  /** The scores of the list being written (reused: one array per table, not per request). */
  private readonly scores: string[] = [];

  private constructor(
    private readonly bundle: LoadedBundle,
    /** Every item's head, by item index, back to back. */
    private readonly bytes: Buffer,
    /** Item index i's head is bytes[ends[i - 1] (0 for i = 0), ends[i]). */
    private readonly ends: Int32Array,
  ) {}

  /** Renders every item of the bundle's catalogue at once. */
  static build(bundle: LoadedBundle): ItemJsonTable {
    const heads = new Array<string>(bundle.items.size);
    for (let i = 0; i < heads.length; i++) heads[i] = ItemJsonTable.headOf(bundle, i);
    return ItemJsonTable.assemble(bundle, heads);
  }

  /** The same table, with `pause()` awaited between steps of STEP movies (a model loading next to live traffic). */
  static async buildInSteps(bundle: LoadedBundle, pause: () => Promise<void>): Promise<ItemJsonTable> {
    const heads = new Array<string>(bundle.items.size);
    for (let i = 0; i < heads.length; i++) {
      if (i % STEP === 0) await pause();
      heads[i] = ItemJsonTable.headOf(bundle, i);
    }
    await pause();
    return ItemJsonTable.assemble(bundle, heads);
  }

  private static headOf(bundle: LoadedBundle, index: number): string {
    const movieId = bundle.items.id(index);
    return movieHead(movieId, bundle.movie(movieId));
  }

  private static assemble(bundle: LoadedBundle, heads: string[]): ItemJsonTable {
    const ends = new Int32Array(heads.length);
    let total = 0;
    for (let i = 0; i < heads.length; i++) ends[i] = total += Buffer.byteLength(heads[i]);
    const bytes = Buffer.alloc(total);
    for (let i = 0; i < heads.length; i++) bytes.write(heads[i], i === 0 ? 0 : ends[i - 1]);
    return new ItemJsonTable(bundle, bytes, ends);
  }

  /** `[{"movieId":…,"score":…},…]` as bytes. */
  items(items: readonly ScoredMovie[]): Buffer {
    return this.body('', items, '');
  }

  /**
   * `head` + the items' JSON array + `tail`, as bytes. `items` may be an array rendered before by
   * items(): its bytes are copied as they are.
   */
  body(head: string, items: readonly ScoredMovie[] | Buffer, tail: string): Buffer {
    const headBytes = head === '' ? 0 : Buffer.byteLength(head);
    const tailBytes = tail === '' ? 0 : Buffer.byteLength(tail);
    if (Buffer.isBuffer(items)) {
      const out = Buffer.allocUnsafe(headBytes + items.length + tailBytes);
      if (headBytes > 0) out.write(head, 0);
      items.copy(out, headBytes);
      if (tailBytes > 0) out.write(tail, headBytes + items.length);
      return out;
    }
    const { bytes, ends, bundle, scores } = this;
    const n = items.length;
    // [ ] and, per item, its head, score and } and the comma before all but the first.
    let size = headBytes + tailBytes + 2 + (n > 0 ? 2 * n - 1 : 0);
    for (let j = 0; j < n; j++) {
      const s = (scores[j] = scoreText(items[j].score));
      const i = bundle.items.index(items[j].movieId);
      size += s.length + (i >= 0 ? ends[i] - (i === 0 ? 0 : ends[i - 1]) : Buffer.byteLength(movieHead(items[j].movieId, bundle.movie(items[j].movieId))));
    }
    const out = Buffer.allocUnsafe(size);
    let pos = headBytes > 0 ? out.write(head, 0) : 0;
    out[pos++] = OPEN;
    for (let j = 0; j < n; j++) {
      if (j > 0) out[pos++] = COMMA;
      const movieId = items[j].movieId;
      const i = bundle.items.index(movieId);
      // A movie outside the item index (never one the policy ranks) is rendered on the spot.
      pos += i >= 0 ? bytes.copy(out, pos, i === 0 ? 0 : ends[i - 1], ends[i]) : out.write(movieHead(movieId, bundle.movie(movieId)), pos);
      pos = writeAscii(out, pos, scores[j]);
      out[pos++] = END_ITEM;
    }
    out[pos++] = CLOSE;
    if (tailBytes > 0) out.write(tail, pos);
    return out;
  }
}
