// AutoencoderKL's config.json, as diffusers reads it.
import { checkBlocks } from '../unet/config.ts';
import { only, onlyEach, parseConfig, type ConfigSchema } from '../io/config-schema.ts';

export interface VaeConfig {
  in_channels: number;
  out_channels: number;
  down_block_types: string[];
  up_block_types: string[];
  block_out_channels: number[];
  layers_per_block: number;
  act_fn: string;
  latent_channels: number;
  norm_num_groups: number;
  sample_size: number | number[];
  /** Latents are multiplied by this before the diffusion model sees them (SD: 0.18215). */
  scaling_factor: number;
  [key: string]: unknown;
}

export const VAE_SCHEMA: ConfigSchema = {
  in_channels: { kind: 'int', default: 3 },
  out_channels: { kind: 'int', default: 3 },
  down_block_types: { kind: 'string[]', default: ['DownEncoderBlock2D'], supported: onlyEach('DownEncoderBlock2D') },
  up_block_types: { kind: 'string[]', default: ['UpDecoderBlock2D'], supported: onlyEach('UpDecoderBlock2D') },
  block_out_channels: { kind: 'int[]', default: [64] },
  layers_per_block: { kind: 'int', default: 1 },
  act_fn: { kind: 'string', default: 'silu', supported: only('silu') },
  latent_channels: { kind: 'int', default: 4 },
  norm_num_groups: { kind: 'int', default: 32 },
  sample_size: { kind: 'int|int[]', default: 32 },
  scaling_factor: { kind: 'number', default: 0.18215 },
  shift_factor: { kind: 'number', default: null, nullable: true, supported: only(null) },
  latents_mean: { kind: 'number[]', default: null, nullable: true, supported: only(null) },
  latents_std: { kind: 'number[]', default: null, nullable: true, supported: only(null) },
  // Only changes the dtype the VAE runs in under fp16; everything here is fp32.
  force_upcast: { kind: 'bool', default: true },
  use_quant_conv: { kind: 'bool', default: true, supported: only(true) },
  use_post_quant_conv: { kind: 'bool', default: true, supported: only(true) },
  mid_block_add_attention: { kind: 'bool', default: true, supported: only(true) },
};

export function readVaeConfig(raw: Record<string, unknown>, label: string): { config: VaeConfig; warnings: string[] } {
  const { values, warnings } = parseConfig(raw, VAE_SCHEMA, label);
  const config = values as VaeConfig;
  checkBlocks(config, label);
  if (!(config.scaling_factor > 0)) throw new Error(`${label}: "scaling_factor" must be positive, got ${config.scaling_factor}`);
  return { config, warnings };
}

/** stabilityai/stable-diffusion-2-base `vae/config.json`. */
export const SD2_BASE_VAE_CONFIG: Record<string, unknown> = {
  act_fn: 'silu',
  block_out_channels: [128, 256, 512, 512],
  down_block_types: ['DownEncoderBlock2D', 'DownEncoderBlock2D', 'DownEncoderBlock2D', 'DownEncoderBlock2D'],
  in_channels: 3,
  latent_channels: 4,
  layers_per_block: 2,
  norm_num_groups: 32,
  out_channels: 3,
  sample_size: 512,
  up_block_types: ['UpDecoderBlock2D', 'UpDecoderBlock2D', 'UpDecoderBlock2D', 'UpDecoderBlock2D'],
};

/**
 * The project's VAE for the 64×64 procedural images: three DownEncoderBlock2D (two downsamplings)
 * to 16×16×4 latents, so a small shape stays about three latent pixels wide (8× would leave 1.5).
 * Chosen by timing training steps at batch 16 (`pnpm tsx scripts/time-vae.ts`, lavapipe on the
 * 2-core dev machine while benchmarks ran beside it, 2026-12-07; median of 5 steps):
 *   block_out_channels [8, 16, 32] (0.17 M parameters): 734 ms (1154 ms in a busier minute)
 *   [8, 16, 64] (0.60 M): 2113 ms;  [16, 32, 64] (0.68 M): 1693–2813 ms
 *   [32, 64, 64] (0.96 M): 5856 ms;  [32, 64, 128] (2.7 M): 9612 ms
 * The step is bound by the 64×64 convolutions (the last upsampler's conv runs at full size with the
 * middle width), so width at full resolution is what costs; only the smallest stays under a second.
 */
export const PROCEDURAL_VAE_CONFIG: Record<string, unknown> = {
  _class_name: 'AutoencoderKL',
  in_channels: 3,
  out_channels: 3,
  down_block_types: ['DownEncoderBlock2D', 'DownEncoderBlock2D', 'DownEncoderBlock2D'],
  up_block_types: ['UpDecoderBlock2D', 'UpDecoderBlock2D', 'UpDecoderBlock2D'],
  block_out_channels: [8, 16, 32],
  layers_per_block: 1,
  act_fn: 'silu',
  latent_channels: 4,
  // 2 groups, not 8: at 8 the 8-channel full-resolution level would be per-channel instance norm,
  // which erases each channel's mean (a flat background's colour). Measured in equal 1100-step runs
  // (crops 32, share 0.75, cosine): 26.5 dB and 16% colour accuracy with 2 groups, 24.6 dB and 1% with 8.
  norm_num_groups: 2,
  sample_size: 64,
  // Replaced by the measured 1/std of the training latents when training ends (final/config.json).
  scaling_factor: 1,
};
