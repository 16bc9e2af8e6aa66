/**
 * The training history read from the model file on demand: a row's item indices (and, when asked
 * for, its ratings) come with one positional read each from the file's `history.indices`
 * (`history.data`) section. A server then keeps only the row offsets resident; the rows stay in
 * the kernel's page cache, which is shared and reclaimable, not the process's memory (on the
 * 20M-sized model 37 MB of compact history less, for ~0.4 µs more CPU per served request than
 * decoding the row from memory in process, up to ~3 µs between servers on a loaded machine:
 * docs/benchmarks.md, issue 19, h-rss and h-mem evening).
 *
 * The descriptor must be of the file that was verified (a deploy renames a new file over the
 * path; the open descriptor keeps reading the old one). A file changed in place is caught where it
 * would do harm: every row read is checked (full length, ascending item indices inside the
 * catalogue, finite ratings) and a bad one throws instead of being served.
 */
import { readSync } from 'node:fs';
import { closeOwned, closeWhenCollected } from './descriptor-finalizer.js';
import { decodeAllRows, type ServedHistory } from './history-rows.js';
import { longestRow, type CsrMatrix } from './sparse.js';

export interface FileHistorySource {
  /** An open descriptor of the model file; the FileHistory owns it (closed once it is collected). */
  fd: number;
  rows: number;
  cols: number;
  /** The `history.indptr` section. */
  indptr: Int32Array;
  /** Absolute byte offsets of the `history.indices` (int32) and `history.data` (float32) sections. */
  indicesOffset: number;
  dataOffset: number;
}

export class FileHistoryError extends Error {
  override name = 'FileHistoryError';
}

export class FileHistory implements ServedHistory {
  readonly rows: number;
  readonly cols: number;
  readonly indptr: Int32Array;
  readonly maxRowLength: number;
  private readonly fd: number;
  private readonly indicesOffset: number;
  private readonly dataOffset: number;

  private constructor(s: FileHistorySource) {
    this.fd = s.fd;
    this.rows = s.rows;
    this.cols = s.cols;
    this.indptr = s.indptr;
    this.indicesOffset = s.indicesOffset;
    this.dataOffset = s.dataOffset;
    this.maxRowLength = longestRow(s);
  }

  /** Checks the row offsets, then takes over `s.fd` (the caller keeps it when this throws). */
  static open(s: FileHistorySource): FileHistory {
    const { rows, indptr } = s;
    let ok = Number.isSafeInteger(rows) && rows >= 0 && Number.isSafeInteger(s.cols) && s.cols >= 0 && indptr.length === rows + 1 && indptr[0] === 0;
    for (let r = 0; ok && r < rows; r++) ok = indptr[r + 1] >= indptr[r];
    ok &&= [s.indicesOffset, s.dataOffset].every((o) => Number.isSafeInteger(o) && o >= 0 && o % 4 === 0);
    if (!ok) throw new RangeError('file history: row offsets or section offsets are inconsistent');
    const history = new FileHistory(s);
    closeWhenCollected(history, s.fd);
    return history;
  }

  /** Closes the descriptor now (tests, a caller done with it); collection closes it otherwise. Idempotent. */
  close(): void {
    closeOwned(this, this.fd);
  }

  rowLength(row: number): number {
    return this.indptr[row + 1] - this.indptr[row];
  }

  decodeRow(row: number, items: Int32Array, ratings?: Float32Array): number {
    const start = this.indptr[row];
    const n = this.indptr[row + 1] - start;
    if (n === 0) return 0;
    this.read(items, n, this.indicesOffset + start * 4, row);
    const cols = this.cols;
    for (let e = 0, prev = -1; e < n; e++) {
      const i = items[e];
      if (!(i > prev && i < cols)) throw this.changed(row);
      prev = i;
    }
    if (ratings) {
      this.read(ratings, n, this.dataOffset + start * 4, row);
      for (let e = 0; e < n; e++) if (!Number.isFinite(ratings[e])) throw this.changed(row);
    }
    return n;
  }

  toCsr(): CsrMatrix {
    return decodeAllRows(this);
  }

  private read(into: Int32Array | Float32Array, n: number, position: number, row: number): void {
    if (readSync(this.fd, into, 0, n * 4, position) !== n * 4) throw this.changed(row);
  }

  private changed(row: number): FileHistoryError {
    return new FileHistoryError(`history row ${row} read from the model file is not the row verified at load: the file was changed in place`);
  }
}
