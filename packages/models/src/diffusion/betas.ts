// Noise schedules (β_t and ᾱ_t = ∏(1−β_s)) as diffusers builds them, but in float64 throughout.

export type BetaSchedule = 'linear' | 'scaled_linear' | 'squaredcos_cap_v2';

/** β linear from `start` to `end` over T steps (the DDPM paper's schedule). */
export function linearBetas(T: number, start: number, end: number): Float64Array {
  const betas = new Float64Array(T);
  // This exact expression is the prior's original one: keep it so linearSchedule's numbers do not move.
  for (let t = 0; t < T; t++) betas[t] = T === 1 ? start : start + ((end - start) * t) / (T - 1);
  return betas;
}

/** √β linear from √start to √end, squared: latent diffusion's (Stable Diffusion's) schedule. */
export function scaledLinearBetas(T: number, start: number, end: number): Float64Array {
  const roots = linearBetas(T, Math.sqrt(start), Math.sqrt(end));
  return roots.map((r) => r * r);
}

/**
 * Nichol & Dhariwal's cosine schedule as diffusers discretises it (`betas_for_alpha_bar`):
 * β_i = min(1 − ᾱ((i+1)/T)/ᾱ(i/T), maxBeta) with ᾱ(τ) = cos²((τ + 0.008)/1.008 · π/2).
 */
export function cosineBetas(T: number, maxBeta = 0.999): Float64Array {
  const alphaBar = (tau: number) => Math.cos(((tau + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
  const betas = new Float64Array(T);
  for (let i = 0; i < T; i++) betas[i] = Math.min(1 - alphaBar((i + 1) / T) / alphaBar(i / T), maxBeta);
  return betas;
}

export function betasFor(schedule: BetaSchedule, T: number, start: number, end: number): Float64Array {
  switch (schedule) {
    case 'linear':
      return linearBetas(T, start, end);
    case 'scaled_linear':
      return scaledLinearBetas(T, start, end);
    case 'squaredcos_cap_v2':
      return cosineBetas(T);
  }
}

/** ᾱ_t = ∏_{s≤t}(1−β_s). */
export function cumulativeAlphas(betas: ArrayLike<number>): Float64Array {
  const out = new Float64Array(betas.length);
  let prod = 1;
  for (let t = 0; t < betas.length; t++) {
    prod *= 1 - betas[t];
    out[t] = prod;
  }
  return out;
}
