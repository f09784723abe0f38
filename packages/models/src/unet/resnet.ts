// diffusers' ResnetBlock2D, Downsample2D and Upsample2D (shared by the UNet and the VAE), with its
// state-dict names. GroupNorm → SiLU runs as one fused kernel; the names stay norm1/norm2.
import { nn, pad, reshape, upsampleNearest2x, type Tensor } from '@sd/autograd';

export interface ResnetOptions {
  inChannels: number;
  outChannels: number;
  /** Width of the time embedding; null for the VAE's blocks, which have no time input. */
  tembChannels: number | null;
  groups: number;
  eps: number;
  /** The residual sum is divided by this (diffusers' output_scale_factor). */
  outputScaleFactor?: number;
}

export class ResnetBlock2D extends nn.Module {
  readonly norm1: nn.GroupNorm;
  readonly conv1: nn.Conv2d;
  readonly timeEmbProj: nn.Linear | null;
  readonly norm2: nn.GroupNorm;
  readonly conv2: nn.Conv2d;
  readonly convShortcut: nn.Conv2d | null;
  readonly outputScaleFactor: number;

  constructor(o: ResnetOptions) {
    super();
    this.norm1 = this.module('norm1', new nn.GroupNorm(o.groups, o.inChannels, o.eps, true, true));
    this.conv1 = this.module('conv1', new nn.Conv2d(o.inChannels, o.outChannels, 3, { padding: 1 }));
    this.timeEmbProj = o.tembChannels === null ? null : this.module('time_emb_proj', new nn.Linear(o.tembChannels, o.outChannels));
    this.norm2 = this.module('norm2', new nn.GroupNorm(o.groups, o.outChannels, o.eps, true, true));
    this.conv2 = this.module('conv2', new nn.Conv2d(o.outChannels, o.outChannels, 3, { padding: 1 }));
    this.convShortcut = o.inChannels === o.outChannels ? null : this.module('conv_shortcut', new nn.Conv2d(o.inChannels, o.outChannels, 1));
    this.outputScaleFactor = o.outputScaleFactor ?? 1;
  }

  /**
   * x [B, Cin, H, W]; `tembAct` is SiLU(time embedding) [B, T] — diffusers applies the SiLU inside
   * every block to the same embedding, so the caller computes it once.
   */
  forward(x: Tensor, tembAct: Tensor | null = null): Tensor {
    let h = this.conv1.forward(this.norm1.forward(x));
    if (this.timeEmbProj) {
      if (!tembAct) throw new Error('ResnetBlock2D: this block takes a time embedding, none given');
      const t = this.timeEmbProj.forward(tembAct);
      h = h.add(reshape(t, [t.shape[0], t.shape[1], 1, 1]));
    }
    h = this.conv2.forward(this.norm2.forward(h));
    const skip = this.convShortcut ? this.convShortcut.forward(x) : x;
    const out = skip.add(h);
    return this.outputScaleFactor === 1 ? out : out.div(this.outputScaleFactor);
  }
}

/**
 * A 3×3 stride-2 convolution. With padding 0 (the VAE) diffusers pads right and bottom by one
 * first, so odd sizes round the same way as PyTorch's.
 */
export class Downsample2D extends nn.Layer {
  readonly conv: nn.Conv2d;
  constructor(
    channels: number,
    readonly padding: number,
    outChannels = channels,
  ) {
    super();
    this.conv = this.module('conv', new nn.Conv2d(channels, outChannels, 3, { stride: 2, padding }));
  }
  forward(x: Tensor): Tensor {
    if (this.padding !== 0) return this.conv.forward(x);
    return this.conv.forward(pad(x, [[0, 0], [0, 0], [0, 1], [0, 1]]));
  }
}

/** Nearest-neighbour ×2, then a 3×3 convolution. */
export class Upsample2D extends nn.Layer {
  readonly conv: nn.Conv2d;
  constructor(channels: number, outChannels = channels) {
    super();
    this.conv = this.module('conv', new nn.Conv2d(channels, outChannels, 3, { padding: 1 }));
  }
  forward(x: Tensor): Tensor {
    return this.conv.forward(upsampleNearest2x(x));
  }
}
