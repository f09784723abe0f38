// The multi-tensor optimizer path against the per-tensor kernels it replaces, bit for bit: the
// segmented sum of squares against sumOfSquares per array, and the AdamW optimizer (flat buffers,
// one dispatch) against adamw + sumOfSquares + gradClipScale called tensor by tensor over several
// steps with clipping, a gradient scale and a parameter that misses a step (its own step count).
import { describe, expect, it } from 'vitest';
import { optim, tensor, Tensor } from '@sd/autograd';
import * as K from '@sd/kernels';
import { DeviceArray } from '@sd/kernels';
import { makeRng, uniform } from '../util/random.ts';

const bits = async (a: DeviceArray) => new Uint32Array((await a.read()).buffer.slice(0));

describe('SegmentedTensors', () => {
  it('sumOfSquares over segments gives the bits of sumOfSquares over the arrays (sizes 0 to past the 256-group split)', async () => {
    const rng = makeRng(3);
    const sizes = [7, 0, 1025, 300_001, 1, 4096];
    const arrays = sizes.map((n) => DeviceArray.from(uniform(rng, n, -2, 2), [n]));
    const layout = new K.SegmentedTensors(sizes);
    const flat = DeviceArray.empty([layout.total], 'f32', 'test');
    K.gatherSegments(arrays, layout.segments, flat);
    for (const chosen of [[0, 1, 2, 3, 4, 5], [5, 2], [3]]) {
      const direct = K.sumOfSquares(chosen.map((i) => arrays[i]));
      const segmented = layout.sumOfSquares(flat, chosen);
      expect(await bits(segmented)).toEqual(await bits(direct));
      // …and both are the float64 sum to f32 accuracy.
      let ref = 0;
      for (const i of chosen) for (const v of await arrays[i].read()) ref += v * v;
      expect(Math.abs((await segmented.read())[0] - ref) / ref).toBeLessThan(1e-5);
      direct.dispose();
      segmented.dispose();
    }
    for (const a of [...arrays, flat]) a.dispose();
    layout.dispose();
  });

  it('gather and scatter move each array to and from its segment; a wrong size is refused with the segment named', async () => {
    const a = DeviceArray.from([1, 2, 3], [3]);
    const b = DeviceArray.from([4, 5], [2]);
    const layout = new K.SegmentedTensors([3, 2]);
    const flat = DeviceArray.empty([5], 'f32', 'test');
    K.gatherSegments([a, b], layout.segments, flat);
    expect(Array.from(await flat.read())).toEqual([1, 2, 3, 4, 5]);
    const c = DeviceArray.empty([3], 'f32', 'test');
    const d = DeviceArray.empty([2], 'f32', 'test');
    K.scatterSegments(flat, layout.segments, [c, d]);
    expect(Array.from(await c.read())).toEqual([1, 2, 3]);
    expect(Array.from(await d.read())).toEqual([4, 5]);
    expect(() => K.gatherSegments([b, a], layout.segments, flat)).toThrow(/array 0 \[2\].*segment 0 of 3/);
    for (const x of [a, b, c, d, flat]) x.dispose();
    layout.dispose();
  });
});

describe('AdamW (multi-tensor)', () => {
  for (const [title, groupElements, exact] of [
    ['one flat group', undefined, true],
    ['parameters split into groups by a small limit (the norm then sums per group: equal to rounding)', 600, false],
  ] as const) it(`${title}: matches the per-tensor kernels over 6 steps with clipping, a gradient scale, a schedule and a parameter without a gradient on some steps`, async () => {
    const rng = makeRng(11);
    const shapes = [[16, 33], [33], [1], [2, 700]];
    const init = shapes.map((s) => uniform(rng, s.reduce((a, b) => a * b, 1), -1, 1));
    const grads = Array.from({ length: 6 }, () => init.map((x) => uniform(rng, x.length, -3, 3)));
    const cfg = { lr: 3e-3, betas: [0.9, 0.96] as [number, number], eps: 1e-6, weightDecay: 0.06, groupElements };
    const schedule = (step: number) => Math.min(1, (step + 1) / 3);
    const skips = (step: number, k: number) => k === 1 && (step === 2 || step === 3);
    const stepOptions = (step: number) => ({ maxGradNorm: step % 2 ? 0.5 : 100, gradScale: step === 4 ? 0.25 : undefined });

    // The optimizer under test.
    const params = init.map((x, k) => tensor(x, shapes[k], { requiresGrad: true }).keep());
    const opt = new optim.AdamW(params, cfg);
    opt.schedule = schedule;
    // The per-tensor reference: the kernels the optimizer called before it was batched.
    const ref = init.map((x, k) => DeviceArray.from(x, shapes[k]));
    const m = init.map((x, k) => DeviceArray.from(new Float32Array(x.length), shapes[k]));
    const v = init.map((x, k) => DeviceArray.from(new Float32Array(x.length), shapes[k]));
    const refSteps = shapes.map(() => 0);

    for (let step = 0; step < grads.length; step++) {
      const active = shapes.map((_, k) => k).filter((k) => !skips(step, k));
      const g = grads[step].map((x, k) => DeviceArray.from(x, shapes[k]));
      params.forEach((p, k) => (p.grad = active.includes(k) ? new Tensor(g[k]) : null));
      const { maxGradNorm, gradScale } = stepOptions(step);
      opt.update({ maxGradNorm, gradScale });

      const squares = K.sumOfSquares(active.map((k) => g[k]));
      const scaled = gradScale ? K.binary('mul', squares, gradScale ** 2) : squares;
      let scale = K.gradClipScale(scaled, maxGradNorm);
      if (gradScale) scale = K.binary('mul', scale, gradScale);
      const lr = cfg.lr * schedule(step);
      for (const k of active) {
        K.adamw(ref[k], g[k], m[k], v[k], { lr, step: ++refSteps[k], beta1: cfg.betas[0], beta2: cfg.betas[1], eps: cfg.eps, weightDecay: cfg.weightDecay, gradScale: scale });
      }
      opt.zeroGrad();
      for (const x of new Set([squares, scaled, scale])) x.dispose();
    }
    const same = async (a: DeviceArray, b: DeviceArray, what: string) => {
      if (exact) expect(await bits(a), what).toEqual(await bits(b));
      else {
        const [x, y] = [await a.read(), await b.read()];
        x.forEach((value, i) => expect(Math.abs(value - y[i]), `${what}[${i}]`).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(y[i]))));
      }
    };
    for (let k = 0; k < shapes.length; k++) await same(params[k].data, ref[k], `parameter ${k}`);
    // The moments in the state dict are the per-tensor ones too.
    const state = opt.stateDict();
    for (let k = 0; k < shapes.length; k++) {
      await same(state.get(`${k}.exp_avg`)!.data, m[k], `exp_avg ${k}`);
      await same(state.get(`${k}.exp_avg_sq`)!.data, v[k], `exp_avg_sq ${k}`);
    }
    opt.dispose();
    for (const x of [...params]) x.dispose();
    for (const x of [...ref, ...m, ...v]) x.dispose();
  });
});
