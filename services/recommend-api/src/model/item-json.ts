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
const QUOTE = 0x22;
/** Movies rendered between two pauses of a stepwise build. */
const STEP = 512;

/** `{"movieId":…,…,"score":` for a movie, as JSON.stringify writes the object (unknown metadata: empty title and genres, null year). */
function movieHead(movieId: number, m: Movie | undefined): string {
  const json = JSON.stringify({ movieId, title: m?.title ?? '', year: m?.year ?? null, genres: m?.genres ?? [], score: 0 });
  return json.slice(0, json.length - '0}'.length);
}

/**
 * A number as JSON writes it (String(n) when finite, else null), through JSON.stringify and not
 * String(n): String() keeps each text it makes in V8's number-to-string cache, an old-space table,
 * so every request's scores (and id) outlived two scavenges and were promoted — ~0.5 KB per
 * request of old-space garbage, tens of MB of RSS between full collections on the 20M-sized
 * model (docs/benchmarks.md, issue 19, h-mem evening). JSON.stringify formats into a fresh string.
 */
function numberText(n: number): string {
  return JSON.stringify(n);
}

/** Writes an ASCII string (digits, a request id) byte by byte: shorter than a call into the encoder. */
function writeAscii(buf: Buffer, pos: number, s: string): number {
  return writeAsciiRange(buf, pos, s, 0, s.length);
}

function writeAsciiRange(buf: Buffer, pos: number, s: string, from: number, to: number): number {
  for (let j = from; j < to; j++) buf[pos++] = s.charCodeAt(j);
  return pos;
}

/** Digits of a non-negative integer below 2³¹ (an id), or 0 for any other number (written as numberText() writes it). */
function smallIntDigits(n: number): number {
  if (!(n >= 0 && n < 2 ** 31 && n === Math.floor(n))) return 0;
  let digits = 1;
  for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
  return digits;
}

/** Writes `n` (smallIntDigits(n) = digits > 0) in decimal: no string made, unlike String(n) or JSON.stringify(n). */
function writeSmallInt(buf: Buffer, pos: number, n: number, digits: number): number {
  let x = n;
  for (let at = pos + digits - 1; at >= pos; at--) {
    buf[at] = 0x30 + (x % 10);
    x = Math.floor(x / 10);
  }
  return pos + digits;
}

/** Whether JSON writes `s` as itself between quotes, one byte per character (a request id as the API makes or accepts them). */
function plainAscii(s: string): boolean {
  for (let j = 0; j < s.length; j++) {
    const c = s.charCodeAt(j);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return false;
  }
  return true;
}

const OPEN_ID = { userId: '{"userId":', movieId: '{"movieId":' } as const;
const REQUEST_ID = ',"requestId":';

export class ItemJsonTable {
  /**
   * The list being written (reused: one set per table, not per request): its scores, their JSON
   * text (`[s0,s1,…]`, made by one JSON.stringify call for the list: one call per score cost 10
   * entries into the runtime a request) with where each score's text starts, and its item indexes.
   */
  private readonly scoreValues: number[] = [];
  private scoresText = '';
  private scoreStarts = new Int32Array(129);
  private indexes = new Int32Array(128);
  /** UTF-8 of the JSON texts bodies repeat (`"strategy":…,"model":…,`), by text. */
  private readonly fieldBytes = new Map<string, Buffer>();

  private constructor(
    private readonly bundle: LoadedBundle,
    /** Each item's head, by item index: views of one buffer (copied without a view made per copy). */
    private readonly heads: Uint8Array[],
  ) {}

  /** Renders every item of the bundle's catalogue at once. */
  static build(bundle: LoadedBundle): ItemJsonTable {
    const steps = ItemJsonTable.steps(bundle);
    for (;;) {
      const step = steps.next();
      if (step.done) return step.value;
    }
  }

  /** The same table, with `pause()` awaited between steps of STEP movies (a model loading next to live traffic). */
  static async buildInSteps(bundle: LoadedBundle, pause: () => Promise<void>): Promise<ItemJsonTable> {
    const steps = ItemJsonTable.steps(bundle);
    for (;;) {
      await pause();
      const step = steps.next();
      if (step.done) return step.value;
    }
  }

  /** The build, yielding after every STEP movies rendered, and after every STEP written into the shared buffer. */
  private static *steps(bundle: LoadedBundle): Generator<void, ItemJsonTable> {
    const n = bundle.items.size;
    const heads = new Array<string>(n);
    let total = 0;
    for (let i = 0; i < n; i++) {
      if (i > 0 && i % STEP === 0) yield;
      const movieId = bundle.items.id(i);
      total += Buffer.byteLength((heads[i] = movieHead(movieId, bundle.movie(movieId))));
    }
    yield;
    const bytes = Buffer.alloc(total);
    const views = new Array<Uint8Array>(n);
    for (let i = 0, at = 0; i < n; i++) {
      if (i > 0 && i % STEP === 0) yield;
      const written = bytes.write(heads[i], at);
      views[i] = bytes.subarray(at, (at += written));
    }
    return new ItemJsonTable(bundle, views);
  }

  /**
   * `[{"movieId":…,"score":…},…]` as bytes of their own: kept (rendered cached lists), so not a
   * slice of Node's shared 8 KB pool, which a kept slice would pin whole.
   */
  items(items: readonly ScoredMovie[]): Buffer {
    const out = Buffer.allocUnsafeSlow(this.measure(items));
    this.writeItems(out, 0, items);
    return out;
  }

  /**
   * `{"<key>":<id>,<fields>"items":[…],"requestId":"…"}` as bytes, exactly as JSON.stringify writes
   * it. `fields` is JSON text that repeats across responses, ending with a comma (its bytes are
   * kept per text); `items` may be a list rendered before by items().
   */
  listBody(key: keyof typeof OPEN_ID, id: number, fields: string, items: readonly ScoredMovie[] | Uint8Array, requestId: string): Buffer {
    let middle = this.fieldBytes.get(fields);
    if (middle === undefined) this.fieldBytes.set(fields, (middle = Buffer.from(`${fields}"items":`)));
    const idDigits = smallIntDigits(id);
    const idText = idDigits > 0 ? '' : numberText(id);
    const plainId = plainAscii(requestId);
    const quotedId = plainId ? '' : JSON.stringify(requestId);
    const open = OPEN_ID[key];
    const size =
      open.length +
      (idDigits > 0 ? idDigits : idText.length) +
      1 +
      middle.length +
      (items instanceof Uint8Array ? items.length : this.measure(items)) +
      REQUEST_ID.length +
      (plainId ? requestId.length + 2 : Buffer.byteLength(quotedId)) +
      1;
    const out = Buffer.allocUnsafe(size);
    let pos = writeAscii(out, 0, open);
    pos = idDigits > 0 ? writeSmallInt(out, pos, id, idDigits) : writeAscii(out, pos, idText);
    out[pos++] = COMMA;
    out.set(middle, pos);
    pos += middle.length;
    if (items instanceof Uint8Array) {
      out.set(items, pos);
      pos += items.length;
    } else pos = this.writeItems(out, pos, items);
    pos = writeAscii(out, pos, REQUEST_ID);
    if (plainId) {
      out[pos++] = QUOTE;
      pos = writeAscii(out, pos, requestId);
      out[pos++] = QUOTE;
    } else pos += out.write(quotedId, pos);
    out[pos] = END_ITEM;
    return out;
  }

  /** Bytes of the items' JSON array; formats their scores and finds their heads for writeItems(). */
  private measure(items: readonly ScoredMovie[]): number {
    const { heads, bundle, scoreValues } = this;
    const n = items.length;
    if (this.indexes.length < n) {
      this.indexes = new Int32Array(n);
      this.scoreStarts = new Int32Array(n + 1);
    }
    const { indexes, scoreStarts } = this;
    // Grown by push and shrunk by length: a packed array of doubles, which JSON.stringify writes
    // on its fast path (grown by length, the array is holey, and written element by element on its
    // slow one: 6 % of a request's CPU).
    while (scoreValues.length < n) scoreValues.push(0);
    scoreValues.length = n;
    for (let j = 0; j < n; j++) scoreValues[j] = items[j].score;
    // `[s0,s1,…]`: score j's text ends where score j + 1's starts, less the comma (the last: less the ]).
    const text = (this.scoresText = JSON.stringify(scoreValues));
    scoreStarts[0] = 1;
    for (let j = 1, at = 1; j < n; j++) scoreStarts[j] = at = text.indexOf(',', at) + 1;
    scoreStarts[n] = text.length;
    // [ ] and, per item, its head, score and } and the comma before all but the first; the scores'
    // text has the brackets and commas already.
    let size = text.length + n;
    for (let j = 0; j < n; j++) {
      const i = (indexes[j] = bundle.items.index(items[j].movieId));
      size += i >= 0 ? heads[i].length : Buffer.byteLength(movieHead(items[j].movieId, bundle.movie(items[j].movieId)));
    }
    return size;
  }

  /** Writes the items' JSON array at `pos` (with what the measure() just before found); returns the end. */
  private writeItems(out: Buffer, pos: number, items: readonly ScoredMovie[]): number {
    const { heads, bundle, scoresText, scoreStarts, indexes } = this;
    out[pos++] = OPEN;
    for (let j = 0; j < items.length; j++) {
      if (j > 0) out[pos++] = COMMA;
      const i = indexes[j];
      if (i >= 0) {
        out.set(heads[i], pos);
        pos += heads[i].length;
      } else {
        // A movie outside the item index (never one the policy ranks) is rendered on the spot.
        const movieId = items[j].movieId;
        pos += out.write(movieHead(movieId, bundle.movie(movieId)), pos);
      }
      pos = writeAsciiRange(out, pos, scoresText, scoreStarts[j], scoreStarts[j + 1] - 1);
      out[pos++] = END_ITEM;
    }
    out[pos++] = CLOSE;
    return pos;
  }
}
