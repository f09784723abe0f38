import { describe, expect, it } from 'vitest';
import { DeviceArray, adamw, gradClipScale, rt, sgd, sumOfSquares } from '@sd/kernels';
import { expectClose } from '../util/close.ts';
import { makeRng, normal, uniform } from '../util/random.ts';

const rng = makeRng(31);

/** torch.optim.AdamW (amsgrad=False, maximize=False) in float64. */
function refAdamW(p: Float64Array, g: ArrayLike<number>, m: Float64Array, v: Float64Array, o: { lr: number; step: number; beta1: number; beta2: number; eps: number; wd: number }): void {
  const bc1 = 1 - o.beta1 ** o.step;
  const bc2 = 1 - o.beta2 ** o.step;
  for (let i = 0; i < p.length; i++) {
    p[i] *= 1 - o.lr * o.wd;
    m[i] = o.beta1 * m[i] + (1 - o.beta1) * g[i];
    v[i] = o.beta2 * v[i] + (1 - o.beta2) * g[i] * g[i];
    const denom = Math.sqrt(v[i]) / Math.sqrt(bc2) + o.eps;
    p[i] -= (o.lr / bc1) * (m[i] / denom);
  }
}

/** torch.optim.SGD in float64 (buf = null until the first step). */
function refSgd(p: Float64Array, g: ArrayLike<number>, buf: Float64Array | null, o: { lr: number; step: number; momentum: number; dampening: number; wd: number; nesterov: boolean }): void {
  for (let i = 0; i < p.length; i++) {
    let d = g[i] + o.wd * p[i];
    if (o.momentum !== 0 && buf) {
      buf[i] = o.step === 1 ? d : o.momentum * buf[i] + (1 - o.dampening) * d;
      d = o.nesterov ? d + o.momentum * buf[i] : buf[i];
    }
    p[i] -= o.lr * d;
  }
}

describe('adamw', () => {
  for (const n of [1, 257, 1000]) {
    it(`matches PyTorch AdamW over 6 steps with a changing lr (n = ${n})`, async () => {
      const p0 = normal(rng, n);
      const param = DeviceArray.from(p0, [n]);
      const m = DeviceArray.from(new Float32Array(n), [n]);
      const v = DeviceArray.from(new Float32Array(n), [n]);
      const rp = Float64Array.from(p0);
      const rm = new Float64Array(n);
      const rv = new Float64Array(n);
      const hyper = { beta1: 0.9, beta2: 0.95, eps: 1e-8, wd: 0.1 };
      const compiledBefore = rt().stats.pipelinesCompiled;
      for (let step = 1; step <= 6; step++) {
        const lr = 1e-2 / step;
        const gs = normal(rng, n, step === 3 ? 1e-3 : 1); // one tiny-gradient step exercises eps
        const grad = DeviceArray.from(gs, [n]);
        adamw(param, grad, m, v, { lr, step, beta1: hyper.beta1, beta2: hyper.beta2, eps: hyper.eps, weightDecay: hyper.wd });
        refAdamW(rp, gs, rm, rv, { lr, step, ...hyper });
        grad.dispose();
      }
      expect(rt().stats.pipelinesCompiled - compiledBefore).toBeLessThanOrEqual(1); // per-step scalars are uniforms
      expectClose(await param.read(), rp, { rtol: 1e-5, atol: 1e-6 }, 'param');
      expectClose(await m.read(), rm, { rtol: 1e-5, atol: 1e-7 }, 'exp_avg');
      expectClose(await v.read(), rv, { rtol: 1e-5, atol: 1e-9 }, 'exp_avg_sq');
    });
  }

  it('applies a gradient scale given as a number or as a device scalar', async () => {
    const n = 100;
    const p0 = normal(rng, n);
    const gs = normal(rng, n);
    const opts = { lr: 1e-3, step: 1, weightDecay: 0 };
    const results: Float32Array[] = [];
    for (const scale of [0.25, DeviceArray.from([0.25], [1])]) {
      const param = DeviceArray.from(p0, [n]);
      const m = DeviceArray.from(new Float32Array(n), [n]);
      const v = DeviceArray.from(new Float32Array(n), [n]);
      adamw(param, DeviceArray.from(gs, [n]), m, v, { ...opts, gradScale: scale });
      results.push((await m.read()) as Float32Array);
    }
    const expected = Array.from(gs, (g) => 0.1 * 0.25 * g);
    expectClose(results[0], expected, { rtol: 1e-6 }, 'm with numeric scale');
    expectClose(results[1], expected, { rtol: 1e-6 }, 'm with device scale');
  });

  it('rejects mismatched state and bad steps', () => {
    const a = DeviceArray.from([1, 2], [2]);
    const b = DeviceArray.from([1, 2, 3], [3]);
    expect(() => adamw(a, a, b, a, { lr: 1, step: 1 })).toThrow('adamw: m has shape [3] but param has shape [2]');
    expect(() => adamw(a, a, a, a, { lr: 1, step: 0 })).toThrow('adamw: step must be an integer ≥ 1, got 0');
    const c = DeviceArray.from([1, 2], [2]);
    expect(() => adamw(a, c, a, DeviceArray.from([0, 0], [2]), { lr: 1, step: 1 })).toThrow('an output buffer is also bound');
  });
});

describe('sgd', () => {
  const configs = [
    { momentum: 0, dampening: 0, wd: 0, nesterov: false },
    { momentum: 0.9, dampening: 0, wd: 1e-2, nesterov: false },
    { momentum: 0.9, dampening: 0, wd: 0, nesterov: true },
    { momentum: 0.8, dampening: 0.3, wd: 5e-3, nesterov: false },
  ];
  for (const cfg of configs) {
    it(`matches PyTorch SGD over 5 steps: ${JSON.stringify(cfg)}`, async () => {
      const n = 333;
      const p0 = normal(rng, n);
      const param = DeviceArray.from(p0, [n]);
      const buf = cfg.momentum ? DeviceArray.from(uniform(rng, n), [n]) : null; // garbage: step 1 must overwrite it
      const rp = Float64Array.from(p0);
      const rb = cfg.momentum ? new Float64Array(n) : null;
      for (let step = 1; step <= 5; step++) {
        const lr = 0.1 / step;
        const gs = normal(rng, n);
        sgd(param, DeviceArray.from(gs, [n]), buf, { lr, step, momentum: cfg.momentum, dampening: cfg.dampening, weightDecay: cfg.wd, nesterov: cfg.nesterov });
        refSgd(rp, gs, rb, { lr, step, ...cfg });
      }
      expectClose(await param.read(), rp, { rtol: 1e-5, atol: 1e-6 }, 'param');
      if (buf && rb) expectClose(await buf.read(), rb, { rtol: 1e-5, atol: 1e-6 }, 'momentum buffer');
    });
  }

  it('rejects nesterov without momentum', () => {
    const a = DeviceArray.from([1], [1]);
    expect(() => sgd(a, DeviceArray.from([1], [1]), null, { lr: 1, step: 1, nesterov: true })).toThrow('sgd: nesterov momentum requires momentum > 0');
  });
});

describe('sumOfSquares', () => {
  it('sums squares over many arrays of awkward sizes', async () => {
    const sizes = [0, 1, 7, 256, 1025, 300_001];
    const data = sizes.map((n) => uniform(rng, n, -2, 2));
    const out = sumOfSquares(data.map((d, k) => DeviceArray.from(d, [sizes[k]])));
    expect(out.shape).toEqual([1]);
    let ref = 0;
    for (const d of data) for (const x of d) ref += x * x;
    expectClose(await out.read(), [ref], { rtol: 1e-5 }, 'sum of squares');
    expect(await sumOfSquares([]).toArray()).toEqual([0]);
  });

  it('is deterministic and feeds gradClipScale like clip_grad_norm_', async () => {
    const a = DeviceArray.from(uniform(rng, 50_000), [50_000]);
    const b = DeviceArray.from(uniform(rng, 999), [999]);
    const first = (await sumOfSquares([a, b]).read())[0];
    for (let k = 0; k < 3; k++) expect((await sumOfSquares([a, b]).read())[0]).toBe(first);
    const norm = Math.sqrt(first);
    const clip = await gradClipScale(sumOfSquares([a, b]), 1.0).read();
    expectClose(clip, [1 / (norm + 1e-6)], { rtol: 1e-6 }, 'clip coefficient');
    expect(await gradClipScale(DeviceArray.from([0.25], [1]), 1.0).toArray()).toEqual([1]);
  });
});
