// Float64 CPU references for the autograd gradient checks: the ops the kernel references
// (ref-reduce, ref-copy, ref-conv, reference) do not already cover. Plain loops, written from the
// definitions, so finite differences of them are trustworthy.
import { broadcastShape, broadcastTo, sizeOf, strides } from './reference.ts';
import { refLogSumExpRows, refRowStats, refSoftmaxRows } from './ref-reduce.ts';

/** erf to ~1e-15: Taylor series near 0, continued fraction for erfc further out. */
export function erf(x: number): number {
  const a = Math.abs(x);
  if (a < 3) {
    let term = a;
    let total = a;
    for (let n = 1; n < 200 && Math.abs(term) > 1e-17 * Math.abs(total); n++) {
      term *= (-a * a) / n;
      total += term / (2 * n + 1);
    }
    return (Math.sign(x) * 2 * total) / Math.sqrt(Math.PI);
  }
  // erfc(a) = exp(−a²)/√π · 1/(a + 1/2/(a + 1/(a + 3/2/(a + …)))) (Lentz-free backward evaluation).
  let f = a;
  for (let k = 60; k >= 1; k--) f = a + k / 2 / f;
  const erfc = Math.exp(-a * a) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** The autograd unary ops in float64. */
export const REF_UNARY = {
  neg: (x: number) => -x,
  abs: Math.abs,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  rsqrt: (x: number) => 1 / Math.sqrt(x),
  square: (x: number) => x * x,
  sin: Math.sin,
  cos: Math.cos,
  tanh: Math.tanh,
  sigmoid,
  relu: (x: number) => Math.max(x, 0),
  silu: (x: number) => x * sigmoid(x),
  quickGelu: (x: number) => x * sigmoid(1.702 * x),
  gelu: (x: number) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
  geluTanh: (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))),
} satisfies Record<string, (x: number) => number>;

export type RefUnaryName = keyof typeof REF_UNARY;

export function refMap(x: ArrayLike<number>, f: (v: number) => number): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = f(x[i]);
  return out;
}

/** f(a, b) with NumPy broadcasting. */
export function refBinary(f: (a: number, b: number) => number, a: ArrayLike<number>, aShape: number[], b: ArrayLike<number>, bShape: number[]): Float64Array {
  const shape = broadcastShape(aShape, bShape);
  const ab = broadcastTo(a, aShape, shape);
  const bb = broadcastTo(b, bShape, shape);
  return ab.map((v, i) => f(v, bb[i]));
}

export interface RefMatmulOptions {
  transA?: boolean;
  transB?: boolean;
}

/** op(a) @ op(b) over the last two axes, batch axes broadcast (both operands rank ≥ 2). */
export function refMatmul(
  a: ArrayLike<number>,
  aShape: number[],
  b: ArrayLike<number>,
  bShape: number[],
  opt: RefMatmulOptions = {},
): { data: Float64Array; shape: number[] } {
  const [ar, ac] = aShape.slice(-2);
  const [br, bc] = bShape.slice(-2);
  const [m, k] = opt.transA ? [ac, ar] : [ar, ac];
  const [k2, n] = opt.transB ? [bc, br] : [br, bc];
  if (k !== k2) throw new Error(`refMatmul: inner dimensions ${k} and ${k2} differ`);
  const batch = broadcastShape(aShape.slice(0, -2), bShape.slice(0, -2));
  const batches = sizeOf(batch);
  const aIdx = broadcastTo(Array.from({ length: sizeOf(aShape.slice(0, -2)) }, (_, i) => i), aShape.slice(0, -2), batch);
  const bIdx = broadcastTo(Array.from({ length: sizeOf(bShape.slice(0, -2)) }, (_, i) => i), bShape.slice(0, -2), batch);
  const out = new Float64Array(batches * m * n);
  for (let t = 0; t < batches; t++) {
    const ao = aIdx[t] * ar * ac;
    const bo = bIdx[t] * br * bc;
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) {
          const av = opt.transA ? a[ao + p * ac + i] : a[ao + i * ac + p];
          const bv = opt.transB ? b[bo + j * bc + p] : b[bo + p * bc + j];
          s += av * bv;
        }
        out[(t * m + i) * n + j] = s;
      }
  }
  return { data: out, shape: [...batch, m, n] };
}

/** LayerNorm over rows of `cols` (biased variance), with optional affine parameters. */
export function refLayerNorm(x: ArrayLike<number>, cols: number, w: ArrayLike<number> | null, b: ArrayLike<number> | null, eps: number): Float64Array {
  const { mean, rstd } = refRowStats(x, cols, eps);
  return Float64Array.from(x, (v, i) => {
    const r = Math.floor(i / cols);
    const c = i % cols;
    return (v - mean[r]) * rstd[r] * (w ? w[c] : 1) + (b ? b[c] : 0);
  });
}

export function refRmsNorm(x: ArrayLike<number>, cols: number, w: ArrayLike<number> | null, eps: number): Float64Array {
  const { rstd } = refRowStats(x, cols, eps, true);
  return Float64Array.from(x, (v, i) => v * rstd[Math.floor(i / cols)] * (w ? w[i % cols] : 1));
}

/** GroupNorm of [N, C, …] with per-channel affine parameters, optionally followed by SiLU. */
export function refGroupNorm(
  x: ArrayLike<number>,
  shape: number[],
  groups: number,
  w: ArrayLike<number> | null,
  b: ArrayLike<number> | null,
  eps: number,
  silu = false,
): Float64Array {
  const c = shape[1];
  const spatial = sizeOf(shape.slice(2));
  const perGroup = (c / groups) * spatial;
  const { mean, rstd } = refRowStats(x, perGroup, eps);
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const ch = Math.floor(i / spatial) % c;
    const row = Math.floor(i / perGroup);
    const y = (x[i] - mean[row]) * rstd[row] * (w ? w[ch] : 1) + (b ? b[ch] : 0);
    out[i] = silu ? y * sigmoid(y) : y;
  }
  return out;
}

export interface RefAttentionOptions {
  scale?: number;
  /** Query i attends to keys j ≤ i (top-left aligned, like PyTorch's is_causal). */
  causal?: boolean;
  /** [B, Sk], nonzero = attend. */
  keyPaddingMask?: ArrayLike<number>;
}

/** softmax(q·kᵀ·scale + mask)·v for q [B, H, Sq, D], k and v [B, H, Sk, D] (v's last dim may differ). */
export function refAttention(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  qShape: number[],
  sk: number,
  dv: number,
  opt: RefAttentionOptions = {},
): Float64Array {
  const [bs, h, sq, d] = qShape;
  const scale = opt.scale ?? 1 / Math.sqrt(d);
  const out = new Float64Array(bs * h * sq * dv);
  const scores = new Float64Array(sk);
  for (let bh = 0; bh < bs * h; bh++) {
    const batch = Math.floor(bh / h);
    for (let i = 0; i < sq; i++) {
      for (let j = 0; j < sk; j++) {
        let s = 0;
        for (let p = 0; p < d; p++) s += q[(bh * sq + i) * d + p] * k[(bh * sk + j) * d + p];
        const masked = (opt.causal && j > i) || (opt.keyPaddingMask && !opt.keyPaddingMask[batch * sk + j]);
        scores[j] = masked ? -Infinity : s * scale;
      }
      const p = refSoftmaxRows(scores, sk);
      for (let c = 0; c < dv; c++) {
        let s = 0;
        for (let j = 0; j < sk; j++) if (p[j] > 0) s += p[j] * v[(bh * sk + j) * dv + c];
        out[(bh * sq + i) * dv + c] = s;
      }
    }
  }
  return out;
}

/** Cross-entropy of logits rows [rows, cols] against class targets, PyTorch's reductions and ignoreIndex. */
export function refCrossEntropy(
  logits: ArrayLike<number>,
  cols: number,
  targets: ArrayLike<number>,
  reduction: 'mean' | 'sum' | 'none' = 'mean',
  ignoreIndex = -100,
): Float64Array {
  const lse = refLogSumExpRows(logits, cols);
  const perRow = new Float64Array(targets.length);
  let total = 0;
  let count = 0;
  for (let r = 0; r < targets.length; r++) {
    const t = targets[r];
    if (t === ignoreIndex) continue;
    perRow[r] = lse[r] - logits[r * cols + t];
    total += perRow[r];
    count++;
  }
  if (reduction === 'none') return perRow;
  return Float64Array.of(reduction === 'sum' ? total : total / count);
}

/** Nearest-neighbour 2× upsampling of [N, C, H, W]. */
export function refUpsample2x(x: ArrayLike<number>, shape: number[]): Float64Array {
  const [n, c, h, w] = shape;
  const out = new Float64Array(n * c * h * 2 * w * 2);
  const os = strides([n, c, h * 2, w * 2]);
  for (let nc = 0; nc < n * c; nc++)
    for (let y = 0; y < 2 * h; y++)
      for (let xx = 0; xx < 2 * w; xx++) out[nc * os[1] + y * os[2] + xx] = x[(nc * h + (y >> 1)) * w + (xx >> 1)];
  return out;
}
