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

/**
 * Runs a device draw of `count` values from `g`'s stream. The stream position is taken from the
 * generator and uploaded in a `perRun` callback, so a recorded step draws new values at every replay
 * (continuing the generator's stream) instead of replaying the recorded ones.
 */
export function drawFrom(g: Generator, op: string, count: number, draw: (position: K.DeviceArray) => K.DeviceArray): K.DeviceArray {
  const position = K.DeviceArray.empty([5], 'u32', 'random_position');
  // The buffer, not the array: the array is disposed below, while replays keep writing its buffer.
  const buffer = position.buffer;
  K.rt().perRun(() => K.rt().upload(buffer, K.randomPosition(op, g.seed, g.take(count), count)));
  const out = draw(position);
  position.dispose();
  return out;
}

/** Uniform values in [low, high). */
export function rand(shape: Shape, options: { low?: number; high?: number; generator?: Generator } = {}): Tensor {
  const g = options.generator ?? defaultGenerator;
  const { low = 0, high = 1 } = options;
  const u = drawFrom(g, 'rand', sizeOfShape(shape), (position) => K.randomUniformAt(shape, position));
  if (low === 0 && high === 1) return new Tensor(u);
  const out = K.mapElementwise('rand_scale', 'v1 + (v2 - v1) * v0', [u, low, high]);
  u.dispose();
  return new Tensor(out);
}

/** Normal values with the given mean and std. */
export function randn(shape: Shape, options: { mean?: number; std?: number; generator?: Generator } = {}): Tensor {
  const g = options.generator ?? defaultGenerator;
  return new Tensor(drawFrom(g, 'randn', sizeOfShape(shape), (position) => K.randomNormalAt(shape, position, options.mean ?? 0, options.std ?? 1)));
}

function sizeOfShape(shape: Shape): number {
  return shape.reduce((a, b) => a * b, 1);
}
