// Seeded randomness for the procedural dataset. Written here (not Math.random, not a library) so the
// same seed yields byte-identical datasets on every machine and Node version.

export type Rng = () => number;

/** mulberry32: a tiny 32-bit generator; uniform floats in [0, 1). */
export function mulberry32(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** murmur3's 32-bit finaliser: spreads every input bit over the output. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Hashes a list of non-negative integers (seed, sample index, stream tag, ...) into one 32-bit seed.
 * This makes sample i a pure function of (seed, i): datasets can be streamed and sharded freely.
 * Integers above 2^32 (up to 2^53) contribute both halves.
 */
export function hashSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const part of parts) {
    const lo = part >>> 0;
    const hi = Math.floor(part / 4294967296) >>> 0;
    h = fmix32((h ^ lo) + 0x7f4a7c15);
    h = fmix32((h ^ hi) + 0x165667b1);
  }
  return h;
}

/**
 * A seed of its own for one purpose of a run (weight initialisation, training noise, sampling, …):
 * hashSeed over (seed, the name's length, its UTF-16 code units), so purposes never share stream
 * positions and one purpose's draws do not move with another's sizes.
 */
export function purposeSeed(seed: number, purpose: string): number {
  return hashSeed(seed, purpose.length, ...Array.from(purpose, (c) => c.charCodeAt(0)));
}

/** Integer in [0, n). */
export function randInt(rng: Rng, n: number): number {
  return Math.floor(rng() * n);
}

export function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[randInt(rng, items.length)];
}

/** Uniform float in [lo, hi). */
export function uniformIn(rng: Rng, lo: number, hi: number): number {
  return lo + (hi - lo) * rng();
}

/** Fisher–Yates shuffle of a copy. */
export function shuffled<T>(rng: Rng, items: readonly T[]): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = randInt(rng, i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
