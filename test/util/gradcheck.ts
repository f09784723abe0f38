// Gradient checks of autograd ops: L = Σ w ⊙ f(x) with fixed random w; autograd's dL/dx (GPU, f32)
// against central differences of a float64 CPU reference of f (and the forward values too).
import { expect } from 'vitest';
import { DeviceArray } from '@sd/kernels';
import { tensor, tidy, type Tensor } from '@sd/autograd';
import { expectClose } from './close.ts';
import { makeRng, uniform } from './random.ts';

/** A differentiable input: f32 values and a shape. */
export interface GradInput {
  shape: number[];
  data: Float32Array;
}

export interface GradcheckOptions {
  /** Per element: |g − g_fd| ≤ rtol·|g_fd| + atol, with atol = max(rtol·max|g_fd|, 1e-6)
   *  unless given (f32 rounding of O(1) terms that cancel to 0 leaves ~1e-7). */
  rtol?: number;
  atol?: number;
  /** Forward tolerance against the float64 reference. */
  forwardRtol?: number;
  forwardAtol?: number;
  /** Relative finite-difference step (h = step·max(1, |x|)). */
  step?: number;
  seed?: number;
  what?: string;
}

type Outputs<T> = T | T[];
const asList = <T>(v: Outputs<T>): T[] => (Array.isArray(v) ? v : [v]);

/** Random f32 input of a shape, values in [lo, hi). */
export function input(rng: () => number, shape: number[], lo = -1, hi = 1): GradInput {
  return { shape, data: uniform(rng, shape.reduce((a, b) => a * b, 1), lo, hi) };
}

/**
 * Checks autograd's gradients of `gpu` against finite differences of `cpu` (same function in
 * float64 over flat row-major arrays). Both may return several outputs; each gets its own weights.
 * Also checks that nothing leaks: every array made inside is freed by the end.
 */
export async function gradcheck(
  gpu: (...xs: Tensor[]) => Outputs<Tensor>,
  cpu: (...xs: Float64Array[]) => Outputs<Float64Array>,
  inputs: GradInput[],
  options: GradcheckOptions = {},
): Promise<void> {
  const what = options.what ?? 'gradcheck';
  const rtol = options.rtol ?? 1e-4;
  const rng = makeRng(options.seed ?? 1234);
  const liveBefore = DeviceArray.live;

  const { forward, grads, weights } = await tidy(async () => {
    const xs = inputs.map((i) => tensor(i.data, i.shape, { requiresGrad: true }));
    const ys = asList(gpu(...xs));
    const weights = ys.map((y) => uniform(rng, y.size, -1, 1));
    const terms = ys.map((y, k) => y.mul(tensor(weights[k], [...y.shape])).sum());
    terms.reduce((a, b) => a.add(b)).backward();
    const forward = await Promise.all(ys.map((y) => y.read()));
    const grads = await Promise.all(xs.map(async (x) => (x.grad ? await x.grad.read() : new Float32Array(x.size))));
    xs.forEach((x, i) => expect(x.grad?.shape ?? x.shape, `${what}: grad shape of input ${i}`).toEqual(inputs[i].shape));
    return { forward, grads, weights };
  });
  expect(DeviceArray.live, `${what}: arrays leaked`).toBe(liveBefore);

  const x64 = inputs.map((i) => Float64Array.from(i.data));
  const ref = asList(cpu(...x64));
  expect(ref.length, `${what}: number of outputs`).toBe(forward.length);
  ref.forEach((r, k) =>
    expectClose(forward[k], r, { rtol: options.forwardRtol ?? 1e-4, atol: options.forwardAtol ?? 1e-5 }, `${what}: forward output ${k}`),
  );

  const lossAt = (): number => {
    let total = 0;
    asList(cpu(...x64)).forEach((r, k) => {
      for (let j = 0; j < r.length; j++) total += weights[k][j] * r[j];
    });
    return total;
  };
  const step = options.step ?? 1e-6;
  x64.forEach((x, i) => {
    const fd = new Float64Array(x.length);
    for (let j = 0; j < x.length; j++) {
      const v = x[j];
      const h = step * Math.max(1, Math.abs(v));
      x[j] = v + h;
      const up = lossAt();
      x[j] = v - h;
      const down = lossAt();
      x[j] = v;
      fd[j] = (up - down) / (2 * h);
    }
    const scale = fd.reduce((m, g) => Math.max(m, Math.abs(g)), 0);
    expectClose(grads[i], fd, { rtol, atol: options.atol ?? Math.max(rtol * scale, 1e-6) }, `${what}: gradient of input ${i}`);
  });
}
