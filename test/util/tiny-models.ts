// Small models shared by the autograd learning and memory tests and the training-step benchmarks:
// a pre-LN character transformer and a conv net with GroupNorm, plus their training steps.
import { add, crossEntropy, gather, mean, nn, optim, slice, tensor, tidy, type Tensor } from '@sd/autograd';

export interface TinyTransformerConfig {
  vocab: number;
  context: number;
  dim: number;
  heads: number;
  layers: number;
}

/** Pre-LN block: x + attn(ln1(x)) (causal), then x + mlp(ln2(x)). */
class Block extends nn.Module {
  readonly ln1: nn.LayerNorm;
  readonly attn: nn.MultiheadAttention;
  readonly ln2: nn.LayerNorm;
  readonly mlp: nn.MLP;
  constructor(dim: number, heads: number) {
    super();
    this.ln1 = this.module('ln_1', new nn.LayerNorm(dim));
    this.attn = this.module('attn', new nn.MultiheadAttention(dim, heads));
    this.ln2 = this.module('ln_2', new nn.LayerNorm(dim));
    this.mlp = this.module('mlp', new nn.MLP(dim, 4 * dim));
  }
  forward(x: Tensor): Tensor {
    const h = x.add(this.attn.forward(this.ln1.forward(x), undefined, undefined, { causal: true }));
    return h.add(this.mlp.forward(this.ln2.forward(h)));
  }
}

/** Token embedding + learned positions, pre-LN blocks, final LayerNorm and a linear head. */
export class TinyTransformer extends nn.Module {
  readonly tokens: nn.Embedding;
  readonly positions: Tensor;
  readonly blocks: nn.ModuleList<Block>;
  readonly lnF: nn.LayerNorm;
  readonly head: nn.Linear;
  constructor(readonly config: TinyTransformerConfig) {
    super();
    const { vocab, context, dim, heads, layers } = config;
    this.tokens = this.module('wte', new nn.Embedding(vocab, dim));
    this.positions = this.param('wpe', nn.init.normal([context, dim], 0.02));
    this.blocks = this.module('h', new nn.ModuleList(Array.from({ length: layers }, () => new Block(dim, heads))));
    this.lnF = this.module('ln_f', new nn.LayerNorm(dim));
    this.head = this.module('lm_head', new nn.Linear(dim, vocab, { bias: false }));
  }
  /** ids: i32 [B, S] → logits [B, S, vocab]. */
  forward(ids: Tensor): Tensor {
    const s = ids.shape[1];
    let x = add(gather(this.tokens.weight, ids, 0), slice(this.positions, 0, 0, s));
    for (const block of this.blocks) x = block.forward(x);
    return this.head.forward(this.lnF.forward(x));
  }
}

/** Next-character data for a string: ids = chars[0..n-1], targets = chars[1..n] (one sequence). */
export function charData(text: string): { vocab: number; ids: Tensor; targets: Tensor } {
  const chars = [...new Set(text)].sort();
  const codes = [...text].map((c) => chars.indexOf(c));
  const n = codes.length - 1;
  return {
    vocab: chars.length,
    ids: tensor(codes.slice(0, n), [1, n], { dtype: 'i32' }).keep(),
    targets: tensor(codes.slice(1), [1, n], { dtype: 'i32' }).keep(),
  };
}

/** Conv → GroupNorm+SiLU → strided conv → GroupNorm+SiLU → global average → linear. */
export class TinyConvNet extends nn.Module {
  readonly features: nn.Sequential;
  readonly head: nn.Linear;
  constructor(inChannels: number, classes: number, width = 16) {
    super();
    this.features = this.module(
      'features',
      new nn.Sequential(
        new nn.Conv2d(inChannels, width, 3, { padding: 1 }),
        new nn.GroupNorm(4, width, 1e-5, true, true),
        new nn.Conv2d(width, 2 * width, 3, { padding: 1, stride: 2 }),
        new nn.GroupNorm(8, 2 * width, 1e-5, true, true),
      ),
    );
    this.head = this.module('head', new nn.Linear(2 * width, classes));
  }
  /** images [N, C, H, W] → logits [N, classes]. */
  forward(images: Tensor): Tensor {
    return this.head.forward(mean(this.features.forward(images), [2, 3]));
  }
}

/** One training step in its own scope: forward, cross-entropy, backward, update. Returns the loss (kept). */
export function trainStep(
  model: nn.Module & { forward(x: Tensor): Tensor },
  opt: optim.Optimizer,
  input: Tensor,
  targets: Tensor,
  options: optim.StepOptions = {},
): Tensor {
  const loss = tidy(() => {
    const l = crossEntropy(model.forward(input), targets);
    l.backward();
    return l;
  });
  opt.update(options);
  opt.zeroGrad();
  return loss;
}

export function disposeModule(m: nn.Module): void {
  for (const [, t] of m.stateDict()) t.dispose();
}
