// The shifted diffusion process (Zhou et al., CVPR 2023, as the seed implements it), on GPU tensors.
// With y = x − μ it is an ordinary DDPM on y whose noise is scaled per dimension by s = scale·σ:
//   q(x_t | x₀) = N(μ + √ᾱ_t (x₀ − μ), (1 − ᾱ_t) diag(s²)),  x_T ≈ μ + s⊙ε.
// The baseline is the same code with μ = 0, s = 1.
import { add, gather, mul, noGrad, randn, sub, tensor, Tensor, type Generator } from '@sd/autograd';
import { linearSchedule, posteriorCoefficients, respace, type Schedule } from '../diffusion/schedule.ts';
import type { ShiftStats } from './shift.ts';

/**
 * Schedule indices, one per sample: host numbers, or an i32 [B] tensor (how a recorded training step
 * takes them: written in place at every step, see training/recorded-step.ts).
 */
export type Indices = ArrayLike<number> | Tensor;

/**
 * The column [B, 1] of f(ᾱ_t) for each sample's t. On the device it is a gather from the table of
 * f over all timesteps (rounded to f32 exactly as the host column is, so both give the same bits).
 */
function perSample(alphasCumprod: ArrayLike<number>, t: Indices, f: (alphaBar: number) => number): Tensor {
  if (t instanceof Tensor) return gather(tensor(Float32Array.from(alphasCumprod, f), [alphasCumprod.length, 1]), t, 0);
  return tensor(Float32Array.from(t, (i) => f(alphasCumprod[i])), [t.length, 1]);
}

const countOf = (t: Indices): number => (t instanceof Tensor ? t.size : t.length);

/**
 * How the x₀ loss weighs each timestep: the seed's (1−ᾱ_t), which gives the low-noise steps almost
 * no weight, or the same weight for every t.
 */
export const PRIOR_LOSS_WEIGHTS = ['one-minus-alpha-bar', 'uniform'] as const;
export type PriorLossWeight = (typeof PRIOR_LOSS_WEIGHTS)[number];

export class ShiftedDiffusion {
  readonly schedule: Schedule;
  /** [K, D] cluster means and scaled stds s = scale·σ on the device. */
  readonly mean: Tensor;
  readonly noiseStd: Tensor;

  constructor(
    readonly stats: ShiftStats,
    readonly stdScale: number,
    schedule: Schedule = linearSchedule(),
  ) {
    if (!(stdScale > 0)) throw new Error(`ShiftedDiffusion: std_scale must be positive, got ${stdScale}`);
    this.schedule = schedule;
    this.mean = tensor(stats.mean, [stats.k, stats.dim]).keep();
    this.noiseStd = tensor(Float32Array.from(stats.std, (s) => s * stdScale), [stats.k, stats.dim]).keep();
  }

  get timesteps(): number {
    return this.schedule.timesteps.length;
  }

  /** Frees μ and s on the device. */
  dispose(): void {
    this.mean.dispose();
    this.noiseStd.dispose();
  }

  /** μ and s of each sample's cluster, [B, D] each. */
  shiftOf(clusters: Int32Array | Tensor): { mu: Tensor; s: Tensor } {
    if (!(clusters instanceof Tensor)) for (const c of clusters) if (c < 0 || c >= this.stats.k) throw new Error(`cluster index ${c} outside [0, ${this.stats.k})`);
    const ids = clusters instanceof Tensor ? clusters : tensor(clusters, [clusters.length], { dtype: 'i32' });
    return { mu: gather(this.mean, ids, 0), s: gather(this.noiseStd, ids, 0) };
  }

  /** x_t = √ᾱ_t·x₀ + (1−√ᾱ_t)·μ + √(1−ᾱ_t)·s⊙ε for schedule indices t (one per sample). */
  qSample(x0: Tensor, t: Indices, eps: Tensor, mu: Tensor, s: Tensor): Tensor {
    const a = perSample(this.schedule.alphasCumprod, t, Math.sqrt);
    const b = perSample(this.schedule.alphasCumprod, t, (v) => Math.sqrt(1 - v));
    return add(add(mu, mul(a, sub(x0, mu))), mul(b, mul(s, eps)));
  }

  /**
   * The training loss: mean over the batch of w_t·mean_d(x₀ − x̂₀)², with w_t = 1−ᾱ_t (the seed's;
   * P2 weighting with k = 1, γ = 1) or 1 ('uniform').
   */
  loss(x0: Tensor, predicted: Tensor, t: Indices, weighting: PriorLossWeight = 'one-minus-alpha-bar'): Tensor {
    const n = countOf(t);
    const weight = perSample(this.schedule.alphasCumprod, t, weighting === 'uniform' ? () => 1 / n : (v) => (1 - v) / n);
    const err = sub(x0, predicted);
    return mul(err, err).mean(1, true).mul(weight).sum();
  }

  /** x_T = μ + s⊙ε: where every sampler starts. */
  initialNoise(mu: Tensor, s: Tensor, generator: Generator): Tensor {
    return add(mu, mul(s, randn(mu.shape, { generator })));
  }
}

/** Predicts x̂₀ from x_t at an original timestep (the network, or guidance around it). */
export type Denoiser = (xt: Tensor, timestep: number) => Tensor;

export interface SampleOptions {
  steps: number;
  generator: Generator;
  /** 'ddpm' (ancestral, respaced) or 'ddim' (η = 0 unless given). */
  sampler?: 'ddpm' | 'ddim';
  eta?: number;
  /** Posterior variance: β̃_t ('small', default) or β_t ('large'). */
  variance?: 'small' | 'large';
}

/**
 * Runs a sampler from x_T = μ + s⊙ε down to x₀, with the same μ and s (the same cluster) at every
 * step; no noise is added at the last step.
 */
export function sample(diffusion: ShiftedDiffusion, denoise: Denoiser, mu: Tensor, s: Tensor, options: SampleOptions): Tensor {
  const sched = respace(diffusion.schedule, options.steps);
  const sampler = options.sampler ?? 'ddpm';
  return noGrad(() => {
    let x = diffusion.initialNoise(mu, s, options.generator);
    for (let i = sched.timesteps.length - 1; i >= 0; i--) {
      const x0 = denoise(x, sched.timesteps[i]);
      const next = sampler === 'ddim' ? ddimStep(sched, i, x, x0, mu, s, options) : ddpmStep(sched, i, x, x0, mu, s, options);
      x.dispose();
      x0.dispose();
      x = next;
    }
    return x;
  });
}

/** Ancestral step: mean μ + c₁(x̂₀−μ) + c₂(x_t−μ), variance β̃·s² (or β·s²). */
function ddpmStep(sched: Schedule, i: number, xt: Tensor, x0: Tensor, mu: Tensor, s: Tensor, o: SampleOptions): Tensor {
  const { c1, c2, varianceSmall, varianceLarge } = posteriorCoefficients(sched, i);
  const mean = add(mu, add(mul(sub(x0, mu), c1), mul(sub(xt, mu), c2)));
  if (i === 0) return mean;
  const std = Math.sqrt(o.variance === 'large' ? varianceLarge : varianceSmall);
  return add(mean, mul(s, randn(xt.shape, { generator: o.generator, std })));
}

/**
 * DDIM in the shifted frame: ε̂ = (y_t − √ᾱ_t ŷ₀)/√(1−ᾱ_t) with y = x − μ (in units of s), then
 * y_prev = √ᾱ_prev ŷ₀ + √(1−ᾱ_prev−σ²)·ε̂ + σ·s⊙z.
 */
function ddimStep(sched: Schedule, i: number, xt: Tensor, x0: Tensor, mu: Tensor, s: Tensor, o: SampleOptions): Tensor {
  const ab = sched.alphasCumprod[i];
  const abPrev = i > 0 ? sched.alphasCumprod[i - 1] : 1;
  const eta = o.eta ?? 0;
  const sigma = i > 0 ? eta * Math.sqrt((1 - abPrev) / (1 - ab)) * Math.sqrt(1 - ab / abPrev) : 0;
  const y0 = sub(x0, mu);
  const epsScaled = mul(sub(sub(xt, mu), mul(y0, Math.sqrt(ab))), 1 / Math.sqrt(1 - ab)); // = s⊙ε̂
  const yPrev = add(mul(y0, Math.sqrt(abPrev)), mul(epsScaled, Math.sqrt(Math.max(0, 1 - abPrev - sigma * sigma))));
  const out = add(mu, yPrev);
  if (sigma === 0) return out;
  return add(out, mul(s, randn(xt.shape, { generator: o.generator, std: sigma })));
}

/** Classifier-free guidance over the whole vector: x̂₀ = u + w·(c − u). */
export function guide(cond: Tensor, uncond: Tensor, weight: number): Tensor {
  return add(uncond, mul(sub(cond, uncond), weight));
}
