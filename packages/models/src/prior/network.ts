// The seed's ClipPrior, sized by config: a causal transformer decoder without positional encoding
// (pre-norm RMSNorm, bias-free attention, GEGLU feed-forward, plain residuals) over the tokens
// [text tokens…, pooled text, timestep, cluster, x_t, query]; an MLP on the last token predicts x₀.
import {
  Generator, Tensor, add, cast, concat, getGenerator, mul, nn, scaledDotProductAttention, sin, cos, sub, tensor, reshape, expand, slice, squeeze, withGenerator,
} from '@sd/autograd';
import { purposeSeed } from '../data/prng.ts';

export interface PriorConfig {
  /** Embedding dimension (512 per CLIP model; 1536 for the seed's three concatenated). */
  embedDim: number;
  width: number;
  layers: number;
  heads: number;
  /** Feed-forward inner size = ffMult · width. */
  ffMult: number;
  /** Per-token text states dimension; 0 disables the text-token condition. */
  textTokenDim: number;
  /** Number of clusters (the cluster token is omitted when `useClusterToken` is false). */
  clusters: number;
  useClusterToken: boolean;
  timesteps: number;
}

export const PRIOR_CONFIGS = {
  /** The seed's size: width 2048, 32 heads, 8 layers (≈0.58 B parameters at 1536-d). */
  seed: { embedDim: 1536, width: 2048, layers: 8, heads: 32, ffMult: 4, textTokenDim: 0, clusters: 1024, useClusterToken: true, timesteps: 1000 },
  small: { embedDim: 512, width: 512, layers: 6, heads: 8, ffMult: 4, textTokenDim: 0, clusters: 16, useClusterToken: true, timesteps: 1000 },
  tiny: { embedDim: 128, width: 128, layers: 2, heads: 4, ffMult: 2, textTokenDim: 0, clusters: 4, useClusterToken: true, timesteps: 1000 },
} satisfies Record<string, PriorConfig>;

/** Linear → SiLU → LayerNorm → Linear, the seed's projection of embeddings into tokens. */
class EmbeddingProjection extends nn.Layer {
  readonly net: nn.Sequential;
  constructor(inDim: number, width: number) {
    super();
    this.net = this.module('net', new nn.Sequential(new nn.Linear(inDim, width), new nn.SiLU(), new nn.LayerNorm(width), new nn.Linear(width, width)));
  }
  forward(x: Tensor): Tensor {
    return this.net.forward(x);
  }
}

/** Sinusoidal features of integer positions (timesteps or cluster ids) → Linear → SiLU → Linear. */
class SinusoidalEmbedding extends nn.Module {
  readonly mlp: nn.Sequential;
  private readonly freqs: Float32Array;
  constructor(readonly width: number) {
    super();
    const half = width / 2;
    this.freqs = Float32Array.from({ length: half }, (_, i) => Math.exp((-Math.log(10000) * i) / half));
    this.mlp = this.module('mlp', new nn.Sequential(new nn.Linear(width, width), new nn.SiLU(), new nn.Linear(width, width)));
  }
  /**
   * positions: integers, one per sample (host numbers, or an i32 [B] tensor) → [B, width]. Both
   * round the exact product position·freq to f32 once (the device multiplies f32(position), exact
   * below 2²⁴, by the f32 frequency), so both give the same bits.
   */
  forward(positions: ArrayLike<number> | Tensor): Tensor {
    const half = this.freqs.length;
    let a: Tensor;
    if (positions instanceof Tensor) a = mul(reshape(cast(positions, 'f32'), [positions.size, 1]), tensor(this.freqs, [1, half]));
    else {
      const b = positions.length;
      const angles = new Float32Array(b * half);
      for (let i = 0; i < b; i++) for (let j = 0; j < half; j++) angles[i * half + j] = positions[i] * this.freqs[j];
      a = tensor(angles, [b, half]);
    }
    return this.mlp.forward(concat([cos(a), sin(a)], 1));
  }
}

class PriorAttention extends nn.Module {
  readonly toQkv: nn.Linear;
  readonly toOut: nn.Linear;
  constructor(width: number, readonly heads: number) {
    super();
    this.toQkv = this.module('to_qkv', new nn.Linear(width, 3 * width, { bias: false }));
    this.toOut = this.module('to_out', new nn.Linear(width, width, { bias: false }));
  }
  forward(x: Tensor): Tensor {
    const [q, k, v] = nn.toHeadsPacked(this.toQkv.forward(x), this.heads);
    return this.toOut.forward(nn.fromHeads(scaledDotProductAttention(q, k, v, { causal: true })));
  }
}

class PriorBlock extends nn.Module {
  readonly attnNorm: nn.RMSNorm;
  readonly attn: PriorAttention;
  readonly ffNorm: nn.RMSNorm;
  readonly ff: nn.GEGLUFeedForward;
  constructor(c: PriorConfig) {
    super();
    this.attnNorm = this.module('attn_norm', new nn.RMSNorm(c.width));
    this.attn = this.module('attn', new PriorAttention(c.width, c.heads));
    this.ffNorm = this.module('ff_norm', new nn.RMSNorm(c.width));
    this.ff = this.module('ff', new nn.GEGLUFeedForward(c.width, c.ffMult, 0, false));
  }
  forward(x: Tensor): Tensor {
    const h = add(x, this.attn.forward(this.attnNorm.forward(x)));
    return add(h, this.ff.forward(this.ffNorm.forward(h)));
  }
}

export interface PriorInputs {
  /** x_t [B, D]. */
  xt: Tensor;
  /** Original (not respaced) timesteps, one per sample (host numbers or an i32 [B] tensor). */
  timesteps: ArrayLike<number> | Tensor;
  /** Cluster index per sample (ignored without a cluster token); host numbers or an i32 [B] tensor. */
  clusters: ArrayLike<number> | Tensor;
  /** Pooled CLIP text embedding [B, D]. */
  textEmbedding: Tensor;
  /** Per-token text states [B, L, textTokenDim], when the config uses them. */
  textTokens?: Tensor;
  /** [B, 1] with 1 = keep the text condition, 0 = replace it by the learned null (classifier-free guidance). */
  keepText?: Tensor;
}

export class ClipPrior extends nn.Module {
  readonly textProj: EmbeddingProjection;
  readonly tokenProj: EmbeddingProjection | null;
  readonly timeEmbed: SinusoidalEmbedding;
  readonly clusterEmbed: SinusoidalEmbedding | null;
  readonly xProj: EmbeddingProjection;
  readonly nullText: Tensor;
  readonly query: Tensor;
  readonly blocks: nn.ModuleList<PriorBlock>;
  readonly finalNorm: nn.RMSNorm;
  readonly head: nn.Sequential;

  constructor(readonly config: PriorConfig) {
    super();
    const w = config.width;
    if (w % config.heads) throw new Error(`ClipPrior: ${config.heads} heads do not divide width ${w}`);
    // Each part draws its initial weights from its own stream (derived from the default generator's
    // seed and the part's name): an optional part (the cluster token, the text tokens) does not move
    // the numbers of the parts after it, so the shifted prior and the baseline start identical.
    const base = getGenerator().seed;
    const own = <T>(name: string, make: () => T): T => withGenerator(new Generator(purposeSeed(base, name)), make);
    this.textProj = this.module('text_proj', own('text_proj', () => new EmbeddingProjection(config.embedDim, w)));
    this.tokenProj = config.textTokenDim > 0 ? this.module('token_proj', own('token_proj', () => new EmbeddingProjection(config.textTokenDim, w))) : null;
    this.timeEmbed = this.module('time_embed', own('time_embed', () => new SinusoidalEmbedding(w)));
    this.clusterEmbed = config.useClusterToken ? this.module('cluster_embed', own('cluster_embed', () => new SinusoidalEmbedding(w))) : null;
    this.xProj = this.module('x_proj', own('x_proj', () => new EmbeddingProjection(config.embedDim, w)));
    this.nullText = this.param('null_text', own('null_text', () => nn.init.normal([1, w], 0.02)));
    this.query = this.param('query', own('query', () => nn.init.normal([1, w], 0.02)));
    this.blocks = this.module('blocks', own('blocks', () => new nn.ModuleList(Array.from({ length: config.layers }, () => new PriorBlock(config)))));
    this.finalNorm = this.module('final_norm', new nn.RMSNorm(w));
    this.head = this.module('head', own('head', () => new nn.Sequential(new nn.Linear(w, w), new nn.SiLU(), new nn.Linear(w, config.embedDim))));
  }

  /** Predicts x₀ [B, D]. */
  forward(inputs: PriorInputs): Tensor {
    const b = inputs.xt.shape[0];
    const w = this.config.width;
    const token = (t: Tensor) => reshape(t, [b, 1, w]);
    // Classifier-free guidance: a dropped sample sees the learned null token instead of its text.
    const mix = (cond: Tensor) => (inputs.keepText ? add(this.nullText, mul(inputs.keepText, sub(cond, this.nullText))) : cond);
    const tokens: Tensor[] = [];
    if (this.tokenProj && inputs.textTokens) {
      const projected = this.tokenProj.forward(inputs.textTokens);
      tokens.push(inputs.keepText ? mul(projected, reshape(inputs.keepText, [b, 1, 1])) : projected);
    }
    tokens.push(token(mix(this.textProj.forward(inputs.textEmbedding))));
    tokens.push(token(this.timeEmbed.forward(inputs.timesteps)));
    if (this.clusterEmbed) tokens.push(token(this.clusterEmbed.forward(inputs.clusters)));
    tokens.push(token(this.xProj.forward(inputs.xt)));
    tokens.push(expand(reshape(this.query, [1, 1, w]), [b, 1, w]));
    let h = concat(tokens, 1);
    for (const block of this.blocks) h = block.forward(h);
    const last = squeeze(slice(this.finalNorm.forward(h), 1, -1, h.shape[1]), 1);
    return this.head.forward(last);
  }
}
