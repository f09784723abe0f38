// Row-wise helpers for host embedding matrices [N, dim] (row-major Float32Array).

/** Divides every row by its L2 norm, in place; returns `x`. */
export function normalizeRowsInPlace(x: Float32Array, dim: number): Float32Array {
  for (let r = 0; r < x.length / dim; r++) {
    let n = 0;
    for (let d = 0; d < dim; d++) n += x[r * dim + d] ** 2;
    const inv = 1 / Math.max(Math.sqrt(n), 1e-12);
    for (let d = 0; d < dim; d++) x[r * dim + d] *= inv;
  }
  return x;
}

/**
 * Divides each block of every row by its L2 norm, in place; the blocks are consecutive runs of
 * `widths` columns (a MultiCLIP's models side by side), so a row is Σ widths wide. Returns `x`.
 */
export function normalizeBlocksInPlace(x: Float32Array, widths: readonly number[]): Float32Array {
  const dim = widths.reduce((a, b) => a + b, 0);
  for (let r = 0; r < x.length / dim; r++) {
    let start = r * dim;
    for (const w of widths) {
      normalizeRowsInPlace(x.subarray(start, start + w), w);
      start += w;
    }
  }
  return x;
}

/** A copy of `x` with unit-length rows. */
export const unitRows = (x: Float32Array, dim: number): Float32Array => normalizeRowsInPlace(Float32Array.from(x), dim);

/** Dot product of row i of a and row j of b. */
export function rowDot(a: Float32Array, i: number, b: Float32Array, j: number, dim: number): number {
  let s = 0;
  for (let d = 0; d < dim; d++) s += a[i * dim + d] * b[j * dim + d];
  return s;
}

/** Rows `indices` of a [N, dim] matrix, in that order (repeats allowed: bootstrap resamples). */
export function rowsAt(x: Float32Array, indices: ArrayLike<number>, dim: number): Float32Array {
  const out = new Float32Array(indices.length * dim);
  for (let k = 0; k < indices.length; k++) out.set(x.subarray(indices[k] * dim, (indices[k] + 1) * dim), k * dim);
  return out;
}
