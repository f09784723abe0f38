// Basic layers with PyTorch parameter names and initialisation.
import { gather } from '../ops/views.ts';
import { linear, type Activation } from '../ops/matmul.ts';
import { conv2d, dropout, groupNorm, layerNorm, rmsNorm, type Conv2dOptions } from '../ops/nn.ts';
import { gelu, quickGelu, relu, sigmoid, silu, tanh } from '../ops/unary.ts';
import type { Tensor } from '../tensor.ts';
import { kaimingUniform, normal, ones, zeros } from './init.ts';
import { Module } from './module.ts';

/** A module with a single-tensor forward (what Sequential composes). */
export abstract class Layer extends Module {
  abstract forward(x: Tensor): Tensor;
}

export class Linear extends Layer {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    options: { bias?: boolean; activation?: Activation; zeroBias?: boolean } = {},
  ) {
    super();
    this.activation = options.activation;
    this.weight = this.param('weight', kaimingUniform([outFeatures, inFeatures], inFeatures));
    // No bias: nothing is allocated or drawn from the generator (as in PyTorch).
    if (options.bias === false) this.bias = null;
    else this.bias = this.param('bias', options.zeroBias ? zeros([outFeatures]) : kaimingUniform([outFeatures], inFeatures));
  }
  private activation?: Activation;

  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias, this.activation);
  }
}

export class Embedding extends Module {
  readonly weight: Tensor;
  constructor(
    readonly numEmbeddings: number,
    readonly dim: number,
  ) {
    super();
    this.weight = this.param('weight', normal([numEmbeddings, dim]));
  }
  /** ids: i32 tensor of any shape → [...ids.shape, dim]. */
  forward(ids: Tensor): Tensor {
    return gather(this.weight, ids, 0);
  }
}

export class LayerNorm extends Layer {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  constructor(
    readonly dim: number,
    readonly eps = 1e-5,
    affine = true,
  ) {
    super();
    this.weight = affine ? this.param('weight', ones([dim])) : null;
    this.bias = affine ? this.param('bias', zeros([dim])) : null;
  }
  forward(x: Tensor): Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}

export class RMSNorm extends Layer {
  readonly weight: Tensor | null;
  constructor(
    readonly dim: number,
    readonly eps = 1e-6,
    affine = true,
  ) {
    super();
    this.weight = affine ? this.param('weight', ones([dim])) : null;
  }
  forward(x: Tensor): Tensor {
    return rmsNorm(x, this.weight, this.eps);
  }
}

export class GroupNorm extends Layer {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  constructor(
    readonly groups: number,
    readonly channels: number,
    readonly eps = 1e-5,
    affine = true,
    /** Fuse a SiLU after the normalisation (the UNet's norm → SiLU pattern). */
    readonly silu = false,
  ) {
    super();
    if (channels % groups !== 0) throw new Error(`GroupNorm: ${groups} groups do not divide ${channels} channels`);
    this.weight = affine ? this.param('weight', ones([channels])) : null;
    this.bias = affine ? this.param('bias', zeros([channels])) : null;
  }
  forward(x: Tensor): Tensor {
    return groupNorm(x, this.groups, this.weight, this.bias, this.eps, this.silu);
  }
}

export class Conv2d extends Layer {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly options: Conv2dOptions;
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: number | [number, number],
    options: Conv2dOptions & { bias?: boolean } = {},
  ) {
    super();
    const [kh, kw] = typeof kernelSize === 'number' ? [kernelSize, kernelSize] : kernelSize;
    const groups = options.groups ?? 1;
    if (inChannels % groups || outChannels % groups) throw new Error(`Conv2d: groups ${groups} must divide in (${inChannels}) and out (${outChannels}) channels`);
    const fanIn = (inChannels / groups) * kh * kw;
    this.options = { stride: options.stride, padding: options.padding, dilation: options.dilation, groups };
    this.weight = this.param('weight', kaimingUniform([outChannels, inChannels / groups, kh, kw], fanIn));
    this.bias = options.bias === false ? null : this.param('bias', kaimingUniform([outChannels], fanIn));
  }
  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, this.options);
  }
}

export class Dropout extends Layer {
  constructor(readonly p = 0.5) {
    super();
  }
  forward(x: Tensor): Tensor {
    return dropout(x, this.p, this.training);
  }
}

export class ReLU extends Layer {
  forward(x: Tensor): Tensor {
    return relu(x);
  }
}

export class Tanh extends Layer {
  forward(x: Tensor): Tensor {
    return tanh(x);
  }
}

export class Sigmoid extends Layer {
  forward(x: Tensor): Tensor {
    return sigmoid(x);
  }
}

export class SiLU extends Layer {
  forward(x: Tensor): Tensor {
    return silu(x);
  }
}

export class GELU extends Layer {
  constructor(readonly approximate: 'none' | 'tanh' = 'none') {
    super();
  }
  forward(x: Tensor): Tensor {
    return gelu(x, this.approximate);
  }
}

export class QuickGELU extends Layer {
  forward(x: Tensor): Tensor {
    return quickGelu(x);
  }
}

export class Identity extends Layer {
  forward(x: Tensor): Tensor {
    return x;
  }
}
