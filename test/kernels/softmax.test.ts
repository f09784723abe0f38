import { describe, expect, it } from 'vitest';
import { DeviceArray, logSoftmax, logSoftmaxBackward, softmax, softmaxBackward, withTuning } from '@sd/kernels';
import { expectClose } from '../util/close.ts';
import { centralDifferences } from '../util/finite-diff.ts';
import { makeRng, normal, uniform } from '../util/random.ts';
import { sizeOf } from '../util/ref/shape.ts';
import { refSoftmaxRows } from '../util/ref/reduce.ts';
import { OTHER_ADAPTER_REDUCE } from '../util/tunings.ts';

// Rows of 1, primes, non-multiples and multiples of 4 (vec4 path), cached and streamed (long) rows.
const SHAPES = [[1], [7], [3, 1], [2, 5], [4, 8], [3, 13], [2, 3, 37], [5, 128], [9, 129], [2, 1000], [2, 1003], [1, 50_000], [2, 50_021]];

/** Float64 gradients of the two rules, written from their definitions (Jacobian-vector products). */
function refBackward(y: Float64Array, dy: ArrayLike<number>, cols: number, log: boolean): Float64Array {
  const dx = new Float64Array(y.length);
  for (let r = 0; r < y.length / cols; r++) {
    let acc = 0;
    for (let c = 0; c < cols; c++) acc += log ? dy[r * cols + c] : dy[r * cols + c] * y[r * cols + c];
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      dx[i] = log ? dy[i] - Math.exp(y[i]) * acc : y[i] * (dy[i] - acc);
    }
  }
  return dx;
}

async function checkForward(rng: () => number, shape: number[], scale = 3) {
  const cols = shape[shape.length - 1] ?? 1;
  const xs = normal(rng, sizeOf(shape), scale);
  const x = DeviceArray.from(xs, shape);
  const y = softmax(x);
  const ly = logSoftmax(x);
  expect(y.shape).toEqual(shape);
  expectClose(await y.read(), refSoftmaxRows(xs, cols), { rtol: 1e-5, atol: 1e-7 }, `softmax ${fmt(shape)}`);
  expectClose(await ly.read(), refSoftmaxRows(xs, cols, true), { rtol: 1e-5, atol: 1e-5 }, `logSoftmax ${fmt(shape)}`);
  for (const a of [x, y, ly]) a.dispose();
}

async function checkBackward(rng: () => number, shape: number[]) {
  const cols = shape[shape.length - 1] ?? 1;
  const xs = normal(rng, sizeOf(shape), 2);
  const dys = uniform(rng, sizeOf(shape), -1, 1);
  for (const log of [false, true]) {
    // The kernels take the forward output; feed them the f32-rounded reference output.
    const yRef = Float32Array.from(refSoftmaxRows(xs, cols, log));
    const y = DeviceArray.from(yRef, shape);
    const dy = DeviceArray.from(dys, shape);
    const dx = log ? logSoftmaxBackward(y, dy) : softmaxBackward(y, dy);
    const expected = refBackward(Float64Array.from(yRef), dys, cols, log);
    expectClose(await dx.read(), expected, { rtol: 1e-5, atol: 1e-6 }, `${log ? 'logSoftmax' : 'softmax'}Backward ${fmt(shape)}`);
    for (const a of [y, dy, dx]) a.dispose();
  }
}

const fmt = (s: number[]) => JSON.stringify(s);

describe('softmax / logSoftmax forward', () => {
  const rng = makeRng(21);
  it('matches the float64 reference over rows of many lengths', async () => {
    for (const shape of SHAPES) await checkForward(rng, shape);
  });

  it('covers more rows than one grid dimension holds', async () => {
    await checkForward(rng, [530_000, 5]);
  });

  it('is stable for logits of ±1e4 and masks of -inf', async () => {
    const xs = [1e4, -1e4, 0, 1e4 - 1, -1e4, -1e4, -1e4, -1e4, 3, -Infinity, 1, -Infinity];
    const x = DeviceArray.from(xs, [3, 4]);
    const y = await softmax(x).read();
    const ly = await logSoftmax(x).read();
    const e = Math.exp(-1);
    expectClose(y, [1 / (1 + e), 0, 0, e / (1 + e), 0.25, 0.25, 0.25, 0.25, 1 / (1 + Math.exp(-2)), 0, Math.exp(-2) / (1 + Math.exp(-2)), 0]);
    expect(ly.every((v, i) => (xs[i] === -Infinity ? v === -Infinity : Number.isFinite(v)))).toBe(true);
    expectClose([ly[0], ly[4], ly[8]], [-Math.log1p(e), -Math.log(4), -Math.log1p(Math.exp(-2))]);
  });

  it('handles empty tensors and scalars', async () => {
    expect(softmax(DeviceArray.empty([0, 5])).shape).toEqual([0, 5]);
    expect(logSoftmax(DeviceArray.empty([4, 0])).shape).toEqual([4, 0]);
    expect(await softmax(DeviceArray.from([3], [])).toArray()).toEqual([1]);
    expect(await logSoftmax(DeviceArray.from([3], [])).toArray()).toEqual([0]);
  });

  it('rejects non-f32 input and mismatched backward shapes', () => {
    expect(() => softmax(DeviceArray.from([1, 2], [2], 'i32'))).toThrow('softmax: expected f32 input, got i32 of shape [2]');
    const a = DeviceArray.from([1, 2], [2]);
    const b = DeviceArray.from([1, 2, 3], [3]);
    expect(() => softmaxBackward(a, b)).toThrow('softmaxBackward: y [2] and dy [3] must have the same shape');
  });
});

describe('softmax / logSoftmax backward', () => {
  const rng = makeRng(22);
  it('matches the float64 rule over rows of many lengths', async () => {
    for (const shape of SHAPES) await checkBackward(rng, shape);
  });

  it('agrees with central differences of the float64 forward', async () => {
    const shape = [3, 6];
    const cols = 6;
    const xs = normal(rng, sizeOf(shape), 1.5);
    const w = uniform(rng, sizeOf(shape), -1, 1); // loss = Σ w ⊙ f(x)
    for (const log of [false, true]) {
      const loss = (v: ArrayLike<number>) => refSoftmaxRows(v, cols, log).reduce((acc, yi, i) => acc + w[i] * yi, 0);
      const fd = centralDifferences(loss, xs);
      const x = DeviceArray.from(xs, shape);
      const y = log ? logSoftmax(x) : softmax(x);
      const dy = DeviceArray.from(w, shape);
      const dx = log ? logSoftmaxBackward(y, dy) : softmaxBackward(y, dy);
      expectClose(await dx.read(), fd, { rtol: 1e-4, atol: 1e-6 }, `${log ? 'logSoftmax' : 'softmax'} vs finite differences`);
      for (const a of [x, y, dy, dx]) a.dispose();
    }
  });
});

describe('other adapter configurations, run on this one', () => {
  const rng = makeRng(23);
  it.each(OTHER_ADAPTER_REDUCE)('matches the reference with %j', (reduce) =>
    withTuning({ reduce }, async () => {
      for (const shape of [[3, 13], [9, 129], [2, 5003]]) {
        await checkForward(rng, shape);
        await checkBackward(rng, shape);
      }
    }),
  );
});
