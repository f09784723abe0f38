// The prior's randomness. Host draws (batch rows, timesteps, text drops) are a pure function of
// (seed, step, stream), so a resumed run draws exactly what an uninterrupted one would; device draws
// (initial weights, training noise, sampling noise) each come from a Philox stream of their own.
import type { Generator } from '@sd/autograd';
import { purposeSeed } from '../data/prng.ts';
import { purposeGenerator } from '../training/rng.ts';

export { stepRng } from '../training/rng.ts';

export const STREAM = { batch: 1, timesteps: 2, dropText: 3 } as const;

/**
 * The device streams. They used to be one (`Generator(seed)` at offset 0 for the weights, offset
 * step·B·D for the noise, offset 0 again for sampling), so the step-0 noise and the sampling noise
 * replayed the numbers of the initial weights.
 */
export type PriorPurpose = 'init' | 'noise' | 'sample' | 'kmeans';

export function purposeSeedOf(seed: number, purpose: PriorPurpose): number {
  return purposeSeed(seed, `prior/${purpose}`);
}

/** The Philox stream of one purpose, from `offset`. */
export function priorGenerator(seed: number, purpose: PriorPurpose, offset = 0): Generator {
  return purposeGenerator(seed, `prior/${purpose}`, offset);
}
