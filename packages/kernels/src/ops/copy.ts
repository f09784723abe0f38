// Data-movement ops: permute/transpose, slice, concat/split, pad, expand, nearest 2× upsampling, cast.
// All of them (except the 2×2 block sum of upsampling's gradient) are plans for the strided copy.
import { DeviceArray, type DType } from '../array.ts';
import { rt } from '../runtime/current.ts';
import { broadcastShapes, broadcastStrides, contiguousStrides, fmt, normAxis, shapesEqual, type Shape } from '../shape.ts';
import { bindings, grid, gridMain, linearIndex } from '../wgsl.ts';
import { stridedCopy } from './strided-copy.ts';

/** Contiguous copy of `x` with its axes reordered: out.shape[i] = x.shape[axes[i]] (negative axes allowed). */
export function permute(x: DeviceArray, axes: number[]): DeviceArray {
  if (axes.length !== x.rank) throw new Error(`permute: ${axes.length} axes [${axes.join(', ')}] given for an array of shape ${fmt(x.shape)}`);
  const perm = axes.map((a) => normAxis('permute', a, x.rank));
  if (new Set(perm).size !== perm.length) throw new Error(`permute: axes [${axes.join(', ')}] are not a permutation for shape ${fmt(x.shape)}`);
  const shape = perm.map((a) => x.shape[a]);
  const inStrides = contiguousStrides(x.shape);
  const out = DeviceArray.empty(shape, x.dtype, 'permute');
  stridedCopy('permute', x, out, {
    shape,
    src: { strides: perm.map((a) => inStrides[a]), offset: 0 },
    dst: { strides: contiguousStrides(shape), offset: 0 },
  });
  return out;
}

/** Swaps two axes (a contiguous copy). */
export function transpose(x: DeviceArray, a = -2, b = -1): DeviceArray {
  const axes = x.shape.map((_, i) => i);
  const i = normAxis('transpose', a, x.rank);
  const j = normAxis('transpose', b, x.rank);
  [axes[i], axes[j]] = [axes[j], axes[i]];
  return permute(x, axes);
}

/** Python-style bounds for one axis: negative values count from the end, then clamp to [0, dim]. */
function clampIndex(i: number, dim: number): number {
  const v = i < 0 ? i + dim : i;
  return Math.min(Math.max(v, 0), dim);
}

/**
 * x[starts[0]:ends[0]:steps[0], …] like Python/NumPy basic slicing with positive steps: negative
 * starts/ends count from the end and out-of-range bounds clamp (±Infinity works as "to the edge").
 * The k-th bound applies to `axes[k]` (default: axis k); unlisted axes are kept whole.
 */
export function slice(x: DeviceArray, starts: number[], ends: number[], steps?: number[], axes?: number[]): DeviceArray {
  const what = () => `slice: starts [${starts.join(', ')}], ends [${ends.join(', ')}]${steps ? `, steps [${steps.join(', ')}]` : ''} for shape ${fmt(x.shape)}`;
  const targets = (axes ?? starts.map((_, k) => k)).map((a) => normAxis('slice', a, x.rank));
  if (ends.length !== starts.length || (steps && steps.length !== starts.length) || targets.length !== starts.length) {
    throw new Error(`${what()}: every bound list needs one entry per sliced axis`);
  }
  if (new Set(targets).size !== targets.length) throw new Error(`${what()}: an axis is sliced twice`);
  const lo = x.shape.map(() => 0);
  const step = x.shape.map(() => 1);
  const shape = [...x.shape];
  targets.forEach((axis, k) => {
    const s = steps?.[k] ?? 1;
    if (!Number.isInteger(s) || s < 1) throw new Error(`${what()}: steps must be positive integers`);
    const dim = x.shape[axis];
    const b = clampIndex(starts[k], dim);
    const e = clampIndex(ends[k], dim);
    lo[axis] = b;
    step[axis] = s;
    shape[axis] = e > b ? Math.ceil((e - b) / s) : 0;
  });
  const inStrides = contiguousStrides(x.shape);
  const out = DeviceArray.empty(shape, x.dtype, 'slice');
  stridedCopy('slice', x, out, {
    shape,
    src: { strides: inStrides.map((st, d) => st * step[d]), offset: lo.reduce((acc, b, d) => acc + b * inStrides[d], 0) },
    dst: { strides: contiguousStrides(shape), offset: 0 },
  });
  return out;
}

/** Joins arrays along `axis`; all other dimensions and the dtype must agree. */
export function concat(xs: DeviceArray[], axis: number): DeviceArray {
  if (xs.length === 0) throw new Error('concat: no arrays given');
  const first = xs[0];
  const ax = normAxis('concat', axis, first.rank);
  for (const x of xs) {
    const same = x.rank === first.rank && x.shape.every((d, i) => i === ax || d === first.shape[i]);
    if (!same || x.dtype !== first.dtype) {
      throw new Error(`concat: shapes ${xs.map((a) => `${fmt(a.shape)} ${a.dtype}`).join(', ')} differ outside axis ${ax}`);
    }
  }
  const shape = [...first.shape];
  shape[ax] = xs.reduce((acc, x) => acc + x.shape[ax], 0);
  const out = DeviceArray.empty(shape, first.dtype, 'concat');
  const outStrides = contiguousStrides(shape);
  let at = 0;
  for (const x of xs) {
    // Each piece writes its own slab of the output: no dispatch reads what another writes.
    stridedCopy('concat', x, out, {
      shape: [...x.shape],
      src: { strides: contiguousStrides(x.shape), offset: 0 },
      dst: { strides: outStrides, offset: at * outStrides[ax] },
    });
    at += x.shape[ax];
  }
  return out;
}

/** Splits `x` along `axis` into pieces of the given sizes (which must add up to the axis length). */
export function split(x: DeviceArray, sizes: number[], axis: number): DeviceArray[] {
  const ax = normAxis('split', axis, x.rank);
  const total = sizes.reduce((a, b) => a + b, 0);
  if (total !== x.shape[ax] || sizes.some((s) => !Number.isInteger(s) || s < 0)) {
    throw new Error(`split: sizes [${sizes.join(', ')}] do not add up to axis ${ax} of shape ${fmt(x.shape)}`);
  }
  let at = 0;
  return sizes.map((s) => {
    const piece = slice(x, [at], [at + s], undefined, [ax]);
    at += s;
    return piece;
  });
}

/** Checks `padding` ([before, after] per axis, one pair per axis of `shape`) and returns the padded shape. */
function paddedShape(op: string, shape: Shape, padding: Array<[number, number]>): number[] {
  if (padding.length !== shape.length) {
    throw new Error(`${op}: ${padding.length} padding pairs given for shape ${fmt(shape)} (one [before, after] per axis)`);
  }
  for (const [b, a] of padding) {
    if (!Number.isInteger(b) || !Number.isInteger(a) || b < 0 || a < 0) {
      throw new Error(`${op}: padding ${JSON.stringify(padding)} must be non-negative integers`);
    }
  }
  return shape.map((d, i) => d + padding[i][0] + padding[i][1]);
}

/** Constant padding: out.shape[i] = x.shape[i] + before_i + after_i, new elements = `value`. */
export function pad(x: DeviceArray, padding: Array<[number, number]>, value = 0): DeviceArray {
  const shape = paddedShape('pad', x.shape, padding);
  const out = DeviceArray.empty(shape, x.dtype, 'pad');
  stridedCopy('pad', x, out, {
    shape,
    src: { strides: contiguousStrides(x.shape), offset: 0 },
    dst: { strides: contiguousStrides(shape), offset: 0 },
    window: padding.map(([b], i) => [b, b + x.shape[i]]),
    fill: value,
  });
  return out;
}

/** Gradient of `pad`: the un-padded window of `dy` (the padding cells get no gradient). */
export function padBackward(dy: DeviceArray, padding: Array<[number, number]>): DeviceArray {
  if (padding.length !== dy.rank) throw new Error(`padBackward: ${padding.length} padding pairs given for gradient shape ${fmt(dy.shape)}`);
  const inner = dy.shape.map((d, i) => d - padding[i][0] - padding[i][1]);
  if (inner.some((d) => d < 0)) throw new Error(`padBackward: padding ${JSON.stringify(padding)} is larger than gradient shape ${fmt(dy.shape)}`);
  paddedShape('padBackward', inner, padding);
  return slice(dy, padding.map(([b]) => b), padding.map(([b], i) => b + inner[i]));
}

/**
 * Broadcast copy of `x` to `shape` (NumPy rules: leading axes added, size-1 axes repeated).
 * Its gradient is a sum-reduction of dy back to x.shape (in the reduction ops, not here).
 */
export function expand(x: DeviceArray, shape: Shape): DeviceArray {
  const target = [...shape];
  if (target.length < x.rank || !shapesEqual(broadcastShapes('expand', x.shape, target), target)) {
    throw new Error(`expand: shape ${fmt(x.shape)} cannot be broadcast to ${fmt(target)}`);
  }
  const out = DeviceArray.empty(target, x.dtype, 'expand');
  stridedCopy('expand', x, out, {
    shape: target,
    src: { strides: broadcastStrides(x.shape, target), offset: 0 },
    dst: { strides: contiguousStrides(target), offset: 0 },
  });
  return out;
}

function checkNCHW(op: string, x: DeviceArray): [number, number, number, number] {
  if (x.rank !== 4) throw new Error(`${op}: expected an NCHW array, got shape ${fmt(x.shape)}`);
  return x.shape as unknown as [number, number, number, number];
}

/** Nearest-neighbour 2× upsampling of NCHW: out[n, c, y, x] = x[n, c, ⌊y/2⌋, ⌊x/2⌋]. */
export function upsampleNearest2x(x: DeviceArray): DeviceArray {
  const [n, c, h, w] = checkNCHW('upsampleNearest2x', x);
  const out = DeviceArray.empty([n, c, 2 * h, 2 * w], x.dtype, 'upsampleNearest2x');
  // View the output as [n, c, h, 2, w, 2]: the two "2" axes repeat the source (stride 0).
  const iter = [n, c, h, 2, w, 2];
  stridedCopy('upsampleNearest2x', x, out, {
    shape: iter,
    src: { strides: [c * h * w, h * w, w, 0, 1, 0], offset: 0 },
    dst: { strides: contiguousStrides(iter), offset: 0 },
  });
  return out;
}

/** Gradient of `upsampleNearest2x`: each input cell receives the sum of its 2×2 output block. */
export function upsampleNearest2xBackward(dy: DeviceArray): DeviceArray {
  const [n, c, h2, w2] = checkNCHW('upsampleNearest2xBackward', dy);
  if (h2 % 2 || w2 % 2) throw new Error(`upsampleNearest2xBackward: gradient shape ${fmt(dy.shape)} has odd height or width`);
  if (dy.dtype !== 'f32') throw new Error(`upsampleNearest2xBackward: gradient must be f32, got ${dy.dtype}`);
  const w = w2 / 2;
  const out = DeviceArray.empty([n, c, h2 / 2, w], 'f32', 'upsampleNearest2xBackward');
  const total = out.size;
  if (total === 0) return out;
  const code = `${bindings([['dy', 'f32']], [['dx', 'f32']])}
${gridMain()} {
  let idx = ${linearIndex()};
  if (idx >= ${total}u) { return; }
  let row = idx / ${w}u;          // (n, c, y) flattened
  let col = idx - row * ${w}u;
  let top = row * ${2 * w2}u + col * 2u; // dy[n, c, 2y, 2x]
  dx[idx] = (dy[top] + dy[top + 1u]) + (dy[top + ${w2}u] + dy[top + ${w2 + 1}u]);
}`;
  rt().dispatch({ name: 'upsampleNearest2xBackward', code, inputs: [dy.buffer], outputs: [out.buffer], workgroups: grid(total) });
  return out;
}

/**
 * Converts between dtypes with WGSL's conversion rules: f32 → i32/u32 rounds toward zero (and
 * saturates out of range); i32 ↔ u32 keeps the bits. Casting to the same dtype is a copy.
 */
export function cast(x: DeviceArray, dtype: DType): DeviceArray {
  const out = DeviceArray.empty(x.shape, dtype, 'cast');
  stridedCopy(`cast_${x.dtype}_${dtype}`, x, out, {
    shape: [x.size],
    src: { strides: [1], offset: 0 },
    dst: { strides: [1], offset: 0 },
  });
  return out;
}
