// Softmax cross-entropy from logits [..., C] and integer class targets [...], with PyTorch's
// ignoreIndex and reductions, and its backward (softmax − one-hot, scaled).
//
// Out-of-range targets: a GPU kernel cannot throw, so a target that is neither ignoreIndex nor in
// [0, C) makes that row's loss and gradient NaN (and poisons a 'mean'/'sum'). Targets passed as host
// arrays are checked here first and throw instead, naming the bad index.
import { DeviceArray } from '../array.ts';
import { fmt, shapesEqual } from '../shape.ts';
import { mapElementwise } from './elementwise.ts';
import { sum } from './reduce.ts';
import { planRows, RowKernel } from './rows.ts';

export type Reduction = 'mean' | 'sum' | 'none';

export interface CrossEntropyOptions {
  /** Rows whose target equals this contribute no loss and no gradient (default -100, like PyTorch). */
  ignoreIndex?: number;
  /** 'mean' (default) divides by the number of non-ignored rows (NaN if there are none). */
  reduction?: Reduction;
}

/** What the backward needs from the forward; dispose both arrays when done with them. */
export interface CrossEntropySaved {
  /** [..., 2] per row: the row max m and log Σ exp(x − m) (kept apart: their f32 sum would round at the scale of m). */
  stats: DeviceArray;
  /** [] f32: the number of non-ignored rows ('mean' only, else null). */
  count: DeviceArray | null;
}

export interface CrossEntropyResult {
  /** [] for 'mean' and 'sum'; the targets' shape for 'none'. */
  loss: DeviceArray;
  saved: CrossEntropySaved;
}

type Targets = DeviceArray | ArrayLike<number>;

/** Throws if a host target is neither `ignoreIndex` nor a class in [0, classes). */
export function validateTargets(targets: ArrayLike<number>, classes: number, ignoreIndex = -100, op = 'crossEntropy'): void {
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i];
    if (t === ignoreIndex) continue;
    if (!Number.isInteger(t) || t < 0 || t >= classes) {
      throw new Error(`${op}: target ${t} at index ${i} is out of range for ${classes} classes (ignoreIndex ${ignoreIndex})`);
    }
  }
}

/** Cross-entropy of `logits` [..., C] against class indices `targets` [...] (i32 on the device, or host numbers). */
export function crossEntropy(logits: DeviceArray, targets: Targets, options: CrossEntropyOptions = {}): CrossEntropyResult {
  const op = 'crossEntropy';
  const { ignoreIndex, reduction } = resolveOptions(op, options);
  const { rows, cols, rowShape } = checkShapes(op, logits);
  const t = deviceTargets(op, targets, rowShape, cols, ignoreIndex);

  const perRow = DeviceArray.empty(rowShape, 'f32', op);
  const stats = DeviceArray.empty([...rowShape, 2], 'f32', op);
  const valid = reduction === 'mean' ? DeviceArray.empty(rowShape, 'f32', op) : null;
  if (rows > 0) {
    const k = new RowKernel(planRows(rows, cols));
    const target = targetLogit(k.plan.width);
    const body = `${k.load(['x'])}
  ${k.maxAndSumExp('x', false)}
  if (row_ok && ty == 0u) {
    let log_s = log(s);
    let t = tgt[row];
    let tc = u32(clamp(t, 0i, ${cols - 1}i));
    var loss = 0.0;
    var counted = 0.0;
    if (t != ${ignoreIndex}i) {
      counted = 1.0;
      // (m − x_t) + log s: no rounding at the scale of the logits.
      loss = select(nan_f32(), (m - ${target}) + log_s, t >= 0i && t < ${cols}i);
    }
    loss_out[row] = loss;
    stats_out[2u * row] = m;
    stats_out[2u * row + 1u] = log_s;${valid ? '\n    valid_out[row] = counted;' : ''}
  }`;
    const outputs: Array<[string, string]> = [['loss_out', 'f32'], ['stats_out', 'f32']];
    if (valid) outputs.push(['valid_out', 'f32']);
    const code = k.shader([['x', 'V'], ['tgt', 'i32']], outputs, body);
    k.dispatch(op, code, [logits.buffer, t.array.buffer], [perRow.buffer, stats.buffer, ...(valid ? [valid.buffer] : [])]);
  }
  if (t.owned) t.array.dispose();

  if (reduction === 'none') return { loss: perRow, saved: { stats, count: null } };
  const total = sum(perRow);
  perRow.dispose();
  if (!valid) return { loss: total, saved: { stats, count: null } };
  const count = sum(valid);
  valid.dispose();
  const loss = mapElementwise('crossEntropy_mean', 'v0 / v1', [total, count]);
  total.dispose();
  return { loss, saved: { stats, count } };
}

/**
 * Gradient w.r.t. the logits: dloss · (softmax(logits) − onehot(target)) per row (divided by the
 * count for 'mean'; zero on ignored rows). `dloss` has the shape of the forward's loss; `options`
 * must be the forward's.
 */
export function crossEntropyBackward(
  dloss: DeviceArray,
  logits: DeviceArray,
  targets: Targets,
  saved: CrossEntropySaved,
  options: CrossEntropyOptions = {},
): DeviceArray {
  const op = 'crossEntropyBackward';
  const { ignoreIndex, reduction } = resolveOptions(op, options);
  const { rows, cols, rowShape } = checkShapes(op, logits);
  const lossShape = reduction === 'none' ? rowShape : [];
  if (!shapesEqual(dloss.shape, lossShape)) {
    throw new Error(`${op}: dloss ${fmt(dloss.shape)} should be ${fmt(lossShape)} for reduction '${reduction}' of logits ${fmt(logits.shape)}`);
  }
  if (!shapesEqual(saved.stats.shape, [...rowShape, 2])) {
    throw new Error(`${op}: saved stats ${fmt(saved.stats.shape)} do not belong to logits ${fmt(logits.shape)}`);
  }
  if (reduction === 'mean' && !saved.count) throw new Error(`${op}: reduction 'mean' needs saved.count from the forward`);
  const dx = DeviceArray.empty(logits.shape, 'f32', op);
  if (rows === 0 || cols === 0) return dx;
  const t = deviceTargets(op, targets, rowShape, cols, ignoreIndex);

  const k = new RowKernel(planRows(rows, cols));
  const v = k.plan.width === 4;
  const onehot = v
    ? 'select(V(0.0), V(1.0), vec4<i32>(i32(u) * 4i) + vec4<i32>(0i, 1i, 2i, 3i) == vec4<i32>(t))'
    : 'select(0.0, 1.0, i32(u) == t)';
  const upstream = reduction === 'none' ? 'dloss[row]' : reduction === 'sum' ? 'dloss[0]' : 'dloss[0] / count[0]';
  const body = `let t = tgt[row];
  let m = stats[2u * row];
  let log_s = stats[2u * row + 1u];
  var g = select(${upstream}, 0.0, t == ${ignoreIndex}i);
  if (t != ${ignoreIndex}i && (t < 0i || t >= ${cols}i)) { g = nan_f32(); }
  if (row_ok) { ${k.each(() => `let prob = exp((x[rb + u] - m) - log_s); dx[rb + u] = g * (prob - ${onehot});`)} }`;
  const inputs: Array<[string, string]> = [['x', 'V'], ['tgt', 'i32'], ['stats', 'f32'], ['dloss', 'f32']];
  const buffers = [logits.buffer, t.array.buffer, saved.stats.buffer, dloss.buffer];
  if (reduction === 'mean') {
    inputs.push(['count', 'f32']);
    buffers.push(saved.count!.buffer);
  }
  const code = k.shader(inputs, [['dx', 'V']], body);
  k.dispatch(op, code, buffers, [dx.buffer]);
  if (t.owned) t.array.dispose();
  return dx;
}

function resolveOptions(op: string, options: CrossEntropyOptions): { ignoreIndex: number; reduction: Reduction } {
  const ignoreIndex = options.ignoreIndex ?? -100;
  const reduction = options.reduction ?? 'mean';
  if (!Number.isInteger(ignoreIndex) || Math.abs(ignoreIndex) > 2 ** 31 - 1) throw new Error(`${op}: ignoreIndex ${ignoreIndex} is not an i32`);
  if (!['mean', 'sum', 'none'].includes(reduction)) throw new Error(`${op}: unknown reduction '${reduction}' (use 'mean', 'sum' or 'none')`);
  return { ignoreIndex, reduction };
}

function checkShapes(op: string, logits: DeviceArray): { rows: number; cols: number; rowShape: number[] } {
  if (logits.dtype !== 'f32') throw new Error(`${op}: logits must be f32, got ${logits.dtype}`);
  if (logits.rank === 0) throw new Error(`${op}: logits must have a class axis, got a scalar`);
  const cols = logits.shape[logits.rank - 1];
  const rowShape = logits.shape.slice(0, -1);
  const rows = rowShape.reduce((a, b) => a * b, 1);
  if (cols === 0 && rows > 0) throw new Error(`${op}: logits ${fmt(logits.shape)} have no classes`);
  return { rows, cols, rowShape };
}

/** The targets as an i32 device array (uploading host targets after checking them). */
function deviceTargets(op: string, targets: Targets, rowShape: number[], cols: number, ignoreIndex: number): { array: DeviceArray; owned: boolean } {
  if (targets instanceof DeviceArray) {
    if (targets.dtype !== 'i32') throw new Error(`${op}: targets must be i32, got ${targets.dtype}`);
    if (!shapesEqual(targets.shape, rowShape)) {
      throw new Error(`${op}: targets ${fmt(targets.shape)} do not match logits rows ${fmt(rowShape)}`);
    }
    return { array: targets, owned: false };
  }
  const n = rowShape.reduce((a, b) => a * b, 1);
  if (targets.length !== n) throw new Error(`${op}: ${targets.length} targets for logits rows ${fmt(rowShape)} (${n} rows)`);
  validateTargets(targets, cols, ignoreIndex, op);
  return { array: DeviceArray.from(targets, rowShape, 'i32'), owned: true };
}

/** WGSL expression for logit x[row, tc] (tc: the target clamped into range) for `width`-element units. */
function targetLogit(width: number): string {
  return width === 4 ? 'x[rb + tc / 4u][tc % 4u]' : 'x[rb + tc]';
}
