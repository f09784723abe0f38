// OpenAI CLIP's transformer: pre-LN residual attention blocks with a QuickGELU MLP, batch-first here
// (OpenAI runs sequence-first; the maths is the same). Names: resblocks.N.{ln_1, attn, ln_2, mlp.c_fc, mlp.c_proj}.
import { add, isGradEnabled, nn, tidy, type Tensor } from '@sd/autograd';
import { replaceData } from './init.ts';

/** Linear(w, 4w) → QuickGELU → Linear(4w, w), named like OpenAI's Sequential (c_fc, gelu, c_proj). */
export class ClipMlp extends nn.Layer {
  readonly cFc: nn.Linear;
  readonly cProj: nn.Linear;
  constructor(width: number) {
    super();
    // The activation is fused into c_fc's matmul epilogue when no gradient is recorded.
    this.cFc = this.module('c_fc', new nn.Linear(width, width * 4, { activation: 'quick_gelu' }));
    this.cProj = this.module('c_proj', new nn.Linear(width * 4, width));
  }
  forward(x: Tensor): Tensor {
    return this.cProj.forward(this.cFc.forward(x));
  }
}

export class ResidualAttentionBlock extends nn.Module {
  readonly attn: nn.MultiheadAttention;
  readonly ln1: nn.LayerNorm;
  readonly mlp: ClipMlp;
  readonly ln2: nn.LayerNorm;
  constructor(width: number, heads: number) {
    super();
    this.attn = this.module('attn', new nn.MultiheadAttention(width, heads));
    this.ln1 = this.module('ln_1', new nn.LayerNorm(width));
    this.mlp = this.module('mlp', new ClipMlp(width));
    this.ln2 = this.module('ln_2', new nn.LayerNorm(width));
  }
  /** x: [B, S, width]. `causal` is OpenAI's text mask (−inf above the diagonal). */
  forward(x: Tensor, causal = false): Tensor {
    const h = this.ln1.forward(x);
    const attended = add(x, this.attn.forward(h, h, h, { causal }));
    return add(attended, this.mlp.forward(this.ln2.forward(attended)));
  }
}

/**
 * Runs `fn` in a tidy scope when no graph is being recorded, so each block's temporaries are freed
 * at once during inference; with grad mode on they must live until backward.
 */
export function inferenceScope<R>(fn: () => R): R {
  return isGradEnabled() ? fn() : tidy(fn);
}

export class ClipTransformer extends nn.Module {
  readonly resblocks: nn.ModuleList<ResidualAttentionBlock>;
  constructor(
    readonly width: number,
    readonly layers: number,
    readonly heads: number,
  ) {
    super();
    this.resblocks = this.module('resblocks', new nn.ModuleList(Array.from({ length: layers }, () => new ResidualAttentionBlock(width, heads))));
  }
  /** OpenAI's initialize_parameters for a transformer's weights (biases keep their defaults). */
  initialize(): void {
    const { width, layers } = this;
    const projStd = width ** -0.5 * (2 * layers) ** -0.5;
    for (const block of this.resblocks) {
      replaceData(block.attn.inProjWeight, nn.init.normal([3 * width, width], width ** -0.5));
      replaceData(block.attn.outProj.weight, nn.init.normal([width, width], projStd));
      replaceData(block.mlp.cFc.weight, nn.init.normal([4 * width, width], (2 * width) ** -0.5));
      replaceData(block.mlp.cProj.weight, nn.init.normal([width, 4 * width], projStd));
    }
  }

  forward(x: Tensor, causal = false): Tensor {
    const recording = isGradEnabled();
    let h = x;
    for (const block of this.resblocks) {
      const input = h;
      h = inferenceScope(() => block.forward(input, causal));
      // Without a graph, a block's output is dead once the next block has read it (never free the caller's x).
      if (!recording && input !== x) input.dispose();
    }
    return h;
  }
}
