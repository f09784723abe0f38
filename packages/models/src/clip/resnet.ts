// OpenAI CLIP's ModifiedResNet (`visual.*` of RN50/RN101): a three-conv stem with an average pool,
// anti-aliased Bottleneck blocks (an average pool replaces every strided convolution), and an
// attention pool over the final feature map. BatchNorm runs in inference form (running statistics).
import { add, avgPool2d, concat, isGradEnabled, mean, nn, permute, reshape, scaledDotProductAttention, slice, type Tensor } from '@sd/autograd';
import { fmt } from '@sd/kernels';
import type { ClipResNetConfig } from './config.ts';
import { inferenceScope } from './transformer.ts';

const EXPANSION = 4;

/** conv → bn (no bias on the conv, as in every ResNet conv here). */
function convBn(inChannels: number, outChannels: number, kernel: number, options: { stride?: number; padding?: number } = {}) {
  return [new nn.Conv2d(inChannels, outChannels, kernel, { ...options, bias: false }), new nn.BatchNorm2d(outChannels)] as const;
}

/**
 * The anti-aliased Bottleneck: 1×1 → 3×3 → avgpool(stride) → 1×1 (×4 channels), with a
 * downsample branch `downsample.{0: conv 1×1, 1: bn}` preceded by avgpool(stride) (OpenAI names the
 * pool "-1"; it has no parameters) when the stride or the channel count changes.
 */
export class Bottleneck extends nn.Layer {
  readonly conv1: nn.Conv2d;
  readonly bn1: nn.BatchNorm2d;
  readonly conv2: nn.Conv2d;
  readonly bn2: nn.BatchNorm2d;
  readonly conv3: nn.Conv2d;
  readonly bn3: nn.BatchNorm2d;
  readonly downsample: nn.Sequential | null;

  constructor(
    inplanes: number,
    planes: number,
    readonly stride = 1,
  ) {
    super();
    const [c1, b1] = convBn(inplanes, planes, 1);
    const [c2, b2] = convBn(planes, planes, 3, { padding: 1 });
    const [c3, b3] = convBn(planes, planes * EXPANSION, 1);
    this.conv1 = this.module('conv1', c1);
    this.bn1 = this.module('bn1', b1);
    this.conv2 = this.module('conv2', c2);
    this.bn2 = this.module('bn2', b2);
    this.conv3 = this.module('conv3', c3);
    this.bn3 = this.module('bn3', b3);
    this.downsample = null;
    if (stride > 1 || inplanes !== planes * EXPANSION) {
      const [dc, db] = convBn(inplanes, planes * EXPANSION, 1);
      this.downsample = this.module('downsample', new nn.Sequential(dc, db));
    }
  }

  forward(x: Tensor): Tensor {
    return inferenceScope(() => {
      let out = this.bn1.forward(this.conv1.forward(x)).relu();
      out = this.bn2.forward(this.conv2.forward(out)).relu();
      if (this.stride > 1) out = avgPool2d(out, this.stride);
      out = this.bn3.forward(this.conv3.forward(out));
      let identity = x;
      if (this.downsample) identity = this.downsample.forward(this.stride > 1 ? avgPool2d(x, this.stride) : x);
      return add(out, identity).relu();
    });
  }
}

/**
 * Attention pooling: the feature map's tokens plus their mean (first), with learned positions;
 * one query (the mean token) attends over all of them through q/k/v projections and c_proj.
 */
export class AttentionPool2d extends nn.Module {
  readonly positionalEmbedding: Tensor;
  readonly kProj: nn.Linear;
  readonly qProj: nn.Linear;
  readonly vProj: nn.Linear;
  readonly cProj: nn.Linear;

  constructor(
    readonly spatialDim: number,
    readonly embedDim: number,
    readonly numHeads: number,
    outputDim: number,
  ) {
    super();
    if (embedDim % numHeads !== 0) throw new Error(`AttentionPool2d: ${numHeads} heads do not divide ${embedDim}`);
    this.positionalEmbedding = this.param('positional_embedding', nn.init.normal([spatialDim ** 2 + 1, embedDim], embedDim ** -0.5));
    this.kProj = this.module('k_proj', new nn.Linear(embedDim, embedDim));
    this.qProj = this.module('q_proj', new nn.Linear(embedDim, embedDim));
    this.vProj = this.module('v_proj', new nn.Linear(embedDim, embedDim));
    this.cProj = this.module('c_proj', new nn.Linear(embedDim, outputDim));
  }

  /** x: [B, C, H, W] with H·W = spatialDim² → [B, outputDim]. */
  forward(x: Tensor): Tensor {
    const [b, c, h, w] = x.shape;
    if (c !== this.embedDim || h * w !== this.spatialDim ** 2) {
      throw new Error(`AttentionPool2d: expected features [batch, ${this.embedDim}, ${this.spatialDim}, ${this.spatialDim}], got ${fmt(x.shape)}`);
    }
    const heads = this.numHeads;
    const dh = c / heads;
    let tokens = permute(reshape(x, [b, c, h * w]), [0, 2, 1]);
    tokens = concat([mean(tokens, 1, true), tokens], 1);
    tokens = add(tokens, this.positionalEmbedding);
    const n = h * w + 1;
    const split = (t: Tensor, len: number) => permute(reshape(t, [b, len, heads, dh]), [0, 2, 1, 3]);
    const q = split(this.qProj.forward(slice(tokens, 1, 0, 1)), 1);
    const k = split(this.kProj.forward(tokens), n);
    const v = split(this.vProj.forward(tokens), n);
    const attended = reshape(scaledDotProductAttention(q, k, v), [b, c]); // [B, H, 1, Dh] → [B, H·Dh]
    return this.cProj.forward(attended);
  }
}

export class ModifiedResNet extends nn.Module {
  readonly conv1: nn.Conv2d;
  readonly bn1: nn.BatchNorm2d;
  readonly conv2: nn.Conv2d;
  readonly bn2: nn.BatchNorm2d;
  readonly conv3: nn.Conv2d;
  readonly bn3: nn.BatchNorm2d;
  readonly layers: nn.Sequential[];
  readonly attnpool: AttentionPool2d;

  constructor(
    readonly config: ClipResNetConfig,
    readonly outputDim: number,
  ) {
    super();
    const { width, layers, heads, imageResolution } = config;
    if (imageResolution % 32 !== 0) throw new Error(`ModifiedResNet: resolution ${imageResolution} is not a multiple of 32`);
    [this.conv1, this.bn1] = convBn(3, width / 2, 3, { stride: 2, padding: 1 });
    [this.conv2, this.bn2] = convBn(width / 2, width / 2, 3, { padding: 1 });
    [this.conv3, this.bn3] = convBn(width / 2, width, 3, { padding: 1 });
    for (const name of ['conv1', 'bn1', 'conv2', 'bn2', 'conv3', 'bn3'] as const) this.module(name, this[name]);
    let inplanes = width;
    this.layers = layers.map((blocks, i) => {
      const planes = width * 2 ** i;
      const stage = Array.from({ length: blocks }, (_, j) => new Bottleneck(j === 0 ? inplanes : planes * EXPANSION, planes, j === 0 && i > 0 ? 2 : 1));
      inplanes = planes * EXPANSION;
      return this.module(`layer${i + 1}`, new nn.Sequential(...stage));
    });
    this.attnpool = this.module('attnpool', new AttentionPool2d(imageResolution / 32, width * 32, heads, outputDim));
    this.initialize();
  }

  /** OpenAI's initialize_parameters: attention-pool weights ~ N(0, C^-½), every bn3 scale zero. */
  private initialize(): void {
    const c = this.attnpool.embedDim;
    for (const l of [this.attnpool.qProj, this.attnpool.kProj, this.attnpool.vProj, this.attnpool.cProj]) {
      const fresh = nn.init.normal(l.weight.shape, c ** -0.5);
      l.weight.assign(fresh.data.reshape(l.weight.shape));
      fresh.dispose();
    }
    for (const stage of this.layers) for (const block of stage.layers as Bottleneck[]) {
      const zero = nn.init.zeros(block.bn3.weight.shape);
      block.bn3.weight.assign(zero.data.reshape(zero.shape));
      zero.dispose();
    }
  }

  /** The stem: three conv-bn-relu, then a 2×2 average pool. */
  stem(images: Tensor): Tensor {
    return inferenceScope(() => {
      let x = this.bn1.forward(this.conv1.forward(images)).relu();
      x = this.bn2.forward(this.conv2.forward(x)).relu();
      x = this.bn3.forward(this.conv3.forward(x)).relu();
      return avgPool2d(x, 2);
    });
  }

  /** images [B, 3, R, R] (CLIP-normalised) → [B, outputDim]. */
  forward(images: Tensor): Tensor {
    const r = this.config.imageResolution;
    if (images.rank !== 4 || images.shape[1] !== 3 || images.shape[2] !== r || images.shape[3] !== r) {
      throw new Error(`ModifiedResNet: expected images [batch, 3, ${r}, ${r}], got ${fmt(images.shape)}`);
    }
    const recording = isGradEnabled();
    let x = this.stem(images);
    for (const stage of this.layers) {
      for (const block of stage.layers) {
        const next = block.forward(x);
        // Without a graph, a block's input is dead once the block has run (the stem's output is ours too).
        if (!recording) x.dispose();
        x = next;
      }
    }
    const pooled = inferenceScope(() => this.attnpool.forward(x));
    if (!recording) x.dispose();
    return pooled;
  }
}
