/**
 * Fuzzes the model-file decoder and the bundle opener with mutated copies of a real bundle: bytes
 * flipped (with and without a repaired checksum, so mutations reach past the digest), section
 * elements set to hostile values, metadata replaced, the header text edited, files cut or
 * extended. Every file either loads and serves or is refused with a ModelFileError or
 * BundleError; nothing else is thrown, nothing hangs, memory stays bounded. Bounded in time
 * (FUZZ_TIME_MS, default 15 s) so it runs in CI with the rest of the suite.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { BundleError, openBundle } from '../src/format/bundle.js';
import { ModelFileError, decodeModelFile, encodeModelFile, type ModelDocument } from '../src/format/model-file.js';
import { HybridServingPolicy } from '../src/serving/hybrid-serving-policy.js';
import { smallBundle, withSections } from './bundle-fixture.js';

const TIME_MS = Number(process.env.FUZZ_TIME_MS ?? 15_000);
const MiB = 1024 * 1024;

let doc: ModelDocument;
let bytes: Buffer;
let names: string[];

beforeAll(async () => {
  ({ doc, bytes } = await smallBundle());
  names = Object.keys(doc.sections);
});

/** Rewrites the declared length and the digest, so the file passes the checksum and reaches the parser. */
function repairChecksum(buf: Buffer): Buffer {
  if (buf.length < 56) return buf;
  buf.writeBigUInt64LE(BigInt(buf.length), 16);
  const end = buf.length - 32;
  createHash('sha256').update(buf.subarray(0, end)).digest().copy(buf, end);
  return buf;
}

const INT_VALUES = [-1, 0, 1, 29, 30, 39, 40, 41, 2 ** 31 - 1, -(2 ** 31), 1_000_000];
const FLOAT_VALUES = [Number.NaN, Infinity, -Infinity, 0, -0, 1e38, -1e38, 3.4e38, 1e-45];

type Mutation = (input: Buffer) => Buffer;

const flipBytes = fc
  .tuple(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 8 }), fc.boolean(), fc.boolean())
  .map(([flips, inHeader, repair]): Mutation => (input) => {
    const buf = Buffer.from(input);
    const headerEnd = 24 + buf.readUInt32LE(12);
    for (const [at, xor] of flips) buf[(inHeader ? at % headerEnd : at) % buf.length] ^= xor;
    return repair ? repairChecksum(buf) : buf;
  });

const sectionValues = fc
  .array(
    fc.tuple(
      fc.nat(),
      fc.nat(),
      fc.oneof(fc.constantFrom(...INT_VALUES), fc.integer()),
      fc.oneof(fc.constantFrom(...FLOAT_VALUES), fc.double()),
    ),
    { minLength: 1, maxLength: 4 },
  )
  .map((edits): Mutation => () => {
    const replaced: ModelDocument['sections'] = {};
    for (const [s, e, int, float] of edits) {
      const name = names[s % names.length];
      const a = (replaced[name] ?? doc.sections[name]).slice();
      if (a.length === 0) continue;
      a[e % a.length] = a instanceof Float32Array || a instanceof Float64Array ? float : int;
      replaced[name] = a;
    }
    return encodeModelFile(withSections(doc, replaced));
  });

const sectionResize = fc.tuple(fc.nat(), fc.integer({ min: -3, max: 3 })).map(([s, delta]): Mutation => () => {
  const name = names[s % names.length];
  const a = doc.sections[name];
  const resized = new (a.constructor as new (n: number) => typeof a)(Math.max(0, a.length + delta));
  resized.set(a.subarray(0, Math.min(a.length, resized.length)));
  return encodeModelFile(withSections(doc, { [name]: resized }));
});

const metaPaths = ['kind', 'bundleVersion', 'components', 'hybrid', 'movies', 'globalMean', 'maxTimestamp', 'components.ials', 'components.ials.factors',
  'components.ials.items', 'components.content.tokens', 'components.popularity.genres', 'components.popularity.params', 'components.als.params',
  'components.ease.items', 'movies.0', 'movies.0.genres', 'hybrid.minHistory', 'components.content.users', 'components.als.factors'];

const metaValue = fc
  .tuple(fc.constantFrom(...metaPaths), fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom(-1, 0, 1e9, null, [], {}, 'x')))
  .map(([path, value]): Mutation => () => {
    const d = withSections(doc, {});
    const keys = path.split('.');
    let at: Record<string, unknown> = d.meta;
    for (const k of keys.slice(0, -1)) {
      const next = at[k];
      if (typeof next !== 'object' || next === null) return encodeModelFile(d);
      at = next as Record<string, unknown>;
    }
    at[keys[keys.length - 1]] = value;
    return encodeModelFile(d);
  });

const headerText = fc.tuple(fc.nat(), fc.constantFrom('0', '9', '-', '"', '{', '}', '[', ']', ',', ':', ' ', 'e', '\\')).map(
  ([at, ch]): Mutation =>
    (input) => {
      const buf = Buffer.from(input);
      const headerLength = buf.readUInt32LE(12);
      buf.write(ch, 24 + (at % headerLength), 'latin1');
      return repairChecksum(buf);
    },
);

const cutOrExtend = fc.tuple(fc.nat(), fc.boolean(), fc.boolean()).map(([n, extend, repair]): Mutation => (input) => {
  const buf = extend ? Buffer.concat([input, Buffer.alloc((n % 4096) + 1)]) : Buffer.from(input.subarray(0, n % input.length));
  return repair ? repairChecksum(buf) : buf;
});

const mutation = fc.oneof(flipBytes, sectionValues, sectionResize, metaValue, headerText, cutOrExtend);

/** Decodes, opens and serves a file; returns how it ended. Throws anything other than a clear refusal. */
function exercise(buf: Buffer): 'served' | 'refused' {
  try {
    const bundle = openBundle(decodeModelFile(buf));
    const policy = new HybridServingPolicy(bundle, { maxK: 20 });
    for (const userId of [1, 7, 30, 424242]) {
      policy.recommend({ userId, k: 10 });
      policy.recommend({ userId, k: 5, genre: 'Drama', extraRatings: [{ movieId: 101, rating: 4 }] });
      bundle.recommend({ userId, k: 5 });
    }
    policy.similar(101, 5);
    policy.similar(140, 5);
    bundle.trainingData();
    return 'served';
  } catch (err) {
    if (err instanceof ModelFileError || err instanceof BundleError) {
      if (err.message.includes('\n')) throw new Error(`multi-line refusal: ${JSON.stringify(err.message)}`);
      return 'refused';
    }
    throw err;
  }
}

test('the unmutated bundle serves', () => {
  expect(exercise(bytes)).toBe('served');
});

test(`mutated model files are served or refused clearly, never crash or hang (${TIME_MS} ms)`, () => {
  const outcomes = { served: 0, refused: 0 };
  const rssBefore = process.memoryUsage().rss;
  let slowest = 0;
  fc.assert(
    fc.property(mutation, (mutate) => {
      const file = mutate(bytes);
      const t0 = performance.now();
      outcomes[exercise(file)]++;
      slowest = Math.max(slowest, performance.now() - t0);
    }),
    { numRuns: 1_000_000, interruptAfterTimeLimit: TIME_MS, markInterruptAsFailure: false },
  );
  const runs = outcomes.served + outcomes.refused;
  expect(runs).toBeGreaterThan(500);
  expect(outcomes.refused).toBeGreaterThan(runs / 10);
  // The fixture loads in well under a millisecond; a mutation that makes it slow would hang a server.
  expect(slowest).toBeLessThan(2000);
  expect(process.memoryUsage().rss - rssBefore).toBeLessThan(256 * MiB);
  console.log(`model-file fuzz: ${runs} files, ${outcomes.refused} refused, ${outcomes.served} served, slowest ${slowest.toFixed(1)} ms`);
}, TIME_MS + 30_000);
