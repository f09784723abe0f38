// Gradient checks of the shape ops (views, copies, concat/split, pad, expand, gather, upsampling)
// and of the reductions and softmax family, against finite differences of float64 references.
import { describe, expect, it } from 'vitest';
import * as ag from '@sd/autograd';
import { tensor } from '@sd/autograd';
import { gradcheck, input } from '../util/gradcheck.ts';
import { makeRng } from '../util/random.ts';
import { broadcastTo, sizeOf } from '../util/ref/shape.ts';
import { forEachIndex, pyRange, refGather, refPad, refPermute, refTake } from '../util/ref/copy.ts';
import { refReduce, refSoftmaxRows } from '../util/ref/reduce.ts';
import { refUpsample2x } from '../util/ref/copy.ts';

const f64 = (v: ArrayLike<number>) => Float64Array.from(v);
const all = (shape: number[]) => shape.map((d) => Array.from({ length: d }, (_, i) => i));

/** x[...] along `axis` with Python slice semantics. */
function refSlice(x: ArrayLike<number>, shape: number[], axis: number, start: number, end: number, step = 1): Float64Array {
  const picks = all(shape);
  picks[axis] = pyRange(shape[axis], start, end, step);
  return f64(refTake(x, shape, picks).data);
}

function refConcat(parts: ArrayLike<number>[], shapes: number[][], axis: number): Float64Array {
  const outShape = [...shapes[0]];
  outShape[axis] = shapes.reduce((n, s) => n + s[axis], 0);
  const out: number[] = [];
  forEachIndex(outShape, (c) => {
    let k = 0;
    let at = c[axis];
    while (at >= shapes[k][axis]) at -= shapes[k++][axis];
    const src = [...c];
    src[axis] = at;
    const st = shapes[k].map((_, d) => sizeOf(shapes[k].slice(d + 1)));
    out.push(parts[k][src.reduce((a, v, d) => a + v * st[d], 0)]);
  });
  return f64(out);
}

describe('view and copy gradients', () => {
  const rng = makeRng(3);

  it('reshape (with -1), view, flatten, squeeze, unsqueeze', async () => {
    const x = input(rng, [2, 1, 3, 4]);
    const id = (v: Float64Array) => v;
    await gradcheck((t) => t.reshape([3, -1]), id, [x], { what: 'reshape' });
    await gradcheck((t) => t.view([-1]), id, [x], { what: 'view' });
    await gradcheck((t) => t.flatten(1, 2), id, [x], { what: 'flatten(1,2)' });
    await gradcheck((t) => t.flatten(), id, [x], { what: 'flatten()' });
    await gradcheck((t) => t.squeeze(), id, [x], { what: 'squeeze()' });
    await gradcheck((t) => t.squeeze(1), id, [x], { what: 'squeeze(1)' });
    await gradcheck((t) => t.squeeze(0), id, [x], { what: 'squeeze(0) of a non-1 dim' });
    await gradcheck((t) => t.unsqueeze(-1), id, [x], { what: 'unsqueeze(-1)' });
    ag.tidy(() => {
      const t = tensor(x.data, x.shape);
      expect(t.flatten(1, 2).shape).toEqual([2, 3, 4]);
      expect(t.squeeze().shape).toEqual([2, 3, 4]);
      expect(t.unsqueeze(-1).shape).toEqual([2, 1, 3, 4, 1]);
      expect(t.reshape([3, -1]).shape).toEqual([3, 8]);
    });
  });

  it('permute and transpose', async () => {
    const shape = [2, 3, 4];
    const x = input(rng, shape);
    for (const axes of [[2, 0, 1], [1, 0, 2], [0, 2, 1], [2, 1, 0]]) {
      await gradcheck((t) => t.permute(axes), (v) => f64(refPermute(v, shape, axes)), [x], { what: `permute ${axes}` });
    }
    await gradcheck((t) => t.transpose(), (v) => f64(refPermute(v, shape, [0, 2, 1])), [x], { what: 'transpose()' });
    await gradcheck((t) => t.transpose(0, -1), (v) => f64(refPermute(v, shape, [2, 1, 0])), [x], { what: 'transpose(0,-1)' });
  });

  it('slice (steps, negative and clamped bounds) and narrow', async () => {
    const shape = [5, 7];
    const x = input(rng, shape);
    const cases: [number, number, number, number][] = [
      [0, 1, 4, 1],
      [1, 0, 7, 2],
      [1, 1, 6, 3],
      [0, -3, 100, 1],
      [-1, -6, -1, 2],
      [1, 2, 3, 5],
    ];
    for (const [axis, start, end, step] of cases) {
      const ax = axis < 0 ? axis + 2 : axis;
      await gradcheck((t) => t.slice(axis, start, end, step), (v) => refSlice(v, shape, ax, start, end, step), [x], {
        what: `slice(${axis}, ${start}, ${end}, ${step})`,
      });
    }
    await gradcheck((t) => ag.narrow(t, 1, 2, 3), (v) => refSlice(v, shape, 1, 2, 5), [x], { what: 'narrow' });
  });

  it('concat, split, chunk', async () => {
    const shapes = [[2, 3, 4], [2, 1, 4], [2, 2, 4]];
    const xs = shapes.map((s) => input(rng, s));
    await gradcheck((...ts) => ag.concat(ts, 1), (...vs) => refConcat(vs, shapes, 1), xs, { what: 'concat axis 1' });
    const rows = [[1, 5], [3, 5], [2, 5]];
    await gradcheck((...ts) => ag.concat(ts, 0), (...vs) => refConcat(vs, rows, 0), rows.map((s) => input(rng, s)), { what: 'concat axis 0' });
    const cols = [[3, 2], [3, 3]];
    await gradcheck((...ts) => ag.concat(ts, -1), (...vs) => refConcat(vs, cols, 1), cols.map((s) => input(rng, s)), { what: 'concat axis -1' });

    const shape = [3, 7];
    const x = input(rng, shape);
    const pieces = (v: Float64Array, bounds: number[]) => bounds.slice(0, -1).map((b, i) => refSlice(v, shape, 1, b, bounds[i + 1]));
    await gradcheck((t) => ag.split(t, [2, 4, 1], 1), (v) => pieces(v, [0, 2, 6, 7]), [x], { what: 'split [2,4,1]' });
    await gradcheck((t) => t.split(3, 1), (v) => pieces(v, [0, 3, 6, 7]), [x], { what: 'split 3' });
    await gradcheck((t) => t.chunk(3, -1), (v) => pieces(v, [0, 3, 6, 7]), [x], { what: 'chunk 3' });
    // Only some pieces used: the others get zero gradient.
    await gradcheck((t) => ag.chunk(t, 2, 1)[1], (v) => pieces(v, [0, 4, 7])[1], [x], { what: 'second chunk only' });
    ag.tidy(() => {
      const t = tensor(x.data, shape);
      expect(ag.chunk(t, 3, 1).map((p) => p.shape)).toEqual([[3, 3], [3, 3], [3, 1]]);
      expect(() => ag.split(t, [2, 4], 1)).toThrow('split: sizes [2, 4] must be non-negative and sum to 7, the size of axis 1 of [3, 7]');
    });
  });

  it('pad and expand', async () => {
    const shape = [2, 3, 4];
    const x = input(rng, shape);
    const padding: [number, number][] = [[0, 1], [2, 0], [1, 3]];
    await gradcheck((t) => ag.pad(t, padding, 0.5), (v) => f64(refPad(v, shape, padding, 0.5)), [x], { what: 'pad' });
    const y = input(rng, [3, 1]);
    await gradcheck((t) => t.expand([2, 3, 5]), (v) => broadcastTo(v, [3, 1], [2, 3, 5]), [y], { what: 'expand [3,1]→[2,3,5]' });
    await gradcheck((t) => t.expand([3, 1]), (v) => v, [y], { what: 'expand to the same shape' });
    await gradcheck((t) => t.expand([2, -1, 4]), (v) => broadcastTo(v, [3, 1], [2, 3, 4]), [y], { what: 'expand with -1' });
  });

  it('gather: embedding lookup with repeated ids accumulates their gradients', async () => {
    const table = input(rng, [6, 4]);
    const idValues = [1, 3, 3, 0, 1, 1, 5, 3];
    await ag.tidy(async () => {
      const ids = tensor(idValues, [2, 4], { dtype: 'i32' });
      await gradcheck((w) => ag.gather(w, ids, 0), (w) => f64(refGather(w, [6, 4], idValues, [2, 4], 0)), [table], { what: 'embedding gather' });
      const cols = tensor([2, 0, 2], [3], { dtype: 'i32' });
      const x = input(rng, [2, 3, 5]);
      await gradcheck((t) => ag.gather(t, cols, 1), (t) => f64(refGather(t, [2, 3, 5], [2, 0, 2], [3], 1)), [x], { what: 'gather axis 1' });
    });
  });

  it('upsampleNearest2x', async () => {
    const shape = [2, 3, 3, 5];
    await gradcheck((t) => ag.upsampleNearest2x(t), (v) => refUpsample2x(v, shape), [input(rng, shape)], { what: 'upsample' });
  });
});

describe('reduction and softmax gradients', () => {
  const rng = makeRng(5);
  const shape = [3, 4, 5];

  for (const op of ['sum', 'mean', 'max', 'min'] as const) {
    it(`${op} over axes, with and without keepDims`, async () => {
      const x = input(rng, shape, -3, 3);
      const axesCases: (number | number[] | undefined)[] = [undefined, 0, -1, [0, 2], [1]];
      for (const axes of axesCases) {
        for (const keepDims of [false, true]) {
          const norm = axes === undefined ? [0, 1, 2] : (Array.isArray(axes) ? axes : [axes]).map((a) => (a + 3) % 3);
          await gradcheck(
            (t) => t[op](axes, keepDims),
            (v) => refReduce(op, v, shape, norm, keepDims).data,
            [x],
            { what: `${op}(${JSON.stringify(axes)}, ${keepDims})` },
          );
        }
      }
      ag.tidy(() => {
        const t = tensor(x.data, shape);
        expect(t[op]([0, 2], true).shape).toEqual([1, 4, 1]);
        expect(t[op](1).shape).toEqual([3, 5]);
        expect(t[op]().shape).toEqual([]);
      });
    });
  }

  it('max/min share the gradient between tied extrema', async () => {
    await ag.tidy(async () => {
      const x = tensor([1, 3, 3, -2, 0, -2], [2, 3], { requiresGrad: true });
      x.max(1).sum().backward();
      expect(await x.grad!.toArray()).toEqual([0, 0.5, 0.5, 0, 1, 0]);
      x.grad!.dispose();
      x.grad = null;
      x.min().backward();
      expect(await x.grad!.toArray()).toEqual([0, 0, 0, 0.5, 0, 0.5]);
    });
  });

  it('softmax and logSoftmax over the last axis', async () => {
    for (const s of [[5], [3, 7], [2, 3, 4]]) {
      const cols = s[s.length - 1];
      const x = input(rng, s, -3, 3);
      await gradcheck((t) => t.softmax(), (v) => refSoftmaxRows(v, cols), [x], { what: `softmax ${s}` });
      await gradcheck((t) => t.logSoftmax(), (v) => refSoftmaxRows(v, cols, true), [x], { what: `logSoftmax ${s}` });
    }
  });

  it('argmax has no gradient history', () => {
    ag.tidy(() => {
      const x = tensor([1, 5, 2], [3], { requiresGrad: true });
      const i = x.argmax(0);
      expect(i.requiresGrad).toBe(false);
    });
  });
});
