// Float64 references for the diffusion schedulers, written from the papers' formulas (one element at a
// time, x̂₀ and ε̂ made explicit) rather than from the implementation's folded coefficients:
//   DDPM  — Ho et al. 2020, eq. 4 (q(x_t|x₀)), eq. 6–7 (posterior mean μ̃ and variance β̃)
//   DDIM  — Song et al. 2021, eq. 12 (update) and eq. 16 (σ_t(η))
//   Euler — Karras et al. 2022, x = x₀ + σε, dx/dσ = (x − D(x; σ))/σ; ancestral split from k-diffusion
//   DPM-Solver++(2M) — Lu et al. 2022, Algorithm 2
// The diffusers conventions (which timesteps, which ᾱ before t = 0, σ between timesteps) are the
// inputs each function takes, spelled out in the tests.

export type Kind = 'linear' | 'scaled_linear' | 'squaredcos_cap_v2';
export type Prediction = 'epsilon' | 'v_prediction' | 'sample';

/** ᾱ_t for t = 0 … T−1 (diffusers' index t is the paper's step t+1). */
export function refAlphasCumprod(kind: Kind, T: number, betaStart: number, betaEnd: number): Float64Array {
  const beta = (t: number): number => {
    const frac = t / (T - 1);
    if (kind === 'linear') return betaStart * (1 - frac) + betaEnd * frac;
    if (kind === 'scaled_linear') return (Math.sqrt(betaStart) * (1 - frac) + Math.sqrt(betaEnd) * frac) ** 2;
    // Improved DDPM: ᾱ(τ) = f(τ)/f(0), f(τ) = cos²((τ/T + s)/(1 + s)·π/2), s = 0.008; β_t = 1 − ᾱ(t+1)/ᾱ(t) ≤ 0.999.
    const f = (tau: number) => Math.cos(((tau / T + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
    return Math.min(1 - f(t + 1) / f(t), 0.999);
  };
  const out = new Float64Array(T);
  let log = 0; // sum of log(1−β) is as exact as the running product here, and written differently
  for (let t = 0; t < T; t++) {
    log += Math.log1p(-beta(t));
    out[t] = Math.exp(log);
  }
  return out;
}

/** x̂₀ and ε̂ from the model output on x_t = √ᾱ x₀ + √(1−ᾱ) ε (and v = √ᾱ ε − √(1−ᾱ) x₀). */
export function refPredict(type: Prediction, xt: number, out: number, ab: number): { x0: number; eps: number } {
  const a = Math.sqrt(ab);
  const s = Math.sqrt(1 - ab);
  if (type === 'epsilon') return { eps: out, x0: (xt - s * out) / a };
  if (type === 'sample') return { x0: out, eps: (xt - a * out) / s };
  // Solve [x_t; v] = [[a, s], [−s, a]]·[x₀; ε]: the matrix is a rotation, its inverse its transpose.
  return { x0: a * xt - s * out, eps: s * xt + a * out };
}

const clip = (v: number, r: number | null) => (r === null ? v : Math.min(r, Math.max(-r, v)));

/** One DDPM step from ᾱ_t to ᾱ_prev: μ̃(x_t, x̂₀) + √(variance)·z. */
export function refDdpmStep(
  xt: Float64Array,
  output: Float64Array,
  ab: number,
  abPrev: number,
  o: { prediction: Prediction; clipRange: number | null; variance: 'fixed_small' | 'fixed_large'; z: Float64Array | null },
): Float64Array {
  const alpha = ab / abPrev; // the respaced chain's α_t
  const beta = 1 - alpha;
  const tildeBeta = ((1 - abPrev) / (1 - ab)) * beta;
  const variance = o.variance === 'fixed_small' ? Math.max(tildeBeta, 1e-20) : beta;
  return xt.map((x, i) => {
    const x0 = clip(refPredict(o.prediction, x, output[i], ab).x0, o.clipRange);
    const mean = ((Math.sqrt(abPrev) * beta) / (1 - ab)) * x0 + ((Math.sqrt(alpha) * (1 - abPrev)) / (1 - ab)) * x;
    return mean + (o.z ? Math.sqrt(variance) * o.z[i] : 0);
  });
}

/** One DDIM step (eq. 12): √ᾱ_prev·x̂₀ + √(1−ᾱ_prev−σ²)·ε̂ + σ·z with σ = η·√((1−ᾱ_prev)/(1−ᾱ))·√(1−ᾱ/ᾱ_prev). */
export function refDdimStep(
  xt: Float64Array,
  output: Float64Array,
  ab: number,
  abPrev: number,
  o: { prediction: Prediction; clipRange: number | null; eta: number; z: Float64Array | null; epsFromClippedX0?: boolean },
): Float64Array {
  const sigma = o.eta * Math.sqrt((1 - abPrev) / (1 - ab)) * Math.sqrt(1 - ab / abPrev);
  return xt.map((x, i) => {
    const p = refPredict(o.prediction, x, output[i], ab);
    const x0 = clip(p.x0, o.clipRange);
    // Glide's variant: the direction term uses the ε that the clipped x̂₀ implies.
    const eps = o.epsFromClippedX0 ? (x - Math.sqrt(ab) * x0) / Math.sqrt(1 - ab) : p.eps;
    return Math.sqrt(abPrev) * x0 + Math.sqrt(1 - abPrev - sigma * sigma) * eps + (o.z ? sigma * o.z[i] : 0);
  });
}

/** σ(t) = √((1−ᾱ_t)/ᾱ_t), linear between integer t (diffusers interpolates σ, not log σ). */
export function refSigma(ac: Float64Array, t: number): number {
  const s = (k: number) => Math.sqrt((1 - ac[k]) / ac[k]);
  const lo = Math.max(0, Math.min(ac.length - 1, Math.floor(t)));
  const hi = Math.min(ac.length - 1, lo + 1);
  const w = Math.max(0, Math.min(1, t - lo));
  return s(lo) * (1 - w) + s(hi) * w;
}

/**
 * D(x; σ): the denoised estimate in the σ parameterisation from a model that was given
 * x_in = x/√(σ²+1) (the VP sample with ᾱ = 1/(σ²+1)) and answered `output`.
 */
export function refDenoised(type: Prediction, x: number, output: number, sigma: number): number {
  const ab = 1 / (1 + sigma * sigma);
  return refPredict(type, x * Math.sqrt(ab), output, ab).x0;
}

/** Euler (Karras Alg. 1, no churn), or ancestral Euler when z is given (η = 1). */
export function refEulerStep(
  x: Float64Array,
  output: Float64Array,
  sigma: number,
  sigmaNext: number,
  o: { prediction: Prediction; ancestral: boolean; z: Float64Array | null },
): Float64Array {
  // k-diffusion get_ancestral_step: σ_up = min(σ', √(σ'²(σ²−σ'²)/σ²)), σ_down = √(σ'² − σ_up²).
  const up = o.ancestral ? Math.min(sigmaNext, Math.sqrt((sigmaNext ** 2 * (sigma ** 2 - sigmaNext ** 2)) / sigma ** 2)) : 0;
  const target = o.ancestral ? Math.sqrt(sigmaNext ** 2 - up ** 2) : sigmaNext;
  return x.map((v, i) => {
    const d = (v - refDenoised(o.prediction, v, output[i], sigma)) / sigma;
    return v + (target - sigma) * d + (o.z ? up * o.z[i] : 0);
  });
}

/** σ_up of the ancestral step: the reference draws noise exactly when it is non-zero. */
export const refAncestralUp = (sigma: number, sigmaNext: number): number => Math.sqrt((sigmaNext ** 2 * (sigma ** 2 - sigmaNext ** 2)) / sigma ** 2);

/**
 * DPM-Solver++(2M), Lu et al. Algorithm 2, over VP noise levels given as σ-parameterised s_i = σ_i/α_i
 * (the last may be 0: α = 1, σ = 0, where the update returns x̂₀). `firstOrderAt(i)` says where the
 * algorithm's first-order update is used (step 0 always; the final step by diffusers' rules).
 */
export function refDpmSolverPP2M(
  xT: Float64Array,
  levels: number[],
  timesteps: number[],
  model: (xt: Float64Array, t: number) => Float64Array,
  prediction: Prediction,
  firstOrderAt: (i: number) => boolean,
): Float64Array {
  const alpha = (s: number) => 1 / Math.sqrt(1 + s * s);
  const sig = (s: number) => s / Math.sqrt(1 + s * s);
  const lambda = (s: number) => Math.log(alpha(s)) - Math.log(sig(s));
  let x = xT;
  let prevX0: Float64Array | null = null;
  for (let i = 0; i < timesteps.length; i++) {
    const s = levels[i];
    const next = levels[i + 1];
    const out = model(x, timesteps[i]);
    const ab = alpha(s) ** 2;
    const x0 = x.map((v, k) => refPredict(prediction, v, out[k], ab).x0);
    if (next === 0) {
      x = x0;
    } else {
      const h = lambda(next) - lambda(s);
      let D = x0;
      if (!firstOrderAt(i) && prevX0) {
        const r = (lambda(s) - lambda(levels[i - 1])) / h;
        const old = prevX0;
        D = x0.map((v, k) => (1 + 1 / (2 * r)) * v - (1 / (2 * r)) * old[k]);
      }
      const xi = x;
      x = xi.map((v, k) => (sig(next) / sig(s)) * v - alpha(next) * (Math.exp(-h) - 1) * D[k]);
    }
    prevX0 = x0;
  }
  return x;
}
