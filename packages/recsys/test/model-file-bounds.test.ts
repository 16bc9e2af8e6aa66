/**
 * Reading a model file is bounded before anything large is read: the header is size- and
 * complexity-capped before it is parsed, declared sizes are checked against the real file, and
 * a file is streamed section by section, so memory follows the file's real size.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ModelFileError,
  decodeModelFile,
  encodeModelFile,
  loadModelFile,
  readModelFile,
  type ModelDocument,
} from '../src/format/model-file.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'netflicks-bounds-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const small: ModelDocument = { meta: { note: 'small' }, sections: { f: Float32Array.of(1, 2, 3), i: Int32Array.of(4, 5) } };

async function refusedReading(path: string): Promise<ModelFileError> {
  try {
    await readModelFile(path);
  } catch (err) {
    expect(err).toBeInstanceOf(ModelFileError);
    expect((err as Error).message.startsWith(`${path}: `)).toBe(true);
    expect((err as Error).message).not.toContain('\n');
    return err as ModelFileError;
  }
  throw new Error('the file was accepted');
}

function refusedDecoding(buf: Buffer): ModelFileError {
  try {
    decodeModelFile(buf);
  } catch (err) {
    expect(err).toBeInstanceOf(ModelFileError);
    return err as ModelFileError;
  }
  throw new Error('the bytes were accepted');
}

/** A sparse file: `start` followed by zeros up to `size` bytes (no disk used for the zeros). */
async function sparseFile(name: string, start: Buffer, size: number): Promise<string> {
  const path = join(dir, name);
  const fh = await open(path, 'w');
  try {
    await fh.write(start, 0, start.length, 0);
    await fh.truncate(size);
  } finally {
    await fh.close();
  }
  return path;
}

/** The fixed 24 bytes of a model file declaring a header length and a total length. */
function prelude(headerLength: number, total: number): Buffer {
  const b = Buffer.alloc(24);
  b.write('NFLXMODL', 0, 'latin1');
  b.writeUInt16LE(1, 8);
  b.writeUInt32LE(headerLength, 12);
  b.writeBigUInt64LE(BigInt(total), 16);
  return b;
}

/** Peak RSS growth while `run` runs (sampled every 5 ms; reads happen off the event loop). */
async function peakRssGrowth(run: () => Promise<unknown>): Promise<number> {
  const base = process.memoryUsage().rss;
  let peak = base;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 5);
  try {
    await run().catch(() => undefined);
  } finally {
    clearInterval(timer);
  }
  return Math.max(peak, process.memoryUsage().rss) - base;
}

const MiB = 1024 * 1024;

describe('header caps', () => {
  test('a declared 300 MB header is refused before it is read', async () => {
    const size = 300 * MiB + 24 + 32;
    const path = await sparseFile('big-header.nflx', prelude(300 * MiB, size), size);
    let err: ModelFileError | undefined;
    const growth = await peakRssGrowth(async () => {
      err = await refusedReading(path);
    });
    expect(err?.reason).toBe('header-too-large');
    expect(err?.message).toBe(`${path}: header of ${300 * MiB} bytes exceeds the ${32 * MiB}-byte limit`);
    expect(growth).toBeLessThan(64 * MiB);
  });

  test('a checksummed file whose metadata holds a 40 MB string is refused, from disk and from bytes', async () => {
    const bytes = encodeModelFile({ meta: { blob: 'x'.repeat(40 * MiB) }, sections: {} });
    expect(refusedDecoding(bytes).reason).toBe('header-too-large');
    await writeFile(join(dir, 'blob.nflx'), bytes);
    expect((await refusedReading(join(dir, 'blob.nflx'))).reason).toBe('header-too-large');
  });

  test('an object with too many keys, too many values in all, or deep nesting is refused before parsing', () => {
    const keys = Object.fromEntries(Array.from({ length: 70_000 }, (_, i) => [`k${i}`, 0]));
    const manyKeys = refusedDecoding(encodeModelFile({ meta: keys, sections: {} }));
    expect(manyKeys.reason).toBe('header-too-large');
    expect(manyKeys.message).toBe('header has an object with more than 65536 keys');
    const manyValues = refusedDecoding(encodeModelFile({ meta: { a: new Array<number>(4_100_000).fill(0) }, sections: {} }));
    expect(manyValues.message).toBe('header has more than 4000000 JSON values');
    const deep = JSON.parse(`${'['.repeat(300)}${']'.repeat(300)}`) as unknown;
    expect(() => decodeModelFile(encodeModelFile({ meta: { deep }, sections: {} }))).toThrow('header nests deeper than 256 levels');
    // Keys and values inside strings are not structure: a long title with ':' and ',' is fine.
    const ok = { meta: { title: ':,{['.repeat(100_000), escaped: '\\":' }, sections: {} };
    expect(decodeModelFile(encodeModelFile(ok)).meta).toEqual(ok.meta);
  });

  test('the caps can be raised by the caller', () => {
    const bytes = encodeModelFile({ meta: Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, i])), sections: {} });
    expect(() => decodeModelFile(bytes, { limits: { maxObjectKeys: 10 } })).toThrow('header has an object with more than 10 keys');
    expect(decodeModelFile(bytes, { limits: { maxObjectKeys: 100 } }).meta.k99).toBe(99);
  });
});

describe('declared sizes against the real file', () => {
  test('a valid model followed by 512 MB is refused without reading it', async () => {
    const model = encodeModelFile(small);
    const path = await sparseFile('trailing.nflx', model, model.length + 512 * MiB);
    let err: ModelFileError | undefined;
    const growth = await peakRssGrowth(async () => {
      err = await refusedReading(path);
    });
    expect(err?.reason).toBe('trailing-data');
    expect(growth).toBeLessThan(64 * MiB);
  });

  test('a header declaring sections beyond the real file is refused before allocating them', async () => {
    const model = encodeModelFile({ ...small, meta: { note: 'x'.repeat(64) } });
    // The same header, with section "i" claiming 1 GiB (the note shrinks to make room): the file
    // is a few hundred bytes.
    const headerLength = model.readUInt32LE(12);
    const header = JSON.parse(model.toString('utf8', 24, 24 + headerLength)) as {
      meta: { note: string };
      sections: { name: string; length: number; byteLength: number }[];
    };
    header.meta.note = '';
    const i = header.sections.find((s) => s.name === 'i')!;
    i.length = 256 * MiB;
    i.byteLength = 1024 * MiB;
    const json = Buffer.from(JSON.stringify(header));
    const padded = Buffer.concat([json, Buffer.alloc(headerLength - json.length, 0x20)]);
    expect(padded.length).toBe(headerLength);
    const forged = Buffer.from(model);
    padded.copy(forged, 24);
    await writeFile(join(dir, 'huge-section.nflx'), forged);
    const err = await refusedReading(join(dir, 'huge-section.nflx'));
    expect(err.reason).toBe('out-of-bounds');
    expect(err.message).toMatch(/section "i" out of bounds: bytes \d+\.\.\d+ of data/);
  });

  test('every truncation of a file on disk is refused', async () => {
    const model = encodeModelFile(small);
    const path = join(dir, 'cut.nflx');
    for (let n = 0; n < model.length; n += 7) {
      await writeFile(path, model.subarray(0, n));
      const err = await refusedReading(path);
      expect(['bad-magic', 'truncated']).toContain(err.reason);
    }
  });

  test('a file on disk round-trips, each section in its own buffer, with the whole-file hash', async () => {
    const path = join(dir, 'ok.nflx');
    const bytes = encodeModelFile(small);
    await writeFile(path, bytes);
    const read = await loadModelFile(path);
    expect(read.doc.meta).toEqual(small.meta);
    expect(Array.from(read.doc.sections.f)).toEqual([1, 2, 3]);
    expect(Array.from(read.doc.sections.i)).toEqual([4, 5]);
    expect(read.doc.sections.f.buffer).not.toBe(read.doc.sections.i.buffer);
    expect(read.doc.sections.i.byteOffset).toBe(0);
    const { createHash } = await import('node:crypto');
    expect(read.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(read.byteLength).toBe(bytes.length);
    expect(read.signed).toBe(false);
  });

  test('loading a 256 MB model costs about its size, not twice it', async () => {
    const factors = new Float32Array(64 * MiB); // 256 MB of sections
    for (let i = 0; i < factors.length; i += 4096) factors[i] = i;
    const path = join(dir, 'large.nflx');
    await writeFile(path, encodeModelFile({ meta: {}, sections: { factors } }));
    let loaded: ModelDocument | undefined;
    const growth = await peakRssGrowth(async () => {
      loaded = await readModelFile(path);
    });
    expect(loaded?.sections.factors[4096]).toBe(4096);
    expect(growth).toBeLessThan(256 * MiB + 96 * MiB);
  });
});

describe('signatures', () => {
  const trainer = generateKeyPairSync('ed25519');
  const other = generateKeyPairSync('ed25519');

  test('a signed file verifies with the matching public key and still reads without one', async () => {
    const signed = encodeModelFile(small, { signingKey: trainer.privateKey });
    expect(signed.length).toBe(encodeModelFile(small).length + 64);
    expect(decodeModelFile(signed, { publicKey: trainer.publicKey }).meta).toEqual(small.meta);
    expect(decodeModelFile(signed).meta).toEqual(small.meta);
    await writeFile(join(dir, 'signed.nflx'), signed);
    const read = await loadModelFile(join(dir, 'signed.nflx'), { publicKey: trainer.publicKey });
    expect(read.signed).toBe(true);
  });

  test('unsigned files are byte-for-byte what they were before signing existed', () => {
    const bytes = encodeModelFile(small);
    expect(bytes.readUInt16LE(10)).toBe(0);
    expect(decodeModelFile(bytes).meta).toEqual(small.meta);
  });

  test('with a public key configured, unsigned, wrongly signed and tampered files are refused', async () => {
    expect(refusedDecodingWith(encodeModelFile(small), trainer.publicKey)).toEqual(['unsigned', 'model file is not signed and a model public key is configured']);
    expect(refusedDecodingWith(encodeModelFile(small, { signingKey: other.privateKey }), trainer.publicKey)).toEqual([
      'bad-signature',
      'model signature does not match the configured public key',
    ]);
    const tampered = encodeModelFile(small, { signingKey: trainer.privateKey });
    tampered[tampered.length - 1] ^= 1; // the signature itself
    expect(refusedDecodingWith(tampered, trainer.publicKey)[0]).toBe('bad-signature');
    await writeFile(join(dir, 'other.nflx'), encodeModelFile(small, { signingKey: other.privateKey }));
    await expect(loadModelFile(join(dir, 'other.nflx'), { publicKey: trainer.publicKey })).rejects.toThrow(
      `${join(dir, 'other.nflx')}: model signature does not match the configured public key`,
    );
  });

  test('signing needs an Ed25519 key', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    expect(() => encodeModelFile(small, { signingKey: rsa.privateKey })).toThrow('model signing needs an Ed25519 private key, got rsa');
  });

  function refusedDecodingWith(buf: Buffer, publicKey: import('node:crypto').KeyObject): [string, string] {
    try {
      decodeModelFile(buf, { publicKey });
    } catch (err) {
      expect(err).toBeInstanceOf(ModelFileError);
      return [(err as ModelFileError).reason, (err as Error).message];
    }
    throw new Error('accepted');
  }
});
