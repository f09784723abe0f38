// Randomness shared by the trainers. Host draws (batch rows, timesteps, …) are a pure function of
// (seed, step, stream), so a resumed run draws exactly what an uninterrupted one would; device draws
// (initial weights, training noise, sampling noise) each come from a Philox stream of their own,
// named by purpose, so one purpose's draws never replay or shift another's.
import { Generator } from '@sd/autograd';
import { hashSeed, mulberry32, purposeSeed } from '../data/prng.ts';

/** A mulberry32 stream seeded by hashing (seed, step, stream). */
export function stepRng(seed: number, step: number, stream: number): () => number {
  return mulberry32(hashSeed(seed, step, stream));
}

/** The Philox stream of one named purpose of a run (e.g. "prior/noise"), from `offset`. */
export function purposeGenerator(seed: number, purpose: string, offset = 0): Generator {
  return new Generator(purposeSeed(seed, purpose), offset);
}

/**
 * The stream offset where step `step` starts when every step draws `perStep` numbers: each step
 * reads its own range, so a resumed run draws the same noise without replaying earlier steps.
 * Rounded up to Philox's 4 words per counter.
 */
export function stepOffset(step: number, perStep: number): number {
  return step * Math.ceil(perStep / 4) * 4;
}
