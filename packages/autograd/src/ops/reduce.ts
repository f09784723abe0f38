// Reductions and the softmax family. Gradients broadcast back over the reduced axes.
import * as K from '@sd/kernels';
import { normAxis } from '@sd/kernels';
import { fromOp, Tensor } from '../tensor.ts';
import { div, eq, mul } from './arithmetic.ts';
import { expand, reshape } from './views.ts';

function axesOf(op: string, x: Tensor, axes?: number | number[]): number[] {
  if (axes === undefined) return x.shape.map((_, i) => i);
  return (Array.isArray(axes) ? axes : [axes]).map((a) => normAxis(op, a, x.rank));
}

/** The reduced shape with size-1 dimensions kept, for broadcasting a gradient back. */
function keptShape(x: Tensor, axes: number[]): number[] {
  return x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

export function sum(x: Tensor, axes?: number | number[], keepDims = false): Tensor {
  const ax = axesOf('sum', x, axes);
  return fromOp('sum', K.sum(x.data, ax, keepDims), [x], (g) => [expand(reshape(g, keptShape(x, ax)), x.shape)]);
}

export function mean(x: Tensor, axes?: number | number[], keepDims = false): Tensor {
  const ax = axesOf('mean', x, axes);
  const count = ax.reduce((n, a) => n * x.shape[a], 1);
  return fromOp('mean', K.mean(x.data, ax, keepDims), [x], (g) => [div(expand(reshape(g, keptShape(x, ax)), x.shape), count)]);
}

/** max/min over axes; the gradient is shared evenly between tied extrema (like torch.amax). */
function extremum(op: 'max' | 'min', x: Tensor, axes?: number | number[], keepDims = false): Tensor {
  const ax = axesOf(op, x, axes);
  const out = op === 'max' ? K.max(x.data, ax, keepDims) : K.min(x.data, ax, keepDims);
  return fromOp(op, out, [x], (g) => {
    const shape = keptShape(x, ax);
    const hit = eq(x, new Tensor(out.reshape(shape)));
    const ties = sum(hit, ax, true);
    return [mul(div(hit, ties), expand(reshape(g, shape), x.shape))];
  });
}

export const max = (x: Tensor, axes?: number | number[], keepDims = false): Tensor => extremum('max', x, axes, keepDims);
export const min = (x: Tensor, axes?: number | number[], keepDims = false): Tensor => extremum('min', x, axes, keepDims);

export function argmax(x: Tensor, axis: number, keepDims = false): Tensor {
  return new Tensor(K.argmax(x.data, normAxis('argmax', axis, x.rank), keepDims));
}

/** Softmax over the last axis (numerically stable). */
export function softmax(x: Tensor): Tensor {
  const y = K.softmax(x.data);
  return fromOp('softmax', y, [x], (g) => [new Tensor(K.softmaxBackward(y, g.data))]);
}

/** Log-softmax over the last axis (numerically stable). */
export function logSoftmax(x: Tensor): Tensor {
  const y = K.logSoftmax(x.data);
  return fromOp('logSoftmax', y, [x], (g) => [new Tensor(K.logSoftmaxBackward(y, g.data))]);
}
