import { describe, expect, it } from 'vitest';
import {
  DeviceArray,
  conv2d,
  conv2dBackwardBias,
  conv2dBackwardInput,
  conv2dBackwardWeight,
  GEMM_LARGE,
  initRuntime,
  profile,
  releaseConv2dScratch,
  runnableVariants,
  withTuning,
  type Conv2dOptions,
  type Conv2dVariant,
} from '@sd/kernels';
import { expectClose } from '../util/close.ts';
import { makeRng, uniform } from '../util/random.ts';
import { refConv2d, refConv2dBackward, refConvDims } from '../util/ref/conv.ts';
import { itRejectsBeforeDispatch, type BadCall } from '../util/rejects.ts';
import { CONV2D_CASES as CASES, CONV2D_DW_TOLERANCE, CONV2D_VARIANT_CASES, CONV2D_TOLERANCE, conv2dInputs, conv2dSeed, conv2dOptions, conv2dRefOptions, type Conv2dCase as Case } from './cases.ts';

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const refOptions = conv2dRefOptions;
const options = (c: Case): Conv2dOptions => conv2dOptions(c);

/** Forward and all three gradients against the float64 reference. */
async function checkAgainstReference(c: Case, seed: number): Promise<void> {
  const opt = refOptions(c);
  const d = refConvDims(c.x, c.w, opt);
  const yShape = [d.n, d.o, d.oh, d.ow];
  const { xs, ws, bs, dys } = conv2dInputs(c, yShape, seed);
  const x = DeviceArray.from(xs, c.x);
  const w = DeviceArray.from(ws, c.w);
  const b = bs ? DeviceArray.from(bs, [c.w[0]]) : null;
  const dy = DeviceArray.from(dys, yShape);
  const y = conv2d(x, w, b, options(c));
  const dx = conv2dBackwardInput(dy, w, c.x, options(c));
  const dw = conv2dBackwardWeight(dy, x, c.w, options(c));
  const db = conv2dBackwardBias(dy);
  expect(y.shape).toEqual(yShape);
  expect(dx.shape).toEqual(c.x);
  expect(dw.shape).toEqual(c.w);
  const ref = refConv2d(xs, c.x, ws, c.w, bs, opt);
  const grads = refConv2dBackward(dys, xs, c.x, ws, c.w, opt);
  const tol = CONV2D_TOLERANCE;
  const tag = `${c.name} [${profile().conv2d.variant}]`;
  expectClose(await y.read(), ref, tol, `${tag} forward`);
  expectClose(await dx.read(), grads.dx, tol, `${tag} dx`);
  expectClose(await dw.read(), grads.dw, CONV2D_DW_TOLERANCE, `${tag} dw`);
  expectClose(await db.read(), grads.db, tol, `${tag} db`);
  for (const a of [x, w, b, dy, y, dx, dw, db]) a?.dispose();
}


await initRuntime(); // the runnable variants name the tests
const OWN_VARIANT = profile().conv2d.variant;
const RUNNABLE = runnableVariants(profile()).conv2d;
/** Runs `fn` with the conv2d variant `variant` (null: the adapter's own). */
const withVariant = <T>(variant: Conv2dVariant | null, fn: () => T): T => withTuning(variant ? { conv2d: { variant } } : {}, fn);

describe.each(RUNNABLE)('conv2d vs float64 reference [%s]', (variant) => {
  const own = variant === OWN_VARIANT;
  const indices = own ? CASES.map((_, i) => i) : CONV2D_VARIANT_CASES[variant];
  for (const i of indices) {
    it(CASES[i].name, () => withVariant(variant, () => checkAgainstReference(CASES[i], conv2dSeed(i, own))));
  }
});

describe('conv2d tiled variant with the large (NVIDIA) GEMM tile', () => {
  it(`${CASES[5].name} [tiled, 128×128 tiles]`, () =>
    withTuning({ conv2d: { variant: 'tiled', gemm: GEMM_LARGE } }, () => checkAgainstReference(CASES[5], 400)));
});

describe("conv2d with a 4×4 kernel's rows looped, not unrolled (SwiftShader's profile, unrollTaps 9)", () => {
  for (const variant of RUNNABLE.filter((v) => v !== 'tiled')) {
    it(`${CASES[6].name} [${variant}]`, () => withTuning({ conv2d: { variant, unrollTaps: 9 } }, () => checkAgainstReference(CASES[6], 410)));
  }
});

describe('conv2d gradients vs finite differences', () => {
  // L = Σ y·g is linear in x, w and b, so central differences with a large step are exact up to
  // f32 rounding of L; they check the gradient kernels against the forward kernel end to end.
  const c: Case = { name: 'tiny', x: [2, 2, 5, 4], w: [4, 1, 3, 2], stride: [1, 2], padding: 1, groups: 2, bias: true };
  for (const variant of [null, 'portable', 'tiled'] as Array<Conv2dVariant | null>) {
    it(`stride [1, 2], groups 2 [${variant ?? 'adapter default'}]`, () => withVariant(variant, async () => {
      const rng = makeRng(5);
      const d = refConvDims(c.x, c.w, refOptions(c));
      const yShape = [d.n, d.o, d.oh, d.ow];
      const xs = uniform(rng, size(c.x));
      const ws = uniform(rng, size(c.w));
      const bs = uniform(rng, c.w[0]);
      const gs = uniform(rng, size(yShape));
      const loss = async (xv: Float32Array, wv: Float32Array, bv: Float32Array) => {
        const [x, w, b] = [DeviceArray.from(xv, c.x), DeviceArray.from(wv, c.w), DeviceArray.from(bv, [c.w[0]])];
        const y = conv2d(x, w, b, options(c));
        const ys = await y.read();
        for (const a of [x, w, b, y]) a.dispose();
        return Array.from(ys).reduce((acc, v, i) => acc + v * gs[i], 0);
      };
      const h = 0.25;
      const fd = async (which: 0 | 1 | 2, n: number) => {
        const out: number[] = [];
        for (let i = 0; i < n; i++) {
          const arrays = [xs, ws, bs].map((a) => Float32Array.from(a));
          arrays[which][i] += h;
          const up = await loss(arrays[0], arrays[1], arrays[2]);
          arrays[which][i] -= 2 * h;
          const down = await loss(arrays[0], arrays[1], arrays[2]);
          out.push((up - down) / (2 * h));
        }
        return out;
      };
      const dy = DeviceArray.from(gs, yShape);
      const x = DeviceArray.from(xs, c.x);
      const w = DeviceArray.from(ws, c.w);
      const dx = await conv2dBackwardInput(dy, w, c.x, options(c)).read();
      const dw = await conv2dBackwardWeight(dy, x, c.w, options(c)).read();
      const db = await conv2dBackwardBias(dy).read();
      const tol = { rtol: 1e-4, atol: 1e-4 };
      expectClose(dx, await fd(0, xs.length), tol, 'dx vs finite differences');
      expectClose(dw, await fd(1, ws.length), tol, 'dw vs finite differences');
      expectClose(db, await fd(2, bs.length), tol, 'db vs finite differences');
    }));
  }
});

describe('conv2d edge cases and errors', () => {
  it('works again after its scratch textures are released', async () => {
    const c = CASES[0];
    releaseConv2dScratch();
    await checkAgainstReference(c, 300);
    releaseConv2dScratch();
    await checkAgainstReference(c, 301);
  });

  it('batch of 0 gives empty outputs', async () => {
    const x = DeviceArray.from([], [0, 3, 5, 5]);
    const w = DeviceArray.from(uniform(makeRng(1), 36), [4, 3, 3, 1]);
    const y = conv2d(x, w, null, { padding: 1 });
    expect(y.shape).toEqual([0, 4, 5, 7]);
    const dy = DeviceArray.from([], [0, 4, 5, 7]);
    expect(conv2dBackwardInput(dy, w, [0, 3, 5, 5], { padding: 1 }).shape).toEqual([0, 3, 5, 5]);
    expect(await conv2dBackwardWeight(dy, x, [4, 3, 3, 1], { padding: 1 }).toArray()).toEqual(new Array(36).fill(0));
  });

  // Each entry builds its inputs first (uploads dispatch a poison fill), then returns the call.
  const x = () => DeviceArray.from(new Float32Array(1 * 3 * 8 * 8), [1, 3, 8, 8]);
  const t = (s: number[], dtype: 'f32' | 'i32' = 'f32') => DeviceArray.from(new Float32Array(size(s)), s, dtype);
  const bad: BadCall[] = [
    ['channel mismatch', () => { const [a, b] = [x(), t([4, 5, 3, 3])]; return () => conv2d(a, b); },
      /conv2d: input \[1, 3, 8, 8\] has 3 channels but weight \[4, 5, 3, 3\] expects 5/],
    ['rank', () => { const [a, b] = [t([3, 8]), t([4, 3, 3, 3])]; return () => conv2d(a, b); },
      /conv2d: input must be \[N, C, H, W\], got \[3, 8\]/],
    ['groups not dividing C', () => { const [a, b] = [x(), t([4, 1, 3, 3])]; return () => conv2d(a, b, null, { groups: 2 }); },
      /conv2d: input \[1, 3, 8, 8\] has 3 channels, not divisible by groups = 2/],
    ['groups not dividing O', () => { const [a, b] = [t([1, 4, 8, 8]), t([3, 2, 3, 3])]; return () => conv2d(a, b, null, { groups: 2 }); },
      /conv2d: weight \[3, 2, 3, 3\] has 3 output channels, not divisible by groups = 2/],
    ['kernel larger than padded input', () => { const [a, b] = [x(), t([4, 3, 9, 9])]; return () => conv2d(a, b); },
      /conv2d: input \[1, 3, 8, 8\] padded by \[0, 0\] is smaller than the dilated kernel/],
    ['bias shape', () => { const [a, b, c] = [x(), t([4, 3, 3, 3]), t([3])]; return () => conv2d(a, b, c); },
      /conv2d: bias for weight \[4, 3, 3, 3\] has shape \[3\], expected \[4\]/],
    ['zero stride', () => { const [a, b] = [x(), t([4, 3, 3, 3])]; return () => conv2d(a, b, null, { stride: 0 }); },
      /conv2d: stride must be an integer ≥ 1/],
    ['negative padding', () => { const [a, b] = [x(), t([4, 3, 3, 3])]; return () => conv2d(a, b, null, { padding: [1, -1] }); },
      /conv2d: padding must be an integer ≥ 0/],
    ['i32 input', () => { const [a, b] = [t([1, 3, 8, 8], 'i32'), t([4, 3, 3, 3])]; return () => conv2d(a, b); },
      /conv2d: input must be f32/],
    ['dy shape (input gradient)', () => { const [a, b] = [t([1, 4, 6, 6]), t([4, 3, 3, 3])]; return () => conv2dBackwardInput(a, b, [1, 3, 8, 8], { padding: 1 }); },
      /conv2dBackwardInput: dy for input \[1, 3, 8, 8\] and weight \[4, 3, 3, 3\] has shape \[1, 4, 6, 6\], expected \[1, 4, 8, 8\]/],
    ['dy shape (weight gradient)', () => { const [a, b] = [t([1, 4, 6, 6]), x()]; return () => conv2dBackwardWeight(a, b, [4, 3, 3, 3], { stride: 2 }); },
      /conv2dBackwardWeight: dy for input \[1, 3, 8, 8\] and weight \[4, 3, 3, 3\] has shape \[1, 4, 6, 6\], expected \[1, 4, 3, 3\]/],
    ['weight-gradient shape not matching x', () => { const [a, b] = [t([1, 4, 8, 8]), x()]; return () => conv2dBackwardWeight(a, b, [4, 2, 3, 3], { padding: 1 }); },
      /conv2dBackwardWeight: input \[1, 3, 8, 8\] has 3 channels but weight \[4, 2, 3, 3\] expects 2/],
    ['bias-gradient rank', () => { const a = t([2, 3]); return () => conv2dBackwardBias(a); },
      /conv2dBackwardBias: dy must be \[N, O, OH, OW\], got \[2, 3\]/],
  ];
  itRejectsBeforeDispatch(bad);
});
