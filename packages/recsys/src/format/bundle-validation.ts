/**
 * Content checks a bundle passes before it serves. The model file's checksum only proves the
 * bytes are the ones written; these prove they make sense: ids unique, every index and offset in
 * range and in order, every float finite, each component sized to the bundle's users and items,
 * and the catalogue well-formed. All O(size), no allocation beyond the id maps the bundle builds
 * anyway. Failures are BundleErrors naming the section.
 */
import type { SectionArray } from '../model.js';
import type { ModelDocument } from './model-file.js';

export class BundleError extends Error {
  constructor(message: string) {
    // One line, whatever a crafted file put into the text quoted.
    super(message.replace(/[\r\n\u2028\u2029]+/g, ' '));
    this.name = 'BundleError';
  }
}

function fail(message: string): never {
  throw new BundleError(message);
}

/**
 * Largest magnitude of any stored float. Trained values are O(1) to O(count); a product of two
 * values this large stays far inside float32, so no score or fold-in overflows to Infinity.
 */
export const MAX_FLOAT_MAGNITUDE = 1e9;
/** Largest training rating: rating scales are small positive numbers (the fold-in needs them positive). */
export const MAX_RATING = 1000;

// One loop per element type: a loop that sees one typed-array class stays monomorphic (several
// times faster on the 20M-rating model's ~35M floats than one loop over both).
function firstOutOfRange32(a: Float32Array, max: number): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    if (!(x <= max && x >= -max)) return i; // also true for NaN
  }
  return -1;
}
function firstOutOfRange64(a: Float64Array, max: number): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    if (!(x <= max && x >= -max)) return i;
  }
  return -1;
}

/** A float section holds finite numbers of sane magnitude (NaN or ±Infinity factors poison every score). */
export function checkFloats(name: string, a: SectionArray): void {
  let at = -1;
  if (a instanceof Float32Array) at = firstOutOfRange32(a, MAX_FLOAT_MAGNITUDE);
  else if (a instanceof Float64Array) at = firstOutOfRange64(a, MAX_FLOAT_MAGNITUDE);
  if (at < 0) return;
  const x = a[at];
  if (Number.isFinite(x)) fail(`section "${name}" has ${x} at element ${at}, beyond ±${MAX_FLOAT_MAGNITUDE}`);
  fail(`section "${name}" has a non-finite value (${x}) at element ${at}`);
}

function firstBadRating(a: Float32Array): number {
  for (let e = 0; e < a.length; e++) {
    const r = a[e];
    if (!(r > 0 && r <= MAX_RATING)) return e;
  }
  return -1;
}

/** Training ratings are positive and on a rating scale. */
export function checkRatings(name: string, ratings: Float32Array): void {
  const e = firstBadRating(ratings);
  if (e >= 0) fail(`section "${name}" has rating ${ratings[e]} at entry ${e}, outside (0, ${MAX_RATING}]`);
}

/** First index outside [0, bound), or -1. The unsigned compare catches negatives too (2–3× faster than two compares). */
function firstOutside(a: Int32Array, bound: number): number {
  for (let e = 0; e < a.length; e++) if (a[e] >>> 0 >= bound) return e;
  return -1;
}

/** First row whose offset is below the previous one, or -1. */
function firstDecrease(a: Int32Array): number {
  for (let r = 1; r < a.length; r++) if (a[r] < a[r - 1]) return r - 1;
  return -1;
}

/** A section that must exist with this type. */
export function requireSection<T extends SectionArray>(doc: ModelDocument, name: string, type: new (n: number) => T): T {
  const s = doc.sections[name];
  if (!s || !(s instanceof type)) fail(`model file lacks section "${name}" of the expected type`);
  return s as T;
}

/** Ids are unique 32-bit integers (int32 sections are by construction); `size` is the distinct count. */
export function checkUniqueIds(name: string, ids: Int32Array, size: number): void {
  if (size !== ids.length) fail(`section "${name}" repeats an id (${ids.length} ids, ${size} distinct)`);
}

/**
 * A compressed-row index: `rows + 1` offsets from 0, never decreasing, ending at the number of
 * entries; every column index in [0, cols); values (if any) one per entry.
 */
export function checkCsr(
  name: string,
  indptr: Int32Array,
  indices: Int32Array,
  rows: number,
  cols: number,
  data?: { length: number },
): void {
  if (indptr.length !== rows + 1) fail(`section "${name}.indptr" has ${indptr.length} offsets for ${rows} rows (expected ${rows + 1})`);
  if (indptr[0] !== 0) fail(`section "${name}.indptr" does not start at 0`);
  const down = firstDecrease(indptr);
  if (down >= 0) fail(`section "${name}.indptr" decreases at row ${down}`);
  if (indptr[rows] !== indices.length) fail(`section "${name}.indptr" ends at ${indptr[rows]}, but there are ${indices.length} entries`);
  if (data && data.length !== indices.length) fail(`section "${name}" has ${data.length} values for ${indices.length} entries`);
  const e = firstOutside(indices, cols);
  if (e >= 0) fail(`section "${name}.indices" has index ${indices[e]} at entry ${e}, outside 0..${cols - 1}`);
}

/** Columns strictly increase within each row: serving binary-searches a user's history. */
export function checkSortedRows(name: string, indptr: Int32Array, indices: Int32Array): void {
  for (let r = 0; r + 1 < indptr.length; r++) {
    for (let e = indptr[r] + 1; e < indptr[r + 1]; e++) {
      if (indices[e] <= indices[e - 1]) fail(`section "${name}.indices" is not sorted and unique within row ${r} (entry ${e})`);
    }
  }
}

function metaCount(meta: Record<string, unknown>, component: string, key: string): number {
  const v = meta[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(`component "${component}" has no valid ${key} count`);
  return v;
}

/**
 * Each component is sized to the bundle's index space: a component over more users or items than
 * the id maps would be read out of range (or silently ignored) at request time.
 */
export function checkComponentShape(
  name: string,
  meta: Record<string, unknown>,
  sections: Record<string, SectionArray>,
  users: number,
  items: number,
): void {
  const same = (key: string, expected: number): void => {
    const got = metaCount(meta, name, key);
    if (got !== expected) fail(`component "${name}" is over ${got} ${key}, the bundle has ${expected}`);
  };
  const at = (key: string): SectionArray | undefined => sections[`${name}.${key}`];
  switch (name) {
    case 'als':
    case 'ials':
    case 'content':
      same('users', users);
      same('items', items);
      break;
    case 'ease': {
      same('items', items);
      const indptr = at('userIndptr');
      const history = at('userItems');
      if (indptr instanceof Int32Array && history instanceof Int32Array) checkCsr('ease.user', indptr, history, users, items);
      const weights = at('userWeights');
      if (weights && history && weights.length !== history.length) fail(`section "ease.userWeights" has ${weights.length} entries, "ease.userItems" ${history.length}`);
      break;
    }
    case 'popularity': {
      const counts = at('counts');
      if (counts && counts.length !== items) fail(`section "popularity.counts" has ${counts.length} entries, the bundle has ${items} items`);
      break;
    }
  }
  // Offsets of any index the component keeps never decrease.
  for (const [key, a] of Object.entries(sections)) {
    if (!key.startsWith(`${name}.`) || !/indptr$/i.test(key) || !(a instanceof Int32Array)) continue;
    if (a.length > 0 && a[0] !== 0) fail(`section "${key}" does not start at 0`);
    const down = firstDecrease(a);
    if (down >= 0) fail(`section "${key}" decreases at ${down}`);
  }
}

/** The catalogue in meta.movies: what each served item is described with. */
export function checkMovies(value: unknown): void {
  if (value === undefined) return;
  if (!Array.isArray(value)) fail('meta.movies is not an array');
  for (let i = 0; i < value.length; i++) {
    const m: unknown = value[i];
    const ok =
      typeof m === 'object' &&
      m !== null &&
      Number.isInteger((m as { id?: unknown }).id) &&
      typeof (m as { title?: unknown }).title === 'string' &&
      ((m as { year?: unknown }).year === null || Number.isInteger((m as { year?: unknown }).year)) &&
      Array.isArray((m as { genres?: unknown }).genres) &&
      (m as { genres: unknown[] }).genres.every((g) => typeof g === 'string');
    if (!ok) fail(`meta.movies[${i}] is not a movie {id, title, year, genres}`);
  }
}

/** The hybrid policy's settings, if any, are numbers in range. */
export function checkHybridParams(value: unknown): void {
  if (value === null || value === undefined) return;
  if (typeof value !== 'object' || Array.isArray(value)) fail('meta.hybrid is not an object');
  const p = value as Record<string, unknown>;
  if (p.minHistory !== undefined && !(Number.isInteger(p.minHistory) && (p.minHistory as number) >= 1)) fail('meta.hybrid.minHistory is not a positive integer');
  if (p.contentWeight !== undefined && !(typeof p.contentWeight === 'number' && p.contentWeight >= 0 && p.contentWeight <= 1)) {
    fail('meta.hybrid.contentWeight is not a number in [0, 1]');
  }
  if (p.coOccurrenceWeight !== undefined && !(typeof p.coOccurrenceWeight === 'number' && p.coOccurrenceWeight >= 0 && p.coOccurrenceWeight <= 1)) {
    fail('meta.hybrid.coOccurrenceWeight is not a number in [0, 1]');
  }
  if (p.normalisation !== undefined && p.normalisation !== 'minmax' && p.normalisation !== 'rank') fail('meta.hybrid.normalisation is not minmax or rank');
}
