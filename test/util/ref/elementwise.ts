// Float64 references of the elementwise ops: the unary functions (erf to ~1e-15 for the exact
// GELU), maps, and binary ops with NumPy broadcasting. Plain code written from the definitions, so
// finite differences of them are trustworthy.
import { broadcastShape, broadcastTo } from './shape.ts';

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
