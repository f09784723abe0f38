import { describe, expect, it } from 'vitest';
import {
  DeviceArray,
  cast,
  concat,
  expand,
  pad,
  padBackward,
  permute,
  slice,
  split,
  transpose,
  upsampleNearest2x,
  upsampleNearest2xBackward,
} from '@sd/kernels';
import { expectClose } from '../util/close.ts';
import { makeRng, randint, uniform } from '../util/random.ts';
import { broadcastShape, broadcastTo, sizeOf } from '../util/ref/shape.ts';
import { dot, forEachIndex, pyRange, refPad, refPermute, refTake } from '../util/ref/copy.ts';

const rng = makeRng(11);

function permutations(n: number): number[][] {
  if (n === 0) return [[]];
  return permutations(n - 1).flatMap((p) => Array.from({ length: n }, (_, i) => [...p.slice(0, i), n - 1, ...p.slice(i)]));
}

/** Copies must be exact: compare bit for bit. */
async function expectExact(a: DeviceArray, expected: ArrayLike<number>, shape: number[], what: string): Promise<void> {
  expect(a.shape, `${what}: shape`).toEqual(shape);
  expect(Array.from(await a.read()), what).toEqual(Array.from(expected));
}

describe('permute / transpose', () => {
  it('matches the reference for every permutation of rank 3 and 4', async () => {
    for (const shape of [[2, 3, 4], [3, 1, 5, 2]]) {
      const xs = uniform(rng, sizeOf(shape));
      const x = DeviceArray.from(xs, shape);
      for (const axes of permutations(shape.length)) {
        const y = permute(x, axes);
        await expectExact(y, refPermute(xs, shape, axes), axes.map((a) => shape[a]), `permute ${JSON.stringify([shape, axes])}`);
        y.dispose();
      }
      x.dispose();
    }
  });

  it('handles rank 5 with primes, i32, scalars, empty arrays and negative axes', async () => {
    const shape = [2, 3, 1, 5, 7];
    const xs = randint(rng, sizeOf(shape), -1000, 1000);
    const x = DeviceArray.from(xs, shape, 'i32');
    const y = permute(x, [-1, 0, 3, 1, 2]);
    expect(y.dtype).toBe('i32');
    await expectExact(y, refPermute(xs, shape, [4, 0, 3, 1, 2]), [7, 2, 5, 3, 1], 'permute rank 5');
    await expectExact(permute(DeviceArray.scalar(3), []), [3], [], 'permute scalar');
    expect(permute(DeviceArray.empty([0, 4]), [1, 0]).shape).toEqual([4, 0]);
  });

  it('transpose swaps the last two axes by default', async () => {
    const shape = [3, 7, 5];
    const xs = uniform(rng, sizeOf(shape));
    const x = DeviceArray.from(xs, shape);
    await expectExact(transpose(x), refPermute(xs, shape, [0, 2, 1]), [3, 5, 7], 'transpose');
    await expectExact(transpose(x, 0, 2), refPermute(xs, shape, [2, 1, 0]), [5, 7, 3], 'transpose 0 2');
  });

  it('rejects bad axes', () => {
    const x = DeviceArray.from([1, 2, 3, 4, 5, 6], [2, 3]);
    expect(() => permute(x, [0, 0])).toThrow('permute: axes [0, 0] are not a permutation for shape [2, 3]');
    expect(() => permute(x, [0])).toThrow('permute: 1 axes [0] given for an array of shape [2, 3]');
    expect(() => permute(x, [0, 2])).toThrow('permute: axis 2 is out of range for rank 2');
  });
});

describe('slice / split / concat', () => {
  const shape = [5, 7, 6];
  const xs = uniform(rng, sizeOf(shape));

  it('slices with steps, negative and clamped bounds', async () => {
    const x = DeviceArray.from(xs, shape);
    const cases: Array<[number[], number[], number[] | undefined, number[] | undefined]> = [
      [[1, -5, 0], [4, 100, 6], [1, 2, 3], undefined],
      [[0], [5], undefined, undefined],
      [[-3], [Infinity], [2], [2]],
      [[2, 3], [-1, 4], [3, 1], [2, 0]],
      [[4], [2], undefined, [1]], // empty
      [[-100, 0, 5], [100, 7, 6], [4, 7, 1], undefined],
    ];
    for (const [starts, ends, steps, axes] of cases) {
      const picks = shape.map((d) => pyRange(d, 0, d, 1));
      (axes ?? starts.map((_, k) => k)).forEach((a, k) => (picks[a] = pyRange(shape[a], starts[k], ends[k], steps?.[k] ?? 1)));
      const ref = refTake(xs, shape, picks);
      const y = slice(x, starts, ends, steps, axes);
      await expectExact(y, ref.data, ref.shape, `slice ${JSON.stringify([starts, ends, steps, axes])}`);
      y.dispose();
    }
  });

  it('takes the buffer-copy path for contiguous row ranges', async () => {
    const x = DeviceArray.from(xs, shape);
    const ref = refTake(xs, shape, [[1, 2, 3], pyRange(7, 0, 7, 1), pyRange(6, 0, 6, 1)]);
    await expectExact(slice(x, [1], [4]), ref.data, [3, 7, 6], 'row slice');
  });

  it('split returns slices that concat restores, on every axis', async () => {
    const x = DeviceArray.from(xs, shape);
    for (const [axis, sizes] of [[0, [2, 0, 3]], [1, [1, 5, 1]], [2, [6]], [-1, [4, 2]]] as Array<[number, number[]]>) {
      const parts = split(x, sizes, axis);
      const ax = axis < 0 ? axis + 3 : axis;
      let at = 0;
      for (const [k, part] of parts.entries()) {
        const picks = shape.map((d) => pyRange(d, 0, d, 1));
        picks[ax] = pyRange(shape[ax], at, at + sizes[k], 1);
        const ref = refTake(xs, shape, picks);
        await expectExact(part, ref.data, ref.shape, `split ${axis} part ${k}`);
        at += sizes[k];
      }
      const back = concat(parts, axis);
      await expectExact(back, xs, shape, `concat ${axis}`);
      for (const a of [...parts, back]) a.dispose();
    }
  });

  it('concatenates i32 arrays of different lengths along the last axis', async () => {
    const a = DeviceArray.from([1, 2, 3, 4], [2, 2], 'i32');
    const b = DeviceArray.from([5, 6, 7, 8, 9, 10], [2, 3], 'i32');
    const c = DeviceArray.from([11, 12], [2, 1], 'i32');
    await expectExact(concat([a, b, c], 1), [1, 2, 5, 6, 7, 11, 3, 4, 8, 9, 10, 12], [2, 6], 'concat i32');
  });

  it('rejects mismatched shapes and sizes', () => {
    const a = DeviceArray.from([1, 2, 3, 4], [2, 2]);
    const b = DeviceArray.from([1, 2, 3], [3, 1]);
    expect(() => concat([a, b], 1)).toThrow('concat: shapes [2, 2] f32, [3, 1] f32 differ outside axis 1');
    expect(() => split(a, [1, 2], 0)).toThrow('split: sizes [1, 2] do not add up to axis 0 of shape [2, 2]');
    expect(() => slice(a, [0], [1], [0])).toThrow('steps must be positive integers');
  });
});

describe('pad / padBackward', () => {
  it('pads with a constant on every axis, including infinite fill values', async () => {
    const shape = [2, 3, 4];
    const xs = uniform(rng, sizeOf(shape));
    const x = DeviceArray.from(xs, shape);
    const padding: Array<[number, number]> = [[1, 0], [0, 2], [3, 1]];
    for (const value of [0, -2.5, -Infinity]) {
      const y = pad(x, padding, value);
      await expectExact(y, refPad(xs, shape, padding, value), [3, 5, 8], `pad value ${value}`);
    }
    // Padding only outer axes leaves the innermost run unwindowed (several elements per invocation).
    const outer: Array<[number, number]> = [[1, 2], [0, 0], [0, 0]];
    await expectExact(pad(x, outer, 9), refPad(xs, shape, outer, 9), [5, 3, 4], 'pad outer axes');
    await expectExact(pad(DeviceArray.from([7, 8], [2], 'i32'), [[2, 1]], 3), [3, 3, 7, 8, 3], [5], 'pad i32');
    await expectExact(pad(DeviceArray.empty([0, 2]), [[1, 1], [0, 0]], 4), [4, 4, 4, 4], [2, 2], 'pad empty');
  });

  it('padBackward is the adjoint of pad (the un-padded window of dy)', async () => {
    const shape = [3, 1, 5];
    const padding: Array<[number, number]> = [[0, 1], [2, 2], [1, 3]];
    const outShape = shape.map((d, i) => d + padding[i][0] + padding[i][1]);
    const xs = uniform(rng, sizeOf(shape));
    const dys = uniform(rng, sizeOf(outShape));
    const dx = padBackward(DeviceArray.from(dys, outShape), padding);
    const ref = refTake(dys, outShape, shape.map((d, i) => pyRange(outShape[i], padding[i][0], padding[i][0] + d, 1)));
    await expectExact(dx, ref.data, shape, 'padBackward');
    // <pad(x), dy> = <x, padBackward(dy)>
    const y = await pad(DeviceArray.from(xs, shape), padding).read();
    const lhs = dot(y, dys);
    const rhs = dot(await dx.read(), xs);
    expect(lhs).toBeCloseTo(rhs, 5);
  });

  it('rejects bad padding', () => {
    const x = DeviceArray.from([1, 2], [2]);
    expect(() => pad(x, [[1, 1], [0, 0]])).toThrow('pad: 2 padding pairs given for shape [2]');
    expect(() => pad(x, [[-1, 0]])).toThrow('must be non-negative integers');
    expect(() => padBackward(x, [[2, 1]])).toThrow('padBackward: padding [[2,1]] is larger than gradient shape [2]');
  });
});

describe('expand', () => {
  it('broadcasts like NumPy', async () => {
    for (const [from, to] of [[[3, 1], [2, 3, 4]], [[], [5]], [[1], [2, 2]], [[2, 1, 3], [2, 4, 3]], [[1, 1], [1, 1]], [[4], [0, 4]]] as Array<[number[], number[]]>) {
      const xs = uniform(rng, sizeOf(from));
      const y = expand(DeviceArray.from(xs, from), to);
      await expectExact(y, broadcastTo(xs, from, broadcastShape(from, to)), to, `expand ${JSON.stringify([from, to])}`);
    }
  });

  it('rejects shapes it cannot broadcast to', () => {
    const x = DeviceArray.from([1, 2, 3], [3]);
    expect(() => expand(x, [2, 4])).toThrow('expand: shapes [3] and [2, 4] cannot be broadcast together');
    expect(() => expand(DeviceArray.from([1, 2], [2, 1]), [2])).toThrow('expand: shape [2, 1] cannot be broadcast to [2]');
    expect(() => expand(x, [1])).toThrow();
  });
});

describe('upsampleNearest2x', () => {
  it('forward repeats pixels and backward sums 2×2 blocks (adjoint pair)', async () => {
    const shape = [2, 3, 5, 7];
    const [n, c, h, w] = shape;
    const xs = uniform(rng, sizeOf(shape));
    const up = upsampleNearest2x(DeviceArray.from(xs, shape));
    const expected: number[] = [];
    forEachIndex([n, c, 2 * h, 2 * w], ([b, ch, y, x]) => expected.push(xs[((b * c + ch) * h + (y >> 1)) * w + (x >> 1)]));
    await expectExact(up, expected, [n, c, 2 * h, 2 * w], 'upsample forward');

    const dys = uniform(rng, expected.length);
    const dx = upsampleNearest2xBackward(DeviceArray.from(dys, [n, c, 2 * h, 2 * w]));
    const ref = new Float64Array(sizeOf(shape));
    forEachIndex([n, c, 2 * h, 2 * w], ([b, ch, y, x], flat) => (ref[((b * c + ch) * h + (y >> 1)) * w + (x >> 1)] += dys[flat]));
    expect(dx.shape).toEqual(shape);
    expectClose(await dx.read(), ref, { rtol: 1e-6 }, 'upsample backward');
  });

  it('works on 1×1 images and rejects bad shapes', async () => {
    await expectExact(upsampleNearest2x(DeviceArray.from([4], [1, 1, 1, 1])), [4, 4, 4, 4], [1, 1, 2, 2], 'upsample 1x1');
    expect(() => upsampleNearest2x(DeviceArray.from([1, 2], [2]))).toThrow('upsampleNearest2x: expected an NCHW array, got shape [2]');
    expect(() => upsampleNearest2xBackward(DeviceArray.empty([1, 1, 3, 2]))).toThrow('odd height or width');
  });
});

describe('cast', () => {
  it('converts f32 ↔ i32 (truncating toward zero) and copies same-dtype', async () => {
    const f = DeviceArray.from([1.7, -1.7, 0, 123456.9, -5.5, 2 ** 24], [2, 3]);
    const i = cast(f, 'i32');
    expect(i.dtype).toBe('i32');
    await expectExact(i, [1, -1, 0, 123456, -5, 2 ** 24], [2, 3], 'f32 → i32');
    const back = cast(DeviceArray.from([-7, 0, 2 ** 20 + 1], [3], 'i32'), 'f32');
    await expectExact(back, [-7, 0, 2 ** 20 + 1], [3], 'i32 → f32');
    const copy = cast(f, 'f32');
    expect(copy.buffer).not.toBe(f.buffer);
    expectClose(await copy.read(), await f.read(), { rtol: 0, atol: 0 }, 'f32 → f32');
  });
});
