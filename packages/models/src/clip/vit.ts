// OpenAI CLIP's VisionTransformer (`visual.*`): patch conv without bias, class token, learned
// positions, ln_pre, transformer, ln_post on the class token, projection.
import { add, concat, expand, linear, matmul, nn, permute, reshape, slice, type Tensor } from '@sd/autograd';
import { fmt } from '@sd/kernels';
import type { ClipViTConfig } from './config.ts';
import { ClipTransformer, inferenceScope } from './transformer.ts';

export class VisionTransformer extends nn.Module {
  readonly conv1: nn.Conv2d;
  readonly classEmbedding: Tensor;
  readonly positionalEmbedding: Tensor;
  readonly lnPre: nn.LayerNorm;
  readonly transformer: ClipTransformer;
  readonly lnPost: nn.LayerNorm;
  readonly proj: Tensor;
  readonly grid: number;

  constructor(
    readonly config: ClipViTConfig,
    readonly outputDim: number,
  ) {
    super();
    const { imageResolution, patchSize, width, layers, heads } = config;
    if (imageResolution % patchSize !== 0) throw new Error(`VisionTransformer: patch ${patchSize} does not divide resolution ${imageResolution}`);
    this.grid = imageResolution / patchSize;
    const scale = width ** -0.5;
    this.conv1 = this.module('conv1', new nn.Conv2d(3, width, patchSize, { stride: patchSize, bias: false }));
    this.classEmbedding = this.param('class_embedding', nn.init.normal([width], scale));
    this.positionalEmbedding = this.param('positional_embedding', nn.init.normal([this.grid ** 2 + 1, width], scale));
    this.lnPre = this.module('ln_pre', new nn.LayerNorm(width));
    this.transformer = this.module('transformer', new ClipTransformer(width, layers, heads));
    this.lnPost = this.module('ln_post', new nn.LayerNorm(width));
    this.proj = this.param('proj', nn.init.normal([width, outputDim], scale));
  }

  /**
   * The patch convolution (kernel = stride = patch) as a matmul: cut [B, 3, R, R] into patches
   * [B, grid², 3·p·p] in the weight's (channel, row, column) order, then x · conv1.weightᵀ.
   */
  private patchEmbed(images: Tensor): Tensor {
    const { patchSize: p, width } = this.config;
    const [b] = images.shape;
    const g = this.grid;
    const patches = reshape(permute(reshape(images, [b, 3, g, p, g, p]), [0, 2, 4, 1, 3, 5]), [b, g * g, 3 * p * p]);
    return linear(patches, reshape(this.conv1.weight, [width, 3 * p * p]));
  }

  /** images [B, 3, R, R] (CLIP-normalised) → [B, outputDim]. */
  forward(images: Tensor): Tensor {
    const r = this.config.imageResolution;
    if (images.rank !== 4 || images.shape[1] !== 3 || images.shape[2] !== r || images.shape[3] !== r) {
      throw new Error(`VisionTransformer: expected images [batch, 3, ${r}, ${r}], got ${fmt(images.shape)}`);
    }
    const { width } = this.config;
    const b = images.shape[0];
    return inferenceScope(() => {
      const cls = expand(reshape(this.classEmbedding, [1, 1, width]), [b, 1, width]);
      let x = concat([cls, this.patchEmbed(images)], 1);
      x = this.lnPre.forward(add(x, this.positionalEmbedding));
      x = this.transformer.forward(x);
      const classToken = reshape(slice(x, 1, 0, 1), [b, width]);
      return matmul(this.lnPost.forward(classToken), this.proj);
    });
  }
}
