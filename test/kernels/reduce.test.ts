import { describe, expect, it } from 'vitest';
import { DeviceArray, argmax, max, mean, min, sum, sumTo, withTuning } from '@sd/kernels';
import { expectClose } from '../util/close.ts';
import { makeRng, uniform } from '../util/random.ts';
import { reduceTo, sizeOf } from '../util/ref/shape.ts';
import { refReduce } from '../util/ref/reduce.ts';
import { OTHER_ADAPTER_REDUCE } from '../util/tunings.ts';

const OPS = { sum, mean, max, min } as const;
type Op = keyof typeof OPS;

function normalise(axes: number | number[] | undefined, rank: number): number[] {
  if (axes === undefined) return [...Array(rank).keys()];
  return (typeof axes === 'number' ? [axes] : axes).map((a) => (a < 0 ? a + rank : a));
}

async function check(op: Op | 'argmax', data: Float32Array, shape: number[], axes: number | number[] | undefined, keepDims: boolean, tol = { rtol: 1e-5, atol: 1e-5 }) {
  const x = DeviceArray.from(data, shape);
  const y = op === 'argmax' ? argmax(x, axes as number | undefined, keepDims) : OPS[op](x, axes, keepDims);
  const ref = refReduce(op, data, shape, normalise(axes, shape.length), keepDims);
  const what = `${op} ${JSON.stringify(shape)} axes=${JSON.stringify(axes)} keepDims=${keepDims}`;
  expect(y.shape, what).toEqual(ref.shape);
  expect(y.dtype, what).toBe(op === 'argmax' ? 'i32' : 'f32');
  const got = await y.read();
  if (op === 'argmax') expect(Array.from(got), what).toEqual(Array.from(ref.data));
  else expectClose(got, ref.data, tol, what);
  x.dispose();
  y.dispose();
}

describe('sum / mean / max / min over axes', () => {
  const rng = makeRng(11);
  const cases: Array<[number[], Array<number | number[] | undefined>]> = [
    [[7], [undefined, 0, -1]],
    [[1], [undefined, 0]],
    [[3, 5], [undefined, 0, 1, -1, [0, 1], [-1, -2]]],
    [[13, 17], [0, 1]],
    [[2, 3, 4], [0, 1, 2, [0, 2], [1, 2], [0, 1], [-3, -1]]],
    [[5, 1, 7], [0, 1, 2, [0, 2], [0, 1]]],
    [[4, 6, 3, 5], [1, [1, 3], [0, 2], [0, 1, 3]]],
    [[1, 1, 1], [undefined, 1, [0, 2]]],
    [[37, 129], [0, 1]], // non-multiples of every lane count
    [[300, 3], [0, 1]], // long columns, short rows
    [[3, 1000], [0, 1]],
  ];
  // mean and min are sum and max with another final write / combine: a subset of cases covers them
  // (each case is a shader compile, and lavapipe compiles slowly).
  for (const op of ['sum', 'mean', 'max', 'min'] as const) {
    it(`${op} matches the float64 reference`, async () => {
      const subset = op === 'mean' || op === 'min' ? cases.filter((_, i) => i % 3 === 0) : cases;
      for (const [shape, axesList] of subset) {
        for (const axes of axesList) {
          for (const keepDims of [false, true]) {
            await check(op, uniform(rng, sizeOf(shape), -2, 2), shape, axes, keepDims);
          }
        }
      }
    });
  }

  it('reduces a scalar and copies when no axes are given', async () => {
    const s = DeviceArray.from([2.5], []);
    for (const f of [sum, mean, max, min]) {
      const y = f(s);
      expect(y.shape).toEqual([]);
      expect(await y.toArray()).toEqual([2.5]);
    }
    const x = DeviceArray.from([1, 2, 3, 4, 5, 6], [2, 3]);
    const c = sum(x, []);
    expect(c.shape).toEqual([2, 3]);
    expect(await c.toArray()).toEqual([1, 2, 3, 4, 5, 6]);
    x.dispose();
    expect(await c.toArray()).toEqual([1, 2, 3, 4, 5, 6]); // a copy, not a view
  });

  it('propagates NaN through max and min, keeps infinities', async () => {
    const x = DeviceArray.from([1, NaN, 3, -Infinity, -Infinity, -Infinity, 5, Infinity, 2], [3, 3]);
    expect(await max(x, 1).toArray()).toEqual([NaN, -Infinity, Infinity]);
    expect(await min(x, 1).toArray()).toEqual([NaN, -Infinity, 2]);
    const cols = DeviceArray.from([1, NaN, -Infinity, 4, 5, 6, -Infinity, NaN], [2, 4]); // four outputs per lane
    expect(await max(cols, 0).toArray()).toEqual([5, NaN, -Infinity, NaN]);
    expect(await min(cols, 0).toArray()).toEqual([1, NaN, -Infinity, NaN]);
  });

  it('handles empty tensors: sum 0, mean NaN, max/min throw', async () => {
    const e = DeviceArray.empty([3, 0], 'f32');
    expect(await sum(e, 1).toArray()).toEqual([0, 0, 0]);
    expect(await mean(e, -1).toArray()).toEqual([NaN, NaN, NaN]);
    expect(await sum(e).toArray()).toEqual([0]);
    const s0 = sum(e, 0);
    expect(s0.shape).toEqual([0]);
    expect(max(e, 0).shape).toEqual([0]); // nothing to reduce per (absent) output
    expect(() => max(e, 1)).toThrow('max: cannot reduce over zero elements (axes [1] of shape [3, 0])');
    expect(() => min(e)).toThrow('min: cannot reduce over zero elements');
    expect(() => argmax(e, 1)).toThrow('argmax: cannot reduce over zero elements');
    expect(sum(e, 1, true).shape).toEqual([3, 1]);
  });

  it('reduces i32 in i32 (mean in f32)', async () => {
    const x = DeviceArray.from([1, -7, 3, 4, 2147483000, 6], [2, 3], 'i32');
    const s = sum(x, 1);
    expect(s.dtype).toBe('i32');
    expect(await s.toArray()).toEqual([-3, 2147483010]);
    expect(await max(x, 0).toArray()).toEqual([4, 2147483000, 6]);
    expect(await min(x).toArray()).toEqual([-7]);
    expect(await argmax(x).toArray()).toEqual([4]);
    const m = mean(x, 0);
    expect(m.dtype).toBe('f32');
    expectClose(await m.read(), [2.5, 1073741496.5, 4.5]);
    const v = DeviceArray.from([1, 2, 3, 4, 8, -6, 7, 8], [2, 4], 'i32'); // vec4 loads
    expect(await sum(v, 1).toArray()).toEqual([10, 17]);
    expect(await max(v, 1).toArray()).toEqual([4, 8]);
    expect(await min(v, -1).toArray()).toEqual([1, -6]);
    expect(await argmax(v, 1).toArray()).toEqual([3, 0]);
    expect(await sum(v, 0).toArray()).toEqual([9, -4, 10, 12]);
    expect(await max(v, 0).toArray()).toEqual([8, 2, 7, 8]);
    expectClose(await mean(v, 1).read(), [2.5, 4.25]);
  });

  it('rejects bad axes naming the op and shape', () => {
    const x = DeviceArray.from([1, 2, 3, 4, 5, 6], [2, 3]);
    expect(() => sum(x, 2)).toThrow('sum: axis 2 is out of range for rank 2');
    expect(() => mean(x, [-3])).toThrow('mean: axis -3 is out of range for rank 2');
    expect(() => max(x, [1, -1])).toThrow('max: repeated axis in [1, 1] for shape [2, 3]');
  });
});

describe('long reductions (two passes)', () => {
  const rng = makeRng(12);
  it('sums and averages 300k elements to rtol 1e-4', async () => {
    const data = uniform(rng, 300_000, 0, 1);
    await check('sum', data, [300_000], undefined, false, { rtol: 1e-4, atol: 0 });
    await check('mean', data, [300_000], 0, true, { rtol: 1e-4, atol: 0 });
    await check('max', data, [300_000], undefined, false);
    await check('min', data, [300_000], undefined, false);
  });

  it('long rows, long columns and a long middle axis', async () => {
    await check('sum', uniform(rng, 3 * 100_003, 0, 1), [3, 100_003], -1, false, { rtol: 1e-4, atol: 0 });
    await check('sum', uniform(rng, 70_001 * 5, 0, 1), [70_001, 5], 0, false, { rtol: 1e-4, atol: 0 });
    await check('mean', uniform(rng, 2 * 70_001 * 2, -1, 1), [2, 70_001, 2], 1, true, { rtol: 1e-4, atol: 1e-5 });
    await check('max', uniform(rng, 70_001 * 5, -1, 1), [70_001, 5], 0, false);
    // Columns a multiple of 4 wide: four outputs per lane, in both passes.
    await check('sum', uniform(rng, 70_001 * 8, 0, 1), [70_001, 8], 0, false, { rtol: 1e-4, atol: 0 });
    await check('mean', uniform(rng, 3 * 30_000 * 4, -1, 1), [3, 30_000, 4], 1, false, { rtol: 1e-4, atol: 1e-5 });
    await check('min', uniform(rng, 70_001 * 8, -1, 1), [70_001, 8], 0, true);
    // More than 65,535 workgroups (16-thread groups): the grid folds into two dimensions.
    await withTuning({ reduce: { threads: 16 } }, () => check('sum', uniform(rng, 2 * 1_100_001, -1, 1), [2, 1_100_001], 0, false));
  });

  it('argmax finds the first of tied maxima across split boundaries', async () => {
    const n = 200_003;
    const data = uniform(rng, n, -1, 1);
    data[150_001] = 7;
    data[190_000] = 7;
    data[5] = 6;
    await check('argmax', data, [n], 0, false);
    const cols = uniform(rng, 80_000 * 3, -1, 1);
    cols[3 * 70_000 + 1] = 9; // column 1, row 70000
    cols[3 * 79_999 + 1] = 9;
    await check('argmax', cols, [80_000, 3], 0, false);
  });
});

describe('argmax', () => {
  const rng = makeRng(13);
  it('matches the reference over each axis, keepDims and flat', async () => {
    for (const [shape, axes] of [
      [[7], [0, -1, undefined]],
      [[3, 5], [0, 1, undefined]],
      [[2, 3, 4], [0, 1, 2, -2]],
      [[37, 129], [0, 1]],
      [[1, 9, 1], [0, 1, 2]],
    ] as Array<[number[], Array<number | undefined>]>) {
      for (const axis of axes) {
        for (const keepDims of [false, true]) {
          const data = uniform(rng, sizeOf(shape), -1, 1).map((v) => Math.round(v * 3) / 3); // many ties
          await check('argmax', data, shape, axis, keepDims);
        }
      }
    }
  });

  it('ties take the first index; NaN wins; -inf rows work', async () => {
    const x = DeviceArray.from([1, 5, 5, 2, 1, NaN, 3, NaN, -Infinity, -Infinity, -Infinity, -Infinity], [3, 4]);
    expect(await argmax(x, 1).toArray()).toEqual([1, 1, 0]);
  });
});

describe('sumTo (gradient of broadcasting)', () => {
  const rng = makeRng(14);
  it('reduces broadcast results back to each operand shape', async () => {
    const pairs: Array<[number[], number[]]> = [
      [[2, 4, 3, 5], [4, 1, 5]],
      [[3, 4], []],
      [[5], [1]],
      [[5], [5]],
      [[6, 7], [6, 1]],
      [[6, 7], [1, 7]],
      [[2, 1, 3], [1, 1]],
      [[0, 3], [3]],
    ];
    for (const [big, small] of pairs) {
      const data = uniform(rng, sizeOf(big), -1, 1);
      const x = DeviceArray.from(data, big);
      const y = sumTo(x, small);
      expect(y.shape).toEqual(small);
      expectClose(await y.read(), reduceTo(data, big, small), { rtol: 1e-5, atol: 1e-6 }, `sumTo ${JSON.stringify([big, small])}`);
      x.dispose();
      y.dispose();
    }
  });

  it('rejects shapes that do not broadcast', () => {
    const x = DeviceArray.from(new Float32Array(6), [2, 3]);
    expect(() => sumTo(x, [2])).toThrow('sumTo: cannot reduce [2, 3] to [2]');
    expect(() => sumTo(x, [1, 2, 3])).toThrow('sumTo: cannot reduce [2, 3] to [1, 2, 3]');
  });
});

describe('other adapter configurations, run on this one', () => {
  const rng = makeRng(15);
  it.each(OTHER_ADAPTER_REDUCE)('matches the reference with %j', (reduce) =>
    withTuning({ reduce }, async () => {
      for (const [shape, axes] of [
        [[37, 129], 1],
        [[37, 129], 0],
        [[3, 100_003], -1],
        [[70_001, 5], 0],
      ] as Array<[number[], number | number[]]>) {
        const data = uniform(rng, sizeOf(shape), 0, 1);
        for (const op of ['sum', 'argmax'] as const) {
          await check(op, data, shape, op === 'argmax' ? (axes as number) : axes, false, { rtol: 1e-4, atol: 1e-6 });
        }
      }
    }),
  );
});
