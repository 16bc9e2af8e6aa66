/**
 * The training history read from the model file on demand: a row's ratings (and, without
 * in-memory item rows, its item indices) come with one positional read each from the file's
 * `history.data` (`history.indices`) section. The ratings stay in the kernel's page cache, which is
 * shared and reclaimable, not the process's memory.
 *
 * `items`: the rows' item indices kept in memory (a CompactHistory without ratings, 24 MB on the
 * 20M-sized model against 36 MB with them). A request that needs no ratings (a known user's list:
 * its row only excludes what was rated) decodes from it and makes no read: a positional read has a
 * tail a memory decode has not (p99.9 0.2 ms against 0.04 ms on a loaded machine), and a machine
 * that reclaims idle page-cache pages (this one's DAMON pageout after ~60 s) turns the reads of
 * rarely served users into disk reads on the event loop (docs/benchmarks.md, issue 19, lead
 * 2026-12-06 morning).
 *
 * The descriptor must be of the file that was verified (a deploy renames a new file over the
 * path; the open descriptor keeps reading the old one). A file changed in place is caught where it
 * would do harm: every row read is checked (full length, ascending item indices inside the
 * catalogue, finite ratings) and a bad one throws instead of being served.
 */
import { readSync } from 'node:fs';
import { closeOwned, closeWhenCollected } from './descriptor-finalizer.js';
import { decodeAllRows, type HistoryRows, type ServedHistory } from './history-rows.js';
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
  /** The rows' item indices in memory, same rows and offsets (ratings, if any, are not read from it). */
  items?: HistoryRows;
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
  private readonly items: HistoryRows | undefined;

  private constructor(s: FileHistorySource) {
    this.fd = s.fd;
    this.rows = s.rows;
    this.cols = s.cols;
    this.indptr = s.indptr;
    this.indicesOffset = s.indicesOffset;
    this.dataOffset = s.dataOffset;
    this.items = s.items;
    this.maxRowLength = longestRow(s);
  }

  /** Checks the row offsets, then takes over `s.fd` (the caller keeps it when this throws). */
  static open(s: FileHistorySource): FileHistory {
    const { rows, indptr } = s;
    let ok = Number.isSafeInteger(rows) && rows >= 0 && Number.isSafeInteger(s.cols) && s.cols >= 0 && indptr.length === rows + 1 && indptr[0] === 0;
    for (let r = 0; ok && r < rows; r++) ok = indptr[r + 1] >= indptr[r];
    ok &&= [s.indicesOffset, s.dataOffset].every((o) => Number.isSafeInteger(o) && o >= 0 && o % 4 === 0);
    const items = s.items;
    ok &&= items === undefined || (items.rows === rows && items.cols === s.cols && sameOffsets(items.indptr, indptr));
    if (!ok) throw new RangeError('file history: row offsets, section offsets or the in-memory item rows are inconsistent');
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
    if (!ratings && this.items) return this.items.decodeRow(row, items);
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

function sameOffsets(a: Int32Array, b: Int32Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let r = 0; r < a.length; r++) if (a[r] !== b[r]) return false;
  return true;
}
