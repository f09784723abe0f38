import { describe, expect, it } from 'vitest';
import { DeviceArray, gather, scatterAdd } from '@sd/kernels';
import { expectClose } from '../util/close.ts';
import { makeRng, randint, uniform } from '../util/random.ts';
import { sizeOf } from '../util/ref/shape.ts';
import { dot, refGather, refScatterAdd } from '../util/ref/copy.ts';

const rng = makeRng(21);

describe('gather', () => {
  it('picks along any axis with index arrays of any rank', async () => {
    const cases: Array<[number[], number[], number]> = [
      [[5, 6], [2, 2], 0],
      [[2, 7, 3], [4], 1],
      [[2, 7, 3], [], 1],
      [[3, 4, 5], [2, 3, 1], 2],
      [[11], [13], 0],
      [[2, 3], [0], 1],
      [[9, 4], [5], 0], // innermost runs of 4 and 2 take the unrolled paths
      [[2, 9, 2], [3, 3], 1],
    ];
    for (const [shape, indexShape, axis] of cases) {
      const xs = uniform(rng, sizeOf(shape));
      const ids = randint(rng, sizeOf(indexShape), 0, shape[axis]);
      const y = gather(DeviceArray.from(xs, shape), DeviceArray.from(ids, indexShape, 'i32'), axis);
      const outShape = [...shape.slice(0, axis), ...indexShape, ...shape.slice(axis + 1)];
      expect(y.shape).toEqual(outShape);
      expect(Array.from(await y.read())).toEqual(refGather(xs, shape, ids, indexShape, axis));
    }
  });

  it('gives 0 for out-of-range and negative indices, and gathers i32 arrays', async () => {
    const x = DeviceArray.from([1, 2, 3, 4, 5, 6], [3, 2], 'i32');
    const y = gather(x, DeviceArray.from([2, -1, 3, 0, 1000000], [5], 'i32'), 0);
    expect(y.dtype).toBe('i32');
    expect(await y.toArray()).toEqual([5, 6, 0, 0, 0, 0, 1, 2, 0, 0]);
    const z = gather(DeviceArray.from([1.5, 2.5], [2]), DeviceArray.from([1, -2, 2], [3], 'i32'), -1);
    expect(await z.toArray()).toEqual([2.5, 0, 0]);
  });

  it('rejects non-i32 indices and bad axes', () => {
    const x = DeviceArray.from([1, 2], [2]);
    expect(() => gather(x, DeviceArray.from([0], [1]), 0)).toThrow('gather: indices must be i32, got f32 of shape [1]');
    expect(() => gather(x, DeviceArray.from([0], [1], 'i32'), 1)).toThrow('gather: axis 1 is out of range for rank 1');
  });
});

describe('scatterAdd (gradient of gather)', () => {
  it('accumulates repeated indices, matches the reference and is the adjoint of gather', async () => {
    const cases: Array<[number[], number[], number]> = [
      [[10, 3], [300], 0], // heavy repetition
      [[4, 7, 5], [3, 2], 1],
      [[2, 3, 6], [9], 2],
      [[49], [7, 11], 0],
      [[1, 1], [1], 0],
      [[6, 8], [50], 0],
      [[3, 5, 2], [4], 1],
    ];
    for (const [shape, indexShape, axis] of cases) {
      const ids = randint(rng, sizeOf(indexShape), -1, shape[axis] + 1); // includes out-of-range indices
      const indices = DeviceArray.from(ids, indexShape, 'i32');
      const updShape = [...shape.slice(0, axis), ...indexShape, ...shape.slice(axis + 1)];
      const dys = uniform(rng, sizeOf(updShape));
      const dx = scatterAdd(DeviceArray.from(dys, updShape), indices, axis, shape[axis]);
      expect(dx.shape).toEqual(shape);
      const got = await dx.read();
      expectClose(got, refScatterAdd(dys, updShape, ids, indexShape, axis, shape[axis]), { rtol: 1e-5, atol: 1e-5 }, `scatterAdd ${JSON.stringify([shape, indexShape, axis])}`);
      // Adjoint identity <gather(x), dy> = <x, scatterAdd(dy)>, i.e. the exact gradient of a linear map.
      const xs = uniform(rng, sizeOf(shape));
      const g = await gather(DeviceArray.from(xs, shape), indices, axis).read();
      const lhs = dot(g, dys);
      const rhs = dot(got, xs);
      expect(Math.abs(lhs - rhs)).toBeLessThan(1e-4 * (1 + Math.abs(lhs)));
    }
  });

  it('is deterministic bit for bit', async () => {
    const ids = randint(rng, 2000, 0, 5);
    const dys = uniform(rng, 2000 * 3, -1e3, 1e3);
    const run = async () => (await scatterAdd(DeviceArray.from(dys, [2000, 3]), DeviceArray.from(ids, [2000], 'i32'), 0, 5).read()).slice();
    const first = await run();
    for (let k = 0; k < 3; k++) expect(Array.from(await run())).toEqual(Array.from(first));
    // It sums in increasing position order: equal to a sequential f32 accumulation.
    const seq = new Float32Array(15);
    ids.forEach((b, j) => {
      for (let k = 0; k < 3; k++) seq[b * 3 + k] = Math.fround(seq[b * 3 + k] + dys[j * 3 + k]);
    });
    expect(Array.from(first)).toEqual(Array.from(seq));
  });

  it('handles empty index arrays and rejects mismatched shapes', async () => {
    const dx = scatterAdd(DeviceArray.empty([0, 2]), DeviceArray.empty([0], 'i32'), 0, 3);
    expect(await dx.toArray()).toEqual([0, 0, 0, 0, 0, 0]);
    expect(() => scatterAdd(DeviceArray.empty([3, 2]), DeviceArray.empty([4], 'i32'), 0, 3)).toThrow(
      'scatterAdd: updates [3, 2] do not hold indices [4] at axis 0',
    );
  });
});
