import { describe, expect, it } from 'vitest';
import { DeviceArray, crossEntropy, crossEntropyBackward, type CrossEntropyOptions, type Reduction } from '@sd/kernels';
import { expectClose } from '../util/close.ts';
import { centralDifferences } from '../util/finite-diff.ts';
import { makeRng, normal, randint, uniform, type Rng } from '../util/random.ts';
import { refCrossEntropy, refCrossEntropyWithGrad } from '../util/ref/cross-entropy.ts';

const IGNORE = -100;

function makeTargets(rng: Rng, rows: number, cols: number, ignoreEvery = 0): Int32Array {
  const t = randint(rng, rows, 0, cols);
  if (ignoreEvery) for (let r = 1; r < rows; r += ignoreEvery) t[r] = IGNORE;
  return t;
}

async function check(rng: Rng, shape: number[], reduction: Reduction, ignoreEvery = 3, scale = 3) {
  const cols = shape[shape.length - 1];
  const rowShape = shape.slice(0, -1);
  const rows = rowShape.reduce((a, b) => a * b, 1);
  const xs = normal(rng, rows * cols, scale);
  const ts = makeTargets(rng, rows, cols, ignoreEvery);
  const up = reduction === 'none' ? uniform(rng, rows, -1, 1) : Float32Array.of(0.7);
  const ref = refCrossEntropyWithGrad(xs, cols, ts, reduction, IGNORE, up);
  const x = DeviceArray.from(xs, shape);
  const t = DeviceArray.from(ts, rowShape, 'i32');
  const { loss, saved } = crossEntropy(x, t, { reduction });
  const what = `crossEntropy ${JSON.stringify(shape)} ${reduction}`;
  expect(loss.shape, what).toEqual(reduction === 'none' ? rowShape : []);
  expectClose(await loss.read(), ref.loss, { rtol: 1e-5, atol: 1e-5 }, what);
  const dloss = DeviceArray.from(up, loss.shape);
  const dx = crossEntropyBackward(dloss, x, t, saved, { reduction });
  expectClose(await dx.read(), ref.grad, { rtol: 1e-5, atol: 1e-7 }, `${what} backward`);
  for (const a of [x, t, loss, dloss, dx, saved.stats, saved.count]) a?.dispose();
}

describe('crossEntropy', () => {
  const rng = makeRng(31);
  const shapes = [[1, 1], [4, 7], [5, 8], [257, 10], [3, 1000], [6, 1003], [2, 3, 12], [2, 5003]];
  for (const reduction of ['mean', 'sum', 'none'] as const) {
    it(`forward and backward match float64 (${reduction})`, async () => {
      for (const shape of shapes) await check(rng, shape, reduction);
    });
  }

  it('backward agrees with central differences of the float64 loss', async () => {
    const rows = 4;
    const cols = 5;
    const xs = normal(rng, rows * cols, 2);
    const ts = Int32Array.of(0, IGNORE, 4, 2);
    for (const reduction of ['mean', 'sum'] as const) {
      const f = (v: ArrayLike<number>) => refCrossEntropy(v, cols, ts, reduction)[0];
      const fd = centralDifferences(f, xs);
      const x = DeviceArray.from(xs, [rows, cols]);
      const { loss, saved } = crossEntropy(x, ts, { reduction });
      const dx = crossEntropyBackward(DeviceArray.from([1], []), x, ts, saved, { reduction });
      expectClose(await dx.read(), fd, { rtol: 1e-4, atol: 1e-6 }, `${reduction} vs finite differences`);
      loss.dispose();
    }
  });

  it('stays accurate for logits around ±1e4', async () => {
    const xs = [1e4, 1e4 - 2, -1e4, 1e4 + 1, -1e4, -1e4 + 0.5, -1e4, -1e4 + 3];
    const ts = [1, 0];
    const ref = refCrossEntropyWithGrad(xs, 4, ts, 'none', IGNORE, [1, 1]);
    const x = DeviceArray.from(xs, [2, 4]);
    const { loss, saved } = crossEntropy(x, ts, { reduction: 'none' });
    expectClose(await loss.read(), ref.loss, { rtol: 1e-5, atol: 1e-6 });
    const dx = crossEntropyBackward(DeviceArray.from([1, 1], [2]), x, ts, saved, { reduction: 'none' });
    expectClose(await dx.read(), ref.grad, { rtol: 1e-5, atol: 1e-7 });
  });

  it('honours a custom ignoreIndex, and a mean over no rows is NaN with zero gradient', async () => {
    const xs = normal(rng, 3 * 4, 1);
    const x = DeviceArray.from(xs, [3, 4]);
    const opts: CrossEntropyOptions = { ignoreIndex: 2, reduction: 'mean' };
    const ref = refCrossEntropyWithGrad(xs, 4, [2, 0, 3], 'mean', 2);
    const { loss, saved } = crossEntropy(x, [2, 0, 3], opts);
    expectClose(await loss.read(), ref.loss);
    expectClose(await crossEntropyBackward(DeviceArray.from([1], []), x, [2, 0, 3], saved, opts).read(), ref.grad);

    const none = crossEntropy(x, [2, 2, 2], opts);
    expect(await none.loss.toArray()).toEqual([NaN]);
    expect(await none.saved.count!.toArray()).toEqual([0]);
    const dx = await crossEntropyBackward(DeviceArray.from([1], []), x, [2, 2, 2], none.saved, opts).toArray();
    expect(dx.every((v) => v === 0)).toBe(true);
  });

  it('out-of-range device targets give NaN rows; host targets throw', async () => {
    const x = DeviceArray.from(normal(rng, 3 * 4, 1), [3, 4]);
    const t = DeviceArray.from([1, 7, -3], [3], 'i32');
    const { loss, saved } = crossEntropy(x, t, { reduction: 'none' });
    const l = await loss.toArray();
    expect(Number.isFinite(l[0])).toBe(true);
    expect(l.slice(1)).toEqual([NaN, NaN]);
    const dx = await crossEntropyBackward(DeviceArray.from([1, 1, 1], [3]), x, t, saved, { reduction: 'none' }).toArray();
    expect(dx.slice(0, 4).every(Number.isFinite)).toBe(true);
    expect(dx.slice(4).every(Number.isNaN)).toBe(true);
    expect(() => crossEntropy(x, [1, 7, 0])).toThrow('crossEntropy: target 7 at index 1 is out of range for 4 classes (ignoreIndex -100)');
    expect(() => crossEntropy(x, [1, 2])).toThrow('crossEntropy: 2 targets for logits rows [3] (3 rows)');
  });

  it('handles no rows: none is empty, sum is 0, mean is NaN', async () => {
    const x = DeviceArray.empty([0, 5]);
    const t = DeviceArray.empty([0], 'i32');
    expect(crossEntropy(x, t, { reduction: 'none' }).loss.shape).toEqual([0]);
    expect(await crossEntropy(x, t, { reduction: 'sum' }).loss.toArray()).toEqual([0]);
    const mean = crossEntropy(x, t);
    expect(await mean.loss.toArray()).toEqual([NaN]);
    expect(crossEntropyBackward(DeviceArray.from([1], []), x, t, mean.saved).shape).toEqual([0, 5]);
  });

  it('rejects bad shapes and dtypes naming the op', () => {
    const x = DeviceArray.from(new Float32Array(6), [2, 3]);
    expect(() => crossEntropy(x, DeviceArray.from([0, 1], [2], 'f32'))).toThrow('crossEntropy: targets must be i32, got f32');
    expect(() => crossEntropy(x, DeviceArray.from([0, 1, 2], [3], 'i32'))).toThrow('crossEntropy: targets [3] do not match logits rows [2]');
    const { saved } = crossEntropy(x, [0, 1], { reduction: 'sum' });
    expect(() => crossEntropyBackward(DeviceArray.from([1, 1], [2]), x, [0, 1], saved, { reduction: 'sum' })).toThrow(
      "crossEntropyBackward: dloss [2] should be [] for reduction 'sum' of logits [2, 3]",
    );
    expect(() => crossEntropyBackward(DeviceArray.from([1], []), x, [0, 1], saved, { reduction: 'mean' })).toThrow(
      "crossEntropyBackward: reduction 'mean' needs saved.count from the forward",
    );
  });
});
