/**
 * Users' histories read one row at a time: what the few-ratings models need, whether the
 * histories are a CSR matrix (training, evaluation) or a CompactHistory (a server, which keeps
 * only the compact form resident).
 */
import { longestRow, type CsrMatrix } from './sparse.js';

export interface HistoryRows {
  readonly rows: number;
  readonly cols: number;
  /** Row r has indptr[r + 1] − indptr[r] entries. */
  readonly indptr: Int32Array;
  /** Longest row: the size a decode buffer needs. */
  readonly maxRowLength: number;
  /**
   * Writes row `row`'s item indices (ascending) and, when `ratings` is given, its ratings into
   * the buffers (each at least the row's length); returns the row's length.
   */
  decodeRow(row: number, items: Int32Array, ratings?: Float32Array): number;
}

/** The histories a bundle serves from: rows on demand, and the whole matrix for tools. */
export interface ServedHistory extends HistoryRows {
  rowLength(row: number): number;
  /** The whole history as a CSR matrix (new arrays). */
  toCsr(): CsrMatrix;
}

/** Every row decoded into one CSR matrix (new arrays; the row offsets are the histories'). */
export function decodeAllRows(h: HistoryRows): CsrMatrix {
  const nnz = h.indptr[h.rows];
  const indices = new Int32Array(nnz);
  const data = new Float32Array(nnz);
  for (let r = 0; r < h.rows; r++) {
    const start = h.indptr[r];
    h.decodeRow(r, indices.subarray(start), data.subarray(start));
  }
  return { rows: h.rows, cols: h.cols, indptr: h.indptr, indices, data };
}

/** A CSR matrix read as HistoryRows (rows copied out of its arrays). */
class CsrRows implements HistoryRows {
  readonly rows: number;
  readonly cols: number;
  readonly indptr: Int32Array;
  readonly maxRowLength: number;

  constructor(private readonly csr: CsrMatrix) {
    this.rows = csr.rows;
    this.cols = csr.cols;
    this.indptr = csr.indptr;
    this.maxRowLength = longestRow(csr);
  }

  decodeRow(row: number, items: Int32Array, ratings?: Float32Array): number {
    const start = this.indptr[row];
    const end = this.indptr[row + 1];
    items.set(this.csr.indices.subarray(start, end));
    if (ratings) ratings.set(this.csr.data.subarray(start, end));
    return end - start;
  }
}

/** The histories as HistoryRows: a CompactHistory (or other reader) itself, a CSR matrix wrapped. */
export function historyRows(histories: CsrMatrix | HistoryRows): HistoryRows {
  return 'decodeRow' in histories ? histories : new CsrRows(histories);
}
