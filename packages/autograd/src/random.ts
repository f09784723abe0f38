// Seeded device random numbers. A Generator is (seed, offset): every draw consumes `size` values of
// the Philox stream, so results depend only on the seed and the order of draws, and the state can be
// saved in a checkpoint and restored for exact resumption.
import * as K from '@sd/kernels';
import type { Shape } from '@sd/kernels';
import { Tensor } from './tensor.ts';

export class Generator {
  constructor(
    public seed: number,
    public offset = 0,
  ) {}

  /** Reserves `count` stream positions and returns where they start. */
  take(count: number): number {
    const start = this.offset;
    this.offset += Math.ceil(count / 4) * 4; // Philox yields 4 words per counter
    return start;
  }

  state(): { seed: number; offset: number } {
    return { seed: this.seed, offset: this.offset };
  }
}

let defaultGenerator = new Generator(0);

/** Resets the default generator (like torch.manual_seed). */
export function manualSeed(seed: number): Generator {
  defaultGenerator = new Generator(seed);
  return defaultGenerator;
}

export function getGenerator(): Generator {
  return defaultGenerator;
}

/**
 * Runs `fn` with `generator` as the default generator, then restores the previous one (also on a
 * throw): lets one part of a model draw its initial weights from its own stream.
 */
export function withGenerator<T>(generator: Generator, fn: () => T): T {
  const previous = defaultGenerator;
  defaultGenerator = generator;
  try {
    return fn();
  } finally {
    defaultGenerator = previous;
  }
}

/** Uniform values in [low, high). */
export function rand(shape: Shape, options: { low?: number; high?: number; generator?: Generator } = {}): Tensor {
  const g = options.generator ?? defaultGenerator;
  const { low = 0, high = 1 } = options;
  const u = K.randomUniform(shape, g.seed, g.take(sizeOfShape(shape)));
  if (low === 0 && high === 1) return new Tensor(u);
  const out = K.mapElementwise('rand_scale', 'v1 + (v2 - v1) * v0', [u, low, high]);
  u.dispose();
  return new Tensor(out);
}

/** Normal values with the given mean and std. */
export function randn(shape: Shape, options: { mean?: number; std?: number; generator?: Generator } = {}): Tensor {
  const g = options.generator ?? defaultGenerator;
  return new Tensor(K.randomNormal(shape, g.seed, g.take(sizeOfShape(shape)), options.mean ?? 0, options.std ?? 1));
}

function sizeOfShape(shape: Shape): number {
  return shape.reduce((a, b) => a * b, 1);
}
