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

/** Transpose (CSR of Aᵀ, i.e. the CSC of A) in O(nnz + rows + cols); output rows stay sorted. */
export function transpose(m: CsrMatrix, shared = false): CsrMatrix {
  const total = nnz(m);
  const indptr = shared ? sharedInt32(m.cols + 1) : new Int32Array(m.cols + 1);
  for (let k = 0; k < total; k++) indptr[m.indices[k] + 1]++;
  for (let c = 0; c < m.cols; c++) indptr[c + 1] += indptr[c];
  const fill = indptr.slice(0, m.cols);
  const indices = shared ? sharedInt32(total) : new Int32Array(total);
  const data = shared ? sharedFloat32(total) : new Float32Array(total);
  for (let r = 0; r < m.rows; r++) {
    for (let k = m.indptr[r]; k < m.indptr[r + 1]; k++) {
      const dst = fill[m.indices[k]]++;
      indices[dst] = r;
      data[dst] = m.data[k];
    }
  }
  return { rows: m.cols, cols: m.rows, indptr, indices, data };
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
