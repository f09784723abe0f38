// The shifted diffusion math against float64 references, and one test per seed bug.
import { describe, expect, it } from 'vitest';
import { Generator, noGrad, tensor, tidy, type Tensor } from '@sd/autograd';
import { randomNormalHost } from '@sd/kernels';
import { ShiftedDiffusion, guide, sample } from '../../packages/models/src/prior/diffusion.ts';
import { linearSchedule, posteriorCoefficients, respace, type Schedule } from '../../packages/models/src/diffusion/schedule.ts';
import type { ShiftStats } from '../../packages/models/src/prior/shift.ts';
import { expectClose } from '../util/close.ts';
import { makeRng, normal, uniform } from '../util/random.ts';

function stats(k: number, dim: number, seed: number): ShiftStats {
  const rng = makeRng(seed);
  return { k, dim, mean: uniform(rng, k * dim, -2, 2), std: uniform(rng, k * dim, 0.05, 0.3), counts: new Array(k).fill(1) };
}

describe('noise schedule', () => {
  const base = linearSchedule();
  it('is linear from 1e-4 to 0.02 over 1000 steps with ᾱ the running product', () => {
    expect(base.betas[0]).toBeCloseTo(1e-4, 12);
    expect(base.betas[999]).toBeCloseTo(0.02, 12);
    let prod = 1;
    for (let t = 0; t < 1000; t++) {
      prod *= 1 - base.betas[t];
      expect(base.alphasCumprod[t]).toBeCloseTo(prod, 12);
    }
  });

  it('respacing keeps the chosen ᾱ and the products of the new β reproduce them', () => {
    for (const steps of [1, 8, 50, 1000]) {
      const s = respace(base, steps);
      expect(s.timesteps.length).toBe(steps);
      expect(s.timesteps[s.timesteps.length - 1]).toBe(999);
      let prod = 1;
      s.timesteps.forEach((t, i) => {
        prod *= 1 - s.betas[i];
        expect(s.alphasCumprod[i]).toBeCloseTo(base.alphasCumprod[t], 12);
        expect(prod).toBeCloseTo(base.alphasCumprod[t], 12);
      });
    }
  });

  it('posterior coefficients equal Bayes on the shifted process (float64)', () => {
    for (const sched of [base, respace(base, 8)]) {
      for (let i = 1; i < sched.timesteps.length; i += Math.max(1, Math.floor(sched.timesteps.length / 7))) {
        const ab = sched.alphasCumprod[i];
        const abPrev = sched.alphasCumprod[i - 1];
        const beta = sched.betas[i];
        // In y = x − μ (units of s): prior y_{t−1} ~ N(√ᾱ_{t−1} y₀, 1−ᾱ_{t−1}); y_t | y_{t−1} ~ N(√(1−β) y_{t−1}, β).
        const precision = 1 / (1 - abPrev) + (1 - beta) / beta;
        const c1 = Math.sqrt(abPrev) / (1 - abPrev) / precision;
        const c2 = Math.sqrt(1 - beta) / beta / precision;
        const p = posteriorCoefficients(sched, i);
        expect(p.c1).toBeCloseTo(c1, 10);
        expect(p.c2).toBeCloseTo(c2, 10);
        expect(p.varianceSmall).toBeCloseTo(1 / precision, 12);
        expect(ab).toBeGreaterThan(0);
      }
    }
  });
});

/** Float64 reference of `sample()` with the same noise stream (randn draws in order from one generator). */
function referenceSample(sched: Schedule, mu: Float32Array, s: Float32Array, denoise: (x: Float64Array, t: number) => Float64Array, seed: number, sampler: 'ddpm' | 'ddim', eta = 0): Float64Array {
  const n = mu.length;
  const g = new Generator(seed);
  const draw = () => randomNormalHost(n, g.seed, g.take(n));
  const e0 = draw();
  let x = Float64Array.from(mu, (m, i) => m + s[i] * e0[i]);
  for (let i = sched.timesteps.length - 1; i >= 0; i--) {
    const x0 = denoise(x, sched.timesteps[i]);
    const next = new Float64Array(n);
    if (sampler === 'ddpm') {
      const { c1, c2, varianceSmall } = posteriorCoefficients(sched, i);
      const z = i > 0 ? draw() : null;
      for (let k = 0; k < n; k++) next[k] = mu[k] + c1 * (x0[k] - mu[k]) + c2 * (x[k] - mu[k]) + (z ? s[k] * Math.sqrt(varianceSmall) * z[k] : 0);
    } else {
      const ab = sched.alphasCumprod[i];
      const abPrev = i > 0 ? sched.alphasCumprod[i - 1] : 1;
      const sigma = i > 0 ? eta * Math.sqrt((1 - abPrev) / (1 - ab)) * Math.sqrt(1 - ab / abPrev) : 0;
      const z = sigma > 0 ? draw() : null;
      for (let k = 0; k < n; k++) {
        const y0 = x0[k] - mu[k];
        const epsS = (x[k] - mu[k] - Math.sqrt(ab) * y0) / Math.sqrt(1 - ab);
        next[k] = mu[k] + Math.sqrt(abPrev) * y0 + Math.sqrt(1 - abPrev - sigma * sigma) * epsS + (z ? sigma * s[k] * z[k] : 0);
      }
    }
    x = next;
  }
  return x;
}

describe('shifted diffusion on the GPU', () => {
  it('qSample equals √ᾱ·x₀ + (1−√ᾱ)·μ + √(1−ᾱ)·s⊙ε in float64', async () => {
    const st = stats(3, 5, 1);
    const diffusion = new ShiftedDiffusion(st, 5);
    const rng = makeRng(2);
    const b = 4;
    const x0 = normal(rng, b * 5);
    const eps = normal(rng, b * 5);
    const clusters = Int32Array.from([2, 0, 1, 2]);
    const t = [0, 10, 500, 999];
    const got = await tidy(() => {
      const { mu, s } = diffusion.shiftOf(clusters);
      return diffusion.qSample(tensor(x0, [b, 5]), t, tensor(eps, [b, 5]), mu, s).keep();
    }).read();
    const expected = new Float64Array(b * 5);
    for (let r = 0; r < b; r++) {
      const ab = diffusion.schedule.alphasCumprod[t[r]];
      for (let d = 0; d < 5; d++) {
        const mu = st.mean[clusters[r] * 5 + d];
        const s = 5 * st.std[clusters[r] * 5 + d];
        expected[r * 5 + d] = Math.sqrt(ab) * x0[r * 5 + d] + (1 - Math.sqrt(ab)) * mu + Math.sqrt(1 - ab) * s * eps[r * 5 + d];
      }
    }
    expectClose(got, expected, { rtol: 1e-5, atol: 1e-5 });
  });

  it("the loss is the (1−ᾱ_t)-weighted mean squared error, or the plain one with 'uniform'", async () => {
    const diffusion = new ShiftedDiffusion(stats(1, 3, 3), 1);
    const x0 = [1, 2, 3, 0, 0, 0];
    const pred = [1, 2, 4, 1, 1, 1];
    const t = [999, 0];
    const got = await tidy(() => diffusion.loss(tensor(x0, [2, 3]), tensor(pred, [2, 3]), t).keep()).item();
    const w = t.map((i) => 1 - diffusion.schedule.alphasCumprod[i]);
    expect(got).toBeCloseTo(((w[0] * 1) / 3 + (w[1] * 3) / 3) / 2, 6);
    // 'uniform': every timestep weighs 1.
    const uniform = await tidy(() => diffusion.loss(tensor(x0, [2, 3]), tensor(pred, [2, 3]), t, 'uniform').keep()).item();
    expect(uniform).toBeCloseTo((1 / 3 + 3 / 3) / 2, 6);
  });

  for (const [sampler, eta] of [['ddpm', 0], ['ddim', 0], ['ddim', 0.7]] as const) {
    it(`${sampler}${sampler === 'ddim' ? ` (η=${eta})` : ''} follows the float64 reference trajectory step by step`, async () => {
      const st = stats(2, 6, 4);
      const diffusion = new ShiftedDiffusion(st, 3);
      const clusters = Int32Array.from([1, 0, 1]);
      const sched = respace(diffusion.schedule, 8);
      // A deterministic stand-in for the network: x̂₀ = 0.5·x_t + 0.01·t.
      const gpuDenoise = (x: Tensor, t: number) => x.mul(0.5).add(0.01 * t);
      const cpuDenoise = (x: Float64Array, t: number) => x.map((v) => 0.5 * v + 0.01 * t);
      const got = await tidy(() => {
        const { mu, s } = diffusion.shiftOf(clusters);
        return sample(diffusion, gpuDenoise, mu, s, { steps: 8, generator: new Generator(11), sampler, eta }).keep();
      }).read();
      const mu = new Float32Array(18);
      const s = new Float32Array(18);
      clusters.forEach((c, r) => {
        for (let d = 0; d < 6; d++) {
          mu[r * 6 + d] = st.mean[c * 6 + d];
          s[r * 6 + d] = 3 * st.std[c * 6 + d];
        }
      });
      const expected = referenceSample(sched, mu, s, cpuDenoise, 11, sampler, eta);
      expectClose(got, expected, { rtol: 1e-4, atol: 1e-4 });
    });
  }

  it('the same seed gives the same samples, another seed other samples', async () => {
    const diffusion = new ShiftedDiffusion(stats(1, 4, 5), 2);
    const run = (seed: number) =>
      tidy(() => {
        const { mu, s } = diffusion.shiftOf(new Int32Array(3));
        return sample(diffusion, (x) => x.mul(0.9), mu, s, { steps: 8, generator: new Generator(seed) }).keep();
      }).toArray();
    const [a, b, c] = [await run(1), await run(1), await run(2)];
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });
});

describe('the seed implementation bugs (each would fail one of these)', () => {
  /** Records the x_T each sampler starts from, over many samples of one cluster. */
  async function startingPoints(sampler: 'ddpm' | 'ddim', st: ShiftStats, scale: number, n: number): Promise<Float32Array> {
    const diffusion = new ShiftedDiffusion(st, scale);
    let first: Float32Array | null = null;
    const pending: Promise<void>[] = [];
    await tidy(async () => {
      const { mu, s } = diffusion.shiftOf(new Int32Array(n));
      const denoise = (x: Tensor) => {
        if (!first) {
          const copy = x.mul(1).keep();
          first = new Float32Array(0);
          pending.push(copy.read().then((v) => void (first = v as Float32Array)).finally(() => copy.dispose()));
        }
        return x.mul(1);
      };
      noGrad(() => sample(diffusion, denoise, mu, s, { steps: 4, generator: new Generator(3), sampler }));
      await Promise.all(pending);
    });
    return first!;
  }

  for (const sampler of ['ddpm', 'ddim'] as const) {
    it(`${sampler} starts at x_T = μ + s⊙ε (shifted, with s = scale·σ ≠ 0)`, async () => {
      const st = stats(1, 4, 6);
      const n = 4000;
      const xT = await startingPoints(sampler, st, 5, n);
      for (let d = 0; d < 4; d++) {
        let m = 0;
        let v = 0;
        for (let i = 0; i < n; i++) m += xT[i * 4 + d] / n;
        for (let i = 0; i < n; i++) v += (xT[i * 4 + d] - m) ** 2 / n;
        const s = 5 * st.std[d];
        expect(Math.abs(m - st.mean[d])).toBeLessThan((4 * s) / Math.sqrt(n)); // shifted to μ (DDIM bug: not shifted)
        expect(Math.sqrt(v) / s).toBeGreaterThan(0.93); // spread s = scale·σ (sampling-script bug: σ = 0)
        expect(Math.sqrt(v) / s).toBeLessThan(1.07);
      }
    });
  }

  it('guidance mixes the whole vector, not half of it', async () => {
    const c = [1, 2, 3, 4, 5, 6];
    const u = [0, 0, 1, 1, 2, 2];
    const got = await tidy(() => guide(tensor(c, [1, 6]), tensor(u, [1, 6]), 3).keep()).toArray();
    expect(got).toEqual(u.map((v, i) => v + 3 * (c[i] - v)));
  });

  it('every step uses the cluster the sample started from', async () => {
    // Two far-apart clusters in one batch; an identity denoiser keeps each sample at its own μ.
    const st: ShiftStats = { k: 2, dim: 2, mean: Float32Array.from([-10, -10, 10, 10]), std: Float32Array.from([0.1, 0.1, 0.1, 0.1]), counts: [1, 1] };
    const diffusion = new ShiftedDiffusion(st, 1);
    const clusters = Int32Array.from([0, 1, 1, 0]);
    const out = await tidy(() => {
      const { mu, s } = diffusion.shiftOf(clusters);
      return sample(diffusion, (x) => x.mul(1), mu, s, { steps: 8, generator: new Generator(5) }).keep();
    }).read();
    clusters.forEach((c, r) => {
      for (let d = 0; d < 2; d++) expect(Math.abs(out[r * 2 + d] - st.mean[c * 2 + d])).toBeLessThan(1);
    });
  });

  it('ddim runs for 1 step and for the full 1000 steps', async () => {
    const diffusion = new ShiftedDiffusion(stats(1, 2, 7), 1);
    for (const steps of [1, 1000]) {
      const out = await tidy(() => {
        const { mu, s } = diffusion.shiftOf(new Int32Array(2));
        return sample(diffusion, (x) => x.mul(0.5), mu, s, { steps, generator: new Generator(1), sampler: 'ddim' }).keep();
      }).toArray();
      expect(out.every(Number.isFinite)).toBe(true);
    }
  });
});
