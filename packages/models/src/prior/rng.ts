// Stateless host randomness for training: every draw is a pure function of (seed, step, stream),
// so a resumed run draws exactly what an uninterrupted one would.

/** A mulberry32 stream seeded by hashing (seed, step, stream). */
export function stepRng(seed: number, step: number, stream: number): () => number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(step + 0x632be5ab, 0xc2b2ae35) ^ Math.imul(stream + 0x27d4eb2f, 0x165667b1);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  let a = (h ^ (h >>> 15)) >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const STREAM = { batch: 1, timesteps: 2, dropText: 3 } as const;
