/**
 * Rows of a CompactHistory without ratings (codeBits 0: each entry a LEB128 varint of its gap)
 * whose encoded bytes are in a file instead of memory: a row comes with one positional read. A
 * server keeps a rater sample this way (data/rater-sample.ts): on the 20M-sized model 16 MB of
 * varints that only requests of users with a few ratings read, a row per history item, next to
 * the thousands of history rows such a request reads from the model file anyway
 * (docs/benchmarks.md, issue 19, h-rss 2026-12-06). The rows stay in the kernel's page cache,
 * shared and reclaimable, not the process's memory.
 *
 * The file is a private one the process wrote (unlinked: nothing else can change it), so a row is
 * checked only for its length and entry count, which a short read would break.
 */
import { fstatSync, readSync } from 'node:fs';
import { closeOwned, closeWhenCollected } from './descriptor-finalizer.js';
import type { CompactHistoryParts } from './compact-history.js';
import type { HistoryRows } from './history-rows.js';
import { longestRow } from './sparse.js';

/** A CompactHistory's row offsets (its `bytes` written to `fd` from `offset` on). */
export type FileCompactRowsSource = Pick<CompactHistoryParts, 'rows' | 'cols' | 'indptr' | 'rowBytes' | 'codeBits'> & {
  /** An open descriptor of the file; the rows own it (closed once they are collected). */
  fd: number;
  /** Where the rows' bytes start in the file. */
  offset: number;
};

export class FileCompactRows implements HistoryRows {
  readonly rows: number;
  readonly cols: number;
  readonly indptr: Int32Array;
  readonly maxRowLength: number;
  private readonly rowBytes: Float64Array;
  private readonly fd: number;
  private readonly offset: number;
  /** One row's bytes as read (the longest row's size). */
  private readonly scratch: Uint8Array;

  private constructor(s: FileCompactRowsSource, longestRowBytes: number) {
    this.rows = s.rows;
    this.cols = s.cols;
    this.indptr = s.indptr;
    this.rowBytes = s.rowBytes;
    this.fd = s.fd;
    this.offset = s.offset;
    this.maxRowLength = longestRow(s);
    this.scratch = new Uint8Array(longestRowBytes);
  }

  /** Checks the offsets against each other and the file's size, then takes over `s.fd` (the caller keeps it when this throws). */
  static open(s: FileCompactRowsSource): FileCompactRows {
    const { rows, indptr, rowBytes } = s;
    let ok = s.codeBits === 0 && Number.isSafeInteger(rows) && rows >= 0 && Number.isSafeInteger(s.cols) && s.cols >= 0 && indptr.length === rows + 1 && rowBytes.length === rows + 1;
    ok &&= indptr[0] === 0 && rowBytes[0] === 0 && Number.isSafeInteger(s.offset) && s.offset >= 0;
    let longest = 0;
    for (let r = 0; ok && r < rows; r++) {
      const entries = indptr[r + 1] - indptr[r];
      const bytes = rowBytes[r + 1] - rowBytes[r];
      // Each varint takes at least one byte and, for a 32-bit gap, at most five.
      ok = entries >= 0 && bytes >= entries && bytes <= 5 * entries;
      longest = Math.max(longest, bytes);
    }
    ok &&= fstatSync(s.fd).size >= s.offset + rowBytes[rows];
    if (!ok) throw new RangeError('file compact rows: row offsets are inconsistent or past the end of the file');
    const reader = new FileCompactRows(s, longest);
    closeWhenCollected(reader, s.fd);
    return reader;
  }

  /** Bytes resident (the offsets and the read buffer; the rows are in the file). */
  get byteLength(): number {
    return this.indptr.byteLength + this.rowBytes.byteLength + this.scratch.byteLength;
  }

  /** Closes the descriptor now (tests, a caller done with it); collection closes it otherwise. Idempotent. */
  close(): void {
    closeOwned(this, this.fd);
  }

  rowLength(row: number): number {
    return this.indptr[row + 1] - this.indptr[row];
  }

  /** Writes row `row`'s indices (ascending) into `items`; these rows have no ratings to ask for. */
  decodeRow(row: number, items: Int32Array, ratings?: Float32Array): number {
    if (ratings) throw new RangeError('file compact rows have no ratings');
    const from = this.rowBytes[row];
    const length = this.rowBytes[row + 1] - from;
    if (length === 0) return 0;
    const bytes = this.scratch;
    if (readSync(this.fd, bytes, 0, length, this.offset + from) !== length) throw new Error(`file compact rows: row ${row} was cut short`);
    let prev = -1;
    let j = 0;
    for (let at = 0; at < length; ) {
      let b = bytes[at++];
      let v = b & 127;
      for (let mul = 128; b >= 128; mul *= 128) {
        b = bytes[at++];
        v += (b & 127) * mul;
      }
      prev += v + 1;
      items[j++] = prev;
    }
    if (j !== this.indptr[row + 1] - this.indptr[row]) throw new Error(`file compact rows: row ${row} does not decode to its length`);
    return j;
  }
}
