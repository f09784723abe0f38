// diffusers' Transformer2DModel (continuous input) with BasicTransformerBlock and Attention, as in
// diffusers 0.15: GroupNorm (eps 1e-6) → proj_in → blocks → proj_out, plus the input as residual.
import { matmul, nn, permute, reshape, scaledDotProductAttention, softmax, type Tensor } from '@sd/autograd';
import { ATTENTION_MAX_D } from '@sd/kernels';

/**
 * softmax(q·kᵀ/√D)·v over [B, H, S, D]: the fused flash kernel up to its head size, the composed
 * matmul → softmax → matmul beyond it (SD's VAE attends with one 512-wide head).
 */
export function attend(q: Tensor, k: Tensor, v: Tensor): Tensor {
  const d = q.shape[3];
  if (d <= ATTENTION_MAX_D) return scaledDotProductAttention(q, k, v);
  return matmul(softmax(matmul(q, k, { transB: true }).mul(1 / Math.sqrt(d))), v);
}

/** Multi-head attention with separate q/k/v projections (no bias) and `to_out.0` (bias). */
export class Attention extends nn.Module {
  readonly toQ: nn.Linear;
  readonly toK: nn.Linear;
  readonly toV: nn.Linear;
  readonly toOut: nn.Linear;

  constructor(
    queryDim: number,
    contextDim: number,
    readonly heads: number,
    readonly headDim: number,
  ) {
    super();
    const inner = heads * headDim;
    this.toQ = this.module('to_q', new nn.Linear(queryDim, inner, { bias: false }));
    this.toK = this.module('to_k', new nn.Linear(contextDim, inner, { bias: false }));
    this.toV = this.module('to_v', new nn.Linear(contextDim, inner, { bias: false }));
    this.toOut = this.module('to_out.0', new nn.Linear(inner, queryDim));
  }

  /** x [B, S, queryDim], context [B, Sk, contextDim] (self-attention when omitted). */
  forward(x: Tensor, context: Tensor = x): Tensor {
    const h = this.heads;
    const q = nn.toHeads(this.toQ.forward(x), h);
    const k = nn.toHeads(this.toK.forward(context), h);
    const v = nn.toHeads(this.toV.forward(context), h);
    return this.toOut.forward(nn.fromHeads(attend(q, k, v)));
  }
}

/** Self-attention, cross-attention, GEGLU feed-forward; each pre-LayerNorm with a residual. */
export class BasicTransformerBlock extends nn.Module {
  readonly attn1: Attention;
  readonly ff: nn.GEGLUFeedForward;
  readonly attn2: Attention;
  readonly norm1: nn.LayerNorm;
  readonly norm2: nn.LayerNorm;
  readonly norm3: nn.LayerNorm;

  constructor(dim: number, heads: number, headDim: number, contextDim: number) {
    super();
    // Registration order is diffusers 0.15's, so stateDict() lists names as its state_dict does.
    this.attn1 = this.module('attn1', new Attention(dim, dim, heads, headDim));
    this.ff = this.module('ff', new nn.GEGLUFeedForward(dim));
    this.attn2 = this.module('attn2', new Attention(dim, contextDim, heads, headDim));
    this.norm1 = this.module('norm1', new nn.LayerNorm(dim));
    this.norm2 = this.module('norm2', new nn.LayerNorm(dim));
    this.norm3 = this.module('norm3', new nn.LayerNorm(dim));
  }

  forward(x: Tensor, context: Tensor): Tensor {
    let h = x.add(this.attn1.forward(this.norm1.forward(x)));
    h = h.add(this.attn2.forward(this.norm2.forward(h), context));
    return h.add(this.ff.forward(this.norm3.forward(h)));
  }
}

export interface Transformer2DOptions {
  channels: number;
  heads: number;
  contextDim: number;
  groups: number;
  layers: number;
  /** SD2: Linear projections on [B, HW, C]; SD1: 1×1 convolutions on [B, C, H, W]. */
  linearProjection: boolean;
}

export class Transformer2DModel extends nn.Module {
  readonly norm: nn.GroupNorm;
  readonly projIn: nn.Linear | nn.Conv2d;
  readonly blocks: nn.ModuleList<BasicTransformerBlock>;
  readonly projOut: nn.Linear | nn.Conv2d;
  readonly linearProjection: boolean;

  constructor(o: Transformer2DOptions) {
    super();
    const c = o.channels;
    this.linearProjection = o.linearProjection;
    this.norm = this.module('norm', new nn.GroupNorm(o.groups, c, 1e-6));
    this.projIn = this.module('proj_in', o.linearProjection ? new nn.Linear(c, c) : new nn.Conv2d(c, c, 1));
    const blocks = Array.from({ length: o.layers }, () => new BasicTransformerBlock(c, o.heads, c / o.heads, o.contextDim));
    this.blocks = this.module('transformer_blocks', new nn.ModuleList(blocks));
    this.projOut = this.module('proj_out', o.linearProjection ? new nn.Linear(c, c) : new nn.Conv2d(c, c, 1));
  }

  /** x [B, C, H, W], context [B, Sk, contextDim] → [B, C, H, W]. */
  forward(x: Tensor, context: Tensor): Tensor {
    const [b, c, height, width] = x.shape;
    const toTokens = (t: Tensor) => reshape(permute(t, [0, 2, 3, 1]), [b, height * width, c]);
    const toImage = (t: Tensor) => permute(reshape(t, [b, height, width, c]), [0, 3, 1, 2]);
    const normed = this.norm.forward(x);
    let h = this.linearProjection ? this.projIn.forward(toTokens(normed)) : toTokens(this.projIn.forward(normed));
    for (const block of this.blocks) h = block.forward(h, context);
    const out = this.linearProjection ? toImage(this.projOut.forward(h)) : this.projOut.forward(toImage(h));
    return out.add(x);
  }
}
