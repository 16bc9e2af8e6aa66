/**
 * The training history (users' rated items and ratings) in the few bytes per rating a server can
 * afford to keep resident: a serving request needs one user's row, so rows are stored encoded
 * and decoded per request into the caller's buffers.
 *
 * Each row is a sequence of LEB128 varints, one per rating: (gap << codeBits) | code, where gap
 * is the item index minus the previous one minus 1 (the first item's gap is its index) and code
 * indexes a dictionary of the distinct rating values (exact float32 values, so decoding gives the
 * very numbers stored). A history with more than 256 distinct ratings (or a -0 or NaN, which
 * the dictionary search cannot tell apart) keeps its ratings as a float32 array and codes only
 * the gaps.
 *
 * Rows must be sorted and unique (the bundle checks them before building this).
 */
import { decodeAllRows, type HistoryRows } from './history-rows.js';
import { longestRow, type CsrMatrix } from './sparse.js';
import { MAX_VARINT_BYTES, writeVarint } from './varint.js';

/** Byte offsets below this are small integers (histories under 1 GB). */
const INT_OFFSETS = 2 ** 30;
/** Largest dictionary: codes fit a byte. */
const MAX_CODES = 256;
/** Ratings encoded per build step (a few milliseconds). */
const BUILD_STEP_ENTRIES = 1 << 18;

/** The arrays a CompactHistory consists of (what crosses between threads). */
export interface CompactHistoryParts {
  rows: number;
  cols: number;
  /** Row r's ratings are entries indptr[r] .. indptr[r+1] (as in the CSR). */
  indptr: Int32Array;
  /** Byte offset of each row in `bytes` (length rows + 1). */
  rowBytes: Float64Array;
  bytes: Uint8Array;
  /** Bits of the rating code in each varint (0 when `ratings` holds the ratings). */
  codeBits: number;
  /** Rating of each code; empty when `ratings` is used. */
  dictionary: Float32Array;
  /** Ratings per entry when they do not fit a dictionary; else empty. */
  ratings: Float32Array;
}

/** Ratings 0, 0.5, …, 15.5 (the usual scales) find their code by 2·v in a table. */
const HALF_STEPS = 32;

/** Code of each half-step rating 2·v of the dictionary, −1 for the others. */
function halfStepCodes(dictionary: Float32Array): Int16Array {
  const codes = new Int16Array(HALF_STEPS).fill(-1);
  for (let c = 0; c < dictionary.length; c++) {
    const k = dictionary[c] * 2;
    if (Number.isInteger(k) && k >= 0 && k < HALF_STEPS) codes[k] = c;
  }
  return codes;
}

/** Index of `v` in the sorted dictionary (present by construction). */
function codeOf(dictionary: Float32Array, v: number): number {
  let lo = 0;
  let hi = dictionary.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (dictionary[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class CompactHistory implements HistoryRows {
  readonly rows: number;
  readonly cols: number;
  readonly indptr: Int32Array;
  /** Longest row: the size a decode buffer needs. */
  readonly maxRowLength: number;
  private readonly rowBytes: Float64Array;
  private readonly bytes: Uint8Array;
  private readonly codeBits: number;
  private readonly codeScale: number;
  /** Every varint fits 31 bits: decode with integer operations. */
  private readonly intMath: boolean;
  private readonly dictionary: Float32Array;
  private readonly ratings: Float32Array;

  private constructor(p: CompactHistoryParts) {
    this.rows = p.rows;
    this.cols = p.cols;
    this.indptr = p.indptr;
    this.rowBytes = p.rowBytes;
    this.bytes = p.bytes;
    this.codeBits = p.codeBits;
    this.codeScale = 2 ** p.codeBits;
    this.intMath = p.cols * this.codeScale <= 2 ** 31;
    this.dictionary = p.dictionary;
    this.ratings = p.ratings;
    this.maxRowLength = longestRow(p);
  }

  /** Encodes a CSR history (sorted, unique rows) at once; without `data`, the item indices only (build). */
  static fromCsr(csr: Omit<CsrMatrix, 'data'> & { data?: Float32Array }): CompactHistory {
    const steps = CompactHistory.build(csr);
    for (;;) {
      const step = steps.next();
      if (step.done) return step.value;
    }
  }

  /**
   * Encodes a CSR history in steps of BUILD_STEP_ENTRIES ratings (a yield between steps). Without
   * `data`, a 0/1 matrix: every entry is 1, and the varints are the bare gaps.
   */
  static *build(csr: Omit<CsrMatrix, 'data'> & { data?: Float32Array }): Generator<void, CompactHistory, void> {
    const { rows, cols, indptr, indices, data } = csr;
    const nnz = indptr[rows];
    // Distinct ratings by linear search (a handful in practice; a Map would hash each float).
    const distinct: number[] = data ? [] : [1];
    let dictionaryFits = true;
    let last = Number.NaN;
    for (let e = 0; data && e < nnz && dictionaryFits; e++) {
      const v = data[e];
      if (v === last && v !== 0) continue;
      if (v !== v || (v === 0 && 1 / v < 0)) dictionaryFits = false;
      else if (!distinct.includes(v)) {
        if (distinct.length === MAX_CODES) dictionaryFits = false;
        else distinct.push(v);
      }
      last = v;
    }
    yield;
    let dictionary = new Float32Array(0);
    let codeBits = 0;
    if (dictionaryFits) {
      dictionary = Float32Array.from(distinct).sort();
      while (2 ** codeBits < dictionary.length) codeBits++;
    }
    const scale = 2 ** codeBits;
    const coded = data !== undefined && dictionaryFits;
    const halfCodes = halfStepCodes(dictionary);
    const rowBytes = new Float64Array(rows + 1);
    // Varints into a growing buffer: 2 bytes a rating covers most histories.
    let bytes = new Uint8Array(Math.max(16, nnz * 2));
    let n = 0;
    let sinceYield = 0;
    for (let r = 0; r < rows; r++) {
      let prev = -1;
      for (let e = indptr[r]; e < indptr[r + 1]; e++) {
        if (n + MAX_VARINT_BYTES > bytes.length) {
          const grown = new Uint8Array(bytes.length * 2);
          grown.set(bytes);
          bytes = grown;
        }
        let code = 0;
        if (coded) {
          const k = data[e] * 2;
          code = k >= 0 && k < HALF_STEPS && (k | 0) === k && halfCodes[k] >= 0 ? halfCodes[k] : codeOf(dictionary, data[e]);
        }
        n = writeVarint(bytes, n, (indices[e] - prev - 1) * scale + code);
        prev = indices[e];
      }
      rowBytes[r + 1] = n;
      sinceYield += indptr[r + 1] - indptr[r];
      if (sinceYield >= BUILD_STEP_ENTRIES) {
        sinceYield = 0;
        yield;
      }
    }
    return new CompactHistory({
      rows,
      cols,
      indptr,
      rowBytes,
      bytes: bytes.slice(0, n),
      codeBits,
      dictionary,
      ratings: data && !dictionaryFits ? data : new Float32Array(0),
    });
  }

  /** Restores a history from its parts (e.g. received from another thread); checks their shapes. */
  static fromParts(p: CompactHistoryParts): CompactHistory {
    const ok =
      Number.isSafeInteger(p.rows) &&
      p.rows >= 0 &&
      Number.isSafeInteger(p.cols) &&
      p.indptr.length === p.rows + 1 &&
      p.rowBytes.length === p.rows + 1 &&
      p.rowBytes[p.rows] === p.bytes.length &&
      Number.isInteger(p.codeBits) &&
      p.codeBits >= 0 &&
      p.codeBits <= 8 &&
      (p.ratings.length === 0 ? p.dictionary.length > 0 || p.indptr[p.rows] === 0 : p.ratings.length === p.indptr[p.rows] && p.codeBits === 0);
    if (!ok) throw new RangeError('compact history parts are inconsistent');
    return new CompactHistory(p);
  }

  /** The arrays to send to another thread (fromParts restores them). */
  parts(): CompactHistoryParts {
    const { rows, cols, indptr, rowBytes, bytes, codeBits, dictionary, ratings } = this;
    return { rows, cols, indptr, rowBytes, bytes, codeBits, dictionary, ratings };
  }

  /** Bytes held (the encoded rows, offsets and ratings). */
  get byteLength(): number {
    return this.indptr.byteLength + this.rowBytes.byteLength + this.bytes.byteLength + this.dictionary.byteLength + this.ratings.byteLength;
  }

  rowLength(row: number): number {
    return this.indptr[row + 1] - this.indptr[row];
  }

  /**
   * Writes row `row`'s item indices (ascending) and, when `ratings` is given, its ratings into
   * the buffers (each at least rowLength(row) long); returns the row's length.
   */
  decodeRow(row: number, items: Int32Array, ratings?: Float32Array): number {
    const bytes = this.bytes;
    const scale = this.codeScale;
    const dictionary = this.dictionary;
    const direct = this.ratings.length > 0;
    let at = this.rowBytes[row];
    const end = this.rowBytes[row + 1];
    if (!ratings && this.intMath && end <= INT_OFFSETS) return this.decodeItems(at, end, items);
    let prev = -1;
    let j = 0;
    if (this.intMath) {
      const bits = this.codeBits;
      const codeMask = this.codeScale - 1;
      while (at < end) {
        let b = bytes[at++];
        let v = b & 127;
        for (let shift = 7; b >= 128; shift += 7) {
          b = bytes[at++];
          v |= (b & 127) << shift;
        }
        prev += (v >>> bits) + 1;
        items[j] = prev;
        if (ratings) ratings[j] = direct ? this.ratings[this.indptr[row] + j] : dictionary[v & codeMask];
        j++;
      }
      return j;
    }
    while (at < end) {
      let b = bytes[at++];
      let v = b & 127;
      let mul = 128;
      while (b >= 128) {
        b = bytes[at++];
        v += (b & 127) * mul;
        mul *= 128;
      }
      const code = v % scale;
      prev += (v - code) / scale + 1;
      items[j] = prev;
      if (ratings) ratings[j] = direct ? this.ratings[this.indptr[row] + j] : dictionary[code];
      j++;
    }
    return j;
  }

  /**
   * decodeRow's item indices of bytes `from` … `end` (small integers): while two bytes remain, a
   * one- or two-byte varint (nearly every one: gaps under 2^(14 − codeBits)) is read without a
   * branch on its length, which a row's mix of lengths would mispredict about every other entry.
   */
  private decodeItems(from: number, end: number, items: Int32Array): number {
    const bytes = this.bytes;
    const bits = this.codeBits;
    const stop = end | 0;
    let p = from | 0;
    let prev = -1;
    let j = 0;
    for (;;) {
      let v: number;
      if (p + 1 < stop) {
        const b0 = bytes[p];
        let b = bytes[p + 1];
        const more = b0 >> 7;
        v = (b0 & 127) | (((b & 127) << 7) & -more);
        p += 1 + more;
        if ((more & (b >> 7)) !== 0) {
          for (let shift = 14; b >= 128; shift += 7) {
            b = bytes[p++];
            v |= (b & 127) << shift;
          }
        }
      } else if (p < stop) {
        v = bytes[p++]; // the row's last byte: a one-byte varint
      } else return j;
      prev += (v >>> bits) + 1;
      items[j++] = prev;
    }
  }

  /** The whole history as a CSR matrix (new arrays). */
  toCsr(): CsrMatrix {
    return decodeAllRows(this);
  }
}
