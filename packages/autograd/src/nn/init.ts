// Parameter initialisation as PyTorch does it, drawn from the seeded device generator.
import { DeviceArray, type Shape } from '@sd/kernels';
import { Generator, getGenerator, rand, randn } from '../random.ts';
import { Tensor } from '../tensor.ts';
import { zeros, ones } from '../creation.ts';

let skipping = 0;

/**
 * Builds modules inside `fn` without drawing their random initial values: parameters are
 * allocated but hold whatever the buffer pool had, and nothing is taken from the generator. For a
 * model that is built only to load every weight from a file (a strict load overwrites them all);
 * it saves the minute a full-size UNet's initialisation costs on a software adapter.
 */
export function withoutInit<T>(fn: () => T): T {
  skipping++;
  try {
    return fn();
  } finally {
    skipping--;
  }
}

const skipped = (shape: Shape): Tensor | null => (skipping > 0 ? new Tensor(DeviceArray.empty(shape, 'f32', 'uninitialised_param')) : null);

/** U(−bound, bound). */
export const uniform = (shape: Shape, bound: number, generator: Generator = getGenerator()): Tensor => skipped(shape) ?? rand(shape, { low: -bound, high: bound, generator });

/** PyTorch's Linear/Conv default: kaiming_uniform(a=√5) → bound 1/√fan_in (bias uses the same bound). */
export const kaimingUniform = (shape: Shape, fanIn: number, generator?: Generator): Tensor => uniform(shape, 1 / Math.sqrt(Math.max(fanIn, 1)), generator);

/** xavier_uniform: bound √(6/(fan_in + fan_out)). */
export const xavierUniform = (shape: Shape, fanIn: number, fanOut: number, generator?: Generator): Tensor => uniform(shape, Math.sqrt(6 / (fanIn + fanOut)), generator);

export const normal = (shape: Shape, std = 1, generator: Generator = getGenerator()): Tensor => skipped(shape) ?? randn(shape, { std, generator });

export { zeros, ones };
