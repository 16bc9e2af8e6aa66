/**
 * A model file whose checksum is valid but whose content is not (written by a buggy or hostile
 * trainer) is refused when opened, with one line naming the section, before it can serve.
 */
import { BundleError, openBundle } from '../src/format/bundle.js';
import { decodeModelFile, encodeModelFile, type ModelDocument } from '../src/format/model-file.js';
import { smallBundle, withSections } from './bundle-fixture.js';

let doc: ModelDocument;

beforeAll(async () => {
  ({ doc } = await smallBundle());
});

/** Encodes (a valid checksum), decodes and opens; returns the refusal message. */
function refusal(d: ModelDocument): string {
  const decoded = decodeModelFile(encodeModelFile(d));
  try {
    openBundle(decoded);
  } catch (err) {
    expect(err).toBeInstanceOf(BundleError);
    const message = (err as Error).message;
    expect(message).not.toContain('\n');
    return message;
  }
  throw new Error('the bundle was opened');
}

test('the untouched bundle opens and serves user 1 none of the movies they rated', () => {
  const bundle = openBundle(decodeModelFile(encodeModelFile(doc)));
  const u = bundle.users.index(1);
  const rated = new Set(Array.from(bundle.history.indices.subarray(bundle.history.indptr[u], bundle.history.indptr[u + 1]), (i) => bundle.items.id(i)));
  const served = bundle.recommend({ userId: 1, k: 10 }).items.map((i) => i.movieId);
  expect(served).toHaveLength(10);
  expect(served.filter((m) => rated.has(m))).toEqual([]);
});

test('history.indices all -1 is refused (it would serve users the movies they already rated)', () => {
  const indices = new Int32Array(doc.sections['history.indices'].length).fill(-1);
  expect(refusal(withSections(doc, { 'history.indices': indices }))).toBe(
    'section "history.indices" has index -1 at entry 0, outside 0..39',
  );
});

test('an item index past the catalogue is refused', () => {
  const indices = Int32Array.from(doc.sections['history.indices']);
  indices[5] = 40;
  expect(refusal(withSections(doc, { 'history.indices': indices }))).toMatch(/^section "history.indices" has index 40 at entry 5/);
});

test('a history row whose columns are out of order or repeated is refused (serving binary-searches it)', () => {
  const indptr = doc.sections['history.indptr'] as Int32Array;
  const row = Array.from({ length: indptr.length - 1 }, (_, r) => r).find((r) => indptr[r + 1] - indptr[r] >= 2)!;
  const e = indptr[row] + 1;
  const indices = Int32Array.from(doc.sections['history.indices']);
  indices[e] = indices[e - 1];
  expect(refusal(withSections(doc, { 'history.indices': indices }))).toBe(
    `section "history.indices" is not sorted and unique within row ${row} (entry ${e})`,
  );
});

test('NaN and infinite factors are refused, naming the section and element', () => {
  const nan = Float32Array.from(doc.sections['ials.itemFactors']);
  nan[3] = Number.NaN;
  expect(refusal(withSections(doc, { 'ials.itemFactors': nan }))).toBe('section "ials.itemFactors" has a non-finite value (NaN) at element 3');
  const inf = Float32Array.from(doc.sections['als.userBias']);
  inf[0] = -Infinity;
  expect(refusal(withSections(doc, { 'als.userBias': inf }))).toBe('section "als.userBias" has a non-finite value (-Infinity) at element 0');
});

test('offsets that decrease or do not end at the entry count are refused', () => {
  const indptr = Int32Array.from(doc.sections['history.indptr']);
  [indptr[3], indptr[4]] = [indptr[4], indptr[3]];
  expect(refusal(withSections(doc, { 'history.indptr': indptr }))).toBe('section "history.indptr" decreases at row 3');
  const short = Int32Array.from(doc.sections['history.indptr']);
  short[short.length - 1] -= 1;
  expect(refusal(withSections(doc, { 'history.indptr': short }))).toMatch(/^section "history.indptr" (ends at|decreases)/);
  const genre = Int32Array.from(doc.sections['popularity.genreIndptr']);
  genre[0] = 1;
  expect(refusal(withSections(doc, { 'popularity.genreIndptr': genre }))).toBe('section "popularity.genreIndptr" does not start at 0');
});

test('a repeated user id is refused', () => {
  const ids = Int32Array.from(doc.sections['users.ids']);
  ids[1] = ids[0];
  expect(refusal(withSections(doc, { 'users.ids': ids }))).toBe('section "users.ids" repeats an id (30 ids, 29 distinct)');
});

test('a component sized for other users or items is refused', () => {
  const d = withSections(doc, {});
  (d.meta.components as Record<string, Record<string, unknown>>).ials.items = 39;
  expect(refusal(d)).toBe('component "ials" is over 39 items, the bundle has 40');
  const e = withSections(doc, { 'ease.userIndptr': Int32Array.from(doc.sections['ease.userIndptr']).subarray(0, 10) });
  expect(refusal(e)).toMatch(/^section "ease.user.indptr" has 10 offsets for 30 rows/);
  const entries = doc.sections['ease.userItems'].length;
  const w = withSections(doc, { 'ease.userWeights': new Float32Array(3) });
  expect(refusal(w)).toBe(`section "ease.userWeights" has 3 entries, "ease.userItems" ${entries}`);
});

test('a malformed catalogue or hybrid setting is refused', () => {
  const d = withSections(doc, {});
  (d.meta.movies as unknown[])[2] = { id: 'x', title: 1 };
  expect(refusal(d)).toBe('meta.movies[2] is not a movie {id, title, year, genres}');
  const h = withSections(doc, {});
  h.meta.hybrid = { contentWeight: 7 };
  expect(refusal(h)).toBe('meta.hybrid.contentWeight is not a number in [0, 1]');
});
