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
