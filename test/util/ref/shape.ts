// Float64 CPU references shared by tests: broadcasting and strided indexing.

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

export function broadcastShape(...shapes: (readonly number[])[]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) s.forEach((d, i) => {
    const o = rank - s.length + i;
    if (d !== 1) out[o] = d;
  });
  return out;
}

/** Values of `data` (shape `shape`) broadcast to `outShape`, as float64. */
export function broadcastTo(data: ArrayLike<number>, shape: readonly number[], outShape: readonly number[]): Float64Array {
  const n = sizeOf(outShape);
  const out = new Float64Array(n);
  const inStrides = strides(shape);
  const offset = outShape.length - shape.length;
  const outStrides = strides(outShape);
  for (let i = 0; i < n; i++) {
    let src = 0;
    for (let d = 0; d < outShape.length; d++) {
      const c = Math.floor(i / outStrides[d]) % outShape[d];
      const id = d - offset;
      if (id >= 0 && shape[id] !== 1) src += c * inStrides[id];
    }
    out[i] = data[src];
  }
  return out;
}

/** Sums `grad` (shape outShape) back to `shape`, the gradient rule of broadcasting. */
export function reduceTo(grad: ArrayLike<number>, outShape: readonly number[], shape: readonly number[]): Float64Array {
  const out = new Float64Array(sizeOf(shape));
  const inStrides = strides(shape);
  const offset = outShape.length - shape.length;
  const outStrides = strides(outShape);
  for (let i = 0; i < grad.length; i++) {
    let dst = 0;
    for (let d = 0; d < outShape.length; d++) {
      const c = Math.floor(i / outStrides[d]) % outShape[d];
      const id = d - offset;
      if (id >= 0 && shape[id] !== 1) dst += c * inStrides[id];
    }
    out[dst] += grad[i];
  }
  return out;
}
