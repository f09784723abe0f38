// Stateless host randomness for training: every draw is a pure function of (seed, step, stream),
// so a resumed run draws exactly what an uninterrupted one would.
import { mulberry32 } from '../data/prng.ts';

/** A mulberry32 stream seeded by hashing (seed, step, stream). */
export function stepRng(seed: number, step: number, stream: number): () => number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(step + 0x632be5ab, 0xc2b2ae35) ^ Math.imul(stream + 0x27d4eb2f, 0x165667b1);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  return mulberry32(h ^ (h >>> 15));
}

export const STREAM = { batch: 1, timesteps: 2, dropText: 3 } as const;
