// Optimizer kernels: fused AdamW and SGD(-momentum) updates that work IN PLACE on their parameter
// and state buffers, and the global sum of squares used for gradient-norm clipping.
// Per-step scalars (lr, step, …) travel in a uniform, so one pipeline serves every step and tensor.
import { DeviceArray } from '../array.ts';
import { rt } from '../runtime/current.ts';
import { kernelSource } from '../runtime/kernel-source.ts';
import { fmt, shapesEqual } from '../shape.ts';
import { bindings, grid, gridMain, linearIndex, Params, WG } from '../wgsl.ts';
import { mapElementwise } from './elementwise.ts';

/**
 * Multiplies every gradient element by this before the update: a number, or a 1-element f32
 * DeviceArray (e.g. `gradClipScale(...)`, so clipping needs no readback).
 */
export type GradScale = number | DeviceArray;

export interface AdamWOptions {
  lr: number;
  /** 1-based step count t of this update (bias correction uses βᵗ). */
  step: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Decoupled weight decay: p ← p·(1 − lr·weightDecay) before the Adam step. PyTorch's default is 0.01. */
  weightDecay?: number;
  gradScale?: GradScale;
}

function checkState(op: string, param: DeviceArray, others: Record<string, DeviceArray>): void {
  for (const [name, a] of Object.entries({ param, ...others })) {
    if (a.dtype !== 'f32') throw new Error(`${op}: ${name} must be f32, got ${a.dtype}`);
    if (!shapesEqual(a.shape, param.shape)) throw new Error(`${op}: ${name} has shape ${fmt(a.shape)} but param has shape ${fmt(param.shape)}`);
  }
}

function checkStep(op: string, step: number): void {
  if (!Number.isInteger(step) || step < 1) throw new Error(`${op}: step must be an integer ≥ 1, got ${step}`);
}

/** Scale handling shared by both optimizers: an extra input binding when the scale lives on the GPU. */
function scaleSource(op: string, gradScale: GradScale | undefined): { buffer?: DeviceArray; host: number } {
  if (gradScale === undefined) return { host: 1 };
  if (typeof gradScale === 'number') return { host: gradScale };
  if (gradScale.size !== 1 || gradScale.dtype !== 'f32') {
    throw new Error(`${op}: gradScale must be a 1-element f32 array, got ${fmt(gradScale.shape)} ${gradScale.dtype}`);
  }
  return { buffer: gradScale, host: 1 };
}

/**
 * One AdamW step with PyTorch semantics (torch.optim.AdamW, amsgrad off), IN PLACE: `param`, `m`
 * (exp_avg) and `v` (exp_avg_sq) are overwritten; `grad` is only read. Start with m = v = 0, step = 1.
 *   g = grad·gradScale;  p ← p·(1 − lr·wd);  m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²
 *   p ← p − lr/(1−β₁ᵗ) · m / (√v / √(1−β₂ᵗ) + eps)
 */
export function adamw(param: DeviceArray, grad: DeviceArray, m: DeviceArray, v: DeviceArray, options: AdamWOptions): void {
  const { lr, step, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weightDecay = 0.01 } = options;
  checkState('adamw', param, { grad, m, v });
  checkStep('adamw', step);
  const scale = scaleSource('adamw', options.gradScale);
  const n = param.size;
  if (n === 0) return;
  const params = new Params()
    .u32('n', n)
    .f32('decay', 1 - lr * weightDecay)
    .f32('beta1', beta1)
    .f32('one_minus_beta1', 1 - beta1)
    .f32('beta2', beta2)
    .f32('one_minus_beta2', 1 - beta2)
    .f32('step_size', lr / (1 - beta1 ** step))
    .f32('inv_sqrt_bc2', 1 / Math.sqrt(1 - beta2 ** step))
    .f32('eps', eps)
    .f32('scale', scale.host);
  const inputs: Array<[string, string]> = [['grad', 'f32'], ...(scale.buffer ? [['scale_buf', 'f32'] as [string, string]] : [])];
  const code = kernelSource(`adamw:${!!scale.buffer}`, () => `${bindings(inputs, [['param', 'f32'], ['m', 'f32'], ['v', 'f32']])}${params.decl(inputs.length + 3)}
${gridMain()} {
  let i = ${linearIndex()};
  if (i >= p.n) { return; }
  let g = grad[i] * p.scale${scale.buffer ? ' * scale_buf[0]' : ''};
  let mi = p.beta1 * m[i] + p.one_minus_beta1 * g;
  let vi = p.beta2 * v[i] + p.one_minus_beta2 * g * g;
  m[i] = mi;
  v[i] = vi;
  let denom = sqrt(vi) * p.inv_sqrt_bc2 + p.eps;
  param[i] = param[i] * p.decay - p.step_size * mi / denom;
}`);
  rt().dispatch({
    name: 'adamw',
    code,
    inputs: [grad.buffer, ...(scale.buffer ? [scale.buffer.buffer] : [])],
    outputs: [param.buffer, m.buffer, v.buffer],
    params: params.pack(),
    workgroups: grid(n),
  });
}

export interface SgdOptions {
  lr: number;
  /** 1-based step count: at step 1 the momentum buffer is initialised to the gradient (PyTorch). */
  step: number;
  momentum?: number;
  dampening?: number;
  /** Coupled (L2) weight decay: g ← g + weightDecay·p. */
  weightDecay?: number;
  nesterov?: boolean;
  gradScale?: GradScale;
}

/**
 * One SGD step with PyTorch semantics (torch.optim.SGD), IN PLACE on `param` and `momentumBuffer`
 * (pass null when momentum is 0); `grad` is only read.
 *   g = grad·gradScale + wd·p;  b ← (t = 1 ? g : μb + (1−dampening)g);  d = nesterov ? g + μb : b;  p ← p − lr·d
 */
export function sgd(param: DeviceArray, grad: DeviceArray, momentumBuffer: DeviceArray | null, options: SgdOptions): void {
  const { lr, step, momentum = 0, dampening = 0, weightDecay = 0, nesterov = false } = options;
  checkState('sgd', param, momentumBuffer ? { grad, momentumBuffer } : { grad });
  checkStep('sgd', step);
  if (momentum !== 0 && !momentumBuffer) throw new Error(`sgd: momentum ${momentum} needs a momentum buffer`);
  if (nesterov && (momentum <= 0 || dampening !== 0)) throw new Error('sgd: nesterov momentum requires momentum > 0 and zero dampening');
  const scale = scaleSource('sgd', options.gradScale);
  const n = param.size;
  if (n === 0) return;
  const withMomentum = momentumBuffer !== null && momentum !== 0;
  const params = new Params()
    .u32('n', n)
    .f32('lr', lr)
    .f32('momentum', momentum)
    .f32('one_minus_dampening', 1 - dampening)
    .f32('weight_decay', weightDecay)
    .u32('first', step === 1 ? 1 : 0)
    .u32('nesterov', nesterov ? 1 : 0)
    .f32('scale', scale.host);
  const inputs: Array<[string, string]> = [['grad', 'f32'], ...(scale.buffer ? [['scale_buf', 'f32'] as [string, string]] : [])];
  const outputs: Array<[string, string]> = [['param', 'f32'], ...(withMomentum ? [['buf', 'f32'] as [string, string]] : [])];
  const momentumCode = withMomentum
    ? `var b = g;
  if (p.first == 0u) { b = p.momentum * buf[i] + p.one_minus_dampening * g; }
  buf[i] = b;
  let d = select(b, g + p.momentum * b, p.nesterov != 0u);`
    : 'let d = g;';
  const code = `${bindings(inputs, outputs)}${params.decl(inputs.length + outputs.length)}
${gridMain()} {
  let i = ${linearIndex()};
  if (i >= p.n) { return; }
  let w = param[i];
  let g = grad[i] * p.scale${scale.buffer ? ' * scale_buf[0]' : ''} + p.weight_decay * w;
  ${momentumCode}
  param[i] = w - p.lr * d;
}`;
  rt().dispatch({
    name: 'sgd',
    code,
    inputs: [grad.buffer, ...(scale.buffer ? [scale.buffer.buffer] : [])],
    outputs: [param.buffer, ...(withMomentum ? [momentumBuffer!.buffer] : [])],
    params: params.pack(),
    workgroups: grid(n),
  });
}

/** Per-array workgroups of the first reduction pass: enough to fill a GPU, few enough to sum quickly. */
const MAX_GROUPS = 256;
const ITEMS_PER_THREAD = 4;

export const TREE_REDUCE = `
  scratch[t] = acc;
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s >>= 1u) {
    if (t < s) { scratch[t] += scratch[t + s]; }
    workgroupBarrier();
  }`;

/**
 * Σ over all arrays of Σ x², as a new 1-element f32 array (for global gradient-norm clipping).
 * Two passes: per-workgroup f32 partial sums of each array, then one workgroup sums the partials
 * in a fixed order (deterministic).
 */
export function sumOfSquares(xs: DeviceArray[]): DeviceArray {
  for (const x of xs) if (x.dtype !== 'f32') throw new Error(`sumOfSquares: arrays must be f32, got ${x.dtype} of shape ${fmt(x.shape)}`);
  const groups = xs.map((x) => sumOfSquaresGroups(x.size));
  const totalPartials = groups.reduce((a, b) => a + b, 0);
  const partials = DeviceArray.empty([totalPartials], 'f32', 'sumOfSquares');
  const firstPass = kernelSource('sumOfSquares', () => `${bindings([['x', 'f32']], [['partials', 'f32']])}${new Params().u32('n', 0).u32('base', 0).u32('groups', 0).decl(2)}
var<workgroup> scratch: array<f32, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  var acc = 0.0;
  for (var i = wg.x * ${WG}u + t; i < p.n; i += p.groups * ${WG}u) { let v = x[i]; acc += v * v; }
  ${TREE_REDUCE}
  if (t == 0u) { partials[p.base + wg.x] = scratch[0]; }
}`);
  let base = 0;
  xs.forEach((x, k) => {
    if (groups[k] === 0) return;
    const params = new Params().u32('n', x.size).u32('base', base).u32('groups', groups[k]);
    rt().dispatch({ name: 'sumOfSquares', code: firstPass, inputs: [x.buffer], outputs: [partials.buffer], params: params.pack(), workgroups: [groups[k]] });
    base += groups[k];
  });
  const out = sumOfSquaresFinal(partials, totalPartials);
  partials.dispose();
  return out;
}

/** Workgroups of the first pass for an array of `size` elements. */
export function sumOfSquaresGroups(size: number): number {
  return Math.min(MAX_GROUPS, Math.ceil(size / (WG * ITEMS_PER_THREAD)));
}

/** The second pass: one workgroup sums the first `count` partials in a fixed order. */
export function sumOfSquaresFinal(partials: DeviceArray, count: number): DeviceArray {
  const out = DeviceArray.empty([1], 'f32', 'sumOfSquares');
  const params = new Params().u32('n', count);
  const code = kernelSource('sumOfSquares_final', () => `${bindings([['partials', 'f32']], [['out', 'f32']])}${params.decl(2)}
var<workgroup> scratch: array<f32, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) t: u32) {
  var acc = 0.0;
  for (var i = t; i < p.n; i += ${WG}u) { acc += partials[i]; }
  ${TREE_REDUCE}
  if (t == 0u) { out[0] = scratch[0]; }
}`);
  rt().dispatch({ name: 'sumOfSquares_final', code, inputs: [partials.buffer], outputs: [out.buffer], params: params.pack(), workgroups: [1] });
  return out;
}

/**
 * PyTorch's clip_grad_norm_ coefficient from a `sumOfSquares` result, on the GPU:
 * min(1, maxNorm / (√sumSquares + 1e-6)), as a 1-element array to pass as `gradScale`.
 */
export function gradClipScale(sumSquares: DeviceArray, maxNorm: number): DeviceArray {
  return mapElementwise('gradClipScale', 'min(1.0, v1 / (sqrt(v0) + 1e-6))', [sumSquares, maxNorm]);
}
