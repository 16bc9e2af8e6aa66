/**
 * Compressed sparse row matrix on typed arrays. A CSC view of A is the CSR of Aᵀ (`transpose`).
 * Column indices within a row are sorted ascending; builders keep
 * the last value for a repeated (row, col) so a re-rating replaces the older one.
 */
export interface CsrMatrix {
  rows: number;
  cols: number;
  /** Row r spans indices[indptr[r] .. indptr[r+1]). Length rows + 1. */
  indptr: Int32Array;
  indices: Int32Array;
  data: Float32Array;
}

export function nnz(m: CsrMatrix): number {
  return m.indptr[m.rows];
}

/** Entries in the longest row (0 without rows). */
export function longestRow(m: Pick<CsrMatrix, 'rows' | 'indptr'>): number {
  let longest = 0;
  for (let r = 0; r < m.rows; r++) longest = Math.max(longest, m.indptr[r + 1] - m.indptr[r]);
  return longest;
}

/**
 * Builds a CSR matrix from coordinates. Repeated (row, col) pairs keep the entry that comes last
 * in input order. Runs in O(nnz + rows) plus a per-row sort.
 */
export function csrFromCoo(...coo: Parameters<typeof csrFromCooWithSource>): CsrMatrix {
  return csrFromCooWithSource(...coo).matrix;
}

/**
 * As `csrFromCoo`, also returning `source[k]`: the input position of stored entry k, so callers
 * can carry side columns (timestamps) aligned with the matrix.
 */
export function csrFromCooWithSource(
  rows: number,
  cols: number,
  rowIdx: ArrayLike<number>,
  colIdx: ArrayLike<number>,
  values: ArrayLike<number>,
  length: number = rowIdx.length,
  /** Put the matrix on SharedArrayBuffers (training threads then read it without a copy). */
  shared = false,
): { matrix: CsrMatrix; source: Int32Array } {
  // Two stable counting sorts (by column, then by row) give rows with ascending columns and
  // repeated pairs adjacent in input order: O(nnz + rows + cols), no comparison sort. Each pass
  // reads its input in order and carries the payload with it (row, then column and source), so
  // the only random accesses are the bucket writes and one gather of the values.
  const colStart = new Int32Array(cols + 1);
  const rowStart = new Int32Array(rows + 1);
  for (let k = 0; k < length; k++) {
    const r = rowIdx[k];
    const c = colIdx[k];
    if (!(r >= 0 && r < rows && c >= 0 && c < cols)) {
      throw new RangeError(`entry ${k} (${r}, ${c}) outside a ${rows}x${cols} matrix`);
    }
    colStart[c + 1]++;
    rowStart[r + 1]++;
  }
  for (let c = 0; c < cols; c++) colStart[c + 1] += colStart[c];
  for (let r = 0; r < rows; r++) rowStart[r + 1] += rowStart[r];
  let colRow: Int32Array | null = new Int32Array(length);
  let colSource: Int32Array | null = new Int32Array(length);
  const colFill = colStart.slice(0, cols);
  for (let k = 0; k < length; k++) {
    const at = colFill[colIdx[k]]++;
    colRow[at] = rowIdx[k];
    colSource[at] = k;
  }
  let indices = shared ? sharedInt32(length) : new Int32Array(length);
  let source = new Int32Array(length);
  const rowFill = rowStart.slice(0, rows);
  for (let c = 0; c < cols; c++) {
    for (let at = colStart[c]; at < colStart[c + 1]; at++) {
      const dst = rowFill[colRow[at]]++;
      indices[dst] = c;
      source[dst] = colSource[at];
    }
  }
  colRow = colSource = null;

  // Repeated pairs are adjacent within a row: keep the last (compacting in place when any).
  const indptr = shared ? sharedInt32(rows + 1) : new Int32Array(rows + 1);
  let out = 0;
  for (let r = 0; r < rows; r++) {
    indptr[r] = out;
    const rowEnd = rowStart[r + 1];
    for (let i = rowStart[r]; i < rowEnd; i++) {
      if (out > indptr[r] && indices[out - 1] === indices[i]) {
        source[out - 1] = source[i]; // later duplicate wins
      } else {
        indices[out] = indices[i];
        source[out] = source[i];
        out++;
      }
    }
  }
  indptr[rows] = out;
  if (out !== length) {
    const kept = shared ? sharedInt32(out) : new Int32Array(out);
    kept.set(indices.subarray(0, out));
    indices = kept;
    source = source.slice(0, out);
  }
  const data = shared ? sharedFloat32(out) : new Float32Array(out);
  for (let e = 0; e < out; e++) data[e] = values[source[e]];
  return { matrix: { rows, cols, indptr, indices, data }, source };
}

/**
 * Transpose (CSR of Aᵀ, i.e. the CSC of A) in O(nnz + rows + cols); output rows stay sorted.
 * `into`: arrays (at least nnz long) to write the indices and values into instead of new ones.
 */
export function transpose(m: CsrMatrix, shared = false, into?: { indices: Int32Array; data: Float32Array }): CsrMatrix {
  const total = nnz(m);
  const indptr = shared ? sharedInt32(m.cols + 1) : new Int32Array(m.cols + 1);
  for (let k = 0; k < total; k++) indptr[m.indices[k] + 1]++;
  for (let c = 0; c < m.cols; c++) indptr[c + 1] += indptr[c];
  const fill = indptr.slice(0, m.cols);
  const indices = into ? into.indices.subarray(0, total) : shared ? sharedInt32(total) : new Int32Array(total);
  const data = into ? into.data.subarray(0, total) : shared ? sharedFloat32(total) : new Float32Array(total);
  for (let r = 0; r < m.rows; r++) {
    for (let k = m.indptr[r]; k < m.indptr[r + 1]; k++) {
      const dst = fill[m.indices[k]]++;
      indices[dst] = r;
      data[dst] = m.data[k];
    }
  }
  return { rows: m.cols, cols: m.rows, indptr, indices, data };
}

/**
 * The CSR matrix of index columns on shared memory, as `csrFromCoo` (a repeated pair keeps the
 * entry that comes last), carrying one side value per entry along (`side[sideOrder[k]]` for input
 * entry k, or `side[k]`). Built for size: entries go straight to their row in input order (one
 * scatter, no permutation array), then each row is sorted by column in place, stably, and
 * deduplicated; the matrix is the only memory of the size of the input it allocates. Arrays are
 * views of the first nnz entries. `side` null: every side value is 0, and the side column is
 * never written (its pages stay unallocated until something writes them).
 */
export function csrFromIndexColumns(
  rows: number,
  cols: number,
  rowIdx: Int32Array,
  colIdx: Int32Array,
  values: ArrayLike<number>,
  length: number,
  side: ArrayLike<number> | null,
  sideOrder: Int32Array | null,
): { matrix: CsrMatrix; side: Float32Array } {
  const indptr = sharedInt32(rows + 1);
  for (let k = 0; k < length; k++) {
    const r = rowIdx[k];
    const c = colIdx[k];
    if (!(r >= 0 && r < rows && c >= 0 && c < cols)) {
      throw new RangeError(`entry ${k} (${r}, ${c}) outside a ${rows}x${cols} matrix`);
    }
    indptr[r + 1]++;
  }
  let longest = 0;
  for (let r = 0; r < rows; r++) {
    longest = Math.max(longest, indptr[r + 1]);
    indptr[r + 1] += indptr[r];
  }
  const indices = sharedInt32(length);
  const data = sharedFloat32(length);
  const sideOut = new Float32Array(length);
  const fill = indptr.slice(0, rows);
  for (let k = 0; k < length; k++) {
    const dst = fill[rowIdx[k]]++;
    indices[dst] = colIdx[k];
    data[dst] = values[k];
    if (side) sideOut[dst] = side[sideOrder ? sideOrder[k] : k];
  }
  const sorter = new RowSorter(longest, cols);
  const sideMoves = side ? sideOut : null;
  let out = 0;
  for (let r = 0; r < rows; r++) {
    const start = indptr[r];
    const end = indptr[r + 1];
    indptr[r] = out;
    sorter.sort(indices, data, sideMoves, start, end);
    // Equal columns are adjacent and in input order: keep the last (compacting left).
    for (let i = start; i < end; i++) {
      if (out > indptr[r] && indices[out - 1] === indices[i]) {
        data[out - 1] = data[i];
        if (sideMoves) sideMoves[out - 1] = sideMoves[i];
      } else {
        indices[out] = indices[i];
        data[out] = data[i];
        if (sideMoves) sideMoves[out] = sideMoves[i];
        out++;
      }
    }
  }
  indptr[rows] = out;
  return {
    matrix: { rows, cols, indptr, indices: indices.subarray(0, out), data: data.subarray(0, out) },
    side: sideOut.subarray(0, out),
  };
}

/** Sorts one row's entries by column, stably, with scratch sized for the longest row. */
class RowSorter {
  private readonly keys: Float64Array;
  private readonly data: Float32Array;
  private readonly side: Float32Array;

  constructor(
    longest: number,
    private readonly colCount: number,
  ) {
    this.keys = new Float64Array(longest);
    this.data = new Float32Array(longest);
    this.side = new Float32Array(longest);
  }

  sort(indices: Int32Array, data: Float32Array, side: Float32Array | null, start: number, end: number): void {
    const n = end - start;
    let sorted = true;
    for (let i = start + 1; i < end && sorted; i++) sorted = indices[i] > indices[i - 1];
    if (sorted) return;
    // key = column·n + position: exact in a double while colCount·n < 2⁵³, and a plain numeric
    // sort of the keys is then the stable sort by column.
    if (this.colCount * n > 2 ** 53) throw new RangeError(`a row of ${n} entries over ${this.colCount} columns is too large to sort`);
    const keys = this.keys.subarray(0, n);
    for (let i = 0; i < n; i++) keys[i] = indices[start + i] * n + i;
    keys.sort();
    this.data.set(data.subarray(start, end));
    if (side) this.side.set(side.subarray(start, end));
    for (let i = 0; i < n; i++) {
      const key = keys[i];
      const col = Math.floor(key / n);
      const from = key - col * n;
      indices[start + i] = col;
      data[start + i] = this.data[from];
      if (side) side[start + i] = this.side[from];
    }
  }
}

function sharedInt32(n: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(n * 4));
}

function sharedFloat32(n: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(n * 4));
}

/** Value at (r, c) by binary search within the row; 0 when absent. */
export function getValue(m: CsrMatrix, r: number, c: number): number {
  let lo = m.indptr[r];
  let hi = m.indptr[r + 1] - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = m.indices[mid];
    if (v === c) return m.data[mid];
    if (v < c) lo = mid + 1;
    else hi = mid - 1;
  }
  return 0;
}

/** Row r's column indices and values as views (no copy). */
export function row(m: CsrMatrix, r: number): { indices: Int32Array; data: Float32Array } {
  const s = m.indptr[r];
  const e = m.indptr[r + 1];
  return { indices: m.indices.subarray(s, e), data: m.data.subarray(s, e) };
}
