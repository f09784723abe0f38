// diffusers' UNet2DConditionModel, built from its config.json, and the seed's
// UNet2DConditionModelEmb (the same UNet, conditioned on an image embedding projected to tokens).
import { nn, reshape, Tensor } from '@sd/autograd';
import { fmt } from '@sd/kernels';
import { DownBlock2D, UNetMidBlock2DCrossAttn, UpBlock2D, type BlockContext } from './blocks.ts';
import { readUNetConfig, UNET_EMB_SCHEMA, type UNetConfig, type UNetEmbConfig, type UNetLayout } from './config.ts';
import { embeddingTensor, TimestepEmbedding, timestepsFor } from './time.ts';
import type { FileLoader } from '@sd/io';
import { loadPretrained, loadPretrainedFrom, savePretrained, type DiffusersModel, type LoadSpec, type PretrainedOptions } from '../io/pretrained.ts';
import type { ConfigSchema } from '../io/config-schema.ts';
import type { WriteDiffusersOptions } from '../io/diffusers.ts';

export interface UNetInputs {
  /** Noisy latents [B, in_channels, H, W]; H and W divisible by 2^(blocks − 1). */
  sample: Tensor;
  /**
   * One timestep for the batch, or one per sample (host numbers, like diffusers' tensor of them), or
   * their sinusoidal features [B, block_out_channels[0]] on the device (rows of
   * `timestepFeatureTable`: how a recorded training step passes timesteps that change every step).
   */
  timestep: number | ArrayLike<number> | Tensor;
  /** Cross-attention context [B, S, cross_attention_dim]. */
  encoderHiddenStates: Tensor;
}

export interface UNetBuildOptions {
  /** Names the source in errors and warnings (a file or folder). */
  label?: string;
}

export class UNet2DConditionModel extends nn.Module implements DiffusersModel {
  readonly rawConfig: Record<string, unknown>;
  loadResult: nn.LoadResult | null = null;
  readonly config: UNetConfig;
  readonly layout: UNetLayout;
  /** Unknown config keys, ignored (diffusers does the same and warns). */
  readonly warnings: string[];
  readonly convIn: nn.Conv2d;
  readonly timeEmbedding: TimestepEmbedding;
  readonly downBlocks: nn.ModuleList<DownBlock2D>;
  readonly upBlocks: nn.ModuleList<UpBlock2D>;
  readonly midBlock: UNetMidBlock2DCrossAttn;
  readonly convNormOut: nn.GroupNorm;
  readonly convOut: nn.Conv2d;

  constructor(rawConfig: Record<string, unknown>, options: UNetBuildOptions & { schema?: ConfigSchema } = {}) {
    super();
    const label = options.label ?? 'UNet2DConditionModel config';
    const { config, layout, warnings } = readUNetConfig(rawConfig, label, options.schema);
    this.rawConfig = { ...rawConfig };
    this.config = config;
    this.layout = layout;
    this.warnings = warnings;
    const channels = config.block_out_channels;
    const tembChannels = channels[0] * 4;
    const ctx: BlockContext = { tembChannels, groups: config.norm_num_groups, eps: config.norm_eps, contextDim: layout.crossAttentionDim, linearProjection: config.use_linear_projection };
    const attentionOf = (type: string, i: number) => (type.startsWith('CrossAttn') ? { heads: layout.heads[i], transformerLayers: layout.transformerLayers[i] } : null);

    this.convIn = this.module('conv_in', new nn.Conv2d(config.in_channels, channels[0], config.conv_in_kernel as number, { padding: ((config.conv_in_kernel as number) - 1) / 2 }));
    this.timeEmbedding = this.module('time_embedding', new TimestepEmbedding(channels[0], tembChannels));

    const n = layout.blocks;
    const down = config.down_block_types.map((type, i) =>
      new DownBlock2D(ctx, { inChannels: i === 0 ? channels[0] : channels[i - 1], outChannels: channels[i], layers: layout.layers[i], attention: attentionOf(type, i), downsample: i < n - 1, downsamplePadding: config.downsample_padding }),
    );
    this.downBlocks = this.module('down_blocks', new nn.ModuleList(down));

    // The up path mirrors the down path: up block i consumes the skips of down block n−1−i.
    const up = config.up_block_types.map((type, i) => {
      const d = n - 1 - i;
      const outChannels = channels[d];
      const prevChannels = i === 0 ? channels[n - 1] : channels[d + 1];
      const layers = layout.layers[d] + 1;
      const skipIn = d === 0 ? channels[0] : channels[d - 1];
      const skipChannels = Array.from({ length: layers }, (_, j) => (j === layers - 1 ? skipIn : outChannels));
      return new UpBlock2D(ctx, { prevChannels, outChannels, skipChannels, attention: attentionOf(type, d), upsample: i < n - 1 });
    });
    this.upBlocks = this.module('up_blocks', new nn.ModuleList(up));

    this.midBlock = this.module('mid_block', new UNetMidBlock2DCrossAttn(ctx, { channels: channels[n - 1], attention: { heads: layout.heads[n - 1], transformerLayers: layout.transformerLayers[n - 1] }, outputScaleFactor: config.mid_block_scale_factor }));
    this.convNormOut = this.module('conv_norm_out', new nn.GroupNorm(config.norm_num_groups, channels[0], config.norm_eps, true, true));
    this.convOut = this.module('conv_out', new nn.Conv2d(channels[0], config.out_channels, config.conv_out_kernel as number, { padding: ((config.conv_out_kernel as number) - 1) / 2 }));
  }

  /**
   * Loads a diffusers UNet folder (config.json + weights in any of diffusers' layouts) or a
   * pipeline folder's `unet/`. Returns UNet2DConditionModelEmb when the config is the seed's.
   */
  static fromPretrained(dir: string, options: PretrainedOptions = {}): UNet2DConditionModel {
    return loadPretrained(dir, UNET_LOAD, options);
  }

  /** fromPretrained through a FileLoader (a page): a model folder with config.json and diffusion_pytorch_model.safetensors. */
  static fromLoader(loader: FileLoader, dir: string, options: PretrainedOptions = {}): Promise<UNet2DConditionModel> {
    return loadPretrainedFrom(loader, dir, UNET_LOAD, options);
  }

  /** Writes config.json + diffusion_pytorch_model.safetensors with diffusers' names. */
  savePretrained(dir: string, options: WriteDiffusersOptions = {}): Promise<void> {
    return savePretrained(this, this instanceof UNet2DConditionModelEmb ? 'UNet2DConditionModelEmb' : 'UNet2DConditionModel', dir, options);
  }

  /** How much the spatial size shrinks at the bottom of the UNet. */
  get downscale(): number {
    return 2 ** (this.layout.blocks - 1);
  }

  /** The predicted noise (or v / x₀, whatever the model was trained for), shaped like `sample`. */
  private checkFeatures(features: Tensor, sample: Tensor): Tensor {
    const want = [sample.shape[0], this.config.block_out_channels[0]];
    if (fmt(features.shape) !== fmt(want)) throw new Error(`UNet: timestep features of shape ${fmt(features.shape)}, expected ${fmt(want)} (one row of timestepFeatureTable per sample)`);
    return features;
  }

  forward({ sample, timestep, encoderHiddenStates: context }: UNetInputs): Tensor {
    this.checkInputs(sample, context);
    const c = this.config;
    const features = timestep instanceof Tensor ? this.checkFeatures(timestep, sample) : embeddingTensor(timestepsFor(timestep, sample.shape[0]), c.block_out_channels[0], c.flip_sin_to_cos, c.freq_shift);
    const tembAct = this.timeEmbedding.forward(features).silu();

    let h = this.convIn.forward(c.center_input_sample ? sample.mul(2).sub(1) : sample);
    const skips: Tensor[] = [h];
    for (const block of this.downBlocks) {
      const r = block.forward(h, tembAct, context);
      h = r.out;
      skips.push(...r.skips);
    }
    h = this.midBlock.forward(h, tembAct, context);
    for (const block of this.upBlocks) h = block.forward(h, skips, tembAct, context);
    return this.convOut.forward(this.convNormOut.forward(h));
  }

  protected checkInputs(sample: Tensor, context: Tensor): void {
    const c = this.config;
    if (sample.rank !== 4 || sample.shape[1] !== c.in_channels) throw new Error(`UNet: sample ${fmt(sample.shape)} must be [B, ${c.in_channels}, H, W]`);
    const [, , height, width] = sample.shape;
    if (height % this.downscale || width % this.downscale) {
      throw new Error(`UNet: sample ${fmt(sample.shape)}: height and width must be divisible by ${this.downscale} (2^(${this.layout.blocks} down blocks − 1))`);
    }
    const dim = this.layout.crossAttentionDim;
    if (context.rank !== 3 || context.shape[0] !== sample.shape[0] || context.shape[2] !== dim) {
      throw new Error(`UNet: encoderHiddenStates ${fmt(context.shape)} must be [${sample.shape[0]}, S, ${dim}] (batch of the sample, cross_attention_dim ${dim})`);
    }
  }
}

export interface UNetEmbInputs {
  sample: Tensor;
  timestep: number | ArrayLike<number> | Tensor;
  /** Image embeddings [B, input_dim]; projected to proj_n context tokens. */
  imageEmbedding: Tensor;
}

/** The seed's decoder UNet: `emb_proj_layers` maps an image embedding to proj_n tokens of emb_dim. */
export class UNet2DConditionModelEmb extends UNet2DConditionModel {
  declare readonly config: UNetEmbConfig;
  readonly embProj: nn.Linear;

  constructor(rawConfig: Record<string, unknown>, options: UNetBuildOptions = {}) {
    super(rawConfig, { label: options.label ?? 'UNet2DConditionModelEmb config', schema: UNET_EMB_SCHEMA });
    const c = this.config;
    if (c.emb_dim !== this.layout.crossAttentionDim) throw new Error(`${options.label ?? 'UNet2DConditionModelEmb config'}: emb_dim ${c.emb_dim} must equal cross_attention_dim ${this.layout.crossAttentionDim}`);
    this.embProj = this.module('emb_proj_layers', new nn.Linear(c.input_dim, c.proj_n * c.emb_dim));
  }

  /** [B, input_dim] → [B, proj_n, emb_dim]: the cross-attention context. */
  contextFor(imageEmbedding: Tensor): Tensor {
    const c = this.config;
    if (imageEmbedding.rank !== 2 || imageEmbedding.shape[1] !== c.input_dim) throw new Error(`UNet2DConditionModelEmb: image embedding ${fmt(imageEmbedding.shape)} must be [B, ${c.input_dim}] (input_dim)`);
    return reshape(this.embProj.forward(imageEmbedding), [imageEmbedding.shape[0], c.proj_n, c.emb_dim]);
  }

  forwardEmb({ sample, timestep, imageEmbedding }: UNetEmbInputs): Tensor {
    return this.forward({ sample, timestep, encoderHiddenStates: this.contextFor(imageEmbedding) });
  }
}

/** Builds either class from a config, by its `_class_name` (the seed's when it has input_dim/proj_n). */
export function unetFromConfig(raw: Record<string, unknown>, options: UNetBuildOptions = {}): UNet2DConditionModel {
  const emb = raw._class_name === 'UNet2DConditionModelEmb' || ('proj_n' in raw && 'input_dim' in raw);
  return emb ? new UNet2DConditionModelEmb(raw, options) : new UNet2DConditionModel(raw, options);
}

/** How fromPretrained and fromLoader find and build a UNet. */
const UNET_LOAD: LoadSpec<UNet2DConditionModel> = {
  component: 'unet',
  classNames: ['UNet2DConditionModel', 'UNet2DConditionModelEmb'],
  build: (config, label) => unetFromConfig(config, { label }),
};
