// Float64 reference of groupNorm (optionally followed by SiLU) on [N, C, …]: forward with its
// statistics, the analytic gradients, and the plain forward the autograd and UNet references use.
import { REF_UNARY } from './elementwise.ts';
import { sizeOf } from './shape.ts';

const sigmoid = REF_UNARY.sigmoid;

export interface RefGroupNormParams {
  shape: number[];
  groups: number;
  w: ArrayLike<number> | null;
  b: ArrayLike<number> | null;
  eps: number;
  silu: boolean;
}

/** Forward: y, per-(n, g) mean and rstd (two-pass variance), x̂ and the pre-SiLU z. */
export function refGroupNormForward(x: ArrayLike<number>, p: RefGroupNormParams) {
  const [n, c] = p.shape;
  const s = sizeOf(p.shape.slice(2));
  const cg = c / p.groups;
  const m = cg * s;
  const y = new Float64Array(x.length);
  const xhat = new Float64Array(x.length);
  const z = new Float64Array(x.length);
  const mean = new Float64Array(n * p.groups);
  const rstd = new Float64Array(n * p.groups);
  for (let ng = 0; ng < n * p.groups; ng++) {
    const base = ng * m;
    let mu = 0;
    for (let i = 0; i < m; i++) mu += x[base + i];
    mu /= m;
    let v = 0;
    for (let i = 0; i < m; i++) v += (x[base + i] - mu) ** 2;
    const r = 1 / Math.sqrt(v / m + p.eps);
    mean[ng] = mu;
    rstd[ng] = r;
    for (let i = 0; i < m; i++) {
      const ch = ((ng % p.groups) * cg + Math.floor(i / s)) % c;
      const xh = (x[base + i] - mu) * r;
      const zz = xh * (p.w ? p.w[ch] : 1) + (p.b ? p.b[ch] : 0);
      xhat[base + i] = xh;
      z[base + i] = zz;
      y[base + i] = p.silu ? zz * sigmoid(zz) : zz;
    }
  }
  return { y, mean, rstd, xhat, z };
}

/** Analytic gradients dx, dw, db given dy. */
export function refGroupNormBackward(dy: ArrayLike<number>, x: ArrayLike<number>, p: RefGroupNormParams) {
  const [n, c] = p.shape;
  const s = sizeOf(p.shape.slice(2));
  const cg = c / p.groups;
  const m = cg * s;
  const f = refGroupNormForward(x, p);
  const dx = new Float64Array(x.length);
  const dw = new Float64Array(c);
  const db = new Float64Array(c);
  for (let ng = 0; ng < n * p.groups; ng++) {
    const base = ng * m;
    const dxh = new Float64Array(m);
    let a = 0;
    let b = 0;
    for (let i = 0; i < m; i++) {
      const ch = (ng % p.groups) * cg + Math.floor(i / s);
      const zz = f.z[base + i];
      const sg = sigmoid(zz);
      const dz = p.silu ? dy[base + i] * sg * (1 + zz * (1 - sg)) : dy[base + i];
      dw[ch] += dz * f.xhat[base + i];
      db[ch] += dz;
      dxh[i] = dz * (p.w ? p.w[ch] : 1);
      a += dxh[i];
      b += dxh[i] * f.xhat[base + i];
    }
    for (let i = 0; i < m; i++) dx[base + i] = f.rstd[ng] * (dxh[i] - a / m - f.xhat[base + i] * (b / m));
  }
  return { dx, dw, db };
}

/** GroupNorm of [N, C, …] with per-channel affine parameters, optionally followed by SiLU: y only. */
export function refGroupNorm(
  x: ArrayLike<number>,
  shape: number[],
  groups: number,
  w: ArrayLike<number> | null,
  b: ArrayLike<number> | null,
  eps: number,
  silu = false,
): Float64Array {
  return refGroupNormForward(x, { shape, groups, w, b, eps, silu }).y;
}
