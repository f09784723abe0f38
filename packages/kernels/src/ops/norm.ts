// LayerNorm and RMSNorm over the last axis, with their backward rules. Statistics are f32, and the
// mean is taken around a shift (the row's first element) before a second pass over the deviations:
// precise even when the mean is large against the spread (E[x²] − E[x]² would not be).
// Weight/bias gradients are column sums over all rows: a parallel column reduction in two passes.
import { DeviceArray } from '../array.ts';
import { rt } from '../runtime/current.ts';
import { kernelSource } from '../runtime/kernel-source.ts';
import { fmt, shapesEqual } from '../shape.ts';
import { bindings, Params } from '../wgsl.ts';
import { sum } from './reduce.ts';
import { chooseSplits, f32Lit, foldGroups, maxThreads, pow2ceil } from './reduce-kit.ts';
import { planRows, RowKernel } from './rows.ts';

export interface LayerNormResult {
  y: DeviceArray;
  /** Per-row mean, shape x.shape[:-1] (saved for the backward). */
  mean: DeviceArray;
  /** Per-row 1/sqrt(var + eps) with the biased variance, shape x.shape[:-1]. */
  rstd: DeviceArray;
}

export interface RmsNormResult {
  y: DeviceArray;
  /** Per-row 1/sqrt(mean(x²) + eps), shape x.shape[:-1]. */
  rstd: DeviceArray;
}

export interface NormGrads {
  dx: DeviceArray;
  /** Σ over rows of dy ⊙ x̂ (shape [C]); null when not asked for. */
  dweight: DeviceArray | null;
  /** Σ over rows of dy (shape [C]); null when not asked for (always null for RMSNorm). */
  dbias: DeviceArray | null;
}

/** y = (x − mean) · rstd ⊙ weight + bias over the last axis (weight/bias [C], optional). */
export function layerNorm(x: DeviceArray, weight?: DeviceArray | null, bias?: DeviceArray | null, eps = 1e-5): LayerNormResult {
  const op = 'layerNorm';
  const { rows, cols, rowShape } = checkInput(op, x, eps);
  checkParam(op, 'weight', weight, cols);
  checkParam(op, 'bias', bias, cols);
  const y = DeviceArray.empty(x.shape, 'f32', op);
  const mean = DeviceArray.empty(rowShape, 'f32', op);
  const rstd = DeviceArray.empty(rowShape, 'f32', op);
  if (rows === 0) return { y, mean, rstd };
  const k = new RowKernel(planRows(rows, cols));
  const affine = `${weight ? ' * w[u]' : ''}${bias ? ' + b[u]' : ''}`;
  const inputs: Array<[string, string]> = [['x', 'V']];
  const buffers = [x.buffer];
  if (weight) (inputs.push(['w', 'V']), buffers.push(weight.buffer));
  if (bias) (inputs.push(['b', 'V']), buffers.push(bias.buffer));
  const code = k.source(`${op}:${affine}:${cols}:${eps}`, () => {
    const body = `${k.load(['x'])}
  let shift = ${k.plan.width === 4 ? 'x[rb].x' : 'x[rb]'};
  var s = 0.0;
  ${k.each((at) => `s += hsum(${at('x')} - shift);`)}
  ${k.reduce('s', { type: 'f32', combine: 'comb_sum' }, 's')}
  let delta = s / ${f32Lit(cols)};
  var q = 0.0;
  ${k.each((at) => `let d = (${at('x')} - shift) - delta; q += hsum(d * d);`)}
  ${k.reduce('q', { type: 'f32', combine: 'comb_sum' }, 'q')}
  let rs = inverseSqrt(q / ${f32Lit(cols)} + ${f32Lit(eps)});
  if (row_ok) {
    ${k.each((at) => `y[rb + u] = ((${at('x')} - shift) - delta) * rs${affine};`)}
    if (ty == 0u) { mean_out[row] = shift + delta; rstd_out[row] = rs; }
  }`;
    return k.shader(inputs, [['y', 'V'], ['mean_out', 'f32'], ['rstd_out', 'f32']], body);
  });
  k.dispatch(op, code, buffers, [y.buffer, mean.buffer, rstd.buffer]);
  return { y, mean, rstd };
}

/**
 * Gradients of layerNorm given the saved `mean` and `rstd`: dx, and the weight/bias gradients
 * (column sums over all rows; computed unless turned off — they do not depend on the forward
 * having had a weight or bias).
 */
export function layerNormBackward(
  dy: DeviceArray,
  x: DeviceArray,
  weight: DeviceArray | null | undefined,
  mean: DeviceArray,
  rstd: DeviceArray,
  options: { weightGrad?: boolean; biasGrad?: boolean } = {},
): NormGrads {
  return normBackward('layerNormBackward', dy, x, weight ?? null, mean, rstd, options.weightGrad ?? true, options.biasGrad ?? true);
}

/** y = x · rstd ⊙ weight with rstd = 1/sqrt(mean(x²) + eps) over the last axis. */
export function rmsNorm(x: DeviceArray, weight?: DeviceArray | null, eps = 1e-6): RmsNormResult {
  const op = 'rmsNorm';
  const { rows, cols, rowShape } = checkInput(op, x, eps);
  checkParam(op, 'weight', weight, cols);
  const y = DeviceArray.empty(x.shape, 'f32', op);
  const rstd = DeviceArray.empty(rowShape, 'f32', op);
  if (rows === 0) return { y, rstd };
  const k = new RowKernel(planRows(rows, cols));
  const inputs: Array<[string, string]> = weight ? [['x', 'V'], ['w', 'V']] : [['x', 'V']];
  const code = k.source(`${op}:${!!weight}:${cols}:${eps}`, () => {
    const body = `${k.load(['x'])}
  var q = 0.0;
  ${k.each((at) => `q += hsum(${at('x')} * ${at('x')});`)}
  ${k.reduce('q', { type: 'f32', combine: 'comb_sum' }, 'q')}
  let rs = inverseSqrt(q / ${f32Lit(cols)} + ${f32Lit(eps)});
  if (row_ok) {
    ${k.each((at) => `y[rb + u] = ${at('x')} * rs${weight ? ' * w[u]' : ''};`)}
    if (ty == 0u) { rstd_out[row] = rs; }
  }`;
    return k.shader(inputs, [['y', 'V'], ['rstd_out', 'f32']], body);
  });
  k.dispatch(op, code, weight ? [x.buffer, weight.buffer] : [x.buffer], [y.buffer, rstd.buffer]);
  return { y, rstd };
}

/** Gradients of rmsNorm given the saved `rstd`: dx and (unless turned off) dweight; dbias is null. */
export function rmsNormBackward(
  dy: DeviceArray,
  x: DeviceArray,
  weight: DeviceArray | null | undefined,
  rstd: DeviceArray,
  options: { weightGrad?: boolean } = {},
): NormGrads {
  return normBackward('rmsNormBackward', dy, x, weight ?? null, null, rstd, options.weightGrad ?? true, false);
}

function checkInput(op: string, x: DeviceArray, eps: number): { rows: number; cols: number; rowShape: number[] } {
  if (x.dtype !== 'f32') throw new Error(`${op}: expected f32 input, got ${x.dtype} of shape ${fmt(x.shape)}`);
  if (x.rank === 0) throw new Error(`${op}: input must have a last axis to normalise, got a scalar`);
  if (!(eps >= 0) || !Number.isFinite(eps)) throw new Error(`${op}: eps must be a finite number ≥ 0, got ${eps}`);
  const cols = x.shape[x.rank - 1];
  const rowShape = x.shape.slice(0, -1);
  const rows = rowShape.reduce((a, b) => a * b, 1);
  if (cols === 0 && rows > 0) throw new Error(`${op}: cannot normalise over an empty last axis (input ${fmt(x.shape)})`);
  return { rows, cols, rowShape };
}

function checkParam(op: string, name: string, p: DeviceArray | null | undefined, cols: number): void {
  if (!p) return;
  if (p.dtype !== 'f32' || !shapesEqual(p.shape, [cols])) {
    throw new Error(`${op}: ${name} ${fmt(p.shape)} (${p.dtype}) should be f32 of shape [${cols}]`);
  }
}

function normBackward(
  op: string,
  dy: DeviceArray,
  x: DeviceArray,
  weight: DeviceArray | null,
  mean: DeviceArray | null,
  rstd: DeviceArray,
  weightGrad: boolean,
  biasGrad: boolean,
): NormGrads {
  const { rows, cols, rowShape } = checkInput(op, x, 0);
  if (!shapesEqual(dy.shape, x.shape) || dy.dtype !== 'f32') throw new Error(`${op}: dy ${fmt(dy.shape)} should be f32 of the shape of x ${fmt(x.shape)}`);
  checkParam(op, 'weight', weight, cols);
  for (const [name, s] of [['mean', mean], ['rstd', rstd]] as const) {
    if (s && !shapesEqual(s.shape, rowShape)) throw new Error(`${op}: ${name} ${fmt(s.shape)} should be ${fmt(rowShape)} for x ${fmt(x.shape)}`);
  }
  const dx = DeviceArray.empty(x.shape, 'f32', op);
  if (rows > 0) {
    // dx = rstd · (g − mean(g) − x̂ · mean(g ⊙ x̂)) with g = dy ⊙ weight (RMSNorm: no mean(g) term).
    const k = new RowKernel(planRows(rows, cols));
    const inputs: Array<[string, string]> = [['dy', 'V'], ['x', 'V']];
    const buffers = [dy.buffer, x.buffer];
    if (weight) (inputs.push(['w', 'V']), buffers.push(weight.buffer));
    if (mean) (inputs.push(['mean', 'f32']), buffers.push(mean.buffer));
    inputs.push(['rstd', 'f32']);
    buffers.push(rstd.buffer);
    const g = (at: (n: string) => string) => `${at('dy')}${weight ? ' * w[u]' : ''}`;
    const xhat = (at: (n: string) => string) => (mean ? `(${at('x')} - mu) * rs` : `${at('x')} * rs`);
    const n = f32Lit(cols);
    const code = k.source(`${op}:${!!weight}:${!!mean}:${cols}`, () => {
      const body = `${k.load(['dy', 'x'])}
  let rs = rstd[row];
  ${mean ? 'let mu = mean[row];' : ''}
  var ab = vec2<f32>(0.0);
  ${k.each((at) => `let xh = ${xhat(at)}; let g = ${g(at)}; ab += vec2<f32>(hsum(g), hsum(g * xh));`)}
  ${k.reduce('ab', { type: 'vec2<f32>', combine: 'comb_sum2' }, 'ab')}
  let a = ${mean ? `ab.x / ${n}` : '0.0'};
  let b = ab.y / ${n};
  if (row_ok) { ${k.each((at) => `let xh = ${xhat(at)}; dx[rb + u] = rs * ((${g(at)} - a) - xh * b);`)} }`;
      return k.shader(inputs, [['dx', 'V']], body);
    });
    k.dispatch(op, code, buffers, [dx.buffer]);
  }
  const params = weightGrad || biasGrad ? paramGrads(op, dy, x, mean, rstd, rows, cols, weightGrad, biasGrad) : { dw: null, db: null };
  return { dx, dweight: params.dw, dbias: params.db };
}

/**
 * Column sums over all rows of dy ⊙ x̂ (dweight) and dy (dbias), in two passes. First, each thread
 * takes one column unit (adjacent threads, adjacent columns, vec4 when possible: reads coalesce) and
 * a strided share of a block of rows, and writes its own partial row; no shared memory or barriers.
 * Then the partial rows [P, C] are summed by the column reduction of `sum`.
 */
function paramGrads(
  op: string,
  dy: DeviceArray,
  x: DeviceArray,
  mean: DeviceArray | null,
  rstd: DeviceArray,
  rows: number,
  cols: number,
  wantW: boolean,
  wantB: boolean,
): { dw: DeviceArray | null; db: DeviceArray | null } {
  const name = `${op}-params`;
  if (rows === 0) {
    const zero = () => {
      const z = DeviceArray.empty([cols], 'f32', name);
      rt().fillWords(z.buffer, cols, 0);
      return z;
    };
    return { dw: wantW ? zero() : null, db: wantB ? zero() : null };
  }
  const width = cols % 4 === 0 ? 4 : 1;
  const units = cols / width;
  const W = maxThreads();
  let TX = Math.min(pow2ceil(units), Math.max(16, W / 4));
  const TY = Math.min(W / TX, pow2ceil(rows));
  TX = Math.min(W / TY, pow2ceil(units));
  const tiles = Math.ceil(units / TX);
  const chunk = Math.ceil(rows / chooseSplits(rows, tiles));
  const splits = Math.ceil(rows / chunk);
  const partials = splits * TY;

  const V = width === 4 ? 'vec4<f32>' : 'f32';
  const inputs: Array<[string, string]> = [['dy', V]];
  const buffers = [dy.buffer];
  if (wantW) {
    inputs.push(['x', V]);
    buffers.push(x.buffer);
    if (mean) (inputs.push(['mean', 'f32']), buffers.push(mean.buffer));
    inputs.push(['rstd', 'f32']);
    buffers.push(rstd.buffer);
  }
  const outputs: Array<[string, string]> = [];
  if (wantW) outputs.push(['dw_out', V]);
  if (wantB) outputs.push(['db_out', V]);
  // Row counts are uniforms (batch sizes vary); only the column layout is baked.
  const params = new Params().u32('rows', rows).u32('chunk', chunk).u32('count', tiles * splits);
  const code = kernelSource(`${name}:${width}:${units}:${TX}x${TY}:${tiles}:${wantW}${wantB}${!!mean}`, () => `${bindings(inputs, outputs)}${params.decl(inputs.length + outputs.length)}
@compute @workgroup_size(${TX * TY})
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let wid = wg.x + wg.y * nwg.x;
  if (wid >= p.count) { return; }
  let tile = wid % ${tiles}u;
  let split = wid / ${tiles}u;
  let tx = lid % ${TX}u;
  let ty = lid / ${TX}u;
  let cu = tile * ${TX}u + tx;
  if (cu >= ${units}u) { return; }
  var aw = ${V}(0.0);
  var ab = ${V}(0.0);
  let r_end = min(p.rows, split * p.chunk + p.chunk);
  for (var r = split * p.chunk + ty; r < r_end; r += ${TY}u) {
    let i = r * ${units}u + cu;
    let d = dy[i];
    ${wantW ? `aw += d * ((x[i]${mean ? ' - mean[r]' : ''}) * rstd[r]);` : ''}
    ${wantB ? 'ab += d;' : ''}
  }
  let o = (split * ${TY}u + ty) * ${units}u + cu;
  ${wantW ? 'dw_out[o] = aw;' : ''}
  ${wantB ? 'db_out[o] = ab;' : ''}
}`);
  const pw = wantW ? DeviceArray.empty([partials, cols], 'f32', name) : null;
  const pb = wantB ? DeviceArray.empty([partials, cols], 'f32', name) : null;
  const outBuffers = [pw, pb].filter((a): a is DeviceArray => a !== null).map((a) => a.buffer);
  rt().dispatch({ name, code, inputs: buffers, outputs: outBuffers, params: params.pack(), workgroups: foldGroups(tiles * splits) });
  const finish = (p: DeviceArray | null): DeviceArray | null => {
    if (!p) return null;
    const out = partials === 1 ? p.reshape([cols]) : sum(p, 0);
    p.dispose();
    return out;
  };
  return { dw: finish(pw), db: finish(pb) };
}
