// The prior's noise schedule (linear β, as the seed) on host float64 arrays, its respacing to fewer
// sampling steps and the DDPM posterior coefficients.
import { cumulativeAlphas, linearBetas } from './betas.ts';

export interface Schedule {
  /** Original timesteps used by this (possibly respaced) schedule, ascending; the network sees these. */
  timesteps: number[];
  betas: Float64Array;
  alphasCumprod: Float64Array;
}

/** Linear β from `start` to `end` over T steps; ᾱ_t = ∏_{s≤t}(1−β_s) (the shared diffusion beta code). */
export function linearSchedule(T = 1000, start = 1e-4, end = 0.02): Schedule {
  const betas = linearBetas(T, start, end);
  return { timesteps: Array.from({ length: T }, (_, t) => t), betas, alphasCumprod: cumulativeAlphas(betas) };
}

/**
 * Keeps `steps` evenly spaced timesteps (always including the first and last) and recomputes β so
 * the kept ᾱ are unchanged: β'_i = 1 − ᾱ_{τ_i}/ᾱ_{τ_{i−1}} (improved-DDPM's respacing).
 */
export function respace(base: Schedule, steps: number): Schedule {
  const T = base.timesteps.length;
  if (!Number.isInteger(steps) || steps < 1 || steps > T) throw new Error(`respace: steps must be an integer in [1, ${T}], got ${steps}`);
  const kept = new Set<number>();
  for (let i = 0; i < steps; i++) kept.add(steps === 1 ? T - 1 : Math.round((i * (T - 1)) / (steps - 1)));
  const timesteps = [...kept].sort((a, b) => a - b);
  const betas = new Float64Array(timesteps.length);
  const alphasCumprod = new Float64Array(timesteps.length);
  let prev = 1;
  timesteps.forEach((t, i) => {
    alphasCumprod[i] = base.alphasCumprod[t];
    betas[i] = 1 - base.alphasCumprod[t] / prev;
    prev = base.alphasCumprod[t];
  });
  return { timesteps: timesteps.map((t) => base.timesteps[t]), betas, alphasCumprod };
}

/** Coefficients of the posterior q(x_{i−1} | x_i, x₀) at schedule index i (ᾱ_{−1} = 1). */
export function posteriorCoefficients(s: Schedule, i: number) {
  const ab = s.alphasCumprod[i];
  const abPrev = i > 0 ? s.alphasCumprod[i - 1] : 1;
  const beta = s.betas[i];
  return {
    /** weight of x̂₀ in the mean */
    c1: (beta * Math.sqrt(abPrev)) / (1 - ab),
    /** weight of x_t in the mean */
    c2: ((1 - abPrev) * Math.sqrt(1 - beta)) / (1 - ab),
    /** β̃_t, the "fixed small" variance */
    varianceSmall: (beta * (1 - abPrev)) / (1 - ab),
    /** β_t, the "fixed large" variance */
    varianceLarge: beta,
  };
}
