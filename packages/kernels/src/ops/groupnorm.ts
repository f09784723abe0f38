// GroupNorm over x [N, C, ...spatial] with an optional fused SiLU, and its backward.
// Statistics are f32 and computed per channel first (one row of the spatial size per (n, c), two
// passes around a shift, so large means cost no precision), then merged per group with Chan's
// formula: M2_g = Σ_c M2_c + S·Σ_c (mean_c − mean_g)². Working per channel gives N·C parallel rows
// instead of N·G long ones. The backward likewise reduces per channel, then per group.
import { DeviceArray } from '../array.ts';
import { rt } from '../runtime/current.ts';
import { kernelSource } from '../runtime/kernel-source.ts';
import { fmt, sizeOf } from '../shape.ts';
import { grid, gridMain, linearIndex } from '../wgsl.ts';
import { f32Lit } from './reduce-kit.ts';
import { sum } from './reduce.ts';
import { planRows, RowKernel } from './rows.ts';

export interface GroupNormOptions {
  /** Apply SiLU (x·σ(x)) after the affine transform, in the same kernel. */
  silu?: boolean;
}

export interface GroupNormResult {
  y: DeviceArray;
  /** Per-(sample, group) mean, shape [N, G] (saved for the backward). */
  mean: DeviceArray;
  /** Per-(sample, group) 1/sqrt(var + eps), biased variance, shape [N, G]. */
  rstd: DeviceArray;
}

export interface GroupNormGrads {
  dx: DeviceArray;
  /** Σ over N and spatial of dz·x̂ (dz: the gradient before SiLU), shape [C]; null without a weight. */
  dweight: DeviceArray | null;
  /** Σ over N and spatial of dz, shape [C]; null without a bias. */
  dbias: DeviceArray | null;
}

interface Dims {
  n: number;
  c: number;
  /** Spatial size (product of the dimensions after C; 1 for [N, C]). */
  s: number;
  groups: number;
}

function dims(op: string, x: DeviceArray, groups: number): Dims {
  if (x.rank < 2) throw new Error(`${op}: input must be [N, C, ...spatial], got ${fmt(x.shape)}`);
  if (x.dtype !== 'f32') throw new Error(`${op}: input must be f32, got ${x.dtype} ${fmt(x.shape)}`);
  const [n, c] = x.shape;
  if (!Number.isInteger(groups) || groups < 1 || c % groups !== 0) {
    throw new Error(`${op}: groups = ${groups} must be a positive integer dividing the ${c} channels of input ${fmt(x.shape)}`);
  }
  return { n, c, s: sizeOf(x.shape.slice(2)), groups };
}

function checkParam(op: string, name: string, p: DeviceArray | null | undefined, c: number, xShape: readonly number[]): void {
  if (!p) return;
  if (p.dtype !== 'f32' || p.rank !== 1 || p.shape[0] !== c) {
    throw new Error(`${op}: ${name} must be f32 [${c}] for input ${fmt(xShape)}, got ${p.dtype} ${fmt(p.shape)}`);
  }
}

function checkStats(op: string, name: string, a: DeviceArray, d: Dims): void {
  if (a.dtype !== 'f32' || a.rank !== 2 || a.shape[0] !== d.n || a.shape[1] !== d.groups) {
    throw new Error(`${op}: ${name} must be f32 [${d.n}, ${d.groups}] (the groupNorm output), got ${a.dtype} ${fmt(a.shape)}`);
  }
}

/** σ(v) for a V-typed WGSL expression, without overflow for large |v|. */
function sigmoid(v: string): string {
  return `select(exp(${v}) / (1.0 + exp(${v})), 1.0 / (1.0 + exp(-${v})), ${v} >= V(0.0))`;
}

/**
 * Group normalisation: y = x̂ · weight[c] + bias[c] with x̂ = (x − mean_g) · rstd_g over each
 * (sample, group of C/groups channels × spatial), then SiLU when `opts.silu`.
 * Returns y and the statistics [N, groups] the backward needs.
 */
export function groupNorm(
  x: DeviceArray,
  groups: number,
  weight?: DeviceArray | null,
  bias?: DeviceArray | null,
  eps = 1e-5,
  opts: GroupNormOptions = {},
): GroupNormResult {
  const op = 'groupNorm';
  const d = dims(op, x, groups);
  checkParam(op, 'weight', weight, d.c, x.shape);
  checkParam(op, 'bias', bias, d.c, x.shape);
  if (!(eps >= 0)) throw new Error(`${op}: eps must be ≥ 0, got ${eps}`);
  const y = DeviceArray.empty(x.shape, 'f32', op);
  const mean = DeviceArray.empty([d.n, d.groups], 'f32', op);
  const rstd = DeviceArray.empty([d.n, d.groups], 'f32', op);
  if (d.n === 0 || d.c === 0) return { y, mean, rstd };
  if (d.s === 0) {
    // Empty groups: the statistics are undefined (NaN, as mean/var of nothing), y is empty.
    rt().fillWords(mean.buffer, mean.size, 0x7fc00000);
    rt().fillWords(rstd.buffer, rstd.size, 0x7fc00000);
    return { y, mean, rstd };
  }
  const chanMean = DeviceArray.empty([d.n * d.c], 'f32', op);
  const chanM2 = DeviceArray.empty([d.n * d.c], 'f32', op);
  channelMoments(op, x, d, chanMean, chanM2);
  groupMoments(op, d, eps, chanMean, chanM2, mean, rstd);
  chanMean.dispose();
  chanM2.dispose();
  normalize(op, x, d, weight ?? null, bias ?? null, !!opts.silu, mean, rstd, y);
  return { y, mean, rstd };
}

/** Per (n, c): the mean and Σ(x − mean)² over the spatial positions. */
function channelMoments(op: string, x: DeviceArray, d: Dims, chanMean: DeviceArray, chanM2: DeviceArray): void {
  const k = new RowKernel(planRows(d.n * d.c, d.s));
  const code = k.source(`${op}_channel_moments:${d.n},${d.c},${d.s},${d.groups}`, () => {
    const body = `${k.load(['x'])}
  let shift = ${k.plan.width === 4 ? 'x[rb].x' : 'x[rb]'};
  var s = 0.0;
  ${k.each((at) => `s += hsum(${at('x')} - shift);`)}
  ${k.reduce('s', { type: 'f32', combine: 'comb_sum' }, 's')}
  let delta = s / ${f32Lit(d.s)};
  var q = 0.0;
  ${k.each((at) => `let e = (${at('x')} - shift) - delta; q += hsum(e * e);`)}
  ${k.reduce('q', { type: 'f32', combine: 'comb_sum' }, 'q')}
  if (row_ok && ty == 0u) { mean_out[row] = shift + delta; m2_out[row] = q; }`;
    return k.shader([['x', 'V']], [['mean_out', 'f32'], ['m2_out', 'f32']], body);
  });
  k.dispatch(`${op}_channel_moments`, code, [x.buffer], [chanMean.buffer, chanM2.buffer]);
}

/** Per (n, g): merges the channel moments (Chan et al.) into the group mean and rstd. */
function groupMoments(op: string, d: Dims, eps: number, chanMean: DeviceArray, chanM2: DeviceArray, mean: DeviceArray, rstd: DeviceArray): void {
  const cg = d.c / d.groups;
  const rows = d.n * d.groups;
  const code = kernelSource(`${op}_group_moments:${d.n},${d.c},${d.s},${d.groups}:${eps}`, () => `@group(0) @binding(0) var<storage, read> cmean: array<f32>;
@group(0) @binding(1) var<storage, read> cm2: array<f32>;
@group(0) @binding(2) var<storage, read_write> mean_out: array<f32>;
@group(0) @binding(3) var<storage, read_write> rstd_out: array<f32>;
${gridMain(64)} {
  let i = ${linearIndex(64)};
  if (i >= ${rows}u) { return; }
  let c0 = i * ${cg}u; // channels of group i are contiguous in [N, C]
  var m = 0.0;
  for (var c = 0u; c < ${cg}u; c++) { m += cmean[c0 + c]; }
  m = m / ${f32Lit(cg)};
  var m2 = 0.0;
  for (var c = 0u; c < ${cg}u; c++) { let e = cmean[c0 + c] - m; m2 += cm2[c0 + c] + ${f32Lit(d.s)} * e * e; }
  mean_out[i] = m;
  rstd_out[i] = inverseSqrt(m2 / ${f32Lit(cg * d.s)} + ${f32Lit(eps)});
}`);
  rt().dispatch({
    name: `${op}_group_moments`,
    code,
    inputs: [chanMean.buffer, chanM2.buffer],
    outputs: [mean.buffer, rstd.buffer],
    workgroups: grid(rows, 64),
  });
}

/** Elementwise: indices of channel and group of unit `i` (vec4 units never straddle channels). */
function unitHeader(d: Dims, width: number): string {
  const perChannel = d.s / width;
  return `let c = (i / ${perChannel}u) % ${d.c}u;
  let ng = i / ${perChannel * (d.c / d.groups)}u;`;
}

function normalize(
  op: string,
  x: DeviceArray,
  d: Dims,
  weight: DeviceArray | null,
  bias: DeviceArray | null,
  silu: boolean,
  mean: DeviceArray,
  rstd: DeviceArray,
  y: DeviceArray,
): void {
  const width = d.s % 4 === 0 ? 4 : 1;
  const units = (d.n * d.c * d.s) / width;
  const inputs: Array<[string, DeviceArray]> = [['x', x], ['mean', mean], ['rstd', rstd]];
  if (weight) inputs.push(['w', weight]);
  if (bias) inputs.push(['b', bias]);
  const decl = inputs.map(([name], j) => `@group(0) @binding(${j}) var<storage, read> ${name}: array<${name === 'x' ? 'V' : 'f32'}>;`);
  const code = kernelSource(`${op}:${d.n},${d.c},${d.s},${d.groups}:${!!weight}${!!bias}${silu}`, () => `alias V = ${width === 4 ? 'vec4<f32>' : 'f32'};
${decl.join('\n')}
@group(0) @binding(${inputs.length}) var<storage, read_write> y: array<V>;
${gridMain()} {
  let i = ${linearIndex()};
  if (i >= ${units}u) { return; }
  ${unitHeader(d, width)}
  var z = (x[i] - V(mean[ng])) * rstd[ng]${weight ? ' * w[c]' : ''}${bias ? ' + b[c]' : ''};
  ${silu ? `z = z * ${sigmoid('z')};` : ''}
  y[i] = z;
}`);
  rt().dispatch({ name: op, code, inputs: inputs.map(([, a]) => a.buffer), outputs: [y.buffer], workgroups: grid(units) });
}

/**
 * Gradients of groupNorm from dy and the saved statistics. Pass the forward's weight and bias (each
 * may be null): with `silu`, both are needed to recompute the pre-activation z = x̂·w + b, and the
 * gradient dz = dy·σ(z)(1 + z(1 − σ(z))) replaces dy below. Returns
 *   dx = rstd · (dz·w − mean_g(dz·w) − x̂ · mean_g(dz·w·x̂)),
 *   dweight = Σ_{n, spatial} dz·x̂ (when weight is given), dbias = Σ_{n, spatial} dz (when bias is given).
 */
export function groupNormBackward(
  dy: DeviceArray,
  x: DeviceArray,
  weight: DeviceArray | null | undefined,
  bias: DeviceArray | null | undefined,
  mean: DeviceArray,
  rstd: DeviceArray,
  groups: number,
  opts: GroupNormOptions = {},
): GroupNormGrads {
  const op = 'groupNormBackward';
  const d = dims(op, x, groups);
  if (dy.dtype !== 'f32' || dy.rank !== x.rank || dy.shape.some((v, i) => v !== x.shape[i])) {
    throw new Error(`${op}: dy ${dy.dtype} ${fmt(dy.shape)} must be f32 with the shape of input ${fmt(x.shape)}`);
  }
  checkParam(op, 'weight', weight, d.c, x.shape);
  checkParam(op, 'bias', bias, d.c, x.shape);
  checkStats(op, 'mean', mean, d);
  checkStats(op, 'rstd', rstd, d);
  const silu = !!opts.silu;
  const w = weight ?? null;
  const b = bias ?? null;
  const dx = DeviceArray.empty(x.shape, 'f32', op);
  const total = d.n * d.c * d.s;
  // Per (n, c): P1 = Σ dz, P2 = Σ dz·x̂.
  const p1 = DeviceArray.empty([d.n, d.c], 'f32', op);
  const p2 = DeviceArray.empty([d.n, d.c], 'f32', op);
  if (total === 0) {
    rt().fillWords(p1.buffer, p1.size, 0);
    rt().fillWords(p2.buffer, p2.size, 0);
  } else {
    channelGradSums(op, dy, x, d, w, b, silu, mean, rstd, p1, p2);
    const ab = DeviceArray.empty([d.n * d.groups * 2], 'f32', op);
    groupGradSums(op, d, w, p1, p2, ab);
    inputGrad(op, dy, x, d, w, b, silu, mean, rstd, ab, dx);
    ab.dispose();
  }
  const dweight = w ? sum(p2, [0]) : null;
  const dbias = b ? sum(p1, [0]) : null;
  p1.dispose();
  p2.dispose();
  return { dx, dweight, dbias };
}

/** WGSL computing `xh` (x̂) and `dz` for units of x/dy (V-typed); `c` and `ng` must be defined. */
function dzCode(w: DeviceArray | null, b: DeviceArray | null, silu: boolean, xe: string, dye: string): string {
  const lines = [`let xh = (${xe} - V(mean[ng])) * rstd[ng];`];
  if (silu) {
    lines.push(`let z = xh${w ? ' * w[c]' : ''}${b ? ' + b[c]' : ''};`);
    lines.push(`let sg = ${sigmoid('z')};`);
    lines.push(`let dz = ${dye} * sg * (V(1.0) + z * (V(1.0) - sg));`);
  } else {
    lines.push(`let dz = ${dye};`);
  }
  return lines.join(' ');
}

function channelGradSums(
  op: string,
  dy: DeviceArray,
  x: DeviceArray,
  d: Dims,
  w: DeviceArray | null,
  b: DeviceArray | null,
  silu: boolean,
  mean: DeviceArray,
  rstd: DeviceArray,
  p1: DeviceArray,
  p2: DeviceArray,
): void {
  const k = new RowKernel(planRows(d.n * d.c, d.s));
  const inputs: Array<[string, string]> = [['dy', 'V'], ['x', 'V'], ['mean', 'f32'], ['rstd', 'f32']];
  const buffers = [dy.buffer, x.buffer, mean.buffer, rstd.buffer];
  // The affine parameters only matter here through the pre-activation of the SiLU.
  if (w && silu) (inputs.push(['w', 'f32']), buffers.push(w.buffer));
  if (b && silu) (inputs.push(['b', 'f32']), buffers.push(b.buffer));
  const code = k.source(`${op}_channel_sums:${d.n},${d.c},${d.s},${d.groups}:${!!w}${!!b}${silu}`, () => {
    const body = `${k.load(['dy', 'x'])}
  let c = row % ${d.c}u;
  let ng = row / ${d.c / d.groups}u;
  var s1 = 0.0;
  var s2 = 0.0;
  ${k.each((at) => `${dzCode(w, b, silu, at('x'), at('dy'))} s1 += hsum(dz); s2 += hsum(dz * xh);`)}
  var s12 = vec2<f32>(s1, s2);
  ${k.reduce('s12', { type: 'vec2<f32>', combine: 'comb_sum2' }, 's12')}
  if (row_ok && ty == 0u) { p1[row] = s12.x; p2[row] = s12.y; }`;
    return k.shader(inputs, [['p1', 'f32'], ['p2', 'f32']], body);
  });
  k.dispatch(`${op}_channel_sums`, code, buffers, [p1.buffer, p2.buffer]);
}

/** Per (n, g): ab = (Σ_c w_c·P1[n,c], Σ_c w_c·P2[n,c]) / M, the two means the input gradient subtracts. */
function groupGradSums(op: string, d: Dims, w: DeviceArray | null, p1: DeviceArray, p2: DeviceArray, ab: DeviceArray): void {
  const cg = d.c / d.groups;
  const rows = d.n * d.groups;
  const code = kernelSource(`${op}_group_sums:${d.n},${d.c},${d.s},${d.groups}:${!!w}`, () => `@group(0) @binding(0) var<storage, read> p1: array<f32>;
@group(0) @binding(1) var<storage, read> p2: array<f32>;
${w ? '@group(0) @binding(2) var<storage, read> w: array<f32>;' : ''}
@group(0) @binding(${w ? 3 : 2}) var<storage, read_write> ab: array<f32>;
${gridMain(64)} {
  let i = ${linearIndex(64)};
  if (i >= ${rows}u) { return; }
  let c0 = i * ${cg}u;
  let g = i % ${d.groups}u;
  var a = 0.0;
  var b = 0.0;
  for (var c = 0u; c < ${cg}u; c++) {
    let wc = ${w ? `w[g * ${cg}u + c]` : '1.0'};
    a += wc * p1[c0 + c];
    b += wc * p2[c0 + c];
  }
  ab[2u * i] = a / ${f32Lit(cg * d.s)};
  ab[2u * i + 1u] = b / ${f32Lit(cg * d.s)};
}`);
  const inputs = [p1.buffer, p2.buffer, ...(w ? [w.buffer] : [])];
  rt().dispatch({ name: `${op}_group_sums`, code, inputs, outputs: [ab.buffer], workgroups: grid(rows, 64) });
}

function inputGrad(
  op: string,
  dy: DeviceArray,
  x: DeviceArray,
  d: Dims,
  w: DeviceArray | null,
  b: DeviceArray | null,
  silu: boolean,
  mean: DeviceArray,
  rstd: DeviceArray,
  ab: DeviceArray,
  dx: DeviceArray,
): void {
  const width = d.s % 4 === 0 ? 4 : 1;
  const units = (d.n * d.c * d.s) / width;
  const inputs: Array<[string, DeviceArray, string]> = [
    ['dy', dy, 'V'],
    ['x', x, 'V'],
    ['mean', mean, 'f32'],
    ['rstd', rstd, 'f32'],
    ['ab', ab, 'f32'],
  ];
  if (w) inputs.push(['w', w, 'f32']);
  if (b && silu) inputs.push(['b', b, 'f32']);
  const decl = inputs.map(([name, , type], j) => `@group(0) @binding(${j}) var<storage, read> ${name}: array<${type}>;`);
  const code = kernelSource(`${op}_dx:${d.n},${d.c},${d.s},${d.groups}:${!!w}${!!b}${silu}`, () => `alias V = ${width === 4 ? 'vec4<f32>' : 'f32'};
${decl.join('\n')}
@group(0) @binding(${inputs.length}) var<storage, read_write> dx: array<V>;
${gridMain()} {
  let i = ${linearIndex()};
  if (i >= ${units}u) { return; }
  ${unitHeader(d, width)}
  ${dzCode(w, b, silu, 'x[i]', 'dy[i]')}
  dx[i] = rstd[ng] * (dz${w ? ' * w[c]' : ''} - V(ab[2u * ng]) - xh * ab[2u * ng + 1u]);
}`);
  rt().dispatch({ name: `${op}_dx`, code, inputs: inputs.map(([, a]) => a.buffer), outputs: [dx.buffer], workgroups: grid(units) });
}
