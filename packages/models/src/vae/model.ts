// diffusers' AutoencoderKL: Encoder → quant_conv → diagonal Gaussian posterior; post_quant_conv →
// Decoder. Built from its config.json; state-dict names as diffusers 0.15 writes them.
import { chunk, maximum, minimum, nn, permute, randn, reshape, type Generator, type Tensor } from '@sd/autograd';
import { fmt } from '@sd/kernels';
import { Downsample2D, ResnetBlock2D, Upsample2D } from '../unet/resnet.ts';
import { attend } from '../unet/transformer.ts';
import { readVaeConfig, type VaeConfig } from './config.ts';
import type { FileLoader } from '@sd/io';
import { loadPretrained, loadPretrainedFrom, savePretrained, type DiffusersModel, type LoadSpec, type PretrainedOptions } from '../io/pretrained.ts';
import type { WriteDiffusersOptions } from '../io/diffusers.ts';

/** Resnets use eps 1e-6 throughout the VAE (diffusers hard-codes it). */
const EPS = 1e-6;

/**
 * The VAE's single-head spatial self-attention (diffusers 0.15 AttentionBlock: `group_norm`,
 * `query`, `key`, `value`, `proj_attn`). Newer diffusers names (`to_q`, …, `to_out.0`) are mapped
 * onto these on load, see `vaeStateDictNames`.
 */
export class VaeAttentionBlock extends nn.Module {
  readonly groupNorm: nn.GroupNorm;
  readonly query: nn.Linear;
  readonly key: nn.Linear;
  readonly value: nn.Linear;
  readonly projAttn: nn.Linear;
  constructor(channels: number, groups: number) {
    super();
    this.groupNorm = this.module('group_norm', new nn.GroupNorm(groups, channels, EPS));
    this.query = this.module('query', new nn.Linear(channels, channels));
    this.key = this.module('key', new nn.Linear(channels, channels));
    this.value = this.module('value', new nn.Linear(channels, channels));
    this.projAttn = this.module('proj_attn', new nn.Linear(channels, channels));
  }
  forward(x: Tensor): Tensor {
    const [b, c, h, w] = x.shape;
    const tokens = permute(reshape(this.groupNorm.forward(x), [b, c, h * w]), [0, 2, 1]);
    const heads = (t: Tensor) => reshape(t, [b, 1, h * w, c]);
    const attended = attend(heads(this.query.forward(tokens)), heads(this.key.forward(tokens)), heads(this.value.forward(tokens)));
    const out = this.projAttn.forward(reshape(attended, [b, h * w, c]));
    return reshape(permute(out, [0, 2, 1]), [b, c, h, w]).add(x);
  }
}

/** resnet → attention → resnet, without a time embedding. */
class UNetMidBlock2D extends nn.Module {
  readonly attentions: nn.ModuleList<VaeAttentionBlock>;
  readonly resnets: nn.ModuleList<ResnetBlock2D>;
  constructor(channels: number, groups: number) {
    super();
    this.attentions = this.module('attentions', new nn.ModuleList([new VaeAttentionBlock(channels, groups)]));
    const resnet = () => new ResnetBlock2D({ inChannels: channels, outChannels: channels, tembChannels: null, groups, eps: EPS });
    this.resnets = this.module('resnets', new nn.ModuleList([resnet(), resnet()]));
  }
  forward(x: Tensor): Tensor {
    return this.resnets.at(1).forward(this.attentions.at(0).forward(this.resnets.at(0).forward(x)));
  }
}

/** DownEncoderBlock2D / UpDecoderBlock2D: resnets, then an optional resampler. */
class SampleBlock extends nn.Module {
  readonly resnets: nn.ModuleList<ResnetBlock2D>;
  readonly resample: nn.Layer | null;
  constructor(inChannels: number, outChannels: number, layers: number, groups: number, resample: 'down' | 'up' | null) {
    super();
    const resnets = Array.from({ length: layers }, (_, i) => new ResnetBlock2D({ inChannels: i === 0 ? inChannels : outChannels, outChannels, tembChannels: null, groups, eps: EPS }));
    this.resnets = this.module('resnets', new nn.ModuleList(resnets));
    // Padding 0: the encoder pads right/bottom by one before its stride-2 convolution.
    if (resample === 'down') this.resample = this.module('downsamplers', new nn.ModuleList([new Downsample2D(outChannels, 0)])).at(0);
    else if (resample === 'up') this.resample = this.module('upsamplers', new nn.ModuleList([new Upsample2D(outChannels)])).at(0);
    else this.resample = null;
  }
  forward(x: Tensor): Tensor {
    let h = x;
    for (const r of this.resnets) h = r.forward(h);
    return this.resample ? this.resample.forward(h) : h;
  }
}

export class VaeEncoder extends nn.Module {
  readonly convIn: nn.Conv2d;
  readonly downBlocks: nn.ModuleList<SampleBlock>;
  readonly midBlock: UNetMidBlock2D;
  readonly convNormOut: nn.GroupNorm;
  readonly convOut: nn.Conv2d;
  constructor(c: VaeConfig) {
    super();
    const ch = c.block_out_channels;
    const n = ch.length;
    this.convIn = this.module('conv_in', new nn.Conv2d(c.in_channels, ch[0], 3, { padding: 1 }));
    const blocks = ch.map((out, i) => new SampleBlock(i === 0 ? ch[0] : ch[i - 1], out, c.layers_per_block, c.norm_num_groups, i < n - 1 ? 'down' : null));
    this.downBlocks = this.module('down_blocks', new nn.ModuleList(blocks));
    this.midBlock = this.module('mid_block', new UNetMidBlock2D(ch[n - 1], c.norm_num_groups));
    this.convNormOut = this.module('conv_norm_out', new nn.GroupNorm(c.norm_num_groups, ch[n - 1], EPS, true, true));
    this.convOut = this.module('conv_out', new nn.Conv2d(ch[n - 1], 2 * c.latent_channels, 3, { padding: 1 }));
  }
  forward(x: Tensor): Tensor {
    let h = this.convIn.forward(x);
    for (const block of this.downBlocks) h = block.forward(h);
    return this.convOut.forward(this.convNormOut.forward(this.midBlock.forward(h)));
  }
}

export class VaeDecoder extends nn.Module {
  readonly convIn: nn.Conv2d;
  readonly upBlocks: nn.ModuleList<SampleBlock>;
  readonly midBlock: UNetMidBlock2D;
  readonly convNormOut: nn.GroupNorm;
  readonly convOut: nn.Conv2d;
  constructor(c: VaeConfig) {
    super();
    const reversed = [...c.block_out_channels].reverse();
    const n = reversed.length;
    this.convIn = this.module('conv_in', new nn.Conv2d(c.latent_channels, reversed[0], 3, { padding: 1 }));
    const blocks = reversed.map((out, i) => new SampleBlock(i === 0 ? reversed[0] : reversed[i - 1], out, c.layers_per_block + 1, c.norm_num_groups, i < n - 1 ? 'up' : null));
    this.upBlocks = this.module('up_blocks', new nn.ModuleList(blocks));
    this.midBlock = this.module('mid_block', new UNetMidBlock2D(reversed[0], c.norm_num_groups));
    this.convNormOut = this.module('conv_norm_out', new nn.GroupNorm(c.norm_num_groups, reversed[n - 1], EPS, true, true));
    this.convOut = this.module('conv_out', new nn.Conv2d(reversed[n - 1], c.out_channels, 3, { padding: 1 }));
  }
  forward(z: Tensor): Tensor {
    let h = this.midBlock.forward(this.convIn.forward(z));
    for (const block of this.upBlocks) h = block.forward(h);
    return this.convOut.forward(this.convNormOut.forward(h));
  }
}

/** The posterior q(z | x) = N(mean, exp(logvar)), logvar clamped to [−30, 20] as diffusers does. */
export class DiagonalGaussian {
  readonly mean: Tensor;
  readonly logvar: Tensor;
  constructor(moments: Tensor) {
    const [mean, logvar] = chunk(moments, 2, 1);
    this.mean = mean;
    this.logvar = minimum(maximum(logvar, -30), 20);
  }
  get std(): Tensor {
    return this.logvar.mul(0.5).exp();
  }
  /** mean + std·ε with ε from `generator` (reparameterised: gradients flow to mean and logvar). */
  sample(generator?: Generator): Tensor {
    return this.mean.add(this.std.mul(randn(this.mean.shape, { generator })));
  }
  mode(): Tensor {
    return this.mean;
  }
  /** KL(q ‖ N(0, I)) summed over each sample's latent: [B]. */
  kl(): Tensor {
    return this.mean.square().add(this.logvar.exp()).sub(1).sub(this.logvar).sum([1, 2, 3]).mul(0.5);
  }
}

export class AutoencoderKL extends nn.Module implements DiffusersModel {
  readonly rawConfig: Record<string, unknown>;
  loadResult: nn.LoadResult | null = null;
  readonly config: VaeConfig;
  readonly warnings: string[];
  readonly encoder: VaeEncoder;
  readonly decoder: VaeDecoder;
  readonly quantConv: nn.Conv2d;
  readonly postQuantConv: nn.Conv2d;

  constructor(rawConfig: Record<string, unknown>, options: { label?: string } = {}) {
    super();
    const { config, warnings } = readVaeConfig(rawConfig, options.label ?? 'AutoencoderKL config');
    this.config = config;
    this.rawConfig = { ...rawConfig };
    this.warnings = warnings;
    const l = config.latent_channels;
    this.encoder = this.module('encoder', new VaeEncoder(config));
    this.decoder = this.module('decoder', new VaeDecoder(config));
    this.quantConv = this.module('quant_conv', new nn.Conv2d(2 * l, 2 * l, 1));
    this.postQuantConv = this.module('post_quant_conv', new nn.Conv2d(l, l, 1));
  }

  /** Loads a diffusers AutoencoderKL folder, or a pipeline folder's `vae/`; both attention namings load. */
  static fromPretrained(dir: string, options: PretrainedOptions = {}): AutoencoderKL {
    return loadPretrained(dir, VAE_LOAD, options);
  }

  /** fromPretrained through a FileLoader (a page): a model folder with config.json and diffusion_pytorch_model.safetensors. */
  static fromLoader(loader: FileLoader, dir: string, options: PretrainedOptions = {}): Promise<AutoencoderKL> {
    return loadPretrainedFrom(loader, dir, VAE_LOAD, options);
  }

  savePretrained(dir: string, options: WriteDiffusersOptions = {}): Promise<void> {
    return savePretrained(this, 'AutoencoderKL', dir, options);
  }

  /** Spatial downscale from image to latent. */
  get downscale(): number {
    return 2 ** (this.config.block_out_channels.length - 1);
  }

  get scalingFactor(): number {
    return this.config.scaling_factor;
  }

  /** Records a measured scaling factor (written to config.json by savePretrained). */
  setScalingFactor(value: number): void {
    if (!(value > 0 && Number.isFinite(value))) throw new Error(`AutoencoderKL.setScalingFactor: must be positive and finite, got ${value}`);
    this.config.scaling_factor = value;
    this.rawConfig.scaling_factor = value;
  }

  /** images [B, in_channels, H, W] in [−1, 1] → the latent posterior. */
  encode(images: Tensor): DiagonalGaussian {
    const c = this.config;
    if (images.rank !== 4 || images.shape[1] !== c.in_channels) throw new Error(`AutoencoderKL.encode: images ${fmt(images.shape)} must be [B, ${c.in_channels}, H, W]`);
    const [, , h, w] = images.shape;
    if (h % this.downscale || w % this.downscale) throw new Error(`AutoencoderKL.encode: images ${fmt(images.shape)}: height and width must be divisible by ${this.downscale}`);
    return new DiagonalGaussian(this.quantConv.forward(this.encoder.forward(images)));
  }

  /** latents [B, latent_channels, h, w] (unscaled) → images [B, out_channels, h·f, w·f]. */
  decode(latents: Tensor): Tensor {
    const l = this.config.latent_channels;
    if (latents.rank !== 4 || latents.shape[1] !== l) throw new Error(`AutoencoderKL.decode: latents ${fmt(latents.shape)} must be [B, ${l}, h, w]`);
    return this.decoder.forward(this.postQuantConv.forward(latents));
  }
}

/**
 * Maps newer diffusers names of the mid-block attention (`to_q`, `to_k`, `to_v`, `to_out.0`) onto
 * 0.15's (`query`, `key`, `value`, `proj_attn`); 1×1-conv shaped weights become matrices.
 */
export function vaeStateDictNames<T extends nn.HostTensor>(state: Map<string, T>): Map<string, T> {
  const renames: [RegExp, string][] = [
    [/(mid_block\.attentions\.\d+)\.to_q\./, '$1.query.'],
    [/(mid_block\.attentions\.\d+)\.to_k\./, '$1.key.'],
    [/(mid_block\.attentions\.\d+)\.to_v\./, '$1.value.'],
    [/(mid_block\.attentions\.\d+)\.to_out\.0\./, '$1.proj_attn.'],
  ];
  const out = new Map<string, T>();
  for (const [name, t] of state) {
    let renamed = name;
    for (const [from, to] of renames) renamed = renamed.replace(from, to);
    const isAttnWeight = /mid_block\.attentions\.\d+\.(query|key|value|proj_attn)\.weight$/.test(renamed);
    const squeezed = isAttnWeight && t.shape.length === 4 && t.shape[2] === 1 && t.shape[3] === 1 ? { ...t, shape: t.shape.slice(0, 2) } : t;
    out.set(renamed, squeezed);
  }
  return out;
}

/** How fromPretrained and fromLoader find and build a VAE (both attention namings load). */
const VAE_LOAD: LoadSpec<AutoencoderKL> = {
  component: 'vae',
  classNames: ['AutoencoderKL'],
  build: (config, label) => new AutoencoderKL(config, { label }),
  rename: vaeStateDictNames,
};
