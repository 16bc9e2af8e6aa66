import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SectionArray } from '../src/model.js';
import {
  ModelFileError,
  decodeModelFile,
  encodeModelFile,
  fingerprintRatings,
  readModelFile,
  writeModelFile,
  type ModelDocument,
} from '../src/format/model-file.js';
import { RatingTableBuilder } from '../src/types.js';

function bytes(a: SectionArray): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** Float32 / Float64 arrays with NaN payloads, both zeros, infinities and subnormals, by bit pattern. */
function edgeFloat32(): Float32Array {
  const bits = Uint32Array.of(0x7fc00000, 0x7fc00001, 0xffbadbad, 0x7f800001, 0x80000000, 0, 0x7f800000, 0xff800000, 1, 0x3f800000);
  return new Float32Array(bits.buffer);
}
function edgeFloat64(): Float64Array {
  // [low, high] 32-bit halves (little-endian)
  const halves = Uint32Array.of(1, 0x7ff80000, 0xdeadbeef, 0xfff4beef, 1, 0x7ff00000, 0, 0x80000000, 1, 0, 0, 0x3ff00000);
  return new Float64Array(halves.buffer);
}

const doc: ModelDocument = {
  meta: {
    algorithm: { name: 'als', version: 1 },
    hyperparameters: { factors: 8, lambda: 0.05 },
    metrics: { rmse: 0.91 },
    fingerprint: 'abc',
    createdAt: '2025-01-01T00:00:00.000Z',
    note: 'ünïcødé ✓',
  },
  sections: {
    odd: Uint8Array.of(1, 2, 255), // 3 bytes: the next section must be re-aligned
    f64: edgeFloat64(),
    f32: edgeFloat32(),
    i32: Int32Array.of(-2147483648, 2147483647, 0, -1, 42),
    empty: new Float32Array(0),
    last: Uint8Array.of(7),
  },
};

function expectRefused(buf: Buffer, reason?: string): ModelFileError {
  try {
    decodeModelFile(buf);
  } catch (err) {
    expect(err).toBeInstanceOf(ModelFileError);
    const e = err as ModelFileError;
    if (reason) expect(e.reason).toBe(reason);
    return e;
  }
  throw new Error('decode accepted a bad file');
}

/**
 * A file with the given header JSON (space-padded to 200 bytes, so data starts at 224) and
 * `dataBytes` zero bytes, correctly checksummed.
 */
const START = 224;
function craft(header: string, dataBytes = 64, version = 1): Buffer {
  const h = Buffer.from(header.padEnd(200), 'utf8');
  const start = Math.ceil((24 + h.length) / 8) * 8;
  const end = start + dataBytes;
  const buf = Buffer.alloc(end + 32);
  buf.write('NFLXMODL', 0, 'latin1');
  buf.writeUInt16LE(version, 8);
  buf.writeUInt32LE(h.length, 12);
  buf.writeBigUInt64LE(BigInt(end + 32), 16);
  h.copy(buf, 24);
  createHash('sha256').update(buf.subarray(0, end)).digest().copy(buf, end);
  return buf;
}

describe('model file round trip', () => {
  test('every dtype bit-exact (NaN payloads, -0, ±Infinity, subnormals, int extremes)', () => {
    const buf = encodeModelFile(doc);
    const back = decodeModelFile(buf);
    expect(back.meta).toEqual(doc.meta);
    expect(Object.keys(back.sections)).toEqual(Object.keys(doc.sections));
    for (const [name, a] of Object.entries(doc.sections)) {
      const b = back.sections[name];
      expect(b.constructor).toBe(a.constructor);
      expect(b.length).toBe(a.length);
      expect(bytes(b).equals(bytes(a))).toBe(true);
    }
    expect(Object.is(back.sections.f32[4], -0)).toBe(true);
    expect(new Uint32Array(back.sections.f32.slice().buffer)[2]).toBe(0xffbadbad);
  });

  test('layout: magic, version, 8-aligned sections; aligned sections are views into the buffer', () => {
    const buf = encodeModelFile(doc);
    expect(buf.toString('latin1', 0, 8)).toBe('NFLXMODL');
    expect(buf.readUInt16LE(8)).toBe(1);
    expect(Number(buf.readBigUInt64LE(16))).toBe(buf.length);
    expect(buf.length % 8).toBe(0);
    const header = JSON.parse(buf.toString('utf8', 24, 24 + buf.readUInt32LE(12))) as { sections: { offset: number }[] };
    for (const s of header.sections) expect(s.offset % 8).toBe(0);
    const back = decodeModelFile(buf);
    expect(back.sections.f64.buffer).toBe(buf.buffer);
    expect(encodeModelFile(doc).equals(buf)).toBe(true); // deterministic
  });

  test('a buffer at an odd address still decodes (copies where a view cannot be aligned)', () => {
    const buf = encodeModelFile(doc);
    const shifted = Buffer.alloc(buf.length + 1);
    buf.copy(shifted, 1);
    const back = decodeModelFile(shifted.subarray(1));
    for (const [name, a] of Object.entries(doc.sections)) expect(bytes(back.sections[name]).equals(bytes(a))).toBe(true);
  });

  test('no sections, empty meta', () => {
    expect(decodeModelFile(encodeModelFile({ meta: {}, sections: {} }))).toEqual({ meta: {}, sections: {} });
  });

  test('a section named __proto__ stays data', () => {
    const sections: Record<string, SectionArray> = Object.fromEntries([['__proto__', Int32Array.of(5)]]);
    const back = decodeModelFile(encodeModelFile({ meta: {}, sections }));
    expect(Object.keys(back.sections)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(back.sections)).toBe(Object.prototype);
  });
});

describe('model file refusals', () => {
  const good = encodeModelFile(doc);

  test('a flipped bit anywhere is refused', () => {
    for (let p = 0; p < good.length; p++) {
      for (const bit of [0x01, 0x80]) {
        const bad = Buffer.from(good);
        bad[p] ^= bit;
        expectRefused(bad);
      }
    }
  });

  test('checksum mismatch names the problem', () => {
    const bad = Buffer.from(good);
    bad[good.length - 40] ^= 0xff; // inside the data
    expect(expectRefused(bad, 'checksum-mismatch').message).toMatch(/checksum mismatch/);
  });

  test('every truncation is refused', () => {
    for (let n = 0; n < good.length; n++) {
      const e = expectRefused(good.subarray(0, n), 'truncated');
      expect(e.message).toMatch(/truncated/);
    }
  });

  test('trailing bytes are refused', () => {
    expect(expectRefused(Buffer.concat([good, Buffer.of(0)]), 'trailing-data').message).toMatch(/1 unexpected bytes/);
  });

  test('wrong magic', () => {
    const bad = Buffer.from(good);
    bad.write('NFLXMODX', 0, 'latin1');
    expect(expectRefused(bad, 'bad-magic').message).toMatch(/not a Netflicks model file/);
    expectRefused(Buffer.from('\x89PNG\r\n\x1a\n....', 'latin1'), 'bad-magic');
    expectRefused(Buffer.from('{"meta":{}}'), 'bad-magic');
  });

  test('unsupported version', () => {
    const e = expectRefused(craft('{"meta":{},"sections":[]}', 0, 2), 'unsupported-version');
    expect(e.message).toMatch(/unsupported model file version 2/);
  });

  test('checksummed but inconsistent headers are refused', () => {
    const entry = (o: object): string => JSON.stringify({ meta: {}, sections: [{ name: 'x', dtype: 'float64', length: 2, byteLength: 16, ...o }] });
    // data region is [START, START + 64)
    const oob = craft(entry({ offset: 100_000 }));
    expect(expectRefused(oob, 'out-of-bounds').message).toMatch(/section "x" out of bounds/);
    expectRefused(craft(entry({ offset: 8 })), 'out-of-bounds'); // inside the fixed header
    const start = START;
    expect(decodeModelFile(craft(entry({ offset: start }))).sections.x).toEqual(new Float64Array(2));
    expectRefused(craft(entry({ offset: start + 4 })), 'out-of-bounds'); // misaligned
    expectRefused(craft(entry({ offset: start + 56 })), 'out-of-bounds'); // runs past the end
    expectRefused(craft(entry({ offset: start, byteLength: 15 })), 'bad-header');
    expectRefused(craft(entry({ offset: start, dtype: 'int64' })), 'bad-header');
    expectRefused(craft(entry({ offset: start, length: -1 })), 'bad-header');
    expectRefused(craft('{"meta":{},"sections":[{"name":"a","dtype":"uint8","length":1,"byteLength":1,"offset":' + start + '},{"name":"a","dtype":"uint8","length":1,"byteLength":1,"offset":' + (start + 8) + '}]}'), 'bad-header');
    expect(expectRefused(craft('{"meta": nope}'), 'bad-header').message).toMatch(/not valid JSON/);
    expectRefused(craft('[]'), 'bad-header');
    expectRefused(craft('{"meta":[],"sections":[]}'), 'bad-header');
  });

  test('encode refuses what it cannot store', () => {
    const bad = { meta: {}, sections: { x: new Int16Array(2) as unknown as SectionArray } };
    expect(() => encodeModelFile(bad)).toThrow(/section "x" is not a Float32\/Float64\/Int32\/Uint8 array/);
    expect(() => encodeModelFile({ meta: [] as unknown as Record<string, unknown>, sections: {} })).toThrow(ModelFileError);
  });
});

describe('model files on disk', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nflx-model-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('write is atomic (no temp files left) and read verifies', async () => {
    const path = join(dir, 'm.nflx');
    await writeModelFile(path, doc);
    await writeModelFile(path, doc); // overwrite via rename
    expect(await readdir(dir)).toEqual(['m.nflx']);
    const back = await readModelFile(path);
    expect(bytes(back.sections.f32).equals(bytes(doc.sections.f32))).toBe(true);
    const corrupt = join(dir, 'bad.nflx');
    await writeFile(corrupt, Buffer.from('NFLXMODL'));
    await expect(readModelFile(corrupt)).rejects.toThrow(`${corrupt}: truncated model file`);
  });

  test('sharedSections: the named sections are read into SharedArrayBuffers of their own, the others not, the bytes alike', async () => {
    const path = join(dir, 'shared.nflx');
    await writeModelFile(path, doc);
    const back = await readModelFile(path, { sharedSections: (name) => name === 'f32' || name === 'odd' });
    for (const [name, section] of Object.entries(back.sections)) {
      expect(bytes(section).equals(bytes(doc.sections[name]))).toBe(true);
      expect([name, section.buffer instanceof SharedArrayBuffer]).toEqual([name, name === 'f32' || name === 'odd']);
      expect(section.byteLength).toBe(section.buffer.byteLength);
    }
  });
});

describe('fingerprintRatings', () => {
  const build = (rows: [number, number, number, number][], capacity = 16) => {
    const b = new RatingTableBuilder(capacity);
    for (const r of rows) b.push(...r);
    return b.build();
  };
  const rows: [number, number, number, number][] = [
    [1, 10, 4, 100],
    [2, 10, 3.5, 200],
  ];

  test('stable, 64 hex digits, sensitive to every column and to row order', () => {
    const f = fingerprintRatings(build(rows));
    expect(f).toMatch(/^[0-9a-f]{64}$/);
    expect(fingerprintRatings(build(rows, 1024))).toBe(f);
    // capacity beyond length is ignored
    const wide = { ...build(rows), user: Int32Array.of(1, 2, 99), item: Int32Array.of(10, 10, 99) };
    expect(fingerprintRatings(wide)).toBe(f);
    for (const changed of [
      [[1, 10, 4, 100], [3, 10, 3.5, 200]],
      [[1, 10, 4, 100], [2, 11, 3.5, 200]],
      [[1, 10, 4, 100], [2, 10, 3, 200]],
      [[1, 10, 4, 100], [2, 10, 3.5, 201]],
      [rows[1], rows[0]],
      [rows[0]],
    ] as [number, number, number, number][][]) {
      expect(fingerprintRatings(build(changed))).not.toBe(f);
    }
    // pinned (checked independently with Python struct + hashlib): changing it changes every
    // stored model's dataset fingerprint
    expect(f).toBe('f85d6926ebb70f3b68c9e94208d4e47f3cf7609f558e85f4ca616ebec75b056b');
  });
});
