// Parameter initialisation as PyTorch does it, drawn from the seeded device generator.
import type { Shape } from '@sd/kernels';
import { Generator, getGenerator, rand, randn } from '../random.ts';
import type { Tensor } from '../tensor.ts';
import { zeros, ones } from '../creation.ts';

/** U(−bound, bound). */
export const uniform = (shape: Shape, bound: number, generator: Generator = getGenerator()): Tensor => rand(shape, { low: -bound, high: bound, generator });

/** PyTorch's Linear/Conv default: kaiming_uniform(a=√5) → bound 1/√fan_in (bias uses the same bound). */
export const kaimingUniform = (shape: Shape, fanIn: number, generator?: Generator): Tensor => uniform(shape, 1 / Math.sqrt(Math.max(fanIn, 1)), generator);

/** xavier_uniform: bound √(6/(fan_in + fan_out)). */
export const xavierUniform = (shape: Shape, fanIn: number, fanOut: number, generator?: Generator): Tensor => uniform(shape, Math.sqrt(6 / (fanIn + fanOut)), generator);

export const normal = (shape: Shape, std = 1, generator: Generator = getGenerator()): Tensor => randn(shape, { std, generator });

export { zeros, ones };
