// Every scheduler step is a linear combination of a few tensors with coefficients known on the host,
// so the coefficients are folded together in float64 and the GPU does one multiply-add per term.
import { add, maximum, minimum, mul, type Tensor } from '@sd/autograd';
import type { PredictionType } from './config.ts';

/** a·sample + b·modelOutput. */
export interface Affine {
  sample: number;
  output: number;
}

/**
 * x̂₀ and ε̂ implied by a model output on the variance-preserving sample x_t = √ᾱ·x₀ + √(1−ᾱ)·ε,
 * as affine functions of (x_t, output). v = √ᾱ·ε − √(1−ᾱ)·x₀ (Salimans & Ho).
 */
export function vpPrediction(type: PredictionType, alphaCumprod: number): { x0: Affine; eps: Affine } {
  const a = Math.sqrt(alphaCumprod);
  const s = Math.sqrt(1 - alphaCumprod);
  switch (type) {
    case 'epsilon':
      return { x0: { sample: 1 / a, output: -s / a }, eps: { sample: 0, output: 1 } };
    case 'sample':
      return { x0: { sample: 0, output: 1 }, eps: { sample: 1 / s, output: -a / s } };
    case 'v_prediction':
      return { x0: { sample: a, output: -s }, eps: { sample: s, output: a } };
  }
}

/** Σ cᵢ·xᵢ, skipping zero coefficients; always a new tensor, never one of the inputs. */
export function combine(terms: ReadonlyArray<readonly [number, Tensor]>): Tensor {
  const live = terms.filter(([c]) => c !== 0);
  if (live.length === 0) return mul(terms[0][1], 0);
  let out = mul(live[0][1], live[0][0]);
  for (let i = 1; i < live.length; i++) out = add(out, mul(live[i][1], live[i][0]));
  return out;
}

/** c·sample + d·output for an affine form of the two. */
export const applyAffine = (f: Affine, sample: Tensor, output: Tensor, scale = 1): Tensor =>
  combine([
    [scale * f.sample, sample],
    [scale * f.output, output],
  ]);

/** Clamps into [−range, range] (diffusers' clip_sample on x̂₀). */
export const clampSymmetric = (x: Tensor, range: number): Tensor => minimum(maximum(x, -range), range);
