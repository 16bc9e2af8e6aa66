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
): { matrix: CsrMatrix; source: Int32Array } {
  // Two stable counting sorts (by column, then by row) give rows with ascending columns and
  // repeated pairs adjacent in input order: O(nnz + rows + cols), no comparison sort.
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
  const byCol = new Int32Array(length);
  for (let k = 0; k < length; k++) byCol[colStart[colIdx[k]]++] = k;
  const byRow = new Int32Array(length);
  const fill = rowStart.slice(0, rows);
  for (let i = 0; i < length; i++) {
    const k = byCol[i];
    byRow[fill[rowIdx[k]]++] = k;
  }

  const indptr = new Int32Array(rows + 1);
  const indices = new Int32Array(length);
  const data = new Float32Array(length);
  const source = new Int32Array(length);
  let out = 0;
  for (let r = 0; r < rows; r++) {
    indptr[r] = out;
    for (let i = rowStart[r]; i < rowStart[r + 1]; i++) {
      const k = byRow[i];
      const c = colIdx[k];
      if (out > indptr[r] && indices[out - 1] === c) {
        data[out - 1] = values[k]; // later duplicate wins
        source[out - 1] = k;
      } else {
        indices[out] = c;
        data[out] = values[k];
        source[out] = k;
        out++;
      }
    }
  }
  indptr[rows] = out;
  const trim = out !== length;
  return {
    matrix: {
      rows,
      cols,
      indptr,
      indices: trim ? indices.slice(0, out) : indices,
      data: trim ? data.slice(0, out) : data,
    },
    source: trim ? source.slice(0, out) : source,
  };
}

/** Transpose (CSR of Aᵀ, i.e. the CSC of A) in O(nnz + rows + cols); output rows stay sorted. */
export function transpose(m: CsrMatrix): CsrMatrix {
  const total = nnz(m);
  const indptr = new Int32Array(m.cols + 1);
  for (let k = 0; k < total; k++) indptr[m.indices[k] + 1]++;
  for (let c = 0; c < m.cols; c++) indptr[c + 1] += indptr[c];
  const fill = indptr.slice(0, m.cols);
  const indices = new Int32Array(total);
  const data = new Float32Array(total);
  for (let r = 0; r < m.rows; r++) {
    for (let k = m.indptr[r]; k < m.indptr[r + 1]; k++) {
      const dst = fill[m.indices[k]]++;
      indices[dst] = r;
      data[dst] = m.data[k];
    }
  }
  return { rows: m.cols, cols: m.rows, indptr, indices, data };
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
