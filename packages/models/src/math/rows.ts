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

/** A copy of `x` with unit-length rows. */
export const unitRows = (x: Float32Array, dim: number): Float32Array => normalizeRowsInPlace(Float32Array.from(x), dim);

/** Dot product of row i of a and row j of b. */
export function rowDot(a: Float32Array, i: number, b: Float32Array, j: number, dim: number): number {
  let s = 0;
  for (let d = 0; d < dim; d++) s += a[i * dim + d] * b[j * dim + d];
  return s;
}
