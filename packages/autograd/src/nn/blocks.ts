// Composite blocks: MLP, GEGLU feed-forward, and MultiheadAttention with PyTorch's packed layout.
import { chunk, permute, reshape } from '../ops/views.ts';
import { linear } from '../ops/matmul.ts';
import { mul } from '../ops/arithmetic.ts';
import { scaledDotProductAttention } from '../ops/nn.ts';
import { gelu } from '../ops/unary.ts';
import type { Tensor } from '../tensor.ts';
import { xavierUniform, zeros } from './init.ts';
import { Dropout, GELU, Layer, Linear } from './layers.ts';
import { Module } from './module.ts';

/** Linear → activation → Linear (names `fc1`, `fc2`). */
export class MLP extends Layer {
  readonly fc1: Linear;
  readonly fc2: Linear;
  constructor(inDim: number, hidden: number, outDim = inDim, readonly act: Layer = new GELU()) {
    super();
    this.fc1 = this.module('fc1', new Linear(inDim, hidden));
    this.fc2 = this.module('fc2', new Linear(hidden, outDim));
  }
  forward(x: Tensor): Tensor {
    return this.fc2.forward(this.act.forward(this.fc1.forward(x)));
  }
}

/** diffusers' GEGLU: proj to 2×out, then value · gelu(gate). */
export class GEGLU extends Layer {
  readonly proj: Linear;
  constructor(inDim: number, outDim: number, bias = true) {
    super();
    this.proj = this.module('proj', new Linear(inDim, outDim * 2, { bias }));
  }
  forward(x: Tensor): Tensor {
    const [value, gate] = chunk(this.proj.forward(x), 2, -1);
    return mul(value, gelu(gate));
  }
}

/** diffusers' FeedForward with GEGLU: net.0 = GEGLU, net.1 = Dropout, net.2 = Linear. */
export class GEGLUFeedForward extends Layer {
  readonly geglu: GEGLU;
  readonly drop: Dropout;
  readonly out: Linear;
  constructor(dim: number, mult = 4, dropoutP = 0, bias = true) {
    super();
    const inner = dim * mult;
    this.geglu = this.module('net.0', new GEGLU(dim, inner, bias));
    this.drop = this.module('net.1', new Dropout(dropoutP));
    this.out = this.module('net.2', new Linear(inner, dim, { bias }));
  }
  forward(x: Tensor): Tensor {
    return this.out.forward(this.drop.forward(this.geglu.forward(x)));
  }
}

/** Splits [B, S, H·Dh] into heads [B, H, S, Dh]. */
export function toHeads(x: Tensor, heads: number): Tensor {
  const [b, s, e] = x.shape;
  return permute(reshape(x, [b, s, heads, e / heads]), [0, 2, 1, 3]);
}

/** Splits a packed [B, S, 3·H·Dh] projection into q, k, v heads [B, H, S, Dh] (one permute). */
export function toHeadsPacked(x: Tensor, heads: number): [Tensor, Tensor, Tensor] {
  const [b, s, e3] = x.shape;
  const e = e3 / 3;
  const split = permute(reshape(x, [b, s, 3, heads, e / heads]), [2, 0, 3, 1, 4]);
  const [q, k, v] = chunk(split, 3, 0).map((t) => reshape(t, [b, heads, s, e / heads]));
  return [q, k, v];
}

/** Merges heads [B, H, S, Dh] back into [B, S, H·Dh]. */
export function fromHeads(x: Tensor): Tensor {
  const [b, h, s, d] = x.shape;
  return reshape(permute(x, [0, 2, 1, 3]), [b, s, h * d]);
}

/**
 * torch.nn.MultiheadAttention (batch_first): packed `in_proj_weight` [3E, E], `in_proj_bias`,
 * `out_proj`. The key-padding mask is [B, Sk] with 1 = attend, 0 = ignore.
 */
export class MultiheadAttention extends Module {
  readonly inProjWeight: Tensor;
  readonly inProjBias: Tensor | null;
  readonly outProj: Linear;
  constructor(
    readonly embedDim: number,
    readonly numHeads: number,
    options: { bias?: boolean } = {},
  ) {
    super();
    if (embedDim % numHeads !== 0) throw new Error(`MultiheadAttention: ${numHeads} heads do not divide embed dim ${embedDim}`);
    const bias = options.bias ?? true;
    this.inProjWeight = this.param('in_proj_weight', xavierUniform([3 * embedDim, embedDim], embedDim, 3 * embedDim));
    this.inProjBias = bias ? this.param('in_proj_bias', zeros([3 * embedDim])) : null;
    this.outProj = this.module('out_proj', new Linear(embedDim, embedDim, { bias, zeroBias: true }));
  }

  forward(query: Tensor, key: Tensor = query, value: Tensor = key, options: { causal?: boolean; keyPaddingMask?: Tensor } = {}): Tensor {
    let q: Tensor, k: Tensor, v: Tensor;
    if (query === key && key === value) {
      [q, k, v] = chunk(linear(query, this.inProjWeight, this.inProjBias), 3, -1);
    } else {
      const [wq, wk, wv] = chunk(this.inProjWeight, 3, 0);
      const [bq, bk, bv] = this.inProjBias ? chunk(this.inProjBias, 3, 0) : [null, null, null];
      q = linear(query, wq, bq);
      k = linear(key, wk, bk);
      v = linear(value, wv, bv);
    }
    const h = this.numHeads;
    const attended = scaledDotProductAttention(toHeads(q, h), toHeads(k, h), toHeads(v, h), options);
    return this.outProj.forward(fromHeads(attended));
  }
}
