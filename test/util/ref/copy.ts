// Float64 CPU references for the data-movement kernels (permute, slice, pad, gather, 2× upsampling, …).
import { sizeOf, strides } from './shape.ts';

/** Calls `fn(coords, flat)` for every coordinate of `shape` in row-major order. */
export function forEachIndex(shape: readonly number[], fn: (coords: number[], flat: number) => void): void {
  const n = sizeOf(shape);
  const st = strides(shape);
  for (let i = 0; i < n; i++) fn(shape.map((d, k) => Math.floor(i / st[k]) % d), i);
}

function at(data: ArrayLike<number>, shape: readonly number[], coords: number[]): number {
  const st = strides(shape);
  return data[coords.reduce((acc, c, k) => acc + c * st[k], 0)];
}

export function refPermute(data: ArrayLike<number>, shape: readonly number[], axes: number[]): number[] {
  const out: number[] = [];
  forEachIndex(axes.map((a) => shape[a]), (c) => {
    const src = new Array<number>(shape.length);
    axes.forEach((a, k) => (src[a] = c[k]));
    out.push(at(data, shape, src));
  });
  return out;
}

/** Python range semantics per axis: returns the selected indices for (start, end, step) of `dim`. */
export function pyRange(dim: number, start: number, end: number, step: number): number[] {
  const norm = (i: number) => Math.min(Math.max(i < 0 ? i + dim : i, 0), dim);
  const out: number[] = [];
  for (let i = norm(start); i < norm(end); i += step) out.push(i);
  return out;
}

/** Selects `picks[d]` indices along every axis d (an outer product of index lists). */
export function refTake(data: ArrayLike<number>, shape: readonly number[], picks: number[][]): { data: number[]; shape: number[] } {
  const outShape = picks.map((p) => p.length);
  const out: number[] = [];
  forEachIndex(outShape, (c) => out.push(at(data, shape, c.map((ci, d) => picks[d][ci]))));
  return { data: out, shape: outShape };
}

export function refPad(data: ArrayLike<number>, shape: readonly number[], padding: Array<[number, number]>, value: number): number[] {
  const outShape = shape.map((d, i) => d + padding[i][0] + padding[i][1]);
  const out: number[] = [];
  forEachIndex(outShape, (c) => {
    const src = c.map((ci, d) => ci - padding[d][0]);
    out.push(src.every((s, d) => s >= 0 && s < shape[d]) ? at(data, shape, src) : value);
  });
  return out;
}

/** gather along `axis` with out-of-range indices giving 0. */
export function refGather(data: ArrayLike<number>, shape: readonly number[], indices: ArrayLike<number>, indexShape: number[], axis: number): number[] {
  const outShape = [...shape.slice(0, axis), ...indexShape, ...shape.slice(axis + 1)];
  const out: number[] = [];
  const ist = strides(indexShape);
  forEachIndex(outShape, (c) => {
    const ic = c.slice(axis, axis + indexShape.length);
    const idx = indices[ic.reduce((acc, v, k) => acc + v * ist[k], 0)];
    if (idx < 0 || idx >= shape[axis]) out.push(0);
    else out.push(at(data, shape, [...c.slice(0, axis), idx, ...c.slice(axis + indexShape.length)]));
  });
  return out;
}

export function refScatterAdd(updates: ArrayLike<number>, updShape: number[], indices: ArrayLike<number>, indexShape: number[], axis: number, size: number): Float64Array {
  const outShape = [...updShape.slice(0, axis), size, ...updShape.slice(axis + indexShape.length)];
  const out = new Float64Array(sizeOf(outShape));
  const ost = strides(outShape);
  const ist = strides(indexShape);
  forEachIndex(updShape, (c, flat) => {
    const ic = c.slice(axis, axis + indexShape.length);
    const idx = indices[ic.reduce((acc, v, k) => acc + v * ist[k], 0)];
    if (idx < 0 || idx >= size) return;
    const dst = [...c.slice(0, axis), idx, ...c.slice(axis + indexShape.length)];
    out[dst.reduce((acc, v, k) => acc + v * ost[k], 0)] += updates[flat];
  });
  return out;
}

/** Σ a[i]·b[i] in float64 (adjoint checks: <f(x), dy> = <x, f*(dy)>). */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Nearest-neighbour 2× upsampling of [N, C, H, W]. */
export function refUpsample2x(x: ArrayLike<number>, shape: number[]): Float64Array {
  const [n, c, h, w] = shape;
  const out = new Float64Array(n * c * h * 2 * w * 2);
  const os = strides([n, c, h * 2, w * 2]);
  for (let nc = 0; nc < n * c; nc++)
    for (let y = 0; y < 2 * h; y++)
      for (let xx = 0; xx < 2 * w; xx++) out[nc * os[1] + y * os[2] + xx] = x[(nc * h + (y >> 1)) * w + (xx >> 1)];
  return out;
}
