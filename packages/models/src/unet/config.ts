// UNet2DConditionModel's config.json, as diffusers reads it (0.15 and the keys later versions added).
// Keys are diffusers' snake_case names so a config moves between the two unchanged.
import { only, onlyEach, parseConfig, perBlock, type ConfigSchema } from '../io/config-schema.ts';

export const DOWN_BLOCK_TYPES = ['CrossAttnDownBlock2D', 'DownBlock2D'] as const;
export const UP_BLOCK_TYPES = ['CrossAttnUpBlock2D', 'UpBlock2D'] as const;

export interface UNetConfig {
  sample_size: number | number[] | null;
  in_channels: number;
  out_channels: number;
  center_input_sample: boolean;
  flip_sin_to_cos: boolean;
  freq_shift: number;
  down_block_types: string[];
  mid_block_type: string;
  up_block_types: string[];
  block_out_channels: number[];
  layers_per_block: number | number[];
  downsample_padding: number;
  mid_block_scale_factor: number;
  act_fn: string;
  norm_num_groups: number;
  norm_eps: number;
  cross_attention_dim: number | number[];
  /** Heads per block when `num_attention_heads` is absent (diffusers' historical naming). */
  attention_head_dim: number | number[];
  num_attention_heads: number | number[] | null;
  transformer_layers_per_block: number | number[];
  use_linear_projection: boolean;
  upcast_attention: boolean;
  [key: string]: unknown;
}

/** The seed's UNet2DConditionModelEmb: an image embedding [B, input_dim] → proj_n context tokens of emb_dim. */
export interface UNetEmbConfig extends UNetConfig {
  input_dim: number;
  proj_n: number;
  emb_dim: number;
}

export const UNET_SCHEMA: ConfigSchema = {
  sample_size: { kind: 'int|int[]', default: null, nullable: true },
  in_channels: { kind: 'int', default: 4 },
  out_channels: { kind: 'int', default: 4 },
  center_input_sample: { kind: 'bool', default: false },
  flip_sin_to_cos: { kind: 'bool', default: true },
  freq_shift: { kind: 'number', default: 0 },
  down_block_types: { kind: 'string[]', default: ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D'], supported: onlyEach(...DOWN_BLOCK_TYPES) },
  mid_block_type: { kind: 'string', default: 'UNetMidBlock2DCrossAttn', supported: only('UNetMidBlock2DCrossAttn') },
  up_block_types: { kind: 'string[]', default: ['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'], supported: onlyEach(...UP_BLOCK_TYPES) },
  only_cross_attention: { kind: 'bool', default: false, supported: only(false) },
  block_out_channels: { kind: 'int[]', default: [320, 640, 1280, 1280] },
  layers_per_block: { kind: 'int|int[]', default: 2 },
  downsample_padding: { kind: 'int', default: 1 },
  mid_block_scale_factor: { kind: 'number', default: 1 },
  act_fn: { kind: 'string', default: 'silu', supported: only('silu') },
  norm_num_groups: { kind: 'int', default: 32 },
  norm_eps: { kind: 'number', default: 1e-5 },
  cross_attention_dim: { kind: 'int|int[]', default: 1280 },
  attention_head_dim: { kind: 'int|int[]', default: 8 },
  num_attention_heads: { kind: 'int|int[]', default: null, nullable: true },
  transformer_layers_per_block: { kind: 'int|int[]', default: 1 },
  dual_cross_attention: { kind: 'bool', default: false, supported: only(false) },
  use_linear_projection: { kind: 'bool', default: false },
  // fp32 throughout here, so upcasting attention to fp32 changes nothing.
  upcast_attention: { kind: 'bool', default: false },
  class_embed_type: { kind: 'string', default: null, nullable: true, supported: only(null) },
  num_class_embeds: { kind: 'int', default: null, nullable: true, supported: only(null) },
  resnet_time_scale_shift: { kind: 'string', default: 'default', supported: only('default') },
  time_embedding_type: { kind: 'string', default: 'positional', supported: only('positional') },
  time_embedding_dim: { kind: 'int', default: null, nullable: true, supported: only(null) },
  time_embedding_act_fn: { kind: 'string', default: null, nullable: true, supported: only(null) },
  timestep_post_act: { kind: 'string', default: null, nullable: true, supported: only(null) },
  time_cond_proj_dim: { kind: 'int', default: null, nullable: true, supported: only(null) },
  conv_in_kernel: { kind: 'int', default: 3, supported: (v) => ((v as number) % 2 === 1 ? null : 'kernel sizes must be odd') },
  conv_out_kernel: { kind: 'int', default: 3, supported: (v) => ((v as number) % 2 === 1 ? null : 'kernel sizes must be odd') },
  projection_class_embeddings_input_dim: { kind: 'int', default: null, nullable: true, supported: only(null) },
  class_embeddings_concat: { kind: 'bool', default: false, supported: only(false) },
  mid_block_only_cross_attention: { kind: 'bool', default: null, nullable: true, supported: only(null, false) },
  cross_attention_norm: { kind: 'string', default: null, nullable: true, supported: only(null) },
  addition_embed_type: { kind: 'string', default: null, nullable: true, supported: only(null) },
  addition_embed_type_num_heads: { kind: 'int', default: 64 },
  addition_time_embed_dim: { kind: 'int', default: null, nullable: true, supported: only(null) },
  encoder_hid_dim: { kind: 'int', default: null, nullable: true, supported: only(null) },
  encoder_hid_dim_type: { kind: 'string', default: null, nullable: true, supported: only(null) },
  reverse_transformer_layers_per_block: { kind: 'int[]', default: null, nullable: true, supported: only(null) },
  attention_type: { kind: 'string', default: 'default', supported: only('default') },
  dropout: { kind: 'number', default: 0, supported: only(0) },
  resnet_skip_time_act: { kind: 'bool', default: false, supported: only(false) },
  resnet_out_scale_factor: { kind: 'number', default: 1, supported: only(1) },
};

export const UNET_EMB_SCHEMA: ConfigSchema = {
  ...UNET_SCHEMA,
  input_dim: { kind: 'int' },
  proj_n: { kind: 'int' },
  emb_dim: { kind: 'int' },
};

/** Per-block settings derived from a config (what the model is built from). */
export interface UNetLayout {
  blocks: number;
  heads: number[];
  layers: number[];
  transformerLayers: number[];
  crossAttentionDim: number;
}

/** What the UNet and the VAE both check: one block type each way per channel count, groups dividing every count. */
export function checkBlocks(config: { block_out_channels: number[]; down_block_types: string[]; up_block_types: string[]; norm_num_groups: number }, label: string): number {
  const blocks = config.block_out_channels.length;
  if (blocks === 0) throw new Error(`${label}: "block_out_channels" is empty`);
  for (const key of ['down_block_types', 'up_block_types'] as const) {
    if (config[key].length !== blocks) throw new Error(`${label}: "${key}" has ${config[key].length} entries for ${blocks} block_out_channels`);
  }
  for (const c of config.block_out_channels) {
    if (c % config.norm_num_groups !== 0) throw new Error(`${label}: norm_num_groups ${config.norm_num_groups} does not divide block channel count ${c}`);
  }
  return blocks;
}

/** Parses and checks a raw config; returns the config with defaults, its layout and warnings. */
export function readUNetConfig<C extends UNetConfig = UNetConfig>(raw: Record<string, unknown>, label: string, schema: ConfigSchema = UNET_SCHEMA): { config: C; layout: UNetLayout; warnings: string[] } {
  const { values, warnings } = parseConfig(raw, schema, label);
  const config = values as C;
  const blocks = checkBlocks(config, label);
  const crossDims = perBlock(config.cross_attention_dim, blocks, 'cross_attention_dim', label);
  if (new Set(crossDims).size !== 1) throw new Error(`${label}: "cross_attention_dim" differs between blocks (${crossDims.join(', ')}); one context width is implemented`);
  // diffusers: num_attention_heads = num_attention_heads or attention_head_dim (a naming accident it keeps).
  const heads = perBlock(config.num_attention_heads ?? config.attention_head_dim, blocks, config.num_attention_heads === null ? 'attention_head_dim' : 'num_attention_heads', label);
  heads.forEach((h, i) => {
    if (config.block_out_channels[i] % h !== 0) throw new Error(`${label}: ${h} attention heads do not divide ${config.block_out_channels[i]} channels of block ${i}`);
  });
  const layout: UNetLayout = {
    blocks,
    heads,
    layers: perBlock(config.layers_per_block, blocks, 'layers_per_block', label),
    transformerLayers: perBlock(config.transformer_layers_per_block, blocks, 'transformer_layers_per_block', label),
    crossAttentionDim: crossDims[0],
  };
  return { config, layout, warnings };
}

/** stabilityai/stable-diffusion-2-base `unet/config.json` (the seed's decoder starts from it). */
export const SD2_BASE_UNET_CONFIG: Record<string, unknown> = {
  act_fn: 'silu',
  attention_head_dim: [5, 10, 20, 20],
  block_out_channels: [320, 640, 1280, 1280],
  center_input_sample: false,
  cross_attention_dim: 1024,
  down_block_types: ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D'],
  downsample_padding: 1,
  dual_cross_attention: false,
  flip_sin_to_cos: true,
  freq_shift: 0,
  in_channels: 4,
  layers_per_block: 2,
  mid_block_scale_factor: 1,
  norm_eps: 1e-5,
  norm_num_groups: 32,
  num_class_embeds: null,
  only_cross_attention: false,
  out_channels: 4,
  sample_size: 64,
  up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'],
  use_linear_projection: true,
};

/**
 * A small decoder UNet for the 64×64 procedural images' 16×16×4 latents, conditioned on a 64-d
 * CLIP image embedding projected to 4 tokens (the seed's layout at 1/20 of the width). The size the
 * benchmarks time; decoder training chooses its default from timings of sizes like it.
 */
export const TINY_DECODER_UNET_CONFIG: Record<string, unknown> = {
  _class_name: 'UNet2DConditionModelEmb',
  sample_size: 16,
  in_channels: 4,
  out_channels: 4,
  block_out_channels: [32, 64],
  layers_per_block: 1,
  down_block_types: ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D'],
  up_block_types: ['CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'],
  attention_head_dim: [2, 4],
  cross_attention_dim: 64,
  norm_num_groups: 16,
  use_linear_projection: true,
  input_dim: 64,
  proj_n: 4,
  emb_dim: 64,
};
