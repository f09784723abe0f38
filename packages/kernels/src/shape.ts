// Shape arithmetic shared by every op: sizes, strides, NumPy broadcasting, axis normalisation.

export type Shape = readonly number[];

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function contiguousStrides(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

export function shapesEqual(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function fmt(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

/** NumPy broadcasting of several shapes; throws naming the op and the shapes when they are incompatible. */
export function broadcastShapes(op: string, ...shapes: Shape[]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const o = rank - s.length + i;
      const d = s[i];
      if (d === out[o] || d === 1) continue;
      if (out[o] === 1) out[o] = d;
      else throw new Error(`${op}: shapes ${shapes.map(fmt).join(' and ')} cannot be broadcast together`);
    }
  }
  return out;
}

/** Strides of `shape` (contiguous) as seen from `outShape`: 0 along broadcast dimensions. */
export function broadcastStrides(shape: Shape, outShape: Shape): number[] {
  const strides = contiguousStrides(shape);
  const offset = outShape.length - shape.length;
  return outShape.map((_, i) => (i < offset || shape[i - offset] === 1 ? 0 : strides[i - offset]));
}

/** Normalises a possibly negative axis; throws naming the op when it is out of range. */
export function normAxis(op: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= Math.max(rank, 1)) throw new Error(`${op}: axis ${axis} is out of range for rank ${rank}`);
  return a;
}

/**
 * Merges adjacent dimensions that every operand traverses contiguously, so kernels index in as few
 * dimensions as possible (a same-shape elementwise op becomes rank 1).
 */
export function collapseDims(shape: Shape, stridesList: number[][]): { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const outStrides: number[][] = stridesList.map(() => []);
  for (let i = 0; i < shape.length; i++) {
    if (shape[i] === 1) continue;
    const last = outShape.length - 1;
    const mergeable =
      last >= 0 && stridesList.every((st, k) => outStrides[k][last] === st[i] * shape[i]);
    if (mergeable) {
      outShape[last] *= shape[i];
      stridesList.forEach((st, k) => (outStrides[k][last] = st[i]));
    } else {
      outShape.push(shape[i]);
      stridesList.forEach((st, k) => outStrides[k].push(st[i]));
    }
  }
  if (outShape.length === 0) return { shape: [1], strides: stridesList.map(() => [1]) };
  return { shape: outShape, strides: outStrides };
}
