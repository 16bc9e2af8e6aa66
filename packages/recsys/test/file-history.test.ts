import fc from 'fast-check';
import { closeSync, fstatSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CompactHistory } from '../src/data/compact-history.js';
import { FileHistory, FileHistoryError, type FileHistorySource } from '../src/data/file-history.js';
import type { CsrMatrix } from '../src/data/sparse.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'netflicks-file-history-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
/** The CSR's indices and data in a file as a model file lays sections out (after a header, 8-byte aligned); an open descriptor of it. */
function historyFile(csr: CsrMatrix, headerBytes = 24): FileHistorySource & { path: string } {
  const nnz = csr.indptr[csr.rows];
  const indicesOffset = Math.ceil(headerBytes / 8) * 8;
  const dataOffset = indicesOffset + Math.ceil((nnz * 4) / 8) * 8;
  const bytes = Buffer.alloc(dataOffset + nnz * 4 + 32, 0x5a);
  Buffer.from(csr.indices.buffer, csr.indices.byteOffset, nnz * 4).copy(bytes, indicesOffset);
  Buffer.from(csr.data.buffer, csr.data.byteOffset, nnz * 4).copy(bytes, dataOffset);
  const path = join(dir, `h${files++}.bin`);
  writeFileSync(path, bytes);
  return { path, fd: openSync(path, 'r'), rows: csr.rows, cols: csr.cols, indptr: csr.indptr, indicesOffset, dataOffset };
}

/** The CSR's item indices compacted without ratings (what a server keeps in memory). */
function itemRows(csr: Omit<CsrMatrix, 'data'>): CompactHistory {
  return CompactHistory.fromCsr({ rows: csr.rows, cols: csr.cols, indptr: csr.indptr, indices: csr.indices });
}

/** A CSR history with sorted, unique rows (some empty) and arbitrary float32 ratings. */
const csrArb = fc
  .record({ cols: fc.integer({ min: 1, max: 60 }), rows: fc.array(fc.array(fc.tuple(fc.nat(), fc.float({ noNaN: true, noDefaultInfinity: true })), { maxLength: 30 }), { maxLength: 25 }) })
  .map(({ cols, rows }): CsrMatrix => {
    const indptr = new Int32Array(rows.length + 1);
    const indices: number[] = [];
    const data: number[] = [];
    rows.forEach((row, r) => {
      const byItem = new Map(row.map(([i, v]) => [i % cols, v]));
      for (const i of [...byItem.keys()].sort((a, b) => a - b)) {
        indices.push(i);
        data.push(byItem.get(i) as number);
      }
      indptr[r + 1] = indices.length;
    });
    return { rows: rows.length, cols, indptr, indices: Int32Array.from(indices), data: Float32Array.from(data) };
  });

describe('FileHistory', () => {
  test('property: every row read from the file is the CSR row, items with and without ratings, with or without the items in memory; toCsr gives the matrix back', () => {
    fc.assert(
      fc.property(csrArb, fc.nat(40), fc.boolean(), (csr, header, itemsInMemory) => {
        const source = historyFile(csr, header);
        const h = FileHistory.open(itemsInMemory ? { ...source, items: itemRows(csr) } : source);
        expect([h.rows, h.cols, h.maxRowLength]).toEqual([csr.rows, csr.cols, Math.max(0, ...Array.from({ length: csr.rows }, (_, r) => csr.indptr[r + 1] - csr.indptr[r]))]);
        const items = new Int32Array(h.maxRowLength + 2);
        const ratings = new Float32Array(h.maxRowLength + 2);
        for (let r = 0; r < csr.rows; r++) {
          const [a, b] = [csr.indptr[r], csr.indptr[r + 1]];
          items.fill(-7);
          expect(h.rowLength(r)).toBe(b - a);
          expect(h.decodeRow(r, items, ratings)).toBe(b - a);
          expect(Array.from(items.subarray(0, b - a))).toEqual(Array.from(csr.indices.subarray(a, b)));
          expect(Array.from(ratings.subarray(0, b - a))).toEqual(Array.from(csr.data.subarray(a, b)));
          expect(items[b - a]).toBe(-7); // nothing written past the row
          const only = new Int32Array(h.maxRowLength);
          expect(h.decodeRow(r, only)).toBe(b - a);
          expect(Array.from(only.subarray(0, b - a))).toEqual(Array.from(csr.indices.subarray(a, b)));
        }
        const back = h.toCsr();
        expect([Array.from(back.indices), Array.from(back.data)]).toEqual([Array.from(csr.indices), Array.from(csr.data)]);
        h.close();
      }),
      { numRuns: 60 },
    );
  });

  test('with the items in memory, a list that needs no ratings makes no read; ratings still come from the file, checked', () => {
    const source = historyFile(small);
    const h = FileHistory.open({ ...source, items: itemRows(small) });
    const writable = openSync(source.path, 'r+');
    writeSync(writable, Int32Array.from([9, 4]), 0, 8, source.indicesOffset + 4); // row 0's items, out of order in the file
    closeSync(writable);
    const items = new Int32Array(3);
    expect(h.decodeRow(0, items)).toBe(3);
    expect(Array.from(items)).toEqual([1, 4, 9]); // from memory
    expect(() => h.decodeRow(0, items, new Float32Array(3))).toThrow(FileHistoryError); // read, and refused
    const ratings = new Float32Array(2);
    expect(h.decodeRow(2, items, ratings)).toBe(2);
    expect([Array.from(items.subarray(0, 2)), Array.from(ratings)]).toEqual([[0, 2], [4, 0.5]]);
    h.close();
  });

  test('item rows that are not the file\'s rows are refused, leaving the descriptor to the caller', () => {
    const source = historyFile(small);
    const otherOffsets = { ...small, indptr: Int32Array.from([0, 2, 3, 5]), indices: Int32Array.from([1, 4, 9, 0, 2]) };
    expect(() => FileHistory.open({ ...source, items: itemRows(otherOffsets) })).toThrow(RangeError);
    expect(() => FileHistory.open({ ...source, items: itemRows({ ...small, cols: 11 }) })).toThrow(RangeError);
    expect(fstatSync(source.fd).size).toBeGreaterThan(0);
    closeSync(source.fd);
  });

  const small: CsrMatrix = { rows: 3, cols: 10, indptr: Int32Array.from([0, 3, 3, 5]), indices: Int32Array.from([1, 4, 9, 0, 2]), data: Float32Array.from([5, 3.5, 1, 4, 0.5]) };

  test('a file changed in place is refused row by row: indices out of order or outside the catalogue, ratings not finite, a file cut short', () => {
    const cases: [string, (s: FileHistorySource) => void][] = [
      ['unsorted', (s) => writeSync(s.fd, Int32Array.from([9, 4]), 0, 8, s.indicesOffset + 4)],
      ['outside', (s) => writeSync(s.fd, Int32Array.from([10]), 0, 4, s.indicesOffset + 8)],
      ['NaN rating', (s) => writeSync(s.fd, Float32Array.from([Number.NaN]), 0, 4, s.dataOffset)],
    ];
    for (const [what, change] of cases) {
      const source = historyFile(small);
      const writable = openSync(source.path, 'r+');
      const h = FileHistory.open(source);
      change({ ...source, fd: writable });
      closeSync(writable);
      expect([what, h.decodeRow(2, new Int32Array(3), new Float32Array(3))]).toEqual([what, 2]); // the untouched row still reads
      expect(() => h.decodeRow(0, new Int32Array(3), new Float32Array(3))).toThrow(FileHistoryError);
      h.close();
    }
    const source = historyFile(small);
    const h = FileHistory.open({ ...source, dataOffset: source.dataOffset + 64 }); // ratings past the end of the file
    expect(() => h.decodeRow(2, new Int32Array(3), new Float32Array(3))).toThrow(/changed in place/);
    h.close();
  });

  test('close() closes the descriptor once: a file opened later under the same number stays open', () => {
    const source = historyFile(small);
    const h = FileHistory.open(source);
    h.close();
    expect(() => fstatSync(source.fd)).toThrow(/EBADF/);
    const reopened = openSync(source.path, 'r'); // the lowest free number: usually the one just closed
    h.close();
    expect(fstatSync(reopened).size).toBeGreaterThan(0);
    closeSync(reopened);
  });

  test('inconsistent shapes are refused, leaving the descriptor to the caller', () => {
    const source = historyFile(small);
    expect(() => FileHistory.open({ ...source, indptr: Int32Array.from([0, 3, 2, 5]) })).toThrow(RangeError);
    expect(() => FileHistory.open({ ...source, rows: 2 })).toThrow(RangeError);
    expect(() => FileHistory.open({ ...source, indicesOffset: 26 })).toThrow(RangeError);
    expect(fstatSync(source.fd).size).toBeGreaterThan(0);
    closeSync(source.fd);
  });
});
