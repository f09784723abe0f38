// The kernel test cases that run twice: in Node on Dawn (test/kernels/*.test.ts) and in Chromium's
// WebGPU (test/browser/kernels.browser.test.ts). The problems, their seeded inputs and their
// tolerances live here once, so both check the same problems against the same float64 references
// (test/util/ref/) in the same way.
import type { Activation, Conv2dVariant } from '@sd/kernels';
import type { Tolerance } from '../util/close.ts';
import { makeRng, normal, uniform, type Rng } from '../util/random.ts';
import type { AttentionDims } from '../util/ref/attention.ts';
import type { RefConvOptions } from '../util/ref/conv.ts';

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

// ---- matmul ----

export interface MatmulCase {
  a: number[];
  b: number[];
  transA?: boolean;
  transB?: boolean;
  bias?: boolean;
  activation?: Activation;
}

/** [M, N, K] problems: ones, primes, and non-multiples of every tile size (4, 8, 16, 32, 64, 128). */
export const MATMUL_SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [17, 31, 13],
  [65, 129, 33],
  [3, 2, 300],
  [40, 1, 7],
  [1, 70, 9],
  [64, 64, 64],
  [130, 200, 150], // large enough for the big lavapipe tile config
];

export const plainMatmul = ([M, N, K]: [number, number, number]): MatmulCase => ({ a: [M, K], b: [K, N] });

/** f32 dot products of K terms in [-1, 1]: error grows about linearly with K near zero results. */
export const matmulTolerance = (K: number): Tolerance => ({ rtol: K >= 1024 ? 1e-4 : 1e-5, atol: 1e-6 + 1e-7 * K });

/** The inner dimension of a case. */
export const matmulK = (c: MatmulCase): number => (c.transA ? c.a[c.a.length - 2] : c.a[c.a.length - 1]);

/** The case's operands (bias when it has one), drawn from `rng` in the order the Node tests always drew them. */
export function matmulInputs(rng: Rng, c: MatmulCase): { a: Float32Array; b: Float32Array; bias?: Float32Array } {
  const a = uniform(rng, size(c.a));
  const b = uniform(rng, size(c.b));
  const N = c.transB ? c.b[c.b.length - 2] : c.b[c.b.length - 1];
  return { a, b, bias: c.bias ? uniform(rng, N) : undefined };
}

// ---- attention ----

export interface AttentionCase {
  name: string;
  dims: AttentionDims;
  causal?: boolean;
  /** Builds the [B, Sk] key-padding mask. */
  mask?: (b: number, j: number) => number;
  scale?: number;
  /** Multiplies q and k (large logits). */
  magnitude?: number;
}

export interface AttentionInputs {
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  dout: Float32Array;
  mask?: Float32Array;
}

export function attentionInputs(rng: Rng, c: AttentionCase): AttentionInputs {
  const { B, H, Sq, Sk, D } = c.dims;
  const m = c.magnitude ?? 1;
  const q = uniform(rng, B * H * Sq * D, -m, m);
  const k = uniform(rng, B * H * Sk * D, -m, m);
  const v = uniform(rng, B * H * Sk * D);
  const dout = uniform(rng, B * H * Sq * D);
  const mask = c.mask ? Float32Array.from({ length: B * Sk }, (_, i) => c.mask!(Math.floor(i / Sk), i % Sk)) : undefined;
  return { q, k, v, dout, mask };
}

/** A key-padding mask that drops every third key. */
export const everyThird = (_b: number, j: number) => (j % 3 === 1 ? 0 : 1);

// D = 8 cases cover the index logic (block edges, causal, masks, cross-attention); the wide heads
// compile slowly on lavapipe (registers are unrolled per D), so they get one small case each.
export const ATTENTION_CASES: AttentionCase[] = [
  { name: 'S = 1', dims: { B: 1, H: 1, Sq: 1, Sk: 1, D: 8 } },
  { name: 'S = 37, B·H = 6, causal, mask', dims: { B: 2, H: 3, Sq: 37, Sk: 37, D: 8 }, causal: true, mask: everyThird },
  { name: 'S = 65, causal', dims: { B: 1, H: 2, Sq: 65, Sk: 65, D: 8 }, causal: true },
  { name: 'cross 5 × 70', dims: { B: 2, H: 1, Sq: 5, Sk: 70, D: 8 }, mask: everyThird },
  { name: 'cross 5 × 70, causal', dims: { B: 1, H: 2, Sq: 5, Sk: 70, D: 8 }, causal: true },
  { name: 'cross 70 × 5, causal', dims: { B: 1, H: 1, Sq: 70, Sk: 5, D: 8 }, causal: true },
  { name: 'custom scale', dims: { B: 1, H: 1, Sq: 9, Sk: 16, D: 8 }, scale: 0.9 },
];

/** Absolute tolerances of the forward (out, lse) and backward (dq, dk, dv) results. */
export const ATTENTION_ATOL = { fwd: 2e-6, bwd: 5e-6 };
export const attentionTolerance = (atol = ATTENTION_ATOL) => ({
  out: { rtol: 1e-5, atol: atol.fwd },
  lse: { rtol: 1e-6, atol: atol.fwd },
  grad: { rtol: 1e-4, atol: atol.bwd },
});

// ---- conv2d ----

type Pair = number | [number, number];

export interface Conv2dCase {
  name: string;
  x: [number, number, number, number];
  w: [number, number, number, number];
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
  bias?: boolean;
}

const pair = (v: Pair | undefined, d: number): [number, number] => (v === undefined ? [d, d] : typeof v === 'number' ? [v, v] : v);

export const conv2dRefOptions = (c: Conv2dCase): RefConvOptions => ({
  stride: pair(c.stride, 1),
  padding: pair(c.padding, 0),
  dilation: pair(c.dilation, 1),
  groups: c.groups ?? 1,
});

/** The case's options as conv2d takes them (plain data: they travel to a page as they are). */
export const conv2dOptions = (c: Conv2dCase) => ({ stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups });

/** x, w, bias (or null) and dy for the output shape `yShape`, from `seed`. */
export function conv2dInputs(c: Conv2dCase, yShape: readonly number[], seed: number) {
  const rng = makeRng(seed);
  const xs = uniform(rng, size(c.x));
  const ws = uniform(rng, size(c.w));
  const bs = c.bias ? uniform(rng, c.w[0]) : null;
  const dys = uniform(rng, size(yShape));
  return { xs, ws, bs, dys };
}

/** Sums of up to a few hundred products of values in [-1, 1]. */
export const CONV2D_TOLERANCE: Tolerance = { rtol: 1e-5, atol: 1e-5 };
export const CONV2D_DW_TOLERANCE: Tolerance = { rtol: 1e-5, atol: 3e-5 };

export const CONV2D_CASES: Conv2dCase[] = [
  { name: '3x3 pad 1, batch 2, odd sizes, bias', x: [2, 5, 9, 11], w: [6, 5, 3, 3], padding: 1, bias: true },
  { name: '3x3 pad 1, 19 channels (not a tile multiple)', x: [1, 20, 6, 7], w: [19, 20, 3, 3], padding: 1 },
  { name: '3x3 no padding', x: [1, 3, 7, 8], w: [4, 3, 3, 3] },
  { name: '1x1, bias', x: [2, 7, 5, 6], w: [10, 7, 1, 1], bias: true },
  { name: '1x1 stride 2', x: [1, 4, 7, 7], w: [3, 4, 1, 1], stride: 2 },
  { name: '3x3 stride 2 pad 1', x: [1, 4, 9, 10], w: [5, 4, 3, 3], stride: 2, padding: 1, bias: true },
  { name: '4x4 stride 2 pad 1', x: [2, 3, 10, 12], w: [4, 3, 4, 4], stride: 2, padding: 1 },
  { name: 'patch 14 (stride 14)', x: [1, 3, 28, 42], w: [5, 3, 14, 14], stride: 14 },
  { name: 'patch 16 (stride 16), batch 2', x: [2, 3, 32, 32], w: [4, 3, 16, 16], stride: 16 },
  { name: '3x3 dilation 2 pad 2', x: [1, 3, 8, 9], w: [4, 3, 3, 3], dilation: 2, padding: 2 },
  { name: 'per-axis stride/padding/dilation, 3x2 kernel', x: [1, 3, 9, 8], w: [5, 3, 3, 2], stride: [2, 1], padding: [0, 2], dilation: [1, 2] },
  { name: 'kernel 2 stride 3 (gaps between windows)', x: [1, 2, 10, 11], w: [3, 2, 2, 2], stride: 3 },
  { name: 'groups 2, bias', x: [2, 6, 7, 7], w: [4, 3, 3, 3], padding: 1, groups: 2, bias: true },
  { name: 'depthwise (groups = C), bias', x: [1, 5, 6, 7], w: [5, 1, 3, 3], padding: 1, groups: 5, bias: true },
  { name: 'depthwise with multiplier 2', x: [1, 3, 5, 5], w: [6, 1, 3, 3], padding: 1, groups: 3 },
  { name: 'output narrower than a tile', x: [1, 2, 3, 2], w: [3, 2, 3, 3], padding: 1 },
  { name: 'rows a multiple of 4 (vector stores), batch 2', x: [2, 3, 5, 8], w: [5, 3, 3, 3], padding: 1, bias: true },
  { name: '40→36 channels (several channel blocks)', x: [1, 40, 6, 16], w: [36, 40, 3, 3], padding: 1, bias: true },
];

// The adapter's own variant gets every case; the others the cases that exercise their distinct
// code paths (their big unrolled kernels are slow to compile on lavapipe, so not on every shape).
export const CONV2D_VARIANT_CASES: Record<Conv2dVariant, number[]> = { texture: [0, 3, 7], subgroup: [0, 3, 7], portable: [1, 11], tiled: [5, 13] };

/** The seed of case `i` on the adapter's own variant (`own`) or another. */
export const conv2dSeed = (i: number, own: boolean) => (own ? 100 : 200) + i;

// ---- groupNorm ----

export interface GroupNormCase {
  name: string;
  shape: number[];
  groups: number;
  weight: boolean;
  bias: boolean;
  silu: boolean;
  offset?: number;
}

export const GROUPNORM_CASES: GroupNormCase[] = [
  { name: '32 groups of C = 64, affine', shape: [2, 64, 5, 7], groups: 32, weight: true, bias: true, silu: false },
  { name: '32 groups of C = 64, affine + SiLU', shape: [2, 64, 4, 4], groups: 32, weight: true, bias: true, silu: true },
  { name: 'groups = 1, no affine', shape: [2, 6, 4, 3], groups: 1, weight: false, bias: false, silu: false },
  { name: 'groups = 1, no affine + SiLU', shape: [1, 6, 5, 5], groups: 1, weight: false, bias: false, silu: true },
  { name: 'groups = C, affine + SiLU', shape: [2, 6, 3, 5], groups: 6, weight: true, bias: true, silu: true },
  { name: 'groups = C, affine', shape: [1, 5, 2, 2], groups: 5, weight: true, bias: true, silu: false },
  { name: 'weight only + SiLU', shape: [1, 8, 3, 3], groups: 4, weight: true, bias: false, silu: true },
  { name: 'bias only + SiLU', shape: [1, 8, 3, 3], groups: 2, weight: false, bias: true, silu: true },
  { name: '[N, C] input (no spatial dims)', shape: [3, 8], groups: 4, weight: true, bias: true, silu: false },
  { name: '3-D spatial input', shape: [1, 4, 2, 3, 5], groups: 2, weight: true, bias: true, silu: true },
  { name: 'UNet-like 320 channels, 32 groups', shape: [1, 320, 12, 16], groups: 32, weight: true, bias: true, silu: true },
  { name: 'large mean (1e4 + N(0, 1))', shape: [2, 8, 16, 16], groups: 2, weight: true, bias: true, silu: false, offset: 1e4 },
];

/** The seed of case `k` of GROUPNORM_CASES. */
export const groupNormSeed = (k: number) => 10 + k;

export function groupNormInputs(c: GroupNormCase, seed: number) {
  const rng = makeRng(seed);
  const xs = c.offset ? normal(rng, size(c.shape)).map((v) => v + c.offset!) : uniform(rng, size(c.shape), -2, 3);
  const ws = c.weight ? uniform(rng, c.shape[1], 0.5, 1.5) : null;
  const bs = c.bias ? uniform(rng, c.shape[1]) : null;
  const dys = uniform(rng, size(c.shape));
  return { xs, ws, bs, dys };
}

export function groupNormTolerances(c: GroupNormCase) {
  // With a mean of 1e4, x − mean itself carries f32 rounding of ~1e-3 (x is stored in f32).
  const y: Tolerance = c.offset ? { rtol: 1e-4, atol: 2e-3 } : { rtol: 1e-5, atol: 1e-5 };
  const grad: Tolerance = c.offset ? { rtol: 1e-3, atol: 2e-3 } : { rtol: 1e-4, atol: 2e-5 };
  return {
    y,
    mean: { rtol: 1e-6, atol: 1e-6 } as Tolerance,
    rstd: { rtol: 1e-5, atol: 0 } as Tolerance,
    dx: grad,
    // Σ dz·x̂: the f32 mean (off by up to half an ulp of 1e4 ≈ 5e-4) shifts every x̂ of a group
    // alike, which adds ~5e-4·|Σ dz| to dweight in any f32 implementation.
    dweight: (c.offset ? { rtol: 1e-3, atol: 2e-2 } : grad) as Tolerance,
    dbias: { rtol: 1e-4, atol: 2e-5 } as Tolerance,
  };
}
