// Shape ops. reshape-like views share storage; permute, slice, expand, concat, pad and gather copy
// (kernels work on contiguous arrays), and each gradient is the matching inverse movement.
import * as K from '@sd/kernels';
import { fmt, normAxis, sizeOf, type Shape } from '@sd/kernels';
import { fromOp, Tensor } from '../tensor.ts';

/** Resolves one -1 entry, like PyTorch's view. */
function resolveShape(op: string, shape: Shape, size: number): number[] {
  const s = [...shape];
  const free = s.indexOf(-1);
  if (free >= 0) {
    const known = s.reduce((a, d, i) => (i === free ? a : a * d), 1);
    s[free] = known === 0 ? 0 : size / known;
  }
  if (!s.every((d) => Number.isInteger(d) && d >= 0) || sizeOf(s) !== size) {
    throw new Error(`${op}: cannot view ${size} elements as ${fmt(shape)}`);
  }
  return s;
}

/** Same data in a new shape (no copy). One dimension may be -1. */
export function reshape(x: Tensor, shape: Shape): Tensor {
  const s = resolveShape('reshape', shape, x.size);
  return fromOp('reshape', x.data.reshape(s), [x], (g) => [reshape(g, x.shape)]);
}

export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  if (x.rank === 0) return reshape(x, [1]);
  const a = normAxis('flatten', startDim, x.rank);
  const b = normAxis('flatten', endDim, x.rank);
  const shape = [...x.shape.slice(0, a), sizeOf(x.shape.slice(a, b + 1)), ...x.shape.slice(b + 1)];
  return reshape(x, shape);
}

export function unsqueeze(x: Tensor, dim: number): Tensor {
  const d = normAxis('unsqueeze', dim, x.rank + 1);
  return reshape(x, [...x.shape.slice(0, d), 1, ...x.shape.slice(d)]);
}

/** Removes size-1 dimensions (all, or the given one). */
export function squeeze(x: Tensor, dim?: number): Tensor {
  if (dim === undefined) return reshape(x, x.shape.filter((d) => d !== 1));
  const d = normAxis('squeeze', dim, x.rank);
  if (x.shape[d] !== 1) return x;
  return reshape(x, x.shape.filter((_, i) => i !== d));
}

export function permute(x: Tensor, axes: number[]): Tensor {
  const perm = axes.map((a) => normAxis('permute', a, x.rank));
  const inverse = new Array<number>(perm.length);
  perm.forEach((p, i) => (inverse[p] = i));
  return fromOp('permute', K.permute(x.data, perm), [x], (g) => [permute(g, inverse)]);
}

export function transpose(x: Tensor, a = -2, b = -1): Tensor {
  const axes = x.shape.map((_, i) => i);
  const i = normAxis('transpose', a, x.rank);
  const j = normAxis('transpose', b, x.rank);
  [axes[i], axes[j]] = [axes[j], axes[i]];
  return permute(x, axes);
}

/**
 * x[start:end:step] along `axis` (Python bounds: negatives count from the end, out of range clamps).
 * The gradient scatters back into zeros.
 */
export function slice(x: Tensor, axis: number, start: number, end: number, step = 1): Tensor {
  const ax = normAxis('slice', axis, x.rank);
  const out = K.slice(x.data, [start], [end], [step], [ax]);
  const dim = x.shape[ax];
  const lo = Math.min(Math.max(start < 0 ? start + dim : start, 0), dim);
  return fromOp('slice', out, [x], (g) => {
    const grad = K.DeviceArray.empty(x.shape, 'f32', 'slice_backward');
    K.rt().fillWords(grad.buffer, grad.size, 0);
    const strides = K.contiguousStrides(x.shape);
    K.stridedCopy('slice_backward', g.data, grad, {
      shape: [...g.shape],
      src: { strides: K.contiguousStrides(g.shape), offset: 0 },
      dst: { strides: strides.map((s, d) => (d === ax ? s * step : s)), offset: lo * strides[ax] },
    });
    return [new Tensor(grad)];
  });
}

/** x[..., start:start+length, ...] along `axis`. */
export const narrow = (x: Tensor, axis: number, start: number, length: number): Tensor => slice(x, axis, start, start + length);

export function concat(xs: Tensor[], axis: number): Tensor {
  if (xs.length === 0) throw new Error('concat: no tensors given');
  const ax = normAxis('concat', axis, xs[0].rank);
  const out = K.concat(
    xs.map((x) => x.data),
    ax,
  );
  return fromOp('concat', out, xs, (g) => {
    const parts = K.split(
      g.data,
      xs.map((x) => x.shape[ax]),
      ax,
    );
    return parts.map((p) => new Tensor(p));
  });
}

/** Splits into pieces of the given sizes (or equal pieces of `sizes` elements) along `axis`. */
export function split(x: Tensor, sizes: number | number[], axis = 0): Tensor[] {
  const ax = normAxis('split', axis, x.rank);
  const dim = x.shape[ax];
  const list = typeof sizes === 'number' ? Array.from({ length: Math.ceil(dim / sizes) }, (_, i) => Math.min(sizes, dim - i * sizes)) : sizes;
  const total = list.reduce((a, b) => a + b, 0);
  if (total !== dim || list.some((n) => !Number.isInteger(n) || n < 0)) {
    throw new Error(`split: sizes [${list.join(', ')}] must be non-negative and sum to ${dim}, the size of axis ${axis} of ${fmt(x.shape)}`);
  }
  let start = 0;
  return list.map((n) => {
    const piece = slice(x, ax, start, start + n);
    start += n;
    return piece;
  });
}

/** `chunks` nearly equal pieces along `axis`, like torch.chunk. */
export function chunk(x: Tensor, chunks: number, axis = 0): Tensor[] {
  const dim = x.shape[normAxis('chunk', axis, x.rank)];
  return split(x, Math.ceil(dim / chunks), axis);
}

/** Constant padding: `padding[d] = [before, after]` for every dimension d. */
export function pad(x: Tensor, padding: Array<[number, number]>, value = 0): Tensor {
  return fromOp('pad', K.pad(x.data, padding, value), [x], (g) => [new Tensor(K.padBackward(g.data, padding))]);
}

/** Broadcast copy to `shape` (-1 keeps that dimension, like PyTorch); the gradient sums back. */
export function expand(x: Tensor, shape: Shape): Tensor {
  const lead = shape.length - x.rank;
  const target = shape.map((d, i) => (d === -1 && i >= lead ? x.shape[i - lead] : d));
  return fromOp('expand', K.expand(x.data, target), [x], (g) => [new Tensor(K.sumTo(g.data, x.shape))]);
}

/** Entries of `x` along `axis` at `indices` (i32): shape x[:axis] + indices + x[axis+1:]. */
export function gather(x: Tensor, indices: Tensor, axis = 0): Tensor {
  const ax = normAxis('gather', axis, x.rank);
  return fromOp('gather', K.gather(x.data, indices.data, ax), [x], (g) => [
    new Tensor(K.scatterAdd(g.data, indices.data, ax, x.shape[ax])),
  ]);
}

/** Nearest-neighbour 2× upsampling of NCHW images. */
export function upsampleNearest2x(x: Tensor): Tensor {
  return fromOp('upsampleNearest2x', K.upsampleNearest2x(x.data), [x], (g) => [new Tensor(K.upsampleNearest2xBackward(g.data))]);
}

export function cast(x: Tensor, dtype: K.DType): Tensor {
  return new Tensor(K.cast(x.data, dtype));
}
