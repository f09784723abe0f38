// The judge: a small supervised CNN that classifies rendered scenes (shape, colour, size, position,
// background, object count). Four 3×3 convolutions (the last three stride 2) with GroupNorm and
// SiLU (few groups: a group per channel would erase each channel's mean, i.e. the colour) keep an
// 8×8 map, which is flattened (positions need where, not only what), then a 128-wide feature layer — the feature space of the judge-FID/KID — and one linear head per attribute.
import { nn, reshape, split, type Tensor } from '@sd/autograd';
import { HEAD_NAMES, JUDGE_HEADS, type JudgeHead } from './labels.ts';

export interface JudgeConfig {
  /** Image side (the procedural images: 64). */
  side: number;
  /** Channels of the four convolutions. */
  widths: [number, number, number, number];
  /** Width of the feature layer. */
  features: number;
}

export const DEFAULT_JUDGE_CONFIG: JudgeConfig = { side: 64, widths: [16, 32, 64, 64], features: 128 };

const HEAD_SIZES = HEAD_NAMES.map((h) => JUDGE_HEADS[h].length);

export class JudgeNet extends nn.Module {
  readonly trunk: nn.Sequential;
  readonly feature: nn.Linear;
  readonly heads: nn.Linear;

  constructor(readonly config: JudgeConfig = DEFAULT_JUDGE_CONFIG) {
    super();
    const [a, b, c, d] = config.widths;
    if (config.side % 8 !== 0) throw new Error(`JudgeNet: side ${config.side} must be a multiple of 8`);
    const block = (cin: number, cout: number, stride: number) => [new nn.Conv2d(cin, cout, 3, { padding: 1, stride }), new nn.GroupNorm(Math.max(1, Math.min(4, cout / 8)), cout, 1e-5, true, true)];
    this.trunk = this.module('trunk', new nn.Sequential(...block(3, a, 1), ...block(a, b, 2), ...block(b, c, 2), ...block(c, d, 2)));
    const map = config.side / 8;
    this.feature = this.module('feature', new nn.Linear(d * map * map, config.features, { activation: 'silu' }));
    this.heads = this.module('heads', new nn.Linear(config.features, HEAD_SIZES.reduce((x, y) => x + y, 0)));
  }

  /** images [N, 3, side, side] in [-1, 1] → the feature layer [N, features]. */
  features(images: Tensor): Tensor {
    const h = this.trunk.forward(images);
    return this.feature.forward(reshape(h, [h.shape[0], h.size / h.shape[0]]));
  }

  /** images → logits per head, [N, classes] each. */
  forward(images: Tensor): Record<JudgeHead, Tensor> {
    const logits = split(this.heads.forward(this.features(images)), HEAD_SIZES, 1);
    return Object.fromEntries(HEAD_NAMES.map((h, i) => [h, logits[i]])) as Record<JudgeHead, Tensor>;
  }
}
