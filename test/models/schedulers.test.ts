// The diffusers-compatible schedulers: timesteps against diffusers' own values, single steps and whole
// trajectories against float64 references written from the papers, and config validation.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Generator, memory, tensor, tidy, type Tensor } from '@sd/autograd';
import { randomNormalHost } from '@sd/kernels';
import {
  DDIMScheduler,
  DDPMScheduler,
  DPMSolverMultistepScheduler,
  EulerAncestralDiscreteScheduler,
  EulerDiscreteScheduler,
  classifierFreeGuidance,
  linearSchedule,
  parseSchedulerConfig,
  sampleLoop,
  type DDIMStepOptions,
  type DiffusionScheduler,
  type PredictionType,
} from '@sd/models';
import { expectClose } from '../util/close.ts';
import { makeRng, normal } from '../util/random.ts';
import { DDIM_DDPM_TIMESTEPS, DPM_SOLVER_TIMESTEPS, EULER_TIMESTEPS } from '../util/ref/diffusers-timesteps.ts';
import { SD2_BASE_SCHEDULER_CONFIG } from '../util/sd2-base.ts';
import {
  refAlphasCumprod,
  refAncestralUp,
  refDdimStep,
  refDdpmStep,
  refDenoised,
  refDpmSolverPP2M,
  refEulerStep,
  refPredict,
  refSigma,
  type Kind,
} from '../util/ref/schedulers.ts';

const SD2 = parseSchedulerConfig(SD2_BASE_SCHEDULER_CONFIG);
const SD_ALPHAS = refAlphasCumprod('scaled_linear', 1000, 0.00085, 0.012);

type Name = 'ddpm' | 'ddim' | 'euler' | 'euler_ancestral' | 'dpm';
const FACTORIES: Record<Name, (config: Record<string, unknown>) => DiffusionScheduler> = {
  ddpm: (c) => DDPMScheduler.fromConfig(c),
  ddim: (c) => DDIMScheduler.fromConfig(c),
  euler: (c) => EulerDiscreteScheduler.fromConfig(c),
  euler_ancestral: (c) => EulerAncestralDiscreteScheduler.fromConfig(c),
  dpm: (c) => DPMSolverMultistepScheduler.fromConfig(c),
};
const make = (name: Name, overrides: Record<string, unknown> = {}): DiffusionScheduler => FACTORIES[name]({ ...SD2, ...overrides });
const PREDICTIONS: PredictionType[] = ['epsilon', 'v_prediction', 'sample'];
const SPACINGS = ['leading', 'trailing', 'linspace'] as const;

async function readAndDispose(t: Tensor): Promise<Float64Array> {
  const values = Float64Array.from(await t.read());
  t.dispose();
  return values;
}

/** The noise the scheduler's randn draws next from a generator in this state. */
const drawNoise = (g: Generator, n: number) => randomNormalHost(n, g.seed, g.take(n));

/** diffusers' initial-noise scale: σ_max (σ-schedulers; √(σ_max²+1) with 'leading'), else 1. */
function refInitNoiseSigma(name: Name, s: DiffusionScheduler): number {
  if (name !== 'euler' && name !== 'euler_ancestral') return 1;
  const max = refSigma(SD_ALPHAS, s.timesteps[0]);
  return s.config.timestep_spacing === 'leading' ? Math.sqrt(max * max + 1) : max;
}

/**
 * A full trajectory in float64 with the diffusers conventions spelled out: DDPM steps to the next
 * listed timestep (ᾱ = 1 after the last) and adds noise while t > 0; DDIM steps to t − T/n (floored)
 * with ᾱ_0 or 1 before t = 0; σ-schedulers interpolate σ linearly and end at σ = 0; noise is drawn in
 * the order the steps need it.
 */
function referenceTrajectory(
  name: Name,
  s: DiffusionScheduler,
  noise: Float32Array,
  model: (input: Float64Array, t: number) => Float64Array,
  o: { seed: number; eta?: number },
): Float64Array {
  const ts = s.timesteps;
  const n = ts.length;
  const g = new Generator(o.seed);
  const pred = s.config.prediction_type;
  const clipRange = (s.config as { clip_sample?: boolean }).clip_sample ? 1 : null;
  let x: Float64Array = Float64Array.from(noise, (v) => v * refInitNoiseSigma(name, s));
  if (name === 'dpm') {
    const c = s.config as unknown as { final_sigmas_type: string; lower_order_final: boolean; euler_at_final: boolean; solver_order: number };
    const levels = [...ts.map((t) => refSigma(SD_ALPHAS, t)), c.final_sigmas_type === 'zero' ? 0 : refSigma(SD_ALPHAS, 0)];
    const firstOrderAt = (i: number) =>
      c.solver_order === 1 || i === 0 || (i === n - 1 && (c.final_sigmas_type === 'zero' || c.euler_at_final || (c.lower_order_final && n < 15)));
    return refDpmSolverPP2M(x, levels, ts, model, pred, firstOrderAt);
  }
  for (let i = 0; i < n; i++) {
    const t = ts[i];
    if (name === 'ddpm') {
      const out = model(x, t);
      const abPrev = i + 1 < n ? SD_ALPHAS[ts[i + 1]] : 1;
      const z = t > 0 ? drawNoise(g, x.length) : null;
      x = refDdpmStep(x, out, SD_ALPHAS[t], abPrev, { prediction: pred, clipRange, variance: 'fixed_small', z });
    } else if (name === 'ddim') {
      const out = model(x, t);
      const prev = t - Math.floor(1000 / n);
      const finalAlpha = (s.config as { set_alpha_to_one?: boolean }).set_alpha_to_one ? 1 : SD_ALPHAS[0];
      const eta = o.eta ?? 0;
      const z = eta > 0 ? drawNoise(g, x.length) : null;
      x = refDdimStep(x, out, SD_ALPHAS[t], prev >= 0 ? SD_ALPHAS[prev] : finalAlpha, { prediction: pred, clipRange, eta, z });
    } else {
      const sigma = refSigma(SD_ALPHAS, t);
      const next = i + 1 < n ? refSigma(SD_ALPHAS, ts[i + 1]) : 0;
      const scale = 1 / Math.sqrt(sigma * sigma + 1);
      const out = model(x.map((v) => v * scale), t);
      const ancestral = name === 'euler_ancestral';
      const z = ancestral && refAncestralUp(sigma, next) > 0 ? drawNoise(g, x.length) : null;
      x = refEulerStep(x, out, sigma, next, { prediction: pred, ancestral, z });
    }
  }
  return x;
}

describe('noise schedules', () => {
  for (const [kind, start, end] of [
    ['linear', 1e-4, 0.02],
    ['scaled_linear', 0.00085, 0.012],
    ['squaredcos_cap_v2', 0, 0],
  ] as [Kind, number, number][]) {
    it(`${kind}: ᾱ equals the float64 reference`, () => {
      const s = new DDPMScheduler({ beta_schedule: kind, beta_start: start, beta_end: end });
      expectClose(s.alphasCumprod, refAlphasCumprod(kind, 1000, start, end), { rtol: 1e-12, atol: 0 }, kind);
    });
  }

  it("Stable Diffusion's schedule has k-diffusion's σ_min 0.0292 and σ_max 14.6146", () => {
    const s = EulerDiscreteScheduler.fromConfig(SD2);
    expect(s.betas[0]).toBeCloseTo(0.00085, 15);
    expect(s.betas[999]).toBeCloseTo(0.012, 15);
    expect(s.trainSigmas[0]).toBeCloseTo(0.0292, 4);
    expect(s.initNoiseSigma).toBeCloseTo(14.6146, 4); // linspace spacing: σ at t = 999
  });

  it('the prior keeps its linear schedule numbers through the shared beta code', () => {
    const prior = linearSchedule();
    const expected = refAlphasCumprod('linear', 1000, 1e-4, 0.02);
    expectClose(prior.alphasCumprod, expected, { rtol: 1e-12, atol: 0 });
    expect(prior.betas[0]).toBe(1e-4);
    expect(prior.betas[999]).toBe(0.02);
    expect(Array.from(prior.alphasCumprod)).toEqual(Array.from(new DDPMScheduler().alphasCumprod));
  });

  it('trained_betas replace the named schedule', () => {
    const betas = Array.from({ length: 10 }, (_, i) => 0.01 * (i + 1));
    const s = DDIMScheduler.fromConfig({ num_train_timesteps: 10, trained_betas: betas, beta_schedule: 'squaredcos_cap_v2' });
    let prod = 1;
    betas.forEach((b, i) => {
      prod *= 1 - b;
      expect(s.alphasCumprod[i]).toBeCloseTo(prod, 14);
    });
  });
});

describe('timesteps match diffusers for the Stable Diffusion 2 base config', () => {
  const tables: [Name, typeof DDIM_DDPM_TIMESTEPS][] = [
    ['ddpm', DDIM_DDPM_TIMESTEPS],
    ['ddim', DDIM_DDPM_TIMESTEPS],
    ['euler', EULER_TIMESTEPS],
    ['euler_ancestral', EULER_TIMESTEPS],
    ['dpm', DPM_SOLVER_TIMESTEPS],
  ];
  for (const [name, table] of tables) {
    it(`${name}: leading, trailing and linspace for 10, 25 and 50 steps`, () => {
      for (const spacing of SPACINGS) {
        for (const n of [10, 25, 50] as const) {
          const s = make(name, { timestep_spacing: spacing });
          s.setTimesteps(n);
          expect(s.timesteps, `${name} ${spacing} ${n}`).toEqual(table[spacing][n]);
        }
      }
    });
  }

  it('DDIM with the config as published (leading, steps_offset 1): 981, 961, …, 1 for 50 steps', () => {
    const s = DDIMScheduler.fromConfig(SD2_BASE_SCHEDULER_CONFIG);
    s.setTimesteps(50);
    expect(s.timesteps).toEqual(Array.from({ length: 50 }, (_, i) => 981 - 20 * i));
    expect(s.finalAlphaCumprod).toBeCloseTo(1 - 0.00085, 15); // set_alpha_to_one false → ᾱ_0
  });

  it("each scheduler's default spacing is diffusers' (Euler and DPM-Solver: linspace)", () => {
    const first = (name: Name) => {
      const s = make(name);
      s.setTimesteps(10);
      return s.timesteps[0];
    };
    expect([first('ddpm'), first('ddim'), first('euler'), first('euler_ancestral'), first('dpm')]).toEqual([901, 901, 999, 999, 999]);
  });

  it('rejects step counts diffusers would mishandle', () => {
    const s = make('ddim', { timestep_spacing: 'trailing' });
    expect(() => s.setTimesteps(61)).toThrow(/62 timesteps for 61 steps/); // NumPy's arange gives 62, ending at −1
    expect(() => s.setTimesteps(0)).toThrow(/integer in \[1, 1000\]/);
    expect(() => s.setTimesteps(1001)).toThrow(/integer in \[1, 1000\]/);
    expect(() => make('ddim', { steps_offset: 5 }).setTimesteps(1000)).toThrow(/outside \[0, 999\]/);
  });
});

describe('config validation', () => {
  const keysOf = (warnings: readonly string[]) => warnings.map((w) => /unknown config key "(\w+)" = .* ignored$/.exec(w)![1]).sort();

  it('reports the keys a scheduler does not know, and does not keep them', () => {
    expect(keysOf(DDIMScheduler.fromConfig(SD2).warnings)).toEqual(['skip_prk_steps']);
    expect(keysOf(DDPMScheduler.fromConfig(SD2).warnings)).toEqual(['set_alpha_to_one', 'skip_prk_steps']);
    for (const name of ['euler', 'euler_ancestral', 'dpm'] as const) {
      const s = make(name);
      expect(keysOf(s.warnings), name).toEqual(['clip_sample', 'set_alpha_to_one', 'skip_prk_steps']);
      expect('set_alpha_to_one' in s.config).toBe(false);
    }
    const seen: string[] = [];
    DDIMScheduler.fromConfig(SD2_BASE_SCHEDULER_CONFIG, { warn: (m) => seen.push(m) });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatch(/"skip_prk_steps" = true/);
  });

  const bad: [Name, Record<string, unknown>, RegExp][] = [
    ['ddim', { beta_schedule: 'foo' }, /"beta_schedule": "foo" is not supported \(only "linear" or "scaled_linear" or "squaredcos_cap_v2"/],
    ['euler', { prediction_type: 'x' }, /"prediction_type": "x" is not supported/],
    ['dpm', { timestep_spacing: 'even' }, /"timestep_spacing": "even" is not supported/],
    ['ddpm', { num_train_timesteps: '1000' }, /"num_train_timesteps" is "1000", expected int/],
    ['ddim', { steps_offset: 1.5 }, /"steps_offset" is 1\.5, expected int/],
    ['ddim', { clip_sample: 'false' }, /"clip_sample" is "false", expected bool/],
    ['ddim', { beta_start: null }, /"beta_start" is null, expected number/],
    ['ddim', { thresholding: true }, /"thresholding": true is not supported/],
    ['ddpm', { variance_type: 'learned_range' }, /"variance_type": "learned_range" is not supported/],
    ['euler', { use_karras_sigmas: true }, /"use_karras_sigmas": true is not supported/],
    ['euler', { interpolation_type: 'log_linear' }, /"interpolation_type": "log_linear" is not supported/],
    ['dpm', { solver_order: 3 }, /"solver_order": 3 is not supported/],
    ['dpm', { algorithm_type: 'dpmsolver' }, /"algorithm_type": "dpmsolver" is not supported/],
    ['dpm', { lambda_min_clipped: -5.1 }, /"lambda_min_clipped": -5\.1 is not supported/],
    ['euler_ancestral', { rescale_betas_zero_snr: true }, /"rescale_betas_zero_snr": true is not supported/],
    ['ddim', { trained_betas: [0.1, 0.2] }, /"trained_betas" has 2 values but "num_train_timesteps" is 1000/],
  ];
  for (const [name, override, message] of bad) {
    it(`${name}: ${JSON.stringify(override)} is an error naming the key and value`, () => {
      expect(() => make(name, override)).toThrow(message);
    });
  }

  it("reads Python's -Infinity (DPM-Solver's lambda_min_clipped)", () => {
    const s = DPMSolverMultistepScheduler.fromConfig('{"lambda_min_clipped": -Infinity, "solver_order": 2, "_class_name": "DPMSolverMultistepScheduler"}');
    expect(s.warnings).toEqual([]);
    expect(() => DPMSolverMultistepScheduler.fromConfig('{"lambda_min_clipped": Infinity}')).toThrow(/"lambda_min_clipped": Infinity is not supported/);
  });
});

describe('one step against the float64 reference', () => {
  const shape = [2, 3, 4, 4];
  const size = 96;

  /** Runs step `index` of a 10-step schedule on the GPU and in the reference, from the same inputs. */
  async function compareStep(name: Name, prediction: PredictionType, index: number, overrides: Record<string, unknown> = {}, eta = 0, useClippedModelOutput = false) {
    const s = make(name, { prediction_type: prediction, ...overrides });
    s.setTimesteps(10);
    const t = s.timesteps[index];
    const rng = makeRng(100 + index);
    const sigmaParam = name === 'euler' || name === 'euler_ancestral';
    const x = normal(rng, size, sigmaParam ? Math.sqrt(refSigma(SD_ALPHAS, t) ** 2 + 1) : 1);
    const out = normal(rng, size);
    const got = await readAndDispose(
      tidy(() => s.step(tensor(out, shape), t, tensor(x, shape), { generator: new Generator(7), eta, useClippedModelOutput } as DDIMStepOptions)).keep(),
    );

    const g = new Generator(7);
    const xs = Float64Array.from(x);
    const os = Float64Array.from(out);
    const clipRange = overrides.clip_sample ? 1 : null;
    let expected: Float64Array;
    if (name === 'ddpm') {
      const abPrev = index + 1 < 10 ? SD_ALPHAS[s.timesteps[index + 1]] : 1;
      expected = refDdpmStep(xs, os, SD_ALPHAS[t], abPrev, { prediction, clipRange, variance: (overrides.variance_type as 'fixed_large') ?? 'fixed_small', z: t > 0 ? drawNoise(g, size) : null });
    } else if (name === 'ddim') {
      const prev = t - 100;
      expected = refDdimStep(xs, os, SD_ALPHAS[t], prev >= 0 ? SD_ALPHAS[prev] : SD_ALPHAS[0], { prediction, clipRange, eta, z: eta > 0 ? drawNoise(g, size) : null, epsFromClippedX0: useClippedModelOutput });
    } else if (name === 'dpm') {
      const levels = [refSigma(SD_ALPHAS, t), index + 1 < 10 ? refSigma(SD_ALPHAS, s.timesteps[index + 1]) : 0];
      expected = refDpmSolverPP2M(xs, levels, [t], () => os, prediction, () => true);
    } else {
      const sigma = refSigma(SD_ALPHAS, t);
      const next = index + 1 < 10 ? refSigma(SD_ALPHAS, s.timesteps[index + 1]) : 0;
      const ancestral = name === 'euler_ancestral';
      const z = ancestral && refAncestralUp(sigma, next) > 0 ? drawNoise(g, size) : null;
      expected = refEulerStep(xs, os, sigma, next, { prediction, ancestral, z });
    }
    const scale = Math.max(...expected.map(Math.abs));
    expectClose(got, expected, { rtol: 1e-5, atol: 1e-5 * scale }, `${name} ${prediction} step ${index} (t=${t})`);
  }

  for (const prediction of PREDICTIONS) {
    for (const index of [0, 5, 9]) {
      it(`${prediction}, step ${index + 1}/10: DDPM, DDIM (η 0, 0.6, clipped, ε from clipped x̂₀), Euler, Euler ancestral`, async () => {
        await compareStep('ddpm', prediction, index);
        await compareStep('ddpm', prediction, index, { clip_sample: true, variance_type: 'fixed_large' });
        await compareStep('ddim', prediction, index);
        await compareStep('ddim', prediction, index, {}, 0.6);
        await compareStep('ddim', prediction, index, { clip_sample: true });
        await compareStep('ddim', prediction, index, { clip_sample: true }, 0, true);
        await compareStep('euler', prediction, index);
        await compareStep('euler', prediction, index, { timestep_spacing: 'leading' });
        await compareStep('euler_ancestral', prediction, index);
      });
    }
    it(`${prediction}: DPM-Solver++ first step and its last step to σ = 0`, async () => {
      await compareStep('dpm', prediction, 0);
      const s = make('dpm', { prediction_type: prediction });
      s.setTimesteps(10);
      // The last step to σ = 0 returns x̂₀ exactly, whatever the history.
      const rng = makeRng(5);
      const x = normal(rng, size);
      const out = normal(rng, size);
      const t = s.timesteps[9];
      const got = await readAndDispose(tidy(() => s.step(tensor(out, shape), t, tensor(x, shape))).keep());
      const ab = SD_ALPHAS[t];
      expectClose(got, Float64Array.from(x, (v, i) => refPredict(prediction, v, out[i], ab).x0), { rtol: 1e-5, atol: 1e-5 });
    });
  }
});

describe('whole trajectories against the float64 reference', () => {
  const shape = [2, 8];
  const size = 16;
  const c = normal(makeRng(3), size);
  let cT: Tensor;
  beforeAll(() => void (cT = tensor(c, shape).keep()));
  afterAll(() => cT.dispose());
  // An arbitrary smooth model (not consistent with any x₀), so multistep history and noise both matter.
  const a = (t: number) => 0.9 * Math.cos(t / 400);
  const b = (t: number) => 0.5 * Math.sin(t / 250);
  const gpuModel = (x: Tensor, t: number) => x.mul(a(t)).add(cT.mul(b(t)));
  const hostModel = (x: Float64Array, t: number) => x.map((v, i) => a(t) * v + b(t) * c[i]);

  const cases: [string, Name, Record<string, unknown>, number, number][] = [
    ['DDPM', 'ddpm', {}, 10, 0],
    ['DDPM clipped, trailing', 'ddpm', { clip_sample: true, timestep_spacing: 'trailing' }, 10, 0],
    ['DDIM η=0', 'ddim', {}, 10, 0],
    ['DDIM η=0.5, linspace', 'ddim', { timestep_spacing: 'linspace' }, 25, 0.5],
    ['Euler', 'euler', {}, 10, 0],
    ['Euler, leading', 'euler', { timestep_spacing: 'leading' }, 10, 0],
    ['Euler ancestral', 'euler_ancestral', {}, 25, 0],
    ['DPM-Solver++ 2M, 10 steps', 'dpm', {}, 10, 0],
    ['DPM-Solver++ 2M, 20 steps, σ_min final (second order to the end)', 'dpm', { final_sigmas_type: 'sigma_min' }, 20, 0],
    ['DPM-Solver++ 2M, 10 steps, σ_min final (first order last)', 'dpm', { final_sigmas_type: 'sigma_min' }, 10, 0],
    ['DPM-Solver++ 1, trailing', 'dpm', { solver_order: 1, timestep_spacing: 'trailing' }, 10, 0],
  ];
  for (const prediction of PREDICTIONS) {
    for (const [label, name, overrides, steps, eta] of cases) {
      it(`${label}, ${prediction}`, async () => {
        const s = make(name, { prediction_type: prediction, ...overrides });
        const noise = normal(makeRng(9), size);
        const xT = tensor(noise, shape);
        const got = await readAndDispose(await sampleLoop(s, gpuModel, xT, { steps, generator: new Generator(21), eta }));
        xT.dispose();
        const expected = referenceTrajectory(name, s, noise, hostModel, { seed: 21, eta });
        const scale = Math.max(1, ...expected.map(Math.abs));
        expectClose(got, expected, { rtol: 1e-4, atol: 1e-4 * scale }, label);
      });
    }
  }
});

describe('a model that knows x₀ takes every sampler to x₀', () => {
  const shape = [1, 4, 2, 2];
  const size = 16;
  const x0 = normal(makeRng(11), size, 0.8);
  let x0T: Tensor;
  beforeAll(() => void (x0T = tensor(x0, shape).keep()));
  afterAll(() => x0T.dispose());

  /** The exact ε/v/x₀ for the VP input x_t at ᾱ: ε = (x_t − √ᾱ x₀)/√(1−ᾱ), v = (√ᾱ x_t − x₀)/√(1−ᾱ). */
  function oracle(prediction: PredictionType, alphaCumprod: (t: number) => number) {
    return (x: Tensor, t: number) => {
      const ab = alphaCumprod(t);
      const s = Math.sqrt(1 - ab);
      if (prediction === 'sample') return x.mul(0).add(x0T);
      if (prediction === 'epsilon') return x.mul(1 / s).sub(x0T.mul(Math.sqrt(ab) / s));
      return x.mul(Math.sqrt(ab) / s).sub(x0T.mul(1 / s));
    };
  }

  const cases: [string, Name, Record<string, unknown>][] = [
    ['DDPM', 'ddpm', {}],
    ['DDIM η=0, set_alpha_to_one', 'ddim', { set_alpha_to_one: true }],
    ['Euler', 'euler', {}],
    ['Euler ancestral', 'euler_ancestral', {}],
    ['DPM-Solver++ 2M', 'dpm', {}],
  ];
  for (const prediction of PREDICTIONS) {
    for (const [label, name, overrides] of cases) {
      it(`${label}, ${prediction}`, async () => {
        const s = make(name, { prediction_type: prediction, ...overrides });
        const sigmaParam = name === 'euler' || name === 'euler_ancestral';
        // The σ-schedulers call the model between training timesteps; there ᾱ = 1/(1+σ(t)²).
        const ab = (t: number) => (sigmaParam ? 1 / (1 + refSigma(SD_ALPHAS, t) ** 2) : SD_ALPHAS[t]);
        const xT = tensor(normal(makeRng(12), size), shape);
        const got = await readAndDispose(await sampleLoop(s, oracle(prediction, ab), xT, { steps: 25, generator: new Generator(4) }));
        xT.dispose();
        expectClose(got, x0, { rtol: 1e-4, atol: 1e-4 }, label);
      });
    }
  }

  it("DDIM with SD's set_alpha_to_one false stops at √ᾱ_0·x₀ + √(1−ᾱ_0)·ε_T on x_T's ray", async () => {
    const s = make('ddim');
    s.setTimesteps(25);
    const noise = normal(makeRng(12), size);
    const xT = tensor(noise, shape);
    const got = await readAndDispose(await sampleLoop(s, oracle('epsilon', (t) => SD_ALPHAS[t]), xT));
    xT.dispose();
    const abT = SD_ALPHAS[s.timesteps[0]];
    const a0 = SD_ALPHAS[0];
    const expected = Float64Array.from(x0, (v, i) => {
      const epsT = (noise[i] - Math.sqrt(abT) * v) / Math.sqrt(1 - abT);
      return Math.sqrt(a0) * v + Math.sqrt(1 - a0) * epsT;
    });
    expectClose(got, expected, { rtol: 1e-4, atol: 1e-4 });
    expect(Math.max(...Array.from(got, (v, i) => Math.abs(v - x0[i])))).toBeGreaterThan(1e-3); // not x₀ itself
  });
});

describe('training helpers, model input scaling and guidance', () => {
  const shape = [3, 2, 2, 2];
  const rng = makeRng(31);
  const x0 = normal(rng, 24);
  const eps = normal(rng, 24);
  const ts = [0, 500, 999];
  const perSample = (f: (ab: number, x: number, e: number) => number, alphaOf: (t: number) => number) =>
    Float64Array.from(x0, (v, i) => f(alphaOf(ts[Math.floor(i / 8)]), v, eps[i]));

  it('addNoise is √ᾱ_t·x₀ + √(1−ᾱ_t)·ε and getVelocity √ᾱ_t·ε − √(1−ᾱ_t)·x₀, per sample', async () => {
    for (const name of ['ddpm', 'ddim', 'dpm'] as const) {
      const s = make(name);
      const noisy = await readAndDispose(tidy(() => s.addNoise(tensor(x0, shape), tensor(eps, shape), ts)).keep());
      expectClose(noisy, perSample((ab, x, e) => Math.sqrt(ab) * x + Math.sqrt(1 - ab) * e, (t) => SD_ALPHAS[t]), { rtol: 1e-5, atol: 1e-6 }, name);
      const v = await readAndDispose(tidy(() => s.getVelocity(tensor(x0, shape), tensor(eps, shape), ts)).keep());
      expectClose(v, perSample((ab, x, e) => Math.sqrt(ab) * e - Math.sqrt(1 - ab) * x, (t) => SD_ALPHAS[t]), { rtol: 1e-5, atol: 1e-6 }, name);
    }
  });

  it('Euler adds noise in its own parameterisation, x₀ + σ_t·ε (diffusers, for img2img)', async () => {
    const s = make('euler');
    const noisy = await readAndDispose(tidy(() => s.addNoise(tensor(x0, shape), tensor(eps, shape), ts)).keep());
    expectClose(noisy, perSample((sigma, x, e) => x + sigma * e, (t) => refSigma(SD_ALPHAS, t)), { rtol: 1e-5, atol: 1e-5 });
  });

  it('rejects a timestep per sample mismatch and fractional training timesteps', () => {
    const s = make('ddpm');
    expect(() => tidy(() => s.addNoise(tensor(x0, shape), tensor(eps, shape), [1, 2]))).toThrow(/2 timesteps for a batch of shape \[3, 2, 2, 2\]/);
    expect(() => tidy(() => s.getVelocity(tensor(x0, shape), tensor(eps, shape), [1, 2.5, 3]))).toThrow(/timestep 2.5 is not an integer/);
  });

  it('Euler scales the model input by 1/√(σ²+1); the VP schedulers pass it through', async () => {
    const s = make('euler');
    s.setTimesteps(25);
    const t = s.timesteps[3]; // fractional: 874.125
    expect(t).toBe(874.125);
    const sigma = refSigma(SD_ALPHAS, t);
    const got = await readAndDispose(tidy(() => s.scaleModelInput(tensor(x0, shape), t)).keep());
    expectClose(got, Float64Array.from(x0, (v) => v / Math.sqrt(sigma * sigma + 1)), { rtol: 1e-6, atol: 1e-7 });
    const ddim = make('ddim');
    const x = tensor(x0, shape);
    expect(ddim.scaleModelInput(x, 981)).toBe(x);
    x.dispose();
  });

  it('classifierFreeGuidance is uncond + scale·(cond − uncond)', async () => {
    const got = await readAndDispose(tidy(() => classifierFreeGuidance(tensor(x0, shape), tensor(eps, shape), 7.5)).keep());
    expectClose(got, Float64Array.from(x0, (u, i) => u + 7.5 * (eps[i] - u)), { rtol: 1e-5, atol: 1e-5 });
  });
});

describe('state and memory', () => {
  it('DPM-Solver refuses steps out of order and stepping before setTimesteps', () => {
    const s = make('dpm');
    const x = tensor(new Float32Array(4), [4]);
    expect(() => s.step(x, 999, x)).toThrow(/call setTimesteps/);
    s.setTimesteps(10);
    tidy(() => s.step(x, s.timesteps[0], x));
    expect(() => tidy(() => s.step(x, s.timesteps[2], x))).toThrow(/expected 899/);
    s.reset();
    tidy(() => s.step(x, s.timesteps[2], x)); // a fresh trajectory may start anywhere (img2img)
    s.reset();
    x.dispose();
  });

  it('sampleLoop keeps memory flat: the same live bytes at every step, nothing left after', async () => {
    for (const name of ['dpm', 'euler_ancestral', 'ddim'] as const) {
      const s = make(name);
      const xT = tensor(normal(makeRng(2), 64), [1, 4, 4, 4]);
      const before = memory().liveBytes;
      const live: number[] = [];
      const out = await sampleLoop(s, (x, t) => x.mul(Math.cos(t)), xT, { steps: 8, onStep: () => void live.push(memory().liveBytes) });
      out.dispose();
      // DPM-Solver holds one x̂₀ between steps and frees it at the last.
      expect(new Set(live.slice(0, -1)).size, `${name}: ${live.join(', ')}`).toBe(1);
      expect(memory().liveBytes, name).toBe(before);
      xT.dispose();
    }
  });
});
