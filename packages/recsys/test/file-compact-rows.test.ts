import fc from 'fast-check';
import { ftruncateSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CompactHistory } from '../src/data/compact-history.js';
import { FileCompactRows } from '../src/data/file-compact-rows.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'netflicks-file-compact-rows-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
/** A descriptor of a new file holding `bytes` from `offset` on (0x5a before them). */
function fileWith(bytes: Uint8Array, offset: number): number {
  const fd = openSync(join(dir, `r${files++}.bin`), 'w+');
  writeSync(fd, Buffer.alloc(offset, 0x5a), 0, offset, 0);
  writeSync(fd, bytes, 0, bytes.length, offset);
  return fd;
}

/** Sorted, unique rows of column indices below `cols` (some empty). */
const rowsArb = fc
  .record({ cols: fc.integer({ min: 1, max: 300_000 }), rows: fc.array(fc.uniqueArray(fc.nat(), { maxLength: 40 }), { maxLength: 30 }) })
  .map(({ cols, rows }) => ({ cols, rows: rows.map((r) => [...new Set(r.map((i) => i % cols))].sort((a, b) => a - b)) }));

function compactOf(cols: number, rows: number[][]): CompactHistory {
  const indptr = new Int32Array(rows.length + 1);
  rows.forEach((r, i) => (indptr[i + 1] = indptr[i] + r.length));
  const built = CompactHistory.build({ rows: rows.length, cols, indptr, indices: Int32Array.from(rows.flat()) });
  for (;;) {
    const step = built.next();
    if (step.done) return step.value;
  }
}

describe('FileCompactRows', () => {
  test('property: every row read from the file is the compact history\'s row', () => {
    fc.assert(
      fc.property(rowsArb, fc.nat(50), ({ cols, rows }, offset) => {
        const parts = compactOf(cols, rows).parts();
        const reader = FileCompactRows.open({ ...parts, fd: fileWith(parts.bytes, offset), offset });
        expect([reader.rows, reader.cols, reader.maxRowLength]).toEqual([rows.length, cols, Math.max(0, ...rows.map((r) => r.length))]);
        const out = new Int32Array(reader.maxRowLength + 1);
        rows.forEach((row, r) => {
          expect(reader.rowLength(r)).toBe(row.length);
          expect(reader.decodeRow(r, out)).toBe(row.length);
          expect(Array.from(out.subarray(0, row.length))).toEqual(row);
        });
      }),
      { numRuns: 150 },
    );
  });

  test('refuses offsets past the end of the file, parts with rating codes, and a request for ratings', () => {
    const parts = compactOf(1000, [[1, 200, 999], [], [5]]).parts();
    const fd = fileWith(parts.bytes, 8);
    expect(() => FileCompactRows.open({ ...parts, fd, offset: 9 })).toThrow(RangeError);
    expect(() => FileCompactRows.open({ ...parts, fd, offset: 8, codeBits: 1 })).toThrow(RangeError);
    expect(() => FileCompactRows.open({ ...parts, fd, offset: 8, rowBytes: Float64Array.from([0, 1, 1, 2]) })).toThrow(RangeError);
    const reader = FileCompactRows.open({ ...parts, fd, offset: 8 });
    expect(reader.decodeRow(0, new Int32Array(3))).toBe(3);
    expect(() => reader.decodeRow(0, new Int32Array(3), new Float32Array(3))).toThrow(RangeError);
  });

  test('a file cut short after open throws instead of serving a partial row', () => {
    const parts = compactOf(1000, [[1, 200, 999]]).parts();
    const fd = fileWith(parts.bytes, 0);
    const reader = FileCompactRows.open({ ...parts, fd, offset: 0 });
    expect(reader.decodeRow(0, new Int32Array(3))).toBe(3);
    ftruncateSync(fd, parts.bytes.length - 1);
    expect(() => reader.decodeRow(0, new Int32Array(3))).toThrow(/cut short/);
  });
});
