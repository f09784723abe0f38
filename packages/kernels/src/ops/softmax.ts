// Softmax and log-softmax over the last axis, and their backward rules. Numerically stable: the row
// maximum is subtracted before exp, so logits like ±1e4 neither overflow nor underflow to NaN.
import { DeviceArray } from '../array.ts';
import { fmt, shapesEqual } from '../shape.ts';
import { planRows, RowKernel } from './rows.ts';

/** softmax(x) over the last axis. */
export function softmax(x: DeviceArray): DeviceArray {
  return forward('softmax', x, false);
}

/** log(softmax(x)) over the last axis, computed as x − max − log Σ exp(x − max). */
export function logSoftmax(x: DeviceArray): DeviceArray {
  return forward('logSoftmax', x, true);
}

/** Gradient of softmax from its output `y`: dx = y ⊙ (dy − Σ dy ⊙ y) per row. */
export function softmaxBackward(y: DeviceArray, dy: DeviceArray): DeviceArray {
  return backward('softmaxBackward', y, dy, false);
}

/** Gradient of logSoftmax from its output `y`: dx = dy − exp(y) · Σ dy per row. */
export function logSoftmaxBackward(y: DeviceArray, dy: DeviceArray): DeviceArray {
  return backward('logSoftmaxBackward', y, dy, true);
}

function rowsOf(x: DeviceArray): { rows: number; cols: number } {
  const cols = x.rank === 0 ? 1 : x.shape[x.rank - 1];
  return { rows: cols === 0 ? 0 : x.size / cols, cols };
}

function checkF32(op: string, ...arrays: DeviceArray[]): void {
  for (const a of arrays) if (a.dtype !== 'f32') throw new Error(`${op}: expected f32 input, got ${a.dtype} of shape ${fmt(a.shape)}`);
}

function forward(name: string, x: DeviceArray, log: boolean): DeviceArray {
  checkF32(name, x);
  const out = DeviceArray.empty(x.shape, 'f32', name);
  const { rows, cols } = rowsOf(x);
  if (x.size === 0) return out;
  const k = new RowKernel(planRows(rows, cols));
  const stats = `${k.load(['x'])}
  ${k.maxAndSumExp('x', !log)}`;
  // Cached rows already hold exp(x − m) (softmax) or x (log-softmax); uncached ones re-read x.
  // (x − m) − log s, not x − (m + log s): the latter rounds at the magnitude of m (±1e4).
  const cached = k.plan.cached;
  const write = log
    ? `let log_s = log(s);
  if (row_ok) { ${k.each((at) => `y[rb + u] = (${at('x')} - m) - log_s;`)} }`
    : `let inv = 1.0 / s;
  if (row_ok) { ${k.each((at) => `y[rb + u] = ${cached ? at('x') : `exp(${at('x')} - m)`} * inv;`)} }`;
  const code = k.shader([['x', 'V']], [['y', 'V']], `${stats}\n  ${write}`);
  k.dispatch(name, code, [x.buffer], [out.buffer]);
  return out;
}

function backward(name: string, y: DeviceArray, dy: DeviceArray, log: boolean): DeviceArray {
  checkF32(name, y, dy);
  if (!shapesEqual(y.shape, dy.shape)) throw new Error(`${name}: y ${fmt(y.shape)} and dy ${fmt(dy.shape)} must have the same shape`);
  const out = DeviceArray.empty(y.shape, 'f32', name);
  const { rows, cols } = rowsOf(y);
  if (y.size === 0) return out;
  const k = new RowKernel(planRows(rows, cols));
  const body = log
    ? `${k.load(['y', 'dy'])}
  var g = 0.0;
  ${k.each((at) => `g += hsum(${at('dy')});`)}
  ${k.reduce('g', { type: 'f32', combine: 'comb_sum' }, 'g')}
  if (row_ok) { ${k.each((at) => `dx[rb + u] = ${at('dy')} - exp(${at('y')}) * g;`)} }`
    : `${k.load(['y', 'dy'])}
  var d = 0.0;
  ${k.each((at) => `d += hsum(${at('y')} * ${at('dy')});`)}
  ${k.reduce('d', { type: 'f32', combine: 'comb_sum' }, 'd')}
  if (row_ok) { ${k.each((at) => `dx[rb + u] = ${at('y')} * (${at('dy')} - d);`)} }`;
  const code = k.shader([['y', 'V'], ['dy', 'V']], [['dx', 'V']], body);
  k.dispatch(name, code, [y.buffer, dy.buffer], [out.buffer]);
  return out;
}
