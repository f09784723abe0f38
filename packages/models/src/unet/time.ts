// The sinusoidal timestep embedding (diffusers' get_timestep_embedding), computed on the host: the
// timesteps are host numbers anyway, and B × C values are nothing to upload.
import { nn, tensor, type Tensor } from '@sd/autograd';

const f32 = Math.fround;

/**
 * [B, dim] embedding of `timesteps`: frequencies exp(−ln(maxPeriod)·i/(dim/2 − shift)), then
 * [sin, cos] (or [cos, sin] with flipSinToCos). Rounded to float32 at the steps PyTorch rounds,
 * so large timesteps (t·freq ≈ 1000 rad) give the same angles as diffusers.
 */
export function timestepEmbedding(timesteps: ArrayLike<number>, dim: number, flipSinToCos: boolean, freqShift: number, maxPeriod = 10000): Float32Array {
  const half = Math.floor(dim / 2);
  const out = new Float32Array(timesteps.length * dim);
  const freqs = Array.from({ length: half }, (_, i) => f32(Math.exp(f32((f32(-Math.log(maxPeriod)) * i) / (half - freqShift)))));
  for (let b = 0; b < timesteps.length; b++) {
    const t = f32(timesteps[b]);
    for (let i = 0; i < half; i++) {
      const angle = f32(t * freqs[i]);
      const [first, second] = flipSinToCos ? [Math.cos(angle), Math.sin(angle)] : [Math.sin(angle), Math.cos(angle)];
      out[b * dim + i] = first;
      out[b * dim + half + i] = second;
    }
    // An odd dim leaves the last entry zero (diffusers pads).
  }
  return out;
}

/** linear_1 → SiLU → linear_2 (diffusers' TimestepEmbedding). */
export class TimestepEmbedding extends nn.Module {
  readonly linear1: nn.Linear;
  readonly linear2: nn.Linear;
  constructor(inDim: number, dim: number) {
    super();
    this.linear1 = this.module('linear_1', new nn.Linear(inDim, dim, { activation: 'silu' }));
    this.linear2 = this.module('linear_2', new nn.Linear(dim, dim));
  }
  forward(x: Tensor): Tensor {
    return this.linear2.forward(this.linear1.forward(x));
  }
}

/** Timesteps as one value per sample: a single number is broadcast to the batch. */
export function timestepsFor(timestep: number | ArrayLike<number>, batch: number): number[] {
  const list = typeof timestep === 'number' ? new Array(batch).fill(timestep) : Array.from(timestep);
  if (list.length !== batch) throw new Error(`UNet: ${list.length} timesteps for a batch of ${batch}`);
  for (const t of list) if (!Number.isFinite(t)) throw new Error(`UNet: timestep ${t} is not finite`);
  return list;
}

/**
 * The sinusoidal features of timesteps 0 … count−1 as a [count, block_out_channels[0]] device
 * table: gathering rows by timestep gives the bits `embeddingTensor` computes for those timesteps.
 */
export function timestepFeatureTable(config: { block_out_channels: number[]; flip_sin_to_cos: boolean; freq_shift: number }, count: number): Tensor {
  const dim = config.block_out_channels[0];
  return tensor(timestepEmbedding(Array.from({ length: count }, (_, t) => t), dim, config.flip_sin_to_cos, config.freq_shift), [count, dim]);
}

export const embeddingTensor = (timesteps: number[], dim: number, flip: boolean, shift: number): Tensor => tensor(timestepEmbedding(timesteps, dim, flip, shift), [timesteps.length, dim]);
