// The UNet's down, mid and up blocks (diffusers' CrossAttnDownBlock2D / DownBlock2D,
// UNetMidBlock2DCrossAttn, CrossAttnUpBlock2D / UpBlock2D). A cross-attention block is the plain
// block with a Transformer2DModel after each resnet, so one class serves both.
import { concat, nn, type Tensor } from '@sd/autograd';
import { Downsample2D, ResnetBlock2D, Upsample2D } from './resnet.ts';
import { Transformer2DModel } from './transformer.ts';

/** What every block of one UNet shares. */
export interface BlockContext {
  tembChannels: number;
  groups: number;
  eps: number;
  contextDim: number;
  linearProjection: boolean;
}

/** Attention settings of a block, or null for a block without cross-attention. */
export interface BlockAttention {
  heads: number;
  transformerLayers: number;
}

function transformers(ctx: BlockContext, channels: number, attention: BlockAttention | null, count: number): nn.ModuleList<Transformer2DModel> | null {
  if (!attention) return null;
  const make = () => new Transformer2DModel({ channels, heads: attention.heads, contextDim: ctx.contextDim, groups: ctx.groups, layers: attention.transformerLayers, linearProjection: ctx.linearProjection });
  return new nn.ModuleList(Array.from({ length: count }, make));
}

export class DownBlock2D extends nn.Module {
  readonly attentions: nn.ModuleList<Transformer2DModel> | null;
  readonly resnets: nn.ModuleList<ResnetBlock2D>;
  readonly downsampler: Downsample2D | null;

  constructor(ctx: BlockContext, o: { inChannels: number; outChannels: number; layers: number; attention: BlockAttention | null; downsample: boolean; downsamplePadding: number }) {
    super();
    const attentions = transformers(ctx, o.outChannels, o.attention, o.layers);
    this.attentions = attentions && this.module('attentions', attentions);
    const resnets = Array.from({ length: o.layers }, (_, i) => new ResnetBlock2D({ inChannels: i === 0 ? o.inChannels : o.outChannels, outChannels: o.outChannels, tembChannels: ctx.tembChannels, groups: ctx.groups, eps: ctx.eps }));
    this.resnets = this.module('resnets', new nn.ModuleList(resnets));
    this.downsampler = o.downsample ? this.module('downsamplers', new nn.ModuleList([new Downsample2D(o.outChannels, o.downsamplePadding)])).at(0) : null;
  }

  /** Returns the block's output and the states it hands to the up path (one per resnet, plus the downsampled one). */
  forward(x: Tensor, tembAct: Tensor, context: Tensor): { out: Tensor; skips: Tensor[] } {
    const skips: Tensor[] = [];
    let h = x;
    this.resnets.items.forEach((resnet, i) => {
      h = resnet.forward(h, tembAct);
      if (this.attentions) h = this.attentions.at(i).forward(h, context);
      skips.push(h);
    });
    if (this.downsampler) {
      h = this.downsampler.forward(h);
      skips.push(h);
    }
    return { out: h, skips };
  }
}

export class UpBlock2D extends nn.Module {
  readonly attentions: nn.ModuleList<Transformer2DModel> | null;
  readonly resnets: nn.ModuleList<ResnetBlock2D>;
  readonly upsampler: Upsample2D | null;

  /**
   * `prevChannels` arrive from below; resnet i also takes a skip of `skipChannels[i]` channels
   * (diffusers: the last skip has the down block's input width, the others its output width).
   */
  constructor(ctx: BlockContext, o: { prevChannels: number; outChannels: number; skipChannels: number[]; attention: BlockAttention | null; upsample: boolean }) {
    super();
    const layers = o.skipChannels.length;
    const attentions = transformers(ctx, o.outChannels, o.attention, layers);
    this.attentions = attentions && this.module('attentions', attentions);
    const resnets = o.skipChannels.map((skip, i) => new ResnetBlock2D({ inChannels: (i === 0 ? o.prevChannels : o.outChannels) + skip, outChannels: o.outChannels, tembChannels: ctx.tembChannels, groups: ctx.groups, eps: ctx.eps }));
    this.resnets = this.module('resnets', new nn.ModuleList(resnets));
    this.upsampler = o.upsample ? this.module('upsamplers', new nn.ModuleList([new Upsample2D(o.outChannels)])).at(0) : null;
  }

  /** `skips` is consumed from the end, as diffusers pops res_hidden_states_tuple. */
  forward(x: Tensor, skips: Tensor[], tembAct: Tensor, context: Tensor): Tensor {
    let h = x;
    this.resnets.items.forEach((resnet, i) => {
      const skip = skips.pop();
      if (!skip) throw new Error('UpBlock2D: ran out of skip connections');
      h = resnet.forward(concat([h, skip], 1), tembAct);
      if (this.attentions) h = this.attentions.at(i).forward(h, context);
    });
    return this.upsampler ? this.upsampler.forward(h) : h;
  }
}

/** resnet → (transformer → resnet) × 1 at the lowest resolution. */
export class UNetMidBlock2DCrossAttn extends nn.Module {
  readonly attentions: nn.ModuleList<Transformer2DModel>;
  readonly resnets: nn.ModuleList<ResnetBlock2D>;

  constructor(ctx: BlockContext, o: { channels: number; attention: BlockAttention; outputScaleFactor: number }) {
    super();
    this.attentions = this.module('attentions', transformers(ctx, o.channels, o.attention, 1)!);
    const resnet = () => new ResnetBlock2D({ inChannels: o.channels, outChannels: o.channels, tembChannels: ctx.tembChannels, groups: ctx.groups, eps: ctx.eps, outputScaleFactor: o.outputScaleFactor });
    this.resnets = this.module('resnets', new nn.ModuleList([resnet(), resnet()]));
  }

  forward(x: Tensor, tembAct: Tensor, context: Tensor): Tensor {
    const h = this.resnets.at(0).forward(x, tembAct);
    return this.resnets.at(1).forward(this.attentions.at(0).forward(h, context), tembAct);
  }
}
