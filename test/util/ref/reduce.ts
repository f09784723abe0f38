// Float64 CPU references for reductions, softmax and log-sum-exp over rows, and the per-row statistics
// the normalisation references (norm.ts, groupnorm.ts) build on.
import { sizeOf, strides } from './shape.ts';

export type RefReduceOp = 'sum' | 'mean' | 'max' | 'min' | 'argmax';

/** Reduces `data` (shape `shape`) over `axes` (normalised, any order); NaN propagates through max/min. */
export function refReduce(
  op: RefReduceOp,
  data: ArrayLike<number>,
  shape: readonly number[],
  axes: number[],
  keepDims = false,
): { shape: number[]; data: Float64Array } {
  const reduced = new Set(axes);
  const keptShape = shape.map((d, i) => (reduced.has(i) ? 1 : d));
  const outShape = keepDims ? keptShape : shape.filter((_, i) => !reduced.has(i));
  const n = sizeOf(keptShape);
  const acc = new Float64Array(n).fill(op === 'sum' || op === 'mean' ? 0 : op === 'min' ? Infinity : -Infinity);
  const best = new Float64Array(n).fill(-1); // argmax: reduced-index of the best so far
  const count = new Float64Array(n);
  const inStrides = strides(shape);
  const keptStrides = strides(keptShape);
  for (let i = 0; i < sizeOf(shape); i++) {
    let o = 0;
    let r = 0;
    for (let d = 0; d < shape.length; d++) {
      const c = Math.floor(i / inStrides[d]) % shape[d];
      if (reduced.has(d)) r = r * shape[d] + c;
      else o += c * keptStrides[d];
    }
    const v = data[i];
    count[o]++;
    if (op === 'sum' || op === 'mean') acc[o] += v;
    else if (op === 'max' || op === 'min') {
      if (Number.isNaN(v) || Number.isNaN(acc[o])) acc[o] = NaN;
      else acc[o] = op === 'max' ? Math.max(acc[o], v) : Math.min(acc[o], v);
    } else {
      // Elements arrive in increasing reduced index, so "strictly better" keeps the first tie.
      const cur = acc[o];
      if (best[o] < 0 || (Number.isNaN(v) && !Number.isNaN(cur)) || v > cur) {
        acc[o] = v;
        best[o] = r;
      }
    }
  }
  if (op === 'mean') for (let o = 0; o < n; o++) acc[o] /= count[o];
  return { shape: outShape, data: op === 'argmax' ? best : acc };
}

export function refSoftmaxRows(x: ArrayLike<number>, cols: number, log = false): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r < x.length / cols; r++) {
    let m = -Infinity;
    for (let c = 0; c < cols; c++) m = Math.max(m, x[r * cols + c]);
    let s = 0;
    for (let c = 0; c < cols; c++) s += Math.exp(x[r * cols + c] - m);
    for (let c = 0; c < cols; c++) {
      const z = x[r * cols + c] - m;
      out[r * cols + c] = log ? z - Math.log(s) : Math.exp(z) / s;
    }
  }
  return out;
}

export function refLogSumExpRows(x: ArrayLike<number>, cols: number): Float64Array {
  const rows = cols === 0 ? 0 : x.length / cols;
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    for (let c = 0; c < cols; c++) m = Math.max(m, x[r * cols + c]);
    let s = 0;
    for (let c = 0; c < cols; c++) s += Math.exp(x[r * cols + c] - m);
    out[r] = m + Math.log(s);
  }
  return out;
}

/** Per-row mean and 1/sqrt(var + eps) (biased variance), two-pass in float64; rms=true uses mean 0. */
export function refRowStats(x: ArrayLike<number>, cols: number, eps: number, rms = false): { mean: Float64Array; rstd: Float64Array } {
  const rows = x.length / cols;
  const mean = new Float64Array(rows);
  const rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let m = 0;
    if (!rms) {
      for (let c = 0; c < cols; c++) m += x[r * cols + c];
      m /= cols;
    }
    let v = 0;
    for (let c = 0; c < cols; c++) v += (x[r * cols + c] - m) ** 2;
    mean[r] = m;
    rstd[r] = 1 / Math.sqrt(v / cols + eps);
  }
  return { mean, rstd };
}
